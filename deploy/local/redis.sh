#!/usr/bin/env bash
# Redis 7 from Debian's packages, data and log under .run/redis. Usage: redis.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DIR="$RUN/redis"
LOG="$LOGS/redis.log"
PIDFILE="$DIR/redis.pid"
PORT=6379

start() {
  mkdir -p "$DIR"
  if ! pid_alive "$PIDFILE"; then
    redis-server "$ROOT/deploy/local/redis.conf" --dir "$DIR" --pidfile "$PIDFILE" \
      --logfile "$LOG" --port $PORT --daemonize yes ||
      fail "redis did not start; its log is $LOG"
  fi
  wait_until redis "$LOG" 15 bash -c "[[ \$(redis-cli -p $PORT ping) == PONG ]]"
  say "redis ready on 127.0.0.1:$PORT (log $LOG)"
}

stop() { stop_pid redis "$PIDFILE"; }

status() { pid_alive "$PIDFILE" && say "redis: running" || say "redis: stopped"; }

"${1:?usage: redis.sh start|stop|status}"
