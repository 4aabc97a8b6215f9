#!/usr/bin/env bash
# Build Flux kustomize-controller from its Go module (it has `replace` directives, so
# `go install …@version` refuses it: build from the downloaded module as the main module,
# as hack/build-kube-apiserver.sh does), and extract the CRDs it needs: Kustomization from
# the kustomize-controller module; the source kinds from the source-controller *main*
# module, because github.com/fluxcd/source-controller/api holds the Go types only, no CRD
# YAML. Which source-controller: FLUX_SOURCE_VERSION, by default the version of
# source-controller/api that kustomize-controller's go.mod requires (v1.9.0 for v1.9.6) —
# the CRDs then describe the very types the controller is compiled against. The script
# checks that source-controller@FLUX_SOURCE_VERSION's own go.mod requires its api at that
# version, and refuses a mismatch. source-controller itself is not built: the e2e test
# serves the artifact and writes GitRepository.status.artifact.
# Idempotent (crds/SOURCE_VERSION records which source-controller the CRDs came from; a
# cache without it gets its CRDs refreshed, the binary is not rebuilt); prints the
# directory that holds kustomize-controller and crds/. --check: exit 0 when built.
set -euo pipefail
: "${FLUX_KUSTOMIZE_VERSION:=v1.9.6}" "${FLUX_SOURCE_VERSION:=}" "${CANARY_CACHE:=/var/cache/canary-e2e}"
dir="$CANARY_CACHE/flux/kustomize-controller-$FLUX_KUSTOMIZE_VERSION"
out="$dir/kustomize-controller"
# kustomize-controller watches every source kind: GitRepository, OCIRepository and Bucket
# CRDs must exist or its caches never sync (ExternalArtifact: behind a feature gate).
SOURCES="gitrepositories ocirepositories buckets externalartifacts"
built() {
  [ -x "$out" ] && [ -s "$dir/crds/kustomizations.yaml" ] || return 1
  for k in $SOURCES; do [ -s "$dir/crds/$k.yaml" ] || return 1; done
  [ -s "$dir/crds/SOURCE_VERSION" ] || return 1
  [ -z "$FLUX_SOURCE_VERSION" ] || [ "$(cat "$dir/crds/SOURCE_VERSION")" = "$FLUX_SOURCE_VERSION" ]
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
# required MODULE GOMOD: the version GOMOD requires of MODULE (empty when it does not)
required() { go mod edit -json "$2" | python3 -c 'import json,sys; m=sys.argv[1]; print(next((r["Version"] for r in json.load(sys.stdin).get("Require") or [] if r["Path"]==m), ""))' "$1"; }
src="$(moddir "github.com/fluxcd/kustomize-controller@$FLUX_KUSTOMIZE_VERSION")"
api="$(required github.com/fluxcd/source-controller/api "$src/go.mod")"
[ -n "$api" ] || { echo "build-flux: kustomize-controller@$FLUX_KUSTOMIZE_VERSION requires no source-controller/api" >&2; exit 1; }
: "${FLUX_SOURCE_VERSION:=$api}"

work="$(mktemp -d)"; trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$src/." "$work/"; chmod -R u+w "$work"; cd "$work"
# The api/ sub-module is not in the module zip: point its ./api replace at the same release.
go mod edit -replace "github.com/fluxcd/kustomize-controller/api=github.com/fluxcd/kustomize-controller/api@$FLUX_KUSTOMIZE_VERSION"
go mod download github.com/fluxcd/kustomize-controller/api >&2

mkdir -p "$dir/crds"
[ -x "$out" ] || go build -trimpath -ldflags "-s -w" -o "$out.tmp" . >&2
# CRDs: kustomize-controller's own (config/crd/bases) and the source kinds from
# source-controller at the api version the controller is compiled against.
srcdir="$(moddir "github.com/fluxcd/source-controller@$FLUX_SOURCE_VERSION")"
own="$(required github.com/fluxcd/source-controller/api "$srcdir/go.mod")"
if [ "$own" != "$api" ]; then
  echo "build-flux: source-controller@$FLUX_SOURCE_VERSION's CRDs are generated from source-controller/api $own, but kustomize-controller@$FLUX_KUSTOMIZE_VERSION is compiled against $api (set FLUX_SOURCE_VERSION=$api)" >&2
  exit 1
fi
cp "$src/config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml" "$dir/crds/kustomizations.yaml"
for k in $SOURCES; do
  cp "$srcdir/config/crd/bases/source.toolkit.fluxcd.io_$k.yaml" "$dir/crds/$k.yaml"
done
chmod u+w "$dir/crds/"*.yaml
echo "$FLUX_SOURCE_VERSION" > "$dir/crds/SOURCE_VERSION"
[ -x "$out" ] || mv "$out.tmp" "$out"
echo "$dir"
