#!/usr/bin/env bash
# `make up REDIS=cluster`: a Redis Cluster of three primaries on 7000-7002 (cluster bus on
# 17000-17002), no replicas, data, nodes.conf and logs under .run/redis-cluster. The cluster is
# created once; a restart finds it again in each node's nodes.conf. The services then take
# REDIS_URL=redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002.
# Usage: redis-cluster.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DIR="$RUN/redis-cluster"
PORTS=(7000 7001 7002)

cluster_ok() { redis-cli -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

start() {
  for port in "${PORTS[@]}"; do
    mkdir -p "$DIR/$port"
    if ! pid_alive "$DIR/$port/redis.pid"; then
      redis-server "$ROOT/deploy/local/redis.conf" --dir "$DIR/$port" --port "$port" \
        --pidfile "$DIR/$port/redis.pid" --logfile "$LOGS/redis-cluster-$port.log" \
        --daemonize yes --cluster-enabled yes --cluster-config-file nodes.conf \
        --cluster-node-timeout 5000 || fail "cluster node $port did not start"
    fi
    wait_until "redis-cluster-$port" "$LOGS/redis-cluster-$port.log" 15 \
      bash -c "redis-cli -p $port ping | grep -qx PONG"
  done
  # Created once: nodes that already know their slots form the cluster again by themselves.
  if [[ $(redis-cli -p "${PORTS[0]}" cluster info | grep '^cluster_slots_assigned:' | tr -d '\r') \
    == cluster_slots_assigned:0 ]]; then
    redis-cli --cluster create "${PORTS[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes \
      >>"$LOGS/redis-cluster-create.log" 2>&1 || fail "redis-cli --cluster create failed"
  fi
  for port in "${PORTS[@]}"; do
    wait_until "redis-cluster-$port" "$LOGS/redis-cluster-$port.log" 30 \
      bash -c "redis-cli -p $port cluster info | grep -q '^cluster_state:ok'"
  done
  say "redis cluster ready: primaries on ${PORTS[*]}"
}

stop() {
  for port in "${PORTS[@]}"; do stop_pid "redis-cluster-$port" "$DIR/$port/redis.pid"; done
}

status() {
  for port in "${PORTS[@]}"; do
    if ! pid_alive "$DIR/$port/redis.pid"; then
      say "redis cluster $port: stopped"
    elif cluster_ok "$port"; then
      say "redis cluster $port: running (cluster_state:ok)"
    else
      say "redis cluster $port: running (cluster not ok)"
    fi
  done
}

"${1:?usage: redis-cluster.sh start|stop|status}"
