#!/usr/bin/env bash
# The attachments' object store: SeaweedFS (Apache-2.0) with its S3 gateway, data under
# .run/seaweedfs, log under .run/logs. Usage: seaweedfs.sh install|prefetch|bin|path|start|stop|status
#   install  build the pinned `weed` from the Go module proxy when missing (a few minutes, once)
#   prefetch the same, in the background (make install)
#   bin      print the path of that binary, building it first when missing (the tests use this)
#   path     print where that binary is or will be, building nothing
#
# One `weed server` process runs a master, a volume server, a filer and the S3 gateway: the
# smallest topology that serves S3 (the gateway stores through a filer, the filer through the
# volume server, which the master places). `weed mini` would also start WebDAV, an admin UI and
# an Iceberg catalog, each on a port of its own, that nothing here uses.
# The S3 gateway takes static credentials from an identities file written here; the key pair is
# made once into .run/keys/object-store.env, whose lines are the CHAT_OBJECT_STORE_* settings.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# Pinned (`weed version` says 4.53): a new version is a deliberate change here. SeaweedFS's
# go.mod has replace directives, so `go install module@version` refuses it; the module is
# downloaded and built in place.
SEAWEEDFS_MODULE=github.com/seaweedfs/seaweedfs
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
WEED="$CACHE/tools/weed-$SEAWEEDFS_VERSION/weed"

DIR="$RUN/seaweedfs"
LOG="$LOGS/seaweedfs.log"
PIDFILE="$DIR/weed.pid"
IDENTITIES="$DIR/s3-identities.json"
CREDENTIALS="$RUN/keys/object-store.env"
BUCKET=chat-attachments
REGION=us-east-1
# SeaweedFS's own defaults, clear of the stack's other ports; each gRPC port is its HTTP port
# plus 10000, named explicitly so nothing is left to the default.
S3_PORT=8333
MASTER_PORT=9333
VOLUME_PORT=9340
FILER_PORT=8888

install() {
  [[ -x $WEED ]] && return 0
  mkdir -p "$(dirname "$WEED")"
  # One build at a time: a build started by `prefetch` holds the lock, and whoever needs the
  # binary meanwhile waits here for it instead of building it a second time.
  exec {lock}>"$WEED.lock"
  flock "$lock"
  [[ -x $WEED ]] && return 0
  command -v go >/dev/null || fail "go is needed to build SeaweedFS (make doctor says which)"
  say "building SeaweedFS $SEAWEEDFS_VERSION from the Go module proxy (once; a few minutes)" >&2
  local module
  module=$(cd / && GOTOOLCHAIN=local go mod download -json "$SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION" |
    sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -n $module && -d $module ]] || fail "could not download $SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION"
  mkdir -p "$(dirname "$WEED")"
  # nice: the build takes every core for minutes on a machine others use too.
  (cd "$module" && GOTOOLCHAIN=local nice -n 10 go build -trimpath -ldflags='-s -w' -o "$WEED.tmp" ./weed) >&2 ||
    fail "could not build SeaweedFS"
  mv "$WEED.tmp" "$WEED"
}

# The build takes minutes of both cores: make install starts it in the background, so that it
# runs while the rest is linted, built and tested, and `bin` (the tests, `start`) waits for it.
prefetch() {
  [[ -x $WEED ]] && return 0
  mkdir -p "$(dirname "$WEED")" "$LOGS"
  say "building SeaweedFS in the background (log $LOGS/seaweedfs-build.log)" >&2
  setsid nohup "$0" install >"$LOGS/seaweedfs-build.log" 2>&1 </dev/null &
}

bin() {
  install
  printf '%s\n' "$WEED"
}

path() { printf '%s\n' "$WEED"; }

