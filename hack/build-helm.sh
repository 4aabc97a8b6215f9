#!/usr/bin/env bash
# Build helm from its Go module (the same recipe as hack/build-etcd.sh). Idempotent;
# prints the path. Default: Helm 4 (the current major; the chart is apiVersion v2 and
# also works with Helm 3). HELM_VERSION=v3.x.y builds Helm 3 from helm.sh/helm/v3.
set -euo pipefail
: "${HELM_VERSION:=v4.3.1}" "${CANARY_CACHE:=/var/cache/canary-e2e}"
out="$CANARY_CACHE/helm/$HELM_VERSION/helm"
if [ -x "$out" ]; then echo "$out"; exit 0; fi
major="${HELM_VERSION#v}"; major="${major%%.*}"
case "$major" in
  3|4) mod="helm.sh/helm/v$major" ;;
  *) echo "error: HELM_VERSION=$HELM_VERSION: only Helm 3 and 4 are supported" >&2; exit 1 ;;
esac
export PATH="/usr/local/go/bin:$PATH"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
export GOMODCACHE="$CANARY_CACHE/go/mod" GOCACHE="$CANARY_CACHE/go/build"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; cd "$work"
go mod init canary.local/helm-build >/dev/null 2>&1
go get "$mod@$HELM_VERSION" >&2
mkdir -p "$(dirname "$out")"
# helm's Makefile stamps the version by ldflags (else `helm version` says "v4.3").
# Helm 4 derives its default Kubernetes version (for `helm template`/`lint` and the
# chart's kubeVersion constraint) from the client-go version in the build info. Helm 3
# needs it by ldflags (else it assumes v1.20 and `kubeVersion: >=1.29` fails).
ldflags="-s -w -X $mod/internal/version.version=$HELM_VERSION"
if [ "$major" = 3 ]; then
  cg="$(go list -m -f '{{.Version}}' k8s.io/client-go)"; cg="${cg#v0.}"
  kmaj=1 kmin="${cg%%.*}"
  for pkg in pkg/lint/rules pkg/chartutil; do
    ldflags+=" -X $mod/$pkg.k8sVersionMajor=$kmaj -X $mod/$pkg.k8sVersionMinor=$kmin"
  done
fi
go build -trimpath -ldflags "$ldflags" \
  -o "$out.tmp" "$mod/cmd/helm" >&2
mv "$out.tmp" "$out"; "$out" version >&2; echo "$out"
