#!/usr/bin/env bash
# make image-push: push the image `make image` built to a registry of your own.
#   make image-push IMAGE=registry.example.com/team/canary:0.2.0 [PUSH_ARGS='--creds USER:PASS']
#   bash hack/push-image.sh DESTINATION [buildah push options...]
# The image is $CANARY_IMAGE (default localhost/canary:dev) in the buildah storage
# hack/build-image.sh builds into ($CANARY_CACHE/image/storage); DESTINATION is a registry
# reference (docker:// is implied; any containers-transports form works, e.g.
# oci-archive:/tmp/canary.tar). The options after it go to `buildah push` as they are:
#   --creds USER[:PASSWORD]   credentials for this push (else `buildah login REGISTRY` first: it
#                             writes $XDG_RUNTIME_DIR/containers/auth.json, as root without
#                             XDG_RUNTIME_DIR /run/containers/0/auth.json, which push reads)
#   --authfile FILE           a Docker/containers auth.json (also $REGISTRY_AUTH_FILE)
#   --cert-dir DIR            CA certificates for a registry with a private CA
#   --tls-verify=false        plain HTTP or an unverified certificate (the tests' loopback registry)
# Prints DESTINATION@DIGEST: pin it with the chart's image.digest.
# The tests push to their loopback registry this same way (tests/e2e/test_node_helm.py).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

: "${CANARY_IMAGE:=localhost/canary:dev}"
STORE="$CANARY_CACHE/image"
[ $# -ge 1 ] || die "usage: $0 DESTINATION [buildah push options] (e.g. registry.example.com/team/canary:0.2.0 --creds USER:PASS)"
dest="$1"; shift
opts=("$@")
case "$dest" in
  -*) die "the first argument must be the destination, not an option ($dest)" ;;
  *://*|oci:*|oci-archive:*|docker-archive:*|dir:*) target="$dest" ;;
  *) target="docker://$dest" ;;
esac
command -v buildah >/dev/null || die "buildah is missing: run 'make node-tools' (or apt-get install buildah)"
bah() { buildah --root "$STORE/storage" --runroot "$STORE/run" "$@"; }
bah inspect --type image "$CANARY_IMAGE" >/dev/null 2>&1 \
  || die "no image $CANARY_IMAGE in $STORE/storage: run 'make image' first"

digestfile="$(mktemp)"; trap 'rm -f "$digestfile"' EXIT
log "push: $CANARY_IMAGE -> $target"
bah push --quiet "${opts[@]}" --digestfile "$digestfile" "$CANARY_IMAGE" "$target" >&2
digest="$(cat "$digestfile")"
[ -n "$digest" ] || die "buildah push wrote no digest"
echo "${dest#docker://}@$digest"
