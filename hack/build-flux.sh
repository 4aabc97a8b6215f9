#!/usr/bin/env bash
# Build Flux kustomize-controller from its Go module (it has `replace` directives, so
# `go install …@version` refuses it: build from the downloaded module as the main module,
# as hack/build-kube-apiserver.sh does), and extract the Kustomization and GitRepository
# CRDs: Kustomization from the kustomize-controller module; the source kinds from the
# source-controller module at the version of its API module (github.com/fluxcd/
# source-controller/api holds the Go types only, no CRD YAML). source-controller itself is
# not built: the e2e test serves the artifact and writes GitRepository.status.artifact.
# Idempotent; prints the directory that holds kustomize-controller and crds/.
set -euo pipefail
: "${FLUX_KUSTOMIZE_VERSION:=v1.9.6}" "${FLUX_SOURCE_API_VERSION:=v1.9.6}" "${CANARY_CACHE:=/var/cache/canary-e2e}"
dir="$CANARY_CACHE/flux/kustomize-controller-$FLUX_KUSTOMIZE_VERSION"
out="$dir/kustomize-controller"
# kustomize-controller watches every source kind: GitRepository, OCIRepository and Bucket
# CRDs must exist or its caches never sync (ExternalArtifact: behind a feature gate).
SOURCES="gitrepositories ocirepositories buckets externalartifacts"
built() {
  [ -x "$out" ] && [ -s "$dir/crds/kustomizations.yaml" ] || return 1
  for k in $SOURCES; do [ -s "$dir/crds/$k.yaml" ] || return 1; done
}
if [ "${1:-}" = --check ]; then built; exit; fi   # exit 0 when built (tools.sh asks)
if built; then echo "$dir"; exit 0; fi
mkdir -p "$CANARY_CACHE/flux"
exec 9>"$CANARY_CACHE/flux/.build.lock"; flock 9   # one builder at a time; the others wait
if built; then echo "$dir"; exit 0; fi

export PATH="/usr/local/go/bin:$PATH"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
export GOMODCACHE="$CANARY_CACHE/go/mod" GOCACHE="$CANARY_CACHE/go/build"
export GOMAXPROCS="${GOMAXPROCS:-2}"

moddir() { go mod download -json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error")))'; }
src="$(moddir "github.com/fluxcd/kustomize-controller@$FLUX_KUSTOMIZE_VERSION")"

work="$(mktemp -d)"; trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$src/." "$work/"; chmod -R u+w "$work"; cd "$work"
# The api/ sub-module is not in the module zip: point its ./api replace at the same release.
go mod edit -replace "github.com/fluxcd/kustomize-controller/api=github.com/fluxcd/kustomize-controller/api@$FLUX_KUSTOMIZE_VERSION"
go mod download github.com/fluxcd/kustomize-controller/api >&2

mkdir -p "$dir/crds"
[ -x "$out" ] || go build -trimpath -ldflags "-s -w" -o "$out.tmp" . >&2
# CRDs: kustomize-controller's own (config/crd/bases) and source-controller's GitRepository.
cp "$src/config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml" "$dir/crds/kustomizations.yaml"
srcdir="$(moddir "github.com/fluxcd/source-controller@$FLUX_SOURCE_API_VERSION")"
for k in $SOURCES; do
  cp "$srcdir/config/crd/bases/source.toolkit.fluxcd.io_$k.yaml" "$dir/crds/$k.yaml"
done
chmod u+w "$dir/crds/"*.yaml
[ -x "$out" ] || mv "$out.tmp" "$out"
echo "$dir"
