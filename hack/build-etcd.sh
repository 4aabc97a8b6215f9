#!/usr/bin/env bash
# Build etcd v3.6.x from its Go module (docs/local-control-plane.md). Idempotent; prints the path.
set -euo pipefail
: "${ETCD_VERSION:=v3.6.16}" "${CANARY_CACHE:=/var/cache/canary-e2e}"
out="$CANARY_CACHE/etcd/$ETCD_VERSION/etcd"
if [ -x "$out" ]; then echo "$out"; exit 0; fi
export PATH="/usr/local/go/bin:$PATH"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
export GOMODCACHE="$CANARY_CACHE/go/mod" GOCACHE="$CANARY_CACHE/go/build"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; cd "$work"
go mod init canary.local/etcd-build >/dev/null 2>&1
go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
mkdir -p "$(dirname "$out")"
go build -trimpath -ldflags "-s -w" -o "$out.tmp" go.etcd.io/etcd/server/v3 >&2
mv "$out.tmp" "$out"; "$out" --version >&2; echo "$out"
