#!/usr/bin/env bash
# Build kube-apiserver from the k8s.io/kubernetes Go module (wrapper module with staging
# replaces, docs/local-control-plane.md "Parts and versions"). Idempotent; prints the path.
set -euo pipefail
: "${K8S_VERSION:=v1.36.3}" "${CANARY_CACHE:=/var/cache/canary-e2e}"
out="$CANARY_CACHE/k8s/$K8S_VERSION/kube-apiserver"
if [ -x "$out" ]; then echo "$out"; exit 0; fi

export PATH="/usr/local/go/bin:$PATH"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
export GOMODCACHE="$CANARY_CACHE/go/mod" GOCACHE="$CANARY_CACHE/go/build"
export GOMAXPROCS="${GOMAXPROCS:-2}"
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
staging="v0.${K8S_VERSION#v1.}"                      # v1.36.3 -> v0.36.3

work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; cd "$work"
go mod init canary.local/kube-apiserver-build >/dev/null 2>&1
upstream="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
mods="$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$upstream" | sort -u)"
[ -n "$mods" ] || { echo "no staging replaces found in $upstream" >&2; exit 1; }
for m in $mods; do go mod edit -replace "$m=$m@$staging"; done
gd="$(sed -n 's/^godebug[[:space:]]\{1,\}default=\(go[0-9.]*\)$/\1/p' "$upstream")"
[ -z "$gd" ] || go mod edit -godebug "default=$gd"
go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" >&2

now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"; ldf="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldf+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$now"
done
mkdir -p "$(dirname "$out")"
go build -trimpath -tags notest,grpcnotrace -ldflags "$ldf" -o "$out.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2
mv "$out.tmp" "$out"; "$out" --version >&2; echo "$out"
