#!/usr/bin/env bash
# make registry: a local image registry on loopback (Debian's docker-registry, plain HTTP on
# 127.0.0.1:$REGISTRY_PORT, storage in .local/registry), and the image from `make image`
# pushed to it as 127.0.0.1:$REGISTRY_PORT/canary:dev by hack/push-image.sh (make image-push's path).
#   bash hack/registry.sh up      start (or reuse) the registry
#   bash hack/registry.sh push    up, then push $CANARY_IMAGE (default localhost/canary:dev)
#   bash hack/registry.sh down    stop it, by PID
# Prints the pushed reference (push) and writes .local/registry/registry.env.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

: "${REGISTRY_PORT:=$((APISERVER_PORT + 100))}"   # 16543 by default; per worktree with the ports
: "${CANARY_IMAGE:=localhost/canary:dev}"
DIR="$LOCAL/registry"
PIDF="$DIR/registry.pid"
ADDR="127.0.0.1:$REGISTRY_PORT"

up() {
  if pid_alive "$PIDF" && curl -sf "http://$ADDR/v2/" >/dev/null; then return 0; fi
  command -v docker-registry >/dev/null || {
    log "apt: installing docker-registry"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null; }
  }
  # Debian's package starts a system registry on :5000 where systemd runs; we never use it.
  port_free "$REGISTRY_PORT" || die "port $ADDR is in use (set REGISTRY_PORT)"
  mkdir -p "$DIR/data"
  cat >"$DIR/config.yml" <<YAML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $DIR/data}
  delete: {enabled: true}
http:
  addr: $ADDR
YAML
  setsid sh -c 'echo $$ >"$0"; exec "$@"' "$PIDF" docker-registry serve "$DIR/config.yml" \
    </dev/null >"$DIR/registry.log" 2>&1 &
  wait_for 20 "registry on $ADDR" curl -sf "http://$ADDR/v2/"
  echo "export REGISTRY=$ADDR" >"$DIR/registry.env"
  log "registry: http://$ADDR (data $DIR/data)"
}

push() {   # the same path as `make image-push` (hack/push-image.sh), plain HTTP
  up
  local name="${CANARY_IMAGE#*/}" ref pushed
  ref="$ADDR/$name"
  pushed="$(bash "$REPO/hack/push-image.sh" "$ref" --tls-verify=false)"
  echo "${pushed##*@}" >"$DIR/digest"
  log "pushed $pushed"
  echo "$ref"
}

down() {
  if pid_alive "$PIDF"; then
    kill -TERM "$(cat "$PIDF")"
    local i; for ((i = 0; i < 100; i++)); do pid_alive "$PIDF" || break; sleep 0.1; done
    log "registry stopped"
  fi
  rm -f "$PIDF" "$DIR/registry.env"
}

case "${1:-}" in
  up) up ;; push) push ;; down) down ;;
  *) echo "usage: $0 up|push|down" >&2; exit 2 ;;
esac
