# shellcheck shell=bash
# Sourced by deploy/release.sh and deploy/rollback.sh: which compose files an environment runs,
# and running deploy/remote.sh on its hosts over SSH. Everything comes from the environment
# (the CI job maps its secrets to it; nothing here is ever printed):
#   DEPLOY_HOSTS          the environment's hosts, "user@host ..." (each runs its compose project)
#   DEPLOY_SSH_KEY        the private key those hosts accept for the deploy user
#   DEPLOY_KNOWN_HOSTS    their host keys (known_hosts lines): no trust on first use
#   DEPLOY_PATH           the compose project folder on every host (default /srv/trova)
#   DEPLOY_SSH_PORT       default 22
#   DEPLOY_HEALTH_TIMEOUT seconds a host's containers get to become healthy (default 300)

DEPLOY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# compose_files ENV: the files, in override order, that ENV's hosts run.
compose_files() {
  case "$1" in
    staging) echo "docker-compose.yml docker-compose.staging.yml" ;;
    production) echo "docker-compose.yml" ;;
    *) die "unknown environment '$1' (staging or production)" ;;
  esac
}

# Writes the key and the host keys to a private temporary folder removed on exit, and sets
# SSH_OPTS for ssh and scp. Strict host key checking: a host whose key changed is refused.
ssh_setup() {
  local name
  for name in DEPLOY_HOSTS DEPLOY_SSH_KEY DEPLOY_KNOWN_HOSTS; do
    [ -n "${!name:-}" ] || die "$name is not set"
  done
  SSH_DIR=$(mktemp -d)
  trap 'rm -rf "$SSH_DIR"' EXIT
  (umask 077 && printf '%s\n' "$DEPLOY_SSH_KEY" > "$SSH_DIR/key")
  printf '%s\n' "$DEPLOY_KNOWN_HOSTS" > "$SSH_DIR/known_hosts"
  SSH_OPTS=(-o BatchMode=yes -o IdentitiesOnly=yes -o "IdentityFile=$SSH_DIR/key"
    -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$SSH_DIR/known_hosts"
    -o "Port=${DEPLOY_SSH_PORT:-22}" -o ConnectTimeout=20)
  DEPLOY_PATH=${DEPLOY_PATH:-/srv/trova}
}

# on_host HOST ENV COMMAND [IMAGE]: deploy/remote.sh COMMAND on HOST, in ENV's compose project.
on_host() {
  local host=$1 env=$2 command=$3 files remote timeout
  shift 3
  files=$(compose_files "$env")
  remote=$(printf '%q ' "$command" "$DEPLOY_PATH" "${files// /:}" "$@")
  timeout=$(printf '%q' "${DEPLOY_HEALTH_TIMEOUT:-300}")
  # shellcheck disable=SC2029  # expanded here on purpose; printf %q quoted every value
  ssh "${SSH_OPTS[@]}" "$host" "HEALTH_TIMEOUT=$timeout bash -s -- $remote" \
    < "$DEPLOY_ROOT/deploy/remote.sh"
}

# The compose files of the commit being deployed, so a compose change ships with its code.
compose_files_copy() {
  local host=$1 env=$2 files
  read -r -a files <<< "$(compose_files "$env")"
  (cd "$DEPLOY_ROOT" && scp -q "${SSH_OPTS[@]}" "${files[@]}" "$host:$DEPLOY_PATH/")
}
