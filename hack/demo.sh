#!/usr/bin/env bash
# make demo: the seed scenario end to end on the local control plane.
#   1. healthy: app-team-a/api-route (X-Api-Version: v2, user-service-v2 90 / -v3 10) is
#      walked 5 -> 50 -> 100 by a Rollout until Succeeded;
#   2. faulty: a fresh namespace with its own backends, the canary answering 20 % errors;
#      the Rollout rolls back (stable 100 / canary 0).
# The operator (`canary run`) and the load generator run in the background, recorded in
# .local/pids/demo-*.pid and stopped by PID at the end, on errors and on Ctrl-C.
# Exit 0 only if part 1 Succeeded and part 2 RolledBack.
#
# Overrides: DEMO_HEALTH_PORT, DEMO_METRICS_PORT (default: free ports), DEMO_RATE (rps,
# default 100), DEMO_LEASE_NAMESPACE/DEMO_LEASE_NAME (default default/canary-operator).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"   # stack/ is a repo directory
PY="$REPO/.venv/bin/python"
CANARY="$REPO/.venv/bin/canary"
HELPER="$REPO/hack/demo_timeline.py"
: "${DEMO_RATE:=100}" "${DEMO_LEASE_NAMESPACE:=default}" "${DEMO_LEASE_NAME:=canary-operator}"
SEED_NS=app-team-a
ROLLOUT=canary-api
t0=$(date +%s.%N)

section() { printf '\n== %s\n' "$*"; }
say() { printf '%s\n' "$*"; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }'; }

[ -x "$CANARY" ] || die "$CANARY is missing: run 'make venv'"

