#!/usr/bin/env bash
# The local infrastructure as plain processes. Usage: stack.sh up|down|status
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE="$ROOT/deploy/local"

case "${1:?usage: stack.sh up|down|status}" in
  up)
    "$HERE/postgres.sh" start
    "$HERE/redis.sh" start
    "$HERE/kafka.sh" start
    ;;
  down)
    "$HERE/kafka.sh" stop
    "$HERE/redis.sh" stop
    "$HERE/postgres.sh" stop
    ;;
  status)
    "$HERE/postgres.sh" status
    "$HERE/redis.sh" status
    "$HERE/kafka.sh" status
    ;;
  *) fail "usage: stack.sh up|down|status" ;;
esac
