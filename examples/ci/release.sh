#!/usr/bin/env bash
# The CI release flow with canary (examples/ci/README.md):
#   apply the Rollout → wait for the manual gate → smoke check → promote → wait until done.
# Exit 0 released; 1 the canary was rolled back/aborted (or the smoke check failed, in
# which case the rollout is aborted first); 2 a wait timed out; 3 usage / access denied.
#
#   ROLLOUT_FILE=examples/ci/rollout.yaml NAMESPACE=app-team-a NAME=canary-api \
#   SMOKE_URL=https://api.example.com/users examples/ci/release.sh
#
# Env: ROLLOUT_FILE (required), NAMESPACE (default: the kubeconfig's), NAME (default:
# metadata.name from the file), SMOKE_URL (optional: skipped when empty), SMOKE_HEADERS
# (optional, ';'-separated "Name: value" pairs, e.g. "X-Api-Version: v2;Host: api.example.com"),
# GATE_TIMEOUT (default 15m), DONE_TIMEOUT (default 30m), CANARY / KUBECTL (the binaries).
set -euo pipefail

: "${ROLLOUT_FILE:?set ROLLOUT_FILE to the Rollout manifest}"
: "${GATE_TIMEOUT:=15m}" "${DONE_TIMEOUT:=30m}" "${SMOKE_URL:=}" "${SMOKE_HEADERS:=}"
CANARY="${CANARY:-canary}"
KUBECTL="${KUBECTL:-kubectl}"
ns_args=()
if [ -n "${NAMESPACE:-}" ]; then ns_args=(-n "$NAMESPACE"); fi
if [ -z "${NAME:-}" ]; then
  NAME="$("$KUBECTL" apply --dry-run=client -f "$ROLLOUT_FILE" -o jsonpath='{.metadata.name}')"
fi
# One command id per pipeline run: a retried job re-sends the same promote, not a second one.
RUN_ID="${CI_PIPELINE_ID:-${GITHUB_RUN_ID:-local}}-${CI_JOB_ID:-${GITHUB_RUN_ATTEMPT:-$$}}"

log() { printf '%s release.sh: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

# Run a canary command; on failure say why in CI terms and exit with its code.
step() {
  local rc=0
  "$CANARY" "$@" "${ns_args[@]}" || rc=$?
  case "$rc" in
    0) return 0 ;;
    1) log "FAILED: rollout $NAME was rolled back or aborted (canary $1 exited 1)" ;;
    2) log "FAILED: timed out (canary $1 exited 2); the rollout keeps going in the cluster" ;;
    *) log "FAILED: canary $1 exited $rc (usage, not found or access denied)" ;;
  esac
  exit "$rc"
}

smoke() {
  [ -n "$SMOKE_URL" ] || { log "no SMOKE_URL: smoke check skipped"; return 0; }
  local args=(--fail --silent --show-error --max-time 10 --retry 3 --retry-all-errors -o /dev/null)
  local header
  IFS=';' read -r -a headers <<< "$SMOKE_HEADERS"
  for header in "${headers[@]}"; do [ -n "$header" ] && args+=(-H "$header"); done
  curl "${args[@]}" "$SMOKE_URL"
}

log "applying $ROLLOUT_FILE"
"$KUBECTL" apply "${ns_args[@]}" -f "$ROLLOUT_FILE"

log "waiting for rollout $NAME to reach its manual gate (timeout $GATE_TIMEOUT)"
step status "$NAME" --wait --until paused --timeout "$GATE_TIMEOUT"

log "smoke check ${SMOKE_URL:-(none)}"
if ! smoke; then
  log "smoke check failed: aborting rollout $NAME"
  "$CANARY" abort "$NAME" "${ns_args[@]}" --id "abort-$RUN_ID" --wait --timeout 2m || true
  exit 1
fi

log "promoting rollout $NAME"
step promote "$NAME" --id "promote-$RUN_ID" --wait --timeout 5m

log "waiting for rollout $NAME to finish (timeout $DONE_TIMEOUT)"
step status "$NAME" --wait --until done --timeout "$DONE_TIMEOUT"
log "released: rollout $NAME succeeded"
