#!/usr/bin/env bash
# `nginx -t` on the web image's configurations (deploy/docker/web): the static server of the
# cluster and the TLS balancer of compose.yaml, with the snippets of deploy/nginx, rendered
# into a scratch folder with local paths, a throwaway certificate and 127.0.0.1 for the
# compose service names. Uses Debian's nginx, which make install provides.
# Usage: nginx-check.sh SCRATCH_DIR
set -euo pipefail
source "$(dirname "$0")/../local/lib.sh"

WORK=${1:?usage: nginx-check.sh SCRATCH_DIR}
command -v nginx >/dev/null || fail "nginx is missing (make install adds it)"
command -v openssl >/dev/null || fail "openssl is missing (make install adds it)"
mkdir -p "$WORK/chat" "$WORK/web" "$WORK/secrets" "$WORK/tmp"
cp "$ROOT"/deploy/nginx/{http-common,security-headers,chat-locations}.conf "$WORK/chat/"
printf '<!doctype html>\n' >"$WORK/web/index.html"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=localhost" -keyout "$WORK/secrets/tls.key" -out "$WORK/secrets/tls.crt" 2>/dev/null

for conf in nginx.conf balancer.conf; do
  sed -e "s|/tmp/|$WORK/tmp/|g" -e "s|/srv/chat/web|$WORK/web|g" \
    -e "s|/run/secrets/chat/|$WORK/secrets/|g" -e "s/server \(gateway-[0-9]\|auth-service\):/server 127.0.0.1:/" \
    "$ROOT/deploy/docker/web/$conf" >"$WORK/$conf"
  nginx -t -q -p "$WORK" -c "$WORK/$conf" -e "$WORK/error.log" 2>"$WORK/test.log" || {
    cat "$WORK/test.log" >&2
    fail "nginx refused deploy/docker/web/$conf"
  }
done
say "nginx: deploy/docker/web/nginx.conf and balancer.conf accepted"
