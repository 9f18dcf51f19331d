#!/usr/bin/env bash
# `nginx -t` on the web image's configurations (deploy/docker/web): the static server of the
# cluster and the TLS balancer of compose.yaml, with the snippets of deploy/nginx, rendered
# into a scratch folder with local paths, a throwaway certificate and 127.0.0.1 for the
# compose service names. Uses Debian's nginx, which make install provides.
set -euo pipefail
source "$(dirname "$0")/../local/lib.sh"

WORK=$(mktemp -d)
stop() {
  [[ -f $WORK/nginx.pid ]] && nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log" -s stop 2>/dev/null
  rm -rf "$WORK"
}
trap stop EXIT
command -v nginx >/dev/null || fail "nginx is missing (make install adds it)"
command -v openssl >/dev/null || fail "openssl is missing (make install adds it)"
mkdir -p "$WORK/chat" "$WORK/web" "$WORK/secrets" "$WORK/tmp"
cp "$ROOT"/deploy/nginx/{http-common,security-headers,chat-locations,attachment-headers}.conf "$WORK/chat/"
printf '<!doctype html>\n' >"$WORK/web/index.html"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=localhost" -keyout "$WORK/secrets/tls.key" -out "$WORK/secrets/tls.crt" 2>/dev/null

for conf in nginx.conf balancer.conf; do
  sed -e "s|/tmp/|$WORK/tmp/|g" -e "s|/srv/chat/web|$WORK/web|g" \
    -e "s|/run/secrets/chat/|$WORK/secrets/|g" -e "s/server \(gateway-[0-9]\|auth-service\|seaweedfs\):/server 127.0.0.1:/" \
    "$ROOT/deploy/docker/web/$conf" >"$WORK/$conf"
  nginx -t -q -p "$WORK" -c "$WORK/$conf" -e "$WORK/error.log" 2>"$WORK/test.log" || {
    cat "$WORK/test.log" >&2
    fail "nginx refused deploy/docker/web/$conf"
  }
done

# The cluster's static server, run for a moment on a free port: the app's routes, the
# security headers (with the object store's origin that prod mounts beside nginx.conf), and the
# auth service's paths that the Ingress hides.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i -e "s|listen 8080;|listen 127.0.0.1:$port;|" -e "s|pid $WORK/tmp/nginx.pid;|pid $WORK/nginx.pid;|" \
  "$WORK/nginx.conf"
# As root, nginx's workers drop to nobody, who must be able to read the files.
chmod 755 "$WORK" "$WORK/web"
chmod 644 "$WORK/web/index.html"
cp "$ROOT/k8s/overlays/prod/attachment-origin.conf" "$WORK/attachment-origin.conf"
origin=$(sed -n 's/^"" "\(.*\)";$/\1/p' "$WORK/attachment-origin.conf")
[[ -n $origin ]] || fail "k8s/overlays/prod/attachment-origin.conf is not one line '\"\" \"https://…\";'"
nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log" >"$WORK/run.log" 2>&1 ||
  fail "nginx did not start with deploy/docker/web/nginx.conf: $(cat "$WORK/run.log")"
expect() {
  local path=$1 status=$2 header=${3:-}
  local response
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    response=$(curl -sS -D - -o /dev/null --max-time 2 "http://127.0.0.1:$port$path" 2>/dev/null) && break
    sleep 0.1
  done
  [[ $(head -n 1 <<<"$response") == *" $status"* ]] ||
    fail "web image: GET $path answered $(head -n 1 <<<"$response"), not $status"
  [[ -z $header ]] || grep -qi "^$header" <<<"$response" ||
    fail "web image: GET $path has no $header header"
}
expect / 200 "content-security-policy: default-src 'none'"
expect / 200 "content-security-policy: .*img-src 'self' $origin;.*connect-src 'self' $origin;"
expect /rooms/general 200 "cache-control: no-cache"
expect /auth/metrics 404
expect /auth/readyz 404
expect /auth/healthz 404
expect /internal/v1/rooms/general/messages/0/attachments 404
expect /nginx-health 200
say "nginx: deploy/docker/web/nginx.conf and balancer.conf accepted; the static server answers as the Ingress expects"
