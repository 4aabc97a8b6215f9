#!/usr/bin/env bash
# make node-up: one real node beside the local control plane (make cluster-up):
# containerd 2.x + runc + kubelet, and kube-scheduler + kube-controller-manager, so
# Deployments become Pods for real. Writes .local/node/node.env; stop with make node-down.
#
# Choices (docs/install.md "A real node"):
# - Pods run with hostNetwork only: no CNI network is set up (the CNI config is the
#   loopback plugin alone, which makes the runtime report its network ready).
# - Node IP: kubelet refuses a loopback node IP ("nodeIP can't be loopback address"), and
#   test traffic stays off the machine's real addresses, so an address from TEST-NET-1
#   (192.0.2.0/24, RFC 5737, never routed) is added to `lo` here and removed by node-down.
# - cgroup v1 (this machine): kubelet runs with failCgroupV1: false, cgroupfs driver, no
#   per-QoS cgroups.
# - The sandbox image ("pause") is a 1-line Go program (hack/build-node.sh) pushed to the
#   local registry, which also serves the operator image (hack/registry.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

: "${CONTAINERD_VERSION:=v2.2.9}"
: "${REGISTRY_PORT:=$((APISERVER_PORT + 100))}"
: "${KUBELET_PORT:=$((APISERVER_PORT + 101))}" "${KUBELET_HEALTHZ_PORT:=$((APISERVER_PORT + 102))}"
: "${SCHEDULER_PORT:=$((APISERVER_PORT + 103))}" "${KCM_PORT:=$((APISERVER_PORT + 104))}"
: "${NODE_IP:=192.0.2.$(( APISERVER_PORT / 1000 % 250 + 1 ))}"
: "${NODE_NAME:=canary-node}"
NODE="$LOCAL/node"
PIDS="$NODE/pids"
LOGS="$NODE/logs"
KDIR="$CANARY_CACHE/k8s/$K8S_VERSION"
CDIR="$CANARY_CACHE/containerd/$CONTAINERD_VERSION"
PAUSE_BIN="$CANARY_CACHE/pause/pause"
SOCK="$NODE/containerd/containerd.sock"
REG="127.0.0.1:$REGISTRY_PORT"
PAUSE_REF="$REG/pause:canary"
t0=$SECONDS

[ -f "$LOCAL/cluster.env" ] || die "no local control plane: run 'make cluster-up' first"
source "$LOCAL/cluster.env"
for b in "$KDIR/kubelet" "$KDIR/kube-scheduler" "$KDIR/kube-controller-manager" "$CDIR/containerd" \
         "$CDIR/containerd-shim-runc-v2" "$PAUSE_BIN"; do
  [ -x "$b" ] || die "$b is missing: run 'make node-tools'"
done
command -v runc >/dev/null || die "runc is missing: run 'make node-tools'"
[ -d /usr/lib/cni ] || die "/usr/lib/cni is missing (containernetworking-plugins): run 'make node-tools'"

