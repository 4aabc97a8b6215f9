#!/usr/bin/env bash
# Build the node's binaries: kubelet, kube-scheduler and kube-controller-manager from the
# k8s.io/kubernetes Go module (same wrapper module as hack/build-kube-apiserver.sh), and
# containerd 2.x from github.com/containerd/containerd/v2. Debian 12 ships 1.6.20, which
# kubelet 1.36.3 still accepts (tried: it logs "RuntimeConfig from runtime service failed
# ... Unimplemented", falls back to its own cgroupDriver and runs Pods), but that fallback
# is deprecated and 1.6 is out of support: see docs/install.md. Idempotent; caches under
# $CANARY_CACHE; prints the directory holding the binaries. Run it under `nice`: ~1.8 GB RAM
# per link.
#   bash hack/build-node.sh            all of them
#   bash hack/build-node.sh kubelet    one (kubelet kube-scheduler kube-controller-manager containerd pause)
set -euo pipefail
: "${K8S_VERSION:=v1.36.3}" "${CONTAINERD_VERSION:=v2.2.9}" "${CANARY_CACHE:=/var/cache/canary-e2e}"
kdir="$CANARY_CACHE/k8s/$K8S_VERSION"
cdir="$CANARY_CACHE/containerd/$CONTAINERD_VERSION"
want=("$@"); [ ${#want[@]} -gt 0 ] || want=(kubelet kube-scheduler kube-controller-manager containerd pause)

export PATH="/usr/local/go/bin:$PATH"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
export GOMODCACHE="$CANARY_CACHE/go/mod" GOCACHE="$CANARY_CACHE/go/build"
export GOMAXPROCS="${GOMAXPROCS:-2}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

build_kube() {   # build_kube NAME : cmd/NAME of k8s.io/kubernetes at $K8S_VERSION
  local name=$1 out="$kdir/$1"
  [ -x "$out" ] && return 0
  local minor="${K8S_VERSION#v1.}" staging="v0.${K8S_VERSION#v1.}" d="$work/$name"
  minor="${minor%%.*}"
  mkdir -p "$d"; (
    cd "$d"
    go mod init "canary.local/$name-build" >/dev/null 2>&1
    upstream="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
                | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
    mods="$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$upstream" | sort -u)"
    [ -n "$mods" ] || { echo "no staging replaces found in $upstream" >&2; exit 1; }
    for m in $mods; do go mod edit -replace "$m=$m@$staging"; done
    gd="$(sed -n 's/^godebug[[:space:]]\{1,\}default=\(go[0-9.]*\)$/\1/p' "$upstream")"
    [ -z "$gd" ] || go mod edit -godebug "default=$gd"
    go get "k8s.io/kubernetes/cmd/$name@$K8S_VERSION" >&2
    now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"; ldf="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldf+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$now"
    done
    mkdir -p "$kdir"
    go build -trimpath -tags notest,grpcnotrace -ldflags "$ldf" -o "$out.tmp" "k8s.io/kubernetes/cmd/$name" >&2
    mv "$out.tmp" "$out"
  )
  "$out" --version >&2
}

build_containerd() {   # containerd (daemon only; the kubelet talks CRI to it, runc is Debian's)
  local out="$cdir/containerd" shim="$cdir/containerd-shim-runc-v2"
  [ -x "$out" ] && [ -x "$shim" ] && return 0
  local d="$work/containerd"
  mkdir -p "$d" "$cdir"; (
    cd "$d"
    go mod init canary.local/containerd-build >/dev/null 2>&1
    go get "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" >&2
    # No cgo: the btrfs snapshotter (cgo) drops out; overlayfs and native stay.
    go build -trimpath -tags no_btrfs,no_devmapper,no_zfs \
      -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
      -o "$out.tmp" github.com/containerd/containerd/v2/cmd/containerd >&2
    # The shim from the same release (Debian's is 1.6's); PATH must find it beside containerd.
    go build -trimpath -ldflags "-s -w" -o "$shim.tmp" github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 >&2
    mv "$out.tmp" "$out"; mv "$shim.tmp" "$shim"
  )
  "$out" --version >&2
}

build_pause() {   # the sandbox ("pause") process every Pod needs; packed as an image by node-up
  local out="$CANARY_CACHE/pause/pause"
  [ -x "$out" ] && return 0
  local d="$work/pause"; mkdir -p "$d" "$(dirname "$out")"
  cat >"$d/main.go" <<'GO'
// pause: hold a Pod's namespaces open until told to stop (the role of registry.k8s.io/pause).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	<-c
}
GO
  (cd "$d" && go mod init canary.local/pause >/dev/null 2>&1 && go build -trimpath -ldflags "-s -w" -o "$out" .)
}

for w in "${want[@]}"; do
  t=$SECONDS
  case "$w" in
    kubelet|kube-scheduler|kube-controller-manager) build_kube "$w" ;;
    containerd) build_containerd ;;
    pause) build_pause ;;
    *) echo "unknown binary '$w' (kubelet kube-scheduler kube-controller-manager containerd pause)" >&2; exit 2 ;;
  esac
  printf 'build-node: %-24s %4d s\n' "$w" $((SECONDS - t)) >&2
done
echo "$kdir $cdir"
