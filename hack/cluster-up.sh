#!/usr/bin/env bash
# make cluster-up: start the local control plane (etcd, kube-apiserver, Gateway API CRDs,
# Traefik, Prometheus, demo backends) or reuse a healthy one; write .local/cluster.env.
# Entry points, parts and recipe: docs/local-control-plane.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PY="${CANARY_PYTHON:-$REPO/.venv/bin/python}"
ENV_FILE="$LOCAL/cluster.env"
PIDS="$LOCAL/pids"
LOGS="$LOCAL/logs"
COMPONENTS=(etcd kube-apiserver backends traefik prometheus)
t0=$SECONDS

healthy() {   # every recorded component runs and answers its health endpoint
  [ -f "$ENV_FILE" ] || return 1
  local c; for c in "${COMPONENTS[@]}"; do pid_alive "$PIDS/$c.pid" || return 1; done
  (
    source "$ENV_FILE"
    curl -sf --max-time 2 --cacert "$LOCAL/pki/ca.crt" "https://127.0.0.1:$APISERVER_PORT/readyz" &&
    curl -sf --max-time 2 "$TRAEFIK_API_URL/ping" &&
    curl -sf --max-time 2 "$PROMETHEUS_URL/-/ready" &&
    curl -sf --max-time 2 "$STABLE_CONTROL_URL" && curl -sf --max-time 2 "$CANARY_CONTROL_URL"
  ) >/dev/null 2>&1
}

if healthy && { [ "${CANARY_AUDIT:-0}" != 1 ] || grep -q '^export AUDIT_LOG=' "$ENV_FILE"; }; then
  echo "already running (env: $ENV_FILE; stop with make cluster-down)"
  exit 0