healthy() {
  local c; for c in containerd kubelet kube-scheduler kube-controller-manager; do pid_alive "$PIDS/$c.pid" || return 1; done
  "$TOOLS_VENV/bin/kubectl" get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True
}
if healthy; then echo "node already up (env: $NODE/node.env; stop with make node-down)"; exit 0; fi
ls "$PIDS"/*.pid >/dev/null 2>&1 && bash "$REPO/hack/node-down.sh"
for p in "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT" "$SCHEDULER_PORT" "$KCM_PORT"; do
  port_free "$p" || die "port 127.0.0.1:$p is in use (set KUBELET_PORT, KUBELET_HEALTHZ_PORT, SCHEDULER_PORT, KCM_PORT)"
done

mkdir -p "$PIDS" "$LOGS" "$NODE/pki" "$NODE/cni" "$NODE/containerd/certs.d/$REG" "$NODE/kubelet"
start() {   # start NAME CMD... : background in its own session, log + pid file (as cluster-up)
  local name=$1; shift
  setsid sh -c 'echo $$ >"$0"; exec "$@"' "$PIDS/$name.pid" "$@" </dev/null >"$LOGS/$name.log" 2>&1 &
  local i; for ((i = 0; i < 50; i++)); do [ -s "$PIDS/$name.pid" ] && return 0; sleep 0.02; done
  die "could not start $name"
}
step() { log "node: $1 ($(( SECONDS - t0 )) s)"; }
K="$TOOLS_VENV/bin/kubectl"
pki="$LOCAL/pki"

# --- node address on lo --------------------------------------------------------------------
ip -4 addr show dev lo | grep -q " $NODE_IP/" || ip addr add "$NODE_IP/32" dev lo
echo "$NODE_IP" >"$NODE/node-ip"

# --- registry + sandbox image ----------------------------------------------------------------
step "registry"
REGISTRY_PORT="$REGISTRY_PORT" bash "$REPO/hack/registry.sh" up
if ! curl -sf "http://$REG/v2/pause/manifests/canary" -H 'Accept: application/vnd.oci.image.manifest.v1+json' >/dev/null; then
  st="$CANARY_CACHE/image"
  c="$(buildah --root "$st/storage" --runroot "$st/run" from scratch)"
  buildah --root "$st/storage" --runroot "$st/run" copy "$c" "$PAUSE_BIN" /pause >/dev/null
  buildah --root "$st/storage" --runroot "$st/run" config --entrypoint '["/pause"]' --user 65535:65535 "$c"
  buildah --root "$st/storage" --runroot "$st/run" commit -q "$c" localhost/pause:canary >/dev/null
  buildah --root "$st/storage" --runroot "$st/run" rm "$c" >/dev/null
  buildah --root "$st/storage" --runroot "$st/run" push --tls-verify=false --quiet localhost/pause:canary "docker://$PAUSE_REF"
fi

# --- certificates: the kubelet's client identity (system:node:<name>, group system:nodes) ---
if ! openssl verify -CAfile "$pki/ca.crt" "$NODE/pki/kubelet.crt" >/dev/null 2>&1; then
  (
    cd "$NODE/pki"
    openssl req -new -newkey rsa:2048 -nodes -keyout kubelet.key -out kubelet.csr \
      -subj "/O=system:nodes/CN=system:node:$NODE_NAME"
    openssl x509 -req -in kubelet.csr -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 30 \
      -extfile "$pki/client.ext" -out kubelet.crt
  ) >"$LOGS/pki.log" 2>&1 || die "kubelet certificate failed, see $LOGS/pki.log"
fi
kc="$NODE/kubelet.kubeconfig"
rm -f "$kc"
"$K" --kubeconfig "$kc" config set-cluster local --server="$APISERVER_URL" --certificate-authority="$pki/ca.crt" --embed-certs=true >/dev/null
"$K" --kubeconfig "$kc" config set-credentials kubelet --client-certificate="$NODE/pki/kubelet.crt" --client-key="$NODE/pki/kubelet.key" --embed-certs=true >/dev/null
"$K" --kubeconfig "$kc" config set-context local --cluster=local --user=kubelet >/dev/null
"$K" --kubeconfig "$kc" config use-context local >/dev/null
# RBAC only (no Node authorizer on this apiserver): bind the built-in system:node role.
"$K" create clusterrolebinding canary-node-kubelets --clusterrole=system:node --group=system:nodes \
  --dry-run=client -o yaml | "$K" apply -f - >/dev/null

# --- containerd ----------------------------------------------------------------------------
step "containerd"
cat >"$NODE/cni/10-loopback.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "canary-hostnetwork-only", "plugins": [{"type": "loopback"}]}
JSON
cat >"$NODE/containerd/certs.d/$REG/hosts.toml" <<TOML
server = "http://$REG"
[host."http://$REG"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
TOML
cat >"$NODE/containerd/config.toml" <<TOML
version = 3
root = "$NODE/containerd/root"
state = "$NODE/containerd/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = "$PAUSE_REF"
[plugins."io.containerd.cri.v1.images".registry]
  config_path = "$NODE/containerd/certs.d"
[plugins."io.containerd.cri.v1.runtime"]
  # This machine withholds CAP_SYS_RESOURCE: runc cannot lower oom_score_adj (the sandbox
  # asks for -998) and failed with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
[plugins."io.containerd.cri.v1.runtime".cni]
  bin_dirs = ["/usr/lib/cni"]
  conf_dir = "$NODE/cni"
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
  BinaryName = "$(command -v runc)"
  SystemdCgroup = false
TOML
start containerd env PATH="$CDIR:$PATH" "$CDIR/containerd" --config "$NODE/containerd/config.toml"
wait_for 30 "containerd socket" test -S "$SOCK"

# --- kubelet ---------------------------------------------------------------------------------
step "kubelet"
cat >"$NODE/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$SOCK
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
resolvConf: /etc/resolv.conf
podLogsDir: $NODE/pod-logs
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
registerNode: true
YAML
start kubelet "$KDIR/kubelet" --config "$NODE/kubelet.yaml" --kubeconfig "$kc" \
  --root-dir "$NODE/kubelet" --cert-dir "$NODE/pki" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v=1
wait_for 60 "kubelet /healthz" curl -sf "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz"

# --- scheduler, controller-manager (the admin identity of the stack) ---------------------------
step "kube-scheduler, kube-controller-manager"
start kube-scheduler "$KDIR/kube-scheduler" --kubeconfig "$KUBECONFIG" --leader-elect=false \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --v=1
start kube-controller-manager "$KDIR/kube-controller-manager" --kubeconfig "$KUBECONFIG" --leader-elect=false \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --root-ca-file="$pki/ca.crt" \
  --service-account-private-key-file="$pki/sa.key" --use-service-account-credentials=false \
  --controllers='*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route' --v=1
wait_for 90 "node $NODE_NAME Ready" sh -c "'$K' get node '$NODE_NAME' -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
wait_for 60 "ServiceAccount default/default" "$K" -n default get serviceaccount default

cat >"$NODE/node.env.tmp" <<ENV
# written by hack/node-up.sh; source it
export NODE_NAME=$NODE_NAME
export NODE_IP=$NODE_IP
export REGISTRY=$REG
export CONTAINERD_SOCK=$SOCK
ENV
mv "$NODE/node.env.tmp" "$NODE/node.env"
echo "node up in $(( SECONDS - t0 )) s: source $NODE/node.env (logs: $LOGS)"
