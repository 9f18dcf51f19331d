#!/usr/bin/env bash
# The balancer: nginx from Debian's packages as a plain local process (not the system service),
# configuration rendered from deploy/nginx into .run/nginx, TLS on 127.0.0.1:8443 with a
# self-signed localhost certificate made here when none is given.
# Usage: nginx.sh start|stop|status|reload
#
# Environment (all optional; tests start a second balancer with their own values):
#   CHAT_NGINX_DIR       where the rendered configuration, pid and temp files go (.run/nginx)
#   CHAT_NGINX_LOG_DIR   where the access and error logs go (.run/logs)
#   CHAT_NGINX_LISTEN    address:port to serve HTTPS on (127.0.0.1:8443)
#   CHAT_NGINX_GATEWAYS  the gateways' HTTP ports, space-separated host:port (127.0.0.1:8101 127.0.0.1:8102)
#   CHAT_NGINX_GATEWAY_SOCKETS  the gateways' WebSocket ports (127.0.0.1:8111 127.0.0.1:8112)
#   CHAT_NGINX_AUTH      the auth service, host:port (127.0.0.1:8200)
#   CHAT_NGINX_OBJECT_STORE  the object store's S3 endpoint, host:port (127.0.0.1:8333)
#   CHAT_NGINX_WEB_ROOT  the built app (web/dist)
#   CHAT_NGINX_TLS_CERT, CHAT_NGINX_TLS_KEY   a certificate and key to use instead
#   CHAT_NGINX_UNLIMITED_ADDRESSES  client IPs, space-separated, exempt from the per-address
#                        limits (a load generator on this host: 127.0.0.1); none by default
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DIR="${CHAT_NGINX_DIR:-$RUN/nginx}"
LOGS="${CHAT_NGINX_LOG_DIR:-$LOGS}"
mkdir -p "$LOGS"
LISTEN="${CHAT_NGINX_LISTEN:-127.0.0.1:8443}"
GATEWAYS="${CHAT_NGINX_GATEWAYS:-127.0.0.1:8101 127.0.0.1:8102}"
GATEWAY_SOCKETS="${CHAT_NGINX_GATEWAY_SOCKETS:-127.0.0.1:8111 127.0.0.1:8112}"
AUTH="${CHAT_NGINX_AUTH:-127.0.0.1:8200}"
OBJECT_STORE="${CHAT_NGINX_OBJECT_STORE:-127.0.0.1:8333}"
WEB_ROOT="${CHAT_NGINX_WEB_ROOT:-$ROOT/web/dist}"
CERT="${CHAT_NGINX_TLS_CERT:-$RUN/tls/localhost.crt}"
KEY="${CHAT_NGINX_TLS_KEY:-$RUN/tls/localhost.key}"
CONF="$DIR/nginx.conf"
PIDFILE="$DIR/nginx.pid"
LOG="$LOGS/nginx-error.log"
PORT="${LISTEN##*:}"

# A certificate for localhost and 127.0.0.1, valid for a year; browsers will warn (self-signed)
# unless it is trusted locally. Only made when no certificate was given.
certificate() {
  [[ -f $CERT && -f $KEY ]] && return 0
  [[ -n ${CHAT_NGINX_TLS_CERT:-} ]] && fail "CHAT_NGINX_TLS_CERT names $CERT, which does not exist"
  mkdir -p "$(dirname "$CERT")"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -addext "extendedKeyUsage=serverAuth" -keyout "$KEY" -out "$CERT" 2>>"$LOG" ||
    fail "could not create a certificate with openssl; see $LOG"
  chmod 600 "$KEY"
  say "created a self-signed certificate for localhost: $CERT"
}

# The addresses the per-address limits skip (http-common.conf reads limit-exempt*.conf); the file
# is rewritten on every start, so an address stays exempt only while the variable names it.
exemptions() {
  local address
  for address in ${CHAT_NGINX_UNLIMITED_ADDRESSES:-}; do
    [[ $address =~ ^[0-9A-Fa-f.:]+$ ]] ||
      fail "CHAT_NGINX_UNLIMITED_ADDRESSES: '$address' is not an IP address"
    printf '%s "";\n' "$address"
  done
}

servers() {
  local address
  for address in $1; do
    # One refused connection takes a server out of rotation for 5 s (a killed gateway).
    printf '        server %s max_fails=1 fail_timeout=5s;\n' "$address"
  done
}

render() {
  [[ -f $WEB_ROOT/index.html ]] || fail "no built app in $WEB_ROOT (make web builds it)"
  mkdir -p "$DIR/tmp"
  # The snippets are read from the repository, so an edit there only needs a reload.
  ln -sfn "$ROOT/deploy/nginx" "$DIR/chat"
  local user=""
  # As root, workers drop to nobody; the files they serve must be world-readable.
  ((EUID == 0)) && user="user nobody nogroup;"
  local text
  text=$(<"$ROOT/deploy/nginx/nginx.conf.template")
  text=${text//@USER@/$user}
  text=${text//@RUN@/$DIR}
  text=${text//@LOGS@/$LOGS}
  text=${text//@LISTEN@/$LISTEN}
  text=${text//@CERT@/$CERT}
  text=${text//@KEY@/$KEY}
  text=${text//@WEB_ROOT@/$WEB_ROOT}
  text=${text//@GATEWAYS@/$(servers "$GATEWAYS")}
  text=${text//@GATEWAY_SOCKETS@/$(servers "$GATEWAY_SOCKETS")}
  text=${text//@AUTH@/$(servers "$AUTH")}
  text=${text//@OBJECT_STORE@/$(servers "$OBJECT_STORE")}
  printf '%s\n' "$text" >"$CONF"
  exemptions >"$DIR/limit-exempt.conf"
  nginx -t -q -p "$DIR" -c "$CONF" -e "$LOG" 2>>"$LOG" || fail "nginx rejected $CONF; see $LOG"
}

answers() { curl -ksS -o /dev/null --max-time 2 "https://$LISTEN/nginx-health"; }

start() {
  certificate
  render
  if pid_alive "$PIDFILE"; then
    nginx -p "$DIR" -c "$CONF" -e "$LOG" -s reload 2>>"$LOG" || fail "nginx reload failed; see $LOG"
  else
    nginx -p "$DIR" -c "$CONF" -e "$LOG" 2>>"$LOG" || fail "nginx did not start; see $LOG"
  fi
  wait_until nginx "$LOG" 15 answers
  say "nginx ready on https://$LISTEN (log $LOGS/nginx-access.log)"
}

stop() { stop_pid nginx "$PIDFILE" 10; }

status() { pid_alive "$PIDFILE" && say "nginx: running (https://localhost:$PORT/)" || say "nginx: stopped"; }

reload() { start; }

case "${1:-}" in
  start | stop | status | reload) "$1" ;;
  *) fail "usage: nginx.sh start|stop|status|reload" ;;
esac
