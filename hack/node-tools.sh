#!/usr/bin/env bash
# make node-tools: idempotent install/build of what `make image` and `make node-up` need.
# Debian packages: buildah, mmdebstrap (image), docker-registry (registry), runc and the
# CNI plugins (node). Built and cached under $CANARY_CACHE: kubelet, kube-scheduler,
# kube-controller-manager (k8s.io/kubernetes), containerd 2.x + its runc shim, pause.
# Cold: ~10 min of 2 busy cores and ~2 GB more Go build cache; warm: < 1 s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t0=$SECONDS
pkgs=()
for p in buildah mmdebstrap docker-registry runc; do command -v "$p" >/dev/null || pkgs+=("$p"); done
[ -x /usr/lib/cni/loopback ] || pkgs+=(containernetworking-plugins)
if [ "${1:-}" = --check ]; then   # exit 0 when everything is installed and built (tools.sh asks)
  [ ${#pkgs[@]} -eq 0 ] || exit 1
  k="$CANARY_CACHE/k8s/${K8S_VERSION:-v1.36.3}" c="$CANARY_CACHE/containerd/${CONTAINERD_VERSION:-v2.2.9}"
  for f in "$k/kubelet" "$k/kube-scheduler" "$k/kube-controller-manager" "$c/containerd" \
           "$c/containerd-shim-runc-v2" "$CANARY_CACHE/pause/pause"; do [ -x "$f" ] || exit 1; done
  exit 0
fi
if [ ${#pkgs[@]} -gt 0 ]; then
  log "apt: installing ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
mkdir -p "$CANARY_CACHE"; exec 9>"$CANARY_CACHE/.node-tools.lock"; flock 9
nice -n 10 bash "$REPO/hack/build-node.sh" >/dev/null
printf 'node-tools: %d s\n' $((SECONDS - t0))
