#!/usr/bin/env bash
# deploy/release.sh ENV IMAGE: run IMAGE (a pushed, immutable tag: the commit sha) on every host
# of ENV (staging or production), from a checkout of the commit that built it. Settings: the
# DEPLOY_* variables in deploy/hosts.sh. Undo with deploy/rollback.sh ENV.
#
# 1. every host: copy the compose files, pull IMAGE, record the image running now (the rollback
#    target) -- before anything changes, so every host rolls back to the same release;
# 2. the first host: the migrations, once, from IMAGE, while the previous image still serves;
# 3. host by host: start every service on IMAGE and wait until each container is healthy
#    (web's health check is readiness), so a bad image stops the rollout at the first host.
#
# Rule that keeps rollback safe (expand/contract): a release's migrations must work with the
# previous release's code, which keeps serving during step 2 and runs again after a rollback,
# and rollback never migrates backwards. Add columns/tables (nullable or with a database default)
# in one release, use them in the next; drop or rename only what a release already running no
# longer reads. A migration the previous image cannot live with makes rollback unsafe.
set -euo pipefail
# shellcheck source=deploy/hosts.sh
source "$(dirname "$0")/hosts.sh"

[ $# -eq 2 ] || die "usage: deploy/release.sh staging|production IMAGE"
env=$1 image=$2
compose_files "$env" > /dev/null
[[ $image == *[:@]* ]] || die "IMAGE must name a tag or digest (got '$image')"
ssh_setup
read -r -a hosts <<< "$DEPLOY_HOSTS"

for host in "${hosts[@]}"; do
  compose_files_copy "$host" "$env"
  on_host "$host" "$env" prepare "$image"
done
on_host "${hosts[0]}" "$env" migrate "$image"
for host in "${hosts[@]}"; do
  on_host "$host" "$env" switch "$image"
done
echo "release: $env runs $image on ${#hosts[@]} host(s)"