fi
# Leftovers of a broken stack: stop what was recorded, by PID only.
ls "$PIDS"/*.pid >/dev/null 2>&1 && bash "$REPO/hack/cluster-down.sh"

for bin in "$ETCD_BIN" "$KAS_BIN" "$TOOLS_VENV/bin/traefik" "$TOOLS_VENV/bin/kubectl"; do
  [ -x "$bin" ] || die "$bin is missing: run 'make tools' first"
done
[ -f "$GWAPI_CRDS/gateway.networking.k8s.io_httproutes.yaml" ] || die "Gateway API CRDs missing: run 'make tools'"
command -v prometheus >/dev/null || die "prometheus is missing: run 'make tools'"
[ -x "$PY" ] || die "$PY is missing: run 'make venv'"
for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$WEB_PORT" "$ADMIN_PORT" "$PROM_PORT" "$STABLE_PORT" "$CANARY_PORT"; do
  port_free "$p" || die "port 127.0.0.1:$p is in use (override with the *_PORT variables, see hack/lib.sh)"
done
unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT   # else Traefik/kubectl go in-cluster

rm -rf "$LOCAL/etcd" "$LOCAL/prometheus" "$PIDS" "$LOCAL/logs.prev"
[ -d "$LOGS" ] && mv "$LOGS" "$LOCAL/logs.prev"   # the previous stack's logs, one generation
mkdir -p "$LOCAL/pki" "$LOGS" "$PIDS" "$LOCAL/prometheus/targets"
export LOCAL KUBECONFIG="$LOCAL/kubeconfig"
export WEB_PORT ADMIN_PORT APISERVER_PORT STABLE_PORT CANARY_PORT BACKEND_HOST
K="$TOOLS_VENV/bin/kubectl"

start() {   # start NAME CMD... : background in its own session, log + pid file
  local name=$1; shift
  # sh records its own pid, then execs CMD (same pid), whether or not setsid had to fork
  setsid sh -c 'echo $$ >"$0"; exec "$@"' "$PIDS/$name.pid" "$@" </dev/null >"$LOGS/$name.log" 2>&1 &
  local i; for ((i = 0; i < 50; i++)); do [ -s "$PIDS/$name.pid" ] && return 0; sleep 0.02; done
  die "could not start $name"
}
step() { log "$1 ($(( SECONDS - t0 )) s)"; }

# --- PKI: a CA, the serving cert, the admin client cert (O=system:masters), SA keys ----
pki="$LOCAL/pki"
if ! openssl verify -CAfile "$pki/ca.crt" "$pki/apiserver.crt" "$pki/admin.crt" >/dev/null 2>&1 || [ ! -f "$pki/sa.key" ]; then
  step "pki"
  (
    cd "$pki" && rm -f ./*
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 365 -subj "/CN=canary-local-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -new -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.96.0.1\n' > apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -extfile apiserver.ext -out apiserver.crt
    openssl req -new -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=canary-admin"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > client.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -extfile client.ext -out admin.crt
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key
    openssl pkey -in sa.key -pubout -out sa.pub
  ) >"$LOGS/pki.log" 2>&1 || die "PKI generation failed, see $LOGS/pki.log"
fi
rm -f "$KUBECONFIG"
"$K" config set-cluster local --server="https://127.0.0.1:$APISERVER_PORT" --certificate-authority="$pki/ca.crt" --embed-certs=true >/dev/null
"$K" config set-credentials canary-admin --client-certificate="$pki/admin.crt" --client-key="$pki/admin.key" --embed-certs=true >/dev/null
"$K" config set-context local --cluster=local --user=canary-admin >/dev/null
"$K" config use-context local >/dev/null

# --- etcd ------------------------------------------------------------------------------
step "etcd"
start etcd "$ETCD_BIN" --name canary --data-dir "$LOCAL/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "canary=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --log-level warn
wait_for 30 "etcd /health" sh -c "curl -sf http://127.0.0.1:$ETCD_PORT/health | grep -q '\"health\":\"true\"'"

# --- kube-apiserver --------------------------------------------------------------------
# The ServiceAccount admission plugin stays on: Pods (only with make node-up) get their
# token volume; it needs each namespace's "default" ServiceAccount, which
# kube-controller-manager (make node-up) creates. Without a node no Pods are created.
# CANARY_AUDIT=1: an audit log (Metadata level: who, verb, resource, response code; no
# bodies) at .local/audit/audit.log, so tests can count the requests of each identity
# (tests/e2e/audit.py). Recorded in cluster.env as AUDIT_LOG.
AUDIT_ARGS=()
AUDIT_LOG=""
if [ "${CANARY_AUDIT:-0}" = 1 ]; then
  mkdir -p "$LOCAL/audit"
  AUDIT_LOG="$LOCAL/audit/audit.log"
  rm -f "$LOCAL/audit"/audit*.log
  cat >"$LOCAL/audit/policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
POLICY
  AUDIT_ARGS=(--audit-policy-file="$LOCAL/audit/policy.yaml" --audit-log-path="$AUDIT_LOG"
    --audit-log-format=json --audit-log-mode=blocking --audit-log-maxsize=200 --audit-log-maxbackup=1)
fi
step "kube-apiserver"
start kube-apiserver "$KAS_BIN" "${AUDIT_ARGS[@]}" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --service-cluster-ip-range=10.96.0.0/24 \
  --authorization-mode=RBAC \
  --profiling=false --v=1
wait_for 90 "kube-apiserver /readyz" curl -sf --cacert "$pki/ca.crt" "https://127.0.0.1:$APISERVER_PORT/readyz"

# --- CRDs --------------------------------------------------------------------------------
step "crds"
"$K" apply --server-side --force-conflicts -f "$GWAPI_CRDS/" >"$LOGS/crds.log"
"$K" wait --for=condition=Established --timeout=60s crd --all >>"$LOGS/crds.log"
if [ -f "$REPO/crds/rollout.yaml" ]; then
  "$K" apply --server-side --force-conflicts -f "$REPO/crds/rollout.yaml" >>"$LOGS/crds.log" 2>&1 &&
  "$K" wait --for=condition=Established --timeout=30s crd/rollouts.canary.dev >>"$LOGS/crds.log" 2>&1 ||
  log "warning: crds/rollout.yaml did not apply (see $LOGS/crds.log); the stack runs without it"
fi

# --- fixtures, Traefik's token ------------------------------------------------------------
step "fixtures"
"$PY" -m stack.render "$REPO"/stack/fixtures/*.yaml | "$K" apply -f - >"$LOGS/fixtures.log"
"$K" -n traefik create token traefik-controller --duration=720h >"$pki/traefik.token"

# --- demo backends (seed scenario) ----------------------------------------------------------
step "backends"
start backends env PYTHONPATH="$REPO" "$PY" -u -m stack.backend \
  --serve "user-service-v2=127.0.0.1:$STABLE_PORT" --serve "user-service-v3=127.0.0.1:$CANARY_PORT"
STABLE_CONTROL_URL="http://127.0.0.1:$STABLE_PORT/-/control"
CANARY_CONTROL_URL="http://127.0.0.1:$CANARY_PORT/-/control"
wait_for 20 "backends" sh -c "curl -sf $STABLE_CONTROL_URL && curl -sf $CANARY_CONTROL_URL"
cat >"$LOCAL/prometheus/targets/app-team-a.json" <<JSON
[{"targets": ["127.0.0.1:$STABLE_PORT"], "labels": {"namespace": "app-team-a", "service": "user-service-v2"}},
 {"targets": ["127.0.0.1:$CANARY_PORT"], "labels": {"namespace": "app-team-a", "service": "user-service-v3"}}]
JSON

# --- Traefik in a private mount namespace whose /etc/hosts knows $BACKEND_HOST ------------
step "traefik"
"$PY" -m stack.render "$REPO/stack/templates/traefik.yml" >"$LOCAL/traefik.yml"
{ cat /etc/hosts; echo "127.0.0.1 $BACKEND_HOST"; } >"$LOCAL/hosts"
# unshare -> sh -> traefik is an exec chain: the recorded pid is Traefik's.
start traefik unshare -m --propagation private -- sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$LOCAL/hosts" \
  env -u KUBECONFIG "$TOOLS_VENV/bin/traefik" --configFile="$LOCAL/traefik.yml"
wait_for 30 "traefik /ping" curl -sf "http://127.0.0.1:$ADMIN_PORT/ping"
"$K" wait gatewayclass/traefik --for=condition=Accepted --timeout=60s >/dev/null
"$K" -n infra wait gateway/prod-gateway --for=condition=Programmed --timeout=60s >/dev/null
"$PY" -m stack.ready route --kubeconfig "$KUBECONFIG" --traefik-api "http://127.0.0.1:$ADMIN_PORT" \
  --namespace app-team-a --name api-route --rule 0 --weights 90,10 --timeout 60
wait_for 20 "gateway serves api-route" curl -sf -H "Host: api.example.com" "http://127.0.0.1:$WEB_PORT/users"

# --- Prometheus ------------------------------------------------------------------------
step "prometheus"
"$PY" -m stack.render "$REPO/stack/templates/prometheus.yml" >"$LOCAL/prometheus.yml"
start prometheus prometheus --config.file="$LOCAL/prometheus.yml" --storage.tsdb.path="$LOCAL/prometheus/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --storage.tsdb.retention.time=6h --web.enable-lifecycle --log.level=warn
wait_for 30 "prometheus /-/ready" curl -sf "http://127.0.0.1:$PROM_PORT/-/ready"
wait_for 30 "prometheus targets up" "$PY" -m stack.ready targets --prometheus "http://127.0.0.1:$PROM_PORT" --jobs traefik,backends

cat >"$ENV_FILE.tmp" <<ENV
# written by hack/cluster-up.sh; source it (export KEY=value lines)
export KUBECONFIG=$KUBECONFIG
export GATEWAY_URL=http://127.0.0.1:$WEB_PORT
export PROMETHEUS_URL=http://127.0.0.1:$PROM_PORT
export TRAEFIK_API_URL=http://127.0.0.1:$ADMIN_PORT
export STABLE_CONTROL_URL=$STABLE_CONTROL_URL
export CANARY_CONTROL_URL=$CANARY_CONTROL_URL
export GATEWAY_HOST=api.example.com
export APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
export CA_FILE=$pki/ca.crt
export BACKEND_HOST=$BACKEND_HOST
export CANARY_LOCAL=$LOCAL
export CANARY_CACHE=$CANARY_CACHE
export PROMETHEUS_TARGETS_DIR=$LOCAL/prometheus/targets
ENV
if [ -n "$AUDIT_LOG" ]; then echo "export AUDIT_LOG=$AUDIT_LOG" >>"$ENV_FILE.tmp"; fi
mv "$ENV_FILE.tmp" "$ENV_FILE"
echo "cluster up in $(( SECONDS - t0 )) s: source $ENV_FILE (logs: $LOGS)"
