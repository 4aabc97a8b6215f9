#!/usr/bin/env bash
# hack/with-stack.sh CMD [ARG...]: run CMD against the local stack (make cluster-up), as the
# e2e session does: a stack that is already running is used and left running; one this
# script started is stopped afterwards (hack/cluster-down.sh, by PID) — also when CMD
# fails or is interrupted. CANARY_KEEP_STACK=1 keeps a started stack for a look around.
# Used by the benchmark targets (bench-cli, bench-analysis-real, bench-scale, differential).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -gt 0 ] || die "usage: hack/with-stack.sh CMD [ARG...]"
out="$(mktemp)"
bash "$REPO/hack/cluster-up.sh" | tee "$out"
if grep -q '^already running' "$out"; then started=0; else started=1; fi
rm -f "$out"
stop() {
  if [ "$started" = 1 ] && [ "${CANARY_KEEP_STACK:-0}" != 1 ]; then
    log "stopping the stack this run started (CANARY_KEEP_STACK=1 keeps it)"
    bash "$REPO/hack/cluster-down.sh" >/dev/null 2>&1 || true
  fi
}
trap stop EXIT
"$@"
