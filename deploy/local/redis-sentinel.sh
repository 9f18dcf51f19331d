#!/usr/bin/env bash
# `make up REDIS=sentinel`: a replica of the local Redis (6379) on 6380 and three Sentinels on
# 26379-26381 watching them as "chat", data and logs under .run/redis-sentinel. The services
# then take REDIS_URL=$SENTINEL_URL. Usage: redis-sentinel.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DIR="$RUN/redis-sentinel"
REPLICA_PORT=6380
SENTINEL_PORTS=(26379 26380 26381)

start() {
  mkdir -p "$DIR"
  if ! pid_alive "$DIR/replica.pid"; then
    redis-server "$ROOT/deploy/local/redis.conf" --dir "$DIR" --pidfile "$DIR/replica.pid" \
      --logfile "$LOGS/redis-replica.log" --port $REPLICA_PORT --daemonize yes \
      --replicaof 127.0.0.1 6379 || fail "the Redis replica did not start"
  fi
  wait_until redis-replica "$LOGS/redis-replica.log" 15 \
    bash -c "redis-cli -p $REPLICA_PORT role | grep -qx connected"
  for port in "${SENTINEL_PORTS[@]}"; do
    local conf="$DIR/sentinel-$port.conf"
    if ! pid_alive "$DIR/sentinel-$port.pid"; then
      # Sentinel rewrites its file as it learns the group: a fresh one each start.
      printf '%s\n' "port $port" "bind 127.0.0.1" "dir $DIR" "daemonize yes" \
        "pidfile $DIR/sentinel-$port.pid" "logfile $LOGS/sentinel-$port.log" \
        "sentinel monitor chat 127.0.0.1 6379 2" \
        "sentinel down-after-milliseconds chat 2000" \
        "sentinel failover-timeout chat 10000" >"$conf"
      redis-server "$conf" --sentinel || fail "sentinel $port did not start"
    fi
    wait_until "sentinel-$port" "$LOGS/sentinel-$port.log" 30 \
      bash -c "[[ \$(redis-cli -p $port sentinel replicas chat | grep -c '^name$') -ge 1 ]]"
  done
  say "redis sentinel ready: replica on 127.0.0.1:$REPLICA_PORT, sentinels on ${SENTINEL_PORTS[*]}"
}

stop() {
  for port in "${SENTINEL_PORTS[@]}"; do stop_pid "sentinel-$port" "$DIR/sentinel-$port.pid"; done
  stop_pid redis-replica "$DIR/replica.pid"
}

status() {
  pid_alive "$DIR/replica.pid" && say "redis replica: running" || say "redis replica: stopped"
  for port in "${SENTINEL_PORTS[@]}"; do
    pid_alive "$DIR/sentinel-$port.pid" && say "sentinel $port: running" || say "sentinel $port: stopped"
  done
}

"${1:?usage: redis-sentinel.sh start|stop|status}"
