#!/usr/bin/env bash
# The host side of a deploy, run over SSH by deploy/release.sh and deploy/rollback.sh (never by
# hand on a laptop): `bash -s -- COMMAND DEPLOY_PATH COMPOSE_FILE [ARGS] < deploy/remote.sh`.
#
# DEPLOY_PATH is the compose project folder on the host: the compose files (copied there by
# release.sh) and the operator's .env (secrets; and TROVA_IMAGE, the image that runs, which only
# these scripts write, so a hand-typed `docker compose ...` on the host uses the same image).
# Next to it: .trova-previous-image (what rollback returns to) and .trova-releases.log.
#
#   prepare IMAGE   pull IMAGE and record the image running now as the one to roll back to
#   migrate IMAGE   run the migrations once, from IMAGE, while the previous image still serves
#   switch IMAGE    start every service on IMAGE; wait until each container is healthy
#   rollback [IMAGE] switch back to the recorded previous image (no migrations: see release.sh)
set -euo pipefail

PREVIOUS_FILE=.trova-previous-image
LOG_FILE=.trova-releases.log

fail() {
  echo "deploy on $(hostname): $*" >&2
  exit 1
}

running_image() {
  sed -n 's/^TROVA_IMAGE=//p' .env | tail -n 1
}

# Rewrites .env with TROVA_IMAGE=IMAGE, keeping every other line and the file's mode (it holds
# secrets: the copy is private from its first byte); the rename is atomic, so a failed write
# never leaves a half .env behind.
running_image_set() {
  local image=$1
  (umask 077 && { grep -v '^TROVA_IMAGE=' .env || true; echo "TROVA_IMAGE=$image"; } > .env.new)
  chmod --reference=.env .env.new
  mv .env.new .env
  echo "$(date -u +%FT%TZ) $image" >> "$LOG_FILE"
}

# Waits for every container with a health check: web's is readiness (database, migrations,
# Redis, worker and beat heartbeats), the worker's and beat's their own heartbeats.
up_and_wait() {
  local image=$1
  if ! TROVA_IMAGE=$image docker compose up --detach --no-build --remove-orphans --wait \
      --wait-timeout "$HEALTH_TIMEOUT"; then
    docker compose ps >&2
    fail "the services on $image did not become healthy within ${HEALTH_TIMEOUT}s"
  fi
}

prepare() {
  local image=$1 previous
  previous=$(running_image)
  # A redeploy of the image already running keeps the older rollback target.
  if [ -n "$previous" ] && [ "$previous" != "$image" ]; then
    echo "$previous" > "$PREVIOUS_FILE"
  fi
  # The image by name first: `compose pull` only warns when it cannot pull a service that has a
  # `build:` section, and a host must never build its own image instead.
  docker pull --quiet "$image" > /dev/null
  TROVA_IMAGE=$image docker compose pull --quiet --ignore-buildable
  echo "$(hostname): pulled $image (rollback target: $(cat "$PREVIOUS_FILE" 2>/dev/null || echo none))"
}

migrate() {
  local image=$1
  # The compose file's one-shot `migrate` service (`manage.py migrate --noinput`): not `run web`,
  # which would start web's dependencies, that same service among them, first.
  TROVA_IMAGE=$image docker compose run --rm migrate
}

switch() {
  local image=$1
  running_image_set "$image"
  up_and_wait "$image"
  echo "$(hostname): running $image, healthy"
}

# rollback [IMAGE]: with IMAGE, only a host that runs IMAGE goes back (a host the failed release
# never switched keeps what it runs, though its rollback target may be older still).
rollback() {
  local undo=${1:-} previous
  if [ -n "$undo" ] && [ "$(running_image)" != "$undo" ]; then
    echo "$(hostname): not running $undo, nothing to roll back"
    return 0
  fi
  [ -s "$PREVIOUS_FILE" ] || fail "no previous image recorded in $DEPLOY_PATH/$PREVIOUS_FILE"
  previous=$(cat "$PREVIOUS_FILE")
  running_image_set "$previous"
  up_and_wait "$previous"
  echo "$(hostname): rolled back to $previous, healthy"
}

main() {
  [ $# -ge 3 ] || fail "usage: remote.sh COMMAND DEPLOY_PATH COMPOSE_FILE [IMAGE]"
  local command=$1
  DEPLOY_PATH=$2
  export COMPOSE_FILE=$3
  shift 3
  HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-300}
  cd "$DEPLOY_PATH" || fail "no folder $DEPLOY_PATH"
  [ -f .env ] || fail "no $DEPLOY_PATH/.env (the operator writes it once, with the secrets)"
  case "$command" in
    prepare | migrate | switch) [ $# -eq 1 ] || fail "$command needs the image"; "$command" "$1" ;;
    rollback) [ $# -le 1 ] || fail "rollback takes at most the image to undo"; rollback "$@" ;;
    *) fail "unknown command $command" ;;
  esac
}

main "$@"