section "local control plane"
bash "$REPO/hack/cluster-up.sh"
source "$LOCAL/cluster.env"
K="$TOOLS_VENV/bin/kubectl"
export KUBECONFIG CANARY_KUBECTL="$K"
unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
PIDS="$LOCAL/pids" LOGS="$LOCAL/logs" RUN="$LOCAL/demo"
mkdir -p "$PIDS" "$LOGS" "$RUN"
rm -f "$RUN"/*.json

# -- processes we start: recorded, stopped by PID only --------------------------------------
# stop_recorded FILE PATTERN: stop the recorded process if it still is the one we started.
stop_recorded() {
  local file=$1 pattern=$2 pid i
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if running "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do running "$pid" || break; sleep 0.1; done
    running "$pid" && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}
# start_recorded NAME LOG CMD...: in its own session (Ctrl-C reaches only this script,
# which then stops it in order); the started process records its own pid.
start_recorded() {
  local name=$1 log=$2 i; shift 2
  rm -f "$PIDS/$name.pid"
  setsid sh -c 'echo $$ >"$0"; exec "$@"' "$PIDS/$name.pid" "$@" </dev/null >"$log" 2>&1 &
  for ((i = 0; i < 50; i++)); do [ -s "$PIDS/$name.pid" ] && return 0; sleep 0.02; done
  die "could not start $name"
}
FAULTY_NS=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_recorded "$PIDS/demo-loadgen.pid" stack.loadgen
  stop_recorded "$PIDS/demo-operator.pid" "canary run"
  if [ -n "$FAULTY_NS" ]; then
    stop_recorded "$PIDS/extra-$FAULTY_NS.pid" stack.backend
    rm -f "$PROMETHEUS_TARGETS_DIR/$FAULTY_NS.json"
  fi
  if ((rc != 0)); then
    printf '\nmake demo: FAILED (exit %s). Operator log: %s\n' "$rc" "$LOGS/demo-operator.log" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'exit 143' TERM

# Leftovers of an interrupted demo (only what an earlier demo recorded).
stop_recorded "$PIDS/demo-loadgen.pid" stack.loadgen
stop_recorded "$PIDS/demo-operator.pid" "canary run"

# -- part 2's app first: the operator is told which namespaces to watch ---------------------
FAULTY_NS="demo-faulty-$(date +%Y%m%d-%H%M%S)"
section "deploying the faulty release's app in $FAULTY_NS (own backends)"
"$PY" "$HELPER" deploy --namespace "$FAULTY_NS" --out "$RUN/faulty-app.json"

# -- the operator ---------------------------------------------------------------------------
HEALTH_PORT=${DEMO_HEALTH_PORT:-$("$PY" "$HELPER" free-port)}
METRICS_PORT=${DEMO_METRICS_PORT:-$("$PY" "$HELPER" free-port)}
section "operator: canary run (namespaces $SEED_NS, $FAULTY_NS; lease $DEMO_LEASE_NAMESPACE/$DEMO_LEASE_NAME)"
start_recorded demo-operator "$LOGS/demo-operator.log" \
  "$CANARY" run --namespace "$SEED_NS" --namespace "$FAULTY_NS" --read-namespace infra \
  --prometheus-url "$PROMETHEUS_URL" --traefik-api-url "$TRAEFIK_API_URL" \
  --health-host 127.0.0.1 --health-port "$HEALTH_PORT" --metrics-port "$METRICS_PORT" \
  --lease-namespace "$DEMO_LEASE_NAMESPACE" --lease-name "$DEMO_LEASE_NAME" --lease-duration 6 \
  --identity "demo-${HOSTNAME:-local}-$$" --resync-interval 1
OP_PID=$(cat "$PIDS/demo-operator.pid")
wait_for 30 "operator /healthz on :$HEALTH_PORT" curl -sf "http://127.0.0.1:$HEALTH_PORT/healthz" ||
  die "the operator did not come up; last log lines:
$(tail -n 20 "$LOGS/demo-operator.log")"
if ! wait_for 25 "operator leadership" sh -c "curl -sf http://127.0.0.1:$METRICS_PORT/metrics | grep -q '^canary_leader 1'"; then
  holder=$("$K" -n "$DEMO_LEASE_NAMESPACE" get lease "$DEMO_LEASE_NAME" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)
  die "lease $DEMO_LEASE_NAMESPACE/$DEMO_LEASE_NAME is held by '${holder:-?}': another canary operator is running." \
      "Stop it (only one writer acts), or run beside it with DEMO_LEASE_NAME=<other> if it does not watch $SEED_NS."
fi
say "operator pid $OP_PID is the leader (healthz :$HEALTH_PORT, metrics :$METRICS_PORT, log $LOGS/demo-operator.log)"

# rollout_yaml NAMESPACE: the demo's Rollout — examples/rollout.yaml with Traefik metrics
# and fast local settings (3 s checks, short pauses, small minRequests).
rollout_yaml() {
  cat <<YAML
apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata:
  name: $ROLLOUT
  namespace: $1
spec:
  routes:
  - kind: HTTPRoute
    name: api-route
  stable: {name: user-service-v2, port: 8080}
  canary: {name: user-service-v3, port: 8080}
  steps:
  - {weight: 5, pause: 5s}
  - {weight: 50, pause: 5s}
  - {weight: 100, pause: 3s}
  progressDeadline: 1m
  analysis:
    interval: 3s
    minRequests: 10
    failureLimit: 1
    metrics:
    - {name: error-rate, template: error-rate, flavor: traefik, max: 0.05, maxIncrease: 0.02}
    - {name: p99-latency, template: latency, quantile: 0.99, flavor: traefik, max: 0.5}
  onFailure: rollback
YAML
}

# traffic URL HEADER...: bounded background load (python -m stack.loadgen), pid recorded.
traffic() {
  local url=$1 log=$2; shift 2
  stop_recorded "$PIDS/demo-loadgen.pid" stack.loadgen
  local hdrs=() h; for h in "$@"; do hdrs+=(-H "$h"); done
  start_recorded demo-loadgen "$log" "$PY" -m stack.loadgen \
    --url "$url" --rate "$DEMO_RATE" --duration 150 --concurrency 16 "${hdrs[@]}"
  say "traffic: $DEMO_RATE rps to $url (${*}), pid $(cat "$PIDS/demo-loadgen.pid"), at most 150 s"
}

# -- part 1: healthy ------------------------------------------------------------------------
section "part 1: healthy release — $SEED_NS/api-route, user-service-v2 -> user-service-v3"
if "$K" -n "$SEED_NS" get rollouts.canary.dev -o name 2>/dev/null | grep -q .; then
  say "removing earlier Rollouts in $SEED_NS (a finished Rollout leaves its route as it is: it is reset below):"
  "$K" -n "$SEED_NS" delete rollouts.canary.dev --all --wait=true --timeout=60s
fi
"$PY" -c 'import sys; from stack.scenario import set_faults
for u in sys.argv[1:]: set_faults(u, error_rate=0, latency_ms=0)' "$STABLE_CONTROL_URL" "$CANARY_CONTROL_URL"
weights=$("$K" -n "$SEED_NS" get httproute api-route -o jsonpath='{.spec.rules[0].backendRefs[0].weight}/{.spec.rules[0].backendRefs[1].weight}')
if [ "$weights" != "90/10" ]; then
  say "api-route rule 0 is at $weights: resetting it to the seed's 90/10"
  "$K" -n "$SEED_NS" patch httproute api-route --type=json -p '[
    {"op": "test", "path": "/spec/rules/0/backendRefs/0/name", "value": "user-service-v2"},
    {"op": "test", "path": "/spec/rules/0/backendRefs/1/name", "value": "user-service-v3"},
    {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 90},
    {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 10}]'
fi
"$PY" -m stack.ready route --kubeconfig "$KUBECONFIG" --traefik-api "$TRAEFIK_API_URL" \
  --namespace "$SEED_NS" --name api-route --rule 0 --weights 90,10 --timeout 30 >/dev/null
say "api-route serves user-service-v2 90 / user-service-v3 10 (Traefik API confirms)"
traffic "$GATEWAY_URL/users" "$LOGS/demo-loadgen-healthy.log" "Host: $GATEWAY_HOST" "X-Api-Version: v2"
sleep 2
t1=$(date +%s.%N)
rollout_yaml "$SEED_NS" | "$K" apply -f -
say "\$ kubectl -n $SEED_NS get rollouts.canary.dev -o wide   (a row on each change; [+t] timeline lines)"
rc1=0
"$PY" "$HELPER" watch --namespace "$SEED_NS" --name "$ROLLOUT" --want Succeeded --since "$t1" \
  --timeout 120 --result "$RUN/healthy.json" || rc1=$?
stop_recorded "$PIDS/demo-loadgen.pid" stack.loadgen
say "api-route rule 0 now: $("$K" -n "$SEED_NS" get httproute api-route -o jsonpath='{.spec.rules[0].backendRefs[0].name} {.spec.rules[0].backendRefs[0].weight} / {.spec.rules[0].backendRefs[1].name} {.spec.rules[0].backendRefs[1].weight}')"

# -- part 2: faulty ---------------------------------------------------------------------------
section "part 2: faulty release — $FAULTY_NS/api-route, the canary answers 20 % errors"
read -r FURL FHOST FCONTROL < <("$PY" -c 'import json, sys; a = json.load(open(sys.argv[1]))
print(a["url"], a["headers"]["Host"], a["canary_control_url"])' "$RUN/faulty-app.json")
say "canary fault: POST $FCONTROL $("$PY" -c 'import json, sys; from stack.scenario import set_faults
print(json.dumps(set_faults(sys.argv[1], error_rate=0.2)))' "$FCONTROL")"
traffic "$FURL" "$LOGS/demo-loadgen-faulty.log" "Host: $FHOST" "X-Api-Version: v2"
sleep 2
t2=$(date +%s.%N)
rollout_yaml "$FAULTY_NS" | "$K" apply -f -
say "\$ kubectl -n $FAULTY_NS get rollouts.canary.dev -o wide"
rc2=0
"$PY" "$HELPER" watch --namespace "$FAULTY_NS" --name "$ROLLOUT" --want RolledBack --since "$t2" \
  --timeout 120 --result "$RUN/faulty.json" || rc2=$?
stop_recorded "$PIDS/demo-loadgen.pid" stack.loadgen
"$PY" "$HELPER" explain --namespace "$FAULTY_NS" --name "$ROLLOUT"

# -- summary ----------------------------------------------------------------------------------
section "summary ($(since "$t0") s in all)"
summary_rc=0
"$PY" "$HELPER" summary "$RUN/healthy.json" "$RUN/faulty.json" || summary_rc=$?
say "  kubectl get rollouts.canary.dev -n $SEED_NS / -n $FAULTY_NS  ·  operator log: $LOGS/demo-operator.log"
if ((rc1 != 0 || rc2 != 0 || summary_rc != 0)); then
  ((rc1 == 0)) || say "part 1 did not end Succeeded (see above and $LOGS/demo-operator.log)" >&2
  ((rc2 == 0)) || say "part 2 did not end RolledBack (see above and $LOGS/demo-operator.log)" >&2
  exit 1
fi
say "make demo: OK — the healthy release Succeeded, the faulty one RolledBack"