credentials() {
  mkdir -p "$(dirname "$CREDENTIALS")"
  chmod 700 "$(dirname "$CREDENTIALS")"
  if [[ ! -s $CREDENTIALS ]]; then
    (
      umask 077
      {
        printf 'CHAT_OBJECT_STORE_ACCESS_KEY_ID=%s\n' "$(openssl rand -hex 10)"
        printf 'CHAT_OBJECT_STORE_SECRET_ACCESS_KEY=%s\n' "$(openssl rand -hex 20)"
      } >"$CREDENTIALS.tmp"
    )
    mv "$CREDENTIALS.tmp" "$CREDENTIALS"
    say "made the object store's development credentials: $CREDENTIALS"
  fi
  # shellcheck disable=SC1090
  source "$CREDENTIALS"
  # The services' identity may read, write, list and tag objects of its bucket and create it;
  # nothing on other buckets.
  (
    umask 077
    cat >"$IDENTITIES" <<JSON
{
  "identities": [
    {
      "name": "chat",
      "credentials": [
        {"accessKey": "$CHAT_OBJECT_STORE_ACCESS_KEY_ID", "secretKey": "$CHAT_OBJECT_STORE_SECRET_ACCESS_KEY"}
      ],
      "actions": ["Admin:$BUCKET", "Read:$BUCKET", "Write:$BUCKET", "List:$BUCKET", "Tagging:$BUCKET"]
    }
  ]
}
JSON
  )
}

# s3 ARGS...: one request to the S3 gateway signed with SigV4 (curl's own signer).
s3() {
  curl -sS -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$REGION:s3" \
    -u "$CHAT_OBJECT_STORE_ACCESS_KEY_ID:$CHAT_OBJECT_STORE_SECRET_ACCESS_KEY" "$@"
}

bucket_answers() { [[ $(s3 -I "http://127.0.0.1:$S3_PORT/$BUCKET") =~ ^(200|404)$ ]]; }

# The gateway answers, and makes buckets, some seconds before the filer's write locks are up:
# ready once a probe object is written (and deleted again).
writes() {
  [[ $(s3 -X PUT --data-binary '' "http://127.0.0.1:$S3_PORT/$BUCKET/.ready") == 200 ]] &&
    s3 -X DELETE "http://127.0.0.1:$S3_PORT/$BUCKET/.ready" >/dev/null
}

start() {
  install
  mkdir -p "$DIR/data"
  credentials
  if ! pid_alive "$PIDFILE"; then
    nohup "$WEED" server -dir="$DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -master.port=$MASTER_PORT -master.port.grpc=$((MASTER_PORT + 10000)) \
      -master.volumeSizeLimitMB=128 -master.telemetry=false -volume.max=0 -volume.preStopSeconds=1 \
      -volume.port=$VOLUME_PORT -volume.port.grpc=$((VOLUME_PORT + 10000)) \
      -filer -filer.port=$FILER_PORT -filer.port.grpc=$((FILER_PORT + 10000)) \
      -filer.localSocket="$DIR/filer.sock" \
      -s3 -s3.port=$S3_PORT -s3.port.grpc=$((S3_PORT + 10000)) -s3.config="$IDENTITIES" \
      -s3.port.iceberg=0 -s3.port.lance=0 -s3.localSocket="$DIR/s3.sock" \
      >>"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
  fi
  wait_until seaweedfs "$LOG" 60 bucket_answers
  if [[ $(s3 -I "http://127.0.0.1:$S3_PORT/$BUCKET") == 404 ]]; then
    [[ $(s3 -X PUT "http://127.0.0.1:$S3_PORT/$BUCKET") == 200 ]] ||
      fail "could not create the bucket $BUCKET; the log is $LOG"
  fi
  wait_until seaweedfs "$LOG" 60 writes
  say "seaweedfs S3 ready on http://127.0.0.1:$S3_PORT, bucket $BUCKET (log $LOG, credentials $CREDENTIALS)"
}

stop() { stop_pid seaweedfs "$PIDFILE" 30; }

status() { pid_alive "$PIDFILE" && say "seaweedfs: running" || say "seaweedfs: stopped"; }

"${1:?usage: seaweedfs.sh install|prefetch|bin|path|start|stop|status}"
