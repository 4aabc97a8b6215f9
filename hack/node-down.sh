#!/usr/bin/env bash
# make node-down: stop what node-up started, by PID: kubelet, the containers it ran (their
# init and shim PIDs as containerd recorded them), containerd, kube-scheduler,
# kube-controller-manager; unmount what they mounted under .local/node; remove the node
# address from lo. The registry keeps running (make registry-down / hack/registry.sh down).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
NODE="$LOCAL/node"
PIDS="$NODE/pids"

stop_pid() {   # stop_pid NAME PID: TERM, wait up to 20 s, then KILL
  local name=$1 pid=$2 i
  running "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 200; i++)); do running "$pid" || { log "stopped $name ($pid)"; return 0; }; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  log "killed $name ($pid) after 20 s"
}
stop_named() { [ -f "$PIDS/$1.pid" ] && stop_pid "$1" "$(cat "$PIDS/$1.pid")"; rm -f "$PIDS/$1.pid"; }

stopped=0
[ -d "$PIDS" ] && compgen -G "$PIDS/*.pid" >/dev/null && stopped=1
stop_named kubelet
# Containers outlive containerd (their shims re-parent); stop them from containerd's records.
tasks="$NODE/containerd/state/io.containerd.runtime.v2.task"
if [ -d "$tasks" ]; then
  for f in "$tasks"/*/*/init.pid; do
    [ -f "$f" ] && stop_pid "container $(basename "$(dirname "$f")" | cut -c1-12)" "$(cat "$f")"
  done
fi
# containerd 2.x records no shim pid; its shims are the processes started with this node's
# own containerd socket as their -address (nothing else uses that path)
sock="$NODE/containerd/containerd.sock"
for p in /proc/[0-9]*; do
  cmd="$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" || continue
  [[ "$cmd" == *containerd-shim-runc-v2*"-address $sock"* ]] && stop_pid "shim" "${p#/proc/}"
done
stop_named kube-controller-manager
stop_named kube-scheduler
stop_named containerd
# tmpfs (projected tokens, emptyDirs) and overlay mounts, deepest first
if [ -d "$NODE" ]; then
  findmnt -rn -o TARGET | grep "^$NODE/" | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
fi
if [ -f "$NODE/node-ip" ]; then
  ip addr del "$(cat "$NODE/node-ip")/32" dev lo 2>/dev/null || true
  rm -f "$NODE/node-ip"
fi
rm -f "$NODE/node.env"
(( stopped )) && echo "node down" || echo "node: nothing running"
