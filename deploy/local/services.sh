#!/usr/bin/env bash
# The chat services as local processes, logs in .run/logs. Usage: services.sh start|stop|status
# The table lists each process: name, health URL, the secrets it gets, command.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

export UV_PYTHON_DOWNLOADS=never
# REDIS=sentinel: the services find Redis through the Sentinels of redis-sentinel.sh;
# REDIS=cluster: they use the Redis Cluster of redis-cluster.sh.
if [[ ${REDIS:-single} == sentinel ]]; then
  SENTINEL_URL="redis+sentinel://127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381/chat/0"
  export CHAT_GATEWAY_REDIS_URL=$SENTINEL_URL CHAT_AUTH_REDIS_URL=$SENTINEL_URL
elif [[ ${REDIS:-single} == cluster ]]; then
  CLUSTER_URL="redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002"
  export CHAT_GATEWAY_REDIS_URL=$CLUSTER_URL CHAT_AUTH_REDIS_URL=$CLUSTER_URL
fi
PIDS="$RUN/pids"
KEYS="$RUN/keys"
mkdir -p "$PIDS"

# Browsers reach the object store at this site's own origin: nginx sends /chat-attachments/ to
# SeaweedFS (deploy/nginx/chat-locations.conf), and presigned URLs are signed for this origin.
SITE=https://localhost:8443
# The media worker calls the gateways' internal routes on the first gateway's HTTP port.
MEDIA_GATEWAY=http://127.0.0.1:8101

# name|health URL|secrets|command (run from the repository root). Secrets are files of
# .run/keys/NAME.env whose CHAT_… lines the service gets in its environment, never on its command
# line (which every user of the machine can read): object-store (seaweedfs.sh makes it with the
# store) and internal (keys.sh).
SERVICES=(
  # nginx on this host sets X-Forwarded-For; the auth service throttles logins by that address.
  "auth-service|http://127.0.0.1:8200/readyz||env CHAT_AUTH_FORWARDED_ALLOW_IPS=127.0.0.1 .venv/bin/python -m chat_auth"
  "persistence-worker|http://127.0.0.1:8300/readyz||.venv/bin/python -m chat_worker"
  # The same nginx names each browser for the gateways' per-address connection limit.
  "gateway-1|http://127.0.0.1:8101/readyz|object-store internal|env CHAT_GATEWAY_PORT=8101 CHAT_GATEWAY_WS_PORT=8111 CHAT_GATEWAY_NODE_ID=gateway-1 CHAT_GATEWAY_TRUSTED_PROXIES=127.0.0.1 CHAT_OBJECT_STORE_PUBLIC_ENDPOINT_URL=$SITE .venv/bin/python -m chat_gateway"
  "gateway-2|http://127.0.0.1:8102/readyz|object-store internal|env CHAT_GATEWAY_PORT=8102 CHAT_GATEWAY_WS_PORT=8112 CHAT_GATEWAY_NODE_ID=gateway-2 CHAT_GATEWAY_TRUSTED_PROXIES=127.0.0.1 CHAT_OBJECT_STORE_PUBLIC_ENDPOINT_URL=$SITE .venv/bin/python -m chat_gateway"
  # Images: EXIF stripped, thumbnails made, then the gateways told (docs/operations.md).
  "media-worker|http://127.0.0.1:8400/readyz|object-store internal|env CHAT_MEDIA_GATEWAY_URL=$MEDIA_GATEWAY CHAT_OBJECT_STORE_PUBLIC_ENDPOINT_URL=$SITE .venv/bin/python -m chat_media"
)

start_one() {
  local name=$1 url=$2 secrets=$3 cmd=$4 secret
  for secret in $secrets; do
    [[ -s $KEYS/$secret.env ]] || fail "$name needs $KEYS/$secret.env, which is missing (make up makes it)"
  done
  if ! pid_alive "$PIDS/$name.pid"; then
    # Backgrounded as one simple command, so $! is the service itself (stop signals it, not a
    # shell in between: the subshell execs it) and no shell lingers holding this script's
    # output open.
    cd "$ROOT"
    (
      set -a
      for secret in $secrets; do
        # shellcheck disable=SC1090
        source "$KEYS/$secret.env"
      done
      set +a
      exec nohup bash -c "exec $cmd" >>"$LOGS/$name.log" 2>&1 </dev/null
    ) &
    echo $! >"$PIDS/$name.pid"
  fi
  wait_until "$name" "$LOGS/$name.log" 30 curl -fsS "$url"
  say "$name ready ($url, log $LOGS/$name.log)"
}

case "${1:?usage: services.sh start|stop|status}" in
  start)
    # The internal token, made once (the auth service's signing key is made there too).
    "$ROOT/deploy/local/keys.sh"
    for entry in "${SERVICES[@]}"; do
      IFS='|' read -r name url secrets cmd <<<"$entry"
      start_one "$name" "$url" "$secrets" "$cmd"
    done
    ;;
  stop)
    for pidfile in "$PIDS"/*.pid; do
      [[ -e $pidfile ]] || continue
      stop_pid "$(basename "$pidfile" .pid)" "$pidfile"
    done
    ;;
  status)
    for pidfile in "$PIDS"/*.pid; do
      [[ -e $pidfile ]] || continue
      name=$(basename "$pidfile" .pid)
      pid_alive "$pidfile" && say "$name: running" || say "$name: stopped"
    done
    ;;
  *) fail "usage: services.sh start|stop|status" ;;
esac
