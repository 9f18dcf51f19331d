#!/bin/sh
# Prints the host name of the group's primary, as the Redis nodes and the Sentinels announce it
# (<pod>.<service>.<namespace>.svc): the one the first Sentinel that answers names; when none
# answers (the group's first start, or every Sentinel down), the Redis node that says it is the
# primary; when none does, the first Redis pod. Sourced by start-redis.sh and start-sentinel.sh.
# Environment: POD_NAMESPACE, REDIS_SERVICE, REDIS_NODES, SENTINEL_SERVICE, SENTINEL_NODES,
# MASTER_NAME, REDIS_PASSWORD; SKIP_HOST is left out of the questions (the asking pod itself).

redis_host() { echo "$REDIS_SERVICE-$1.$REDIS_SERVICE.$POD_NAMESPACE.svc"; }
sentinel_host() { echo "$SENTINEL_SERVICE-$1.$SENTINEL_SERVICE.$POD_NAMESPACE.svc"; }

find_primary() {
  i=0
  while [ "$i" -lt "$SENTINEL_NODES" ]; do
    host=$(sentinel_host "$i")
    i=$((i + 1))
    [ "$host" = "${SKIP_HOST:-}" ] && continue
    # Sentinels take no password (the services' client sends none to them).
    answer=$(timeout 3 redis-cli -h "$host" -p 26379 --raw \
      sentinel get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | head -n 1) || answer=""
    case "$answer" in
      "$REDIS_SERVICE"-*) echo "$answer"; return ;;
    esac
  done
  i=0
  while [ "$i" -lt "$REDIS_NODES" ]; do
    host=$(redis_host "$i")
    i=$((i + 1))
    [ "$host" = "${SKIP_HOST:-}" ] && continue
    role=$(timeout 3 redis-cli -h "$host" -p 6379 -a "$REDIS_PASSWORD" --no-auth-warning --raw \
      role 2>/dev/null | head -n 1) || role=""
    if [ "$role" = master ]; then
      echo "$host"
      return
    fi
  done
  redis_host 0
}
