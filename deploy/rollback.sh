#!/usr/bin/env bash
# deploy/rollback.sh ENV [IMAGE]: every host of ENV back on the image that ran before the last
# release (recorded by deploy/release.sh on each host before it changed anything). With IMAGE
# (what CI passes after a failed release of IMAGE), only hosts running IMAGE go back: a host the
# release never reached is left alone. No migration runs backwards: releases follow the
# expand/contract rule in release.sh, so the previous image works with the current schema.
# Settings: the DEPLOY_* variables in deploy/hosts.sh.
set -euo pipefail
# shellcheck source=deploy/hosts.sh
source "$(dirname "$0")/hosts.sh"

[ $# -eq 1 ] || [ $# -eq 2 ] || die "usage: deploy/rollback.sh staging|production [IMAGE]"
env=$1
undo=("${@:2}")
compose_files "$env" > /dev/null
ssh_setup
read -r -a hosts <<< "$DEPLOY_HOSTS"

# Every host, even after one fails: a host left on the bad image is worse than a slow rollback.
failed=0
for host in "${hosts[@]}"; do
  on_host "$host" "$env" rollback "${undo[@]}" || failed=1
done
[ "$failed" -eq 0 ] || die "rollback failed on at least one host of $env (see above)"
echo "rollback: $env is back on its previous image on ${#hosts[@]} host(s)"
