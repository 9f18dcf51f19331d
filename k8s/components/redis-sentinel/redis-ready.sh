#!/bin/sh
# Readiness of a Redis node: the primary answers; a replica is ready once its link to the primary
# is up (a replica still loading or syncing is not, so the PodDisruptionBudget does not let a
# drain take another node meanwhile).
info=$(timeout 2 redis-cli -a "$REDIS_PASSWORD" --no-auth-warning info replication) || exit 1
case "$info" in
  *role:master*) exit 0 ;;
esac
printf '%s\n' "$info" | grep -q '^master_link_status:up'
