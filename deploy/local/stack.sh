#!/usr/bin/env bash
# The local infrastructure as plain processes. Usage: stack.sh up|down|status
# REDIS=sentinel adds a replica and three Sentinels to the Redis (redis-sentinel.sh);
# REDIS=cluster a Redis Cluster of three primaries beside it (redis-cluster.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE="$ROOT/deploy/local"

case "${1:?usage: stack.sh up|down|status}" in
  up)
    "$HERE/postgres.sh" start
    "$HERE/redis.sh" start
    case "${REDIS:-single}" in
      single) ;;
      sentinel) "$HERE/redis-sentinel.sh" start ;;
      cluster) "$HERE/redis-cluster.sh" start ;;
      *) fail "REDIS must be single, sentinel or cluster, not ${REDIS}" ;;
    esac
    "$HERE/kafka.sh" start
    "$HERE/seaweedfs.sh" start
    ;;
  down)
    "$HERE/seaweedfs.sh" stop
    "$HERE/kafka.sh" stop
    "$HERE/redis-sentinel.sh" stop
    "$HERE/redis-cluster.sh" stop
    "$HERE/redis.sh" stop
    "$HERE/postgres.sh" stop
    ;;
  status)
    "$HERE/postgres.sh" status
    "$HERE/redis.sh" status
    "$HERE/redis-sentinel.sh" status
    "$HERE/redis-cluster.sh" status
    "$HERE/kafka.sh" status
    "$HERE/seaweedfs.sh" status
    ;;
  *) fail "usage: stack.sh up|down|status" ;;
esac
