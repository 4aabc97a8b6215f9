#!/usr/bin/env bash
# make cluster-down: stop what cluster-up (and test helpers) recorded in .local/pids, by PID
# only and in reverse start order; exit 0 when nothing runs. Logs stay in .local/logs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PIDS="$LOCAL/pids"
order=(extra-* prometheus traefik backends kube-apiserver etcd)

stop_pid() {   # stop_pid NAME PID: TERM, wait up to 20 s, then KILL
  local name=$1 pid=$2 i
  running "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 200; i++)); do running "$pid" || { log "stopped $name ($pid)"; return 0; }; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  log "killed $name ($pid) after 20 s"
}

stopped=0
for pattern in "${order[@]}"; do
  for f in "$PIDS"/$pattern.pid; do
    [ -f "$f" ] || continue
    stop_pid "$(basename "$f" .pid)" "$(cat "$f")"
    rm -f "$f"; stopped=$((stopped + 1))
  done
done
rm -f "$LOCAL/cluster.env"
(( stopped )) && echo "cluster down" || echo "nothing running"
