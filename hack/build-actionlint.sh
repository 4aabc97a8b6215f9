#!/usr/bin/env bash
# Build actionlint (rhysd/actionlint) from its Go module, to lint the CI examples'
# GitHub Actions workflow (examples/ci/github-release.yml). Idempotent; prints the path.
set -euo pipefail
: "${ACTIONLINT_VERSION:=v1.7.12}" "${CANARY_CACHE:=/var/cache/canary-e2e}"
out="$CANARY_CACHE/actionlint/$ACTIONLINT_VERSION/actionlint"
if [ -x "$out" ]; then echo "$out"; exit 0; fi
export PATH="/usr/local/go/bin:$PATH"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
export GOMODCACHE="$CANARY_CACHE/go/mod" GOCACHE="$CANARY_CACHE/go/build"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; cd "$work"
go mod init canary.local/actionlint-build >/dev/null 2>&1
go get "github.com/rhysd/actionlint@$ACTIONLINT_VERSION" >&2
mkdir -p "$(dirname "$out")"
go build -trimpath -ldflags "-s -w -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" \
  -o "$out.tmp" github.com/rhysd/actionlint/cmd/actionlint >&2
mv "$out.tmp" "$out"; "$out" -version >&2; echo "$out"
