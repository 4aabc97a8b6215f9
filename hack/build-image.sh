#!/usr/bin/env bash
# make image: build the operator image from ./Dockerfile without a container daemon.
#   bash hack/build-image.sh [--report] [--prune]
# 1. A Debian 12 (bookworm) minbase root filesystem made by mmdebstrap (cached in
#    $CANARY_CACHE/image/), imported as the local image $BASE_REF.
# 2. `buildah bud` on the repository's Dockerfile with --build-arg BASE_IMAGE=$BASE_REF:
#    the Dockerfile's own RUN lines install Python (Debian's python3) and the pinned
#    requirements, so `docker build .` and `make image` share one recipe.
# The image lands in buildah's storage under $CANARY_CACHE/image/storage as $CANARY_IMAGE
# (default localhost/canary:dev); hack/push-image.sh pushes it (make image-push, and hack/registry.sh
# to the loopback registry). --report prints size and contents.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

: "${CANARY_IMAGE:=localhost/canary:dev}"
: "${DEBIAN_SUITE:=bookworm}"     # must match the Dockerfile's default base (debian:bookworm-slim)
: "${DEBIAN_MIRROR:=http://deb.debian.org/debian}"
: "${DEBIAN_SECURITY_MIRROR:=http://deb.debian.org/debian-security}"
STORE="$CANARY_CACHE/image"
BASE_REF="localhost/canary-base:$DEBIAN_SUITE"
BASE_TAR="$STORE/base-$DEBIAN_SUITE.tar"
report=0 prune=0
for a in "$@"; do
  case "$a" in --report) report=1 ;; --prune) prune=1 ;; *) die "unknown option $a (--report, --prune)" ;; esac
done

bah() { buildah --root "$STORE/storage" --runroot "$STORE/run" "$@"; }

need=()
command -v buildah >/dev/null || need+=(buildah)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
  log "apt: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
mkdir -p "$STORE"
exec 8>"$STORE/.lock"; flock 8     # one build at a time per cache
t0=$SECONDS

# --- 1. base root filesystem -------------------------------------------------------------
# Slimmed like the debian:*-slim images: no docs (copyright kept), man pages or locales.
if [ ! -s "$BASE_TAR" ]; then
  log "base: mmdebstrap --variant=minbase $DEBIAN_SUITE"
  nice -n 10 mmdebstrap --variant=minbase --mode=root --format=tar \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
    "$DEBIAN_SUITE" "$BASE_TAR.tmp" \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
    "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main" >"$STORE/mmdebstrap.log" 2>&1 \
    || die "mmdebstrap failed, see $STORE/mmdebstrap.log"
  mv "$BASE_TAR.tmp" "$BASE_TAR"
  bah rmi -f "$BASE_REF" >/dev/null 2>&1 || true
fi
if ! bah inspect --type image "$BASE_REF" >/dev/null 2>&1; then
  log "base: importing $BASE_TAR as $BASE_REF"
  c="$(bah from scratch)"
  bah add "$c" "$BASE_TAR" / >/dev/null
  bah config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
  bah commit -q "$c" "$BASE_REF" >/dev/null
  bah rm "$c" >/dev/null
fi

# --- 2. the Dockerfile ---------------------------------------------------------------------
# A network with a TLS-inspecting proxy: pip inside the build trusts the same CA bundle as
# pip here (PIP_CERT / pip's global.cert), mounted for the build only, never in a layer.
mounts=()
cert="${PIP_CERT:-$(pip3 config get global.cert 2>/dev/null || true)}"
if [ -n "$cert" ] && [ -f "$cert" ]; then
  printf '[global]\ncert = /run/canary-build/ca.crt\n' >"$STORE/pip.conf"
  mounts+=(-v "$STORE/pip.conf:/etc/pip.conf:ro" -v "$cert:/run/canary-build/ca.crt:ro")
fi
log "image: buildah bud Dockerfile -> $CANARY_IMAGE (base $BASE_REF)"
nice -n 10 buildah --root "$STORE/storage" --runroot "$STORE/run" bud --isolation chroot --layers --pull-never \
  "${mounts[@]}" --build-arg "BASE_IMAGE=$BASE_REF" -f "$REPO/Dockerfile" -t "$CANARY_IMAGE" "$REPO" \
  >"$STORE/build.log" 2>&1 || { tail -20 "$STORE/build.log" >&2; die "image build failed, see $STORE/build.log"; }
# No automatic prune: buildah's layer cache *is* the untagged intermediate images (a code
# change then rebuilds only the last build step and the final COPY, ~200 MB each time).
# `--prune` empties the cache after the build.
(( prune )) && bah rmi --prune >/dev/null 2>&1
log "image: $CANARY_IMAGE built in $(( SECONDS - t0 )) s"

if (( report )); then
  c="$(bah from "$CANARY_IMAGE")"; m="$(bah mount "$c")"
  trap 'bah umount "$c" >/dev/null; bah rm "$c" >/dev/null' EXIT
  echo "image:      $CANARY_IMAGE ($(bah images --format '{{.ID}} {{.Size}}' "$CANARY_IMAGE"))"
  echo "layers:     $(bah inspect --type image --format '{{len .OCIv1.RootFS.DiffIDs}}' "$CANARY_IMAGE")"
  echo "user:       $(bah inspect --type image --format '{{.OCIv1.Config.User}}' "$CANARY_IMAGE")"
  echo "entrypoint: $(bah inspect --type image --format '{{.OCIv1.Config.Entrypoint}}' "$CANARY_IMAGE")"
  echo "python:     $(chroot "$m" /opt/canary/bin/python -c 'import sys; print(sys.version.split()[0])')"
  echo "debian packages: $(chroot "$m" dpkg-query -W -f '${Package}\n' | wc -l)"
  echo "python distributions: $(ls -d "$m"/opt/canary/lib/python3*/site-packages/*.dist-info | wc -l) (requirements.lock + canary)"
  echo "build cache: $(du -sh "$STORE/storage" | cut -f1) in $STORE/storage"
  echo "disk use (MiB):"
  (cd "$m" && du -sm opt/canary usr/lib usr/share usr/bin var etc 2>/dev/null | sed 's/^/  /')
  echo "largest python packages (MiB):"
  (cd "$m"/opt/canary/lib/python3*/site-packages && du -sm -- */ | sort -rn | head -5 | sed 's/^/  /')
fi
echo "$CANARY_IMAGE"
