#!/bin/sh
# Starts this pod's Sentinel. Its configuration file lives on the pod's volume because Sentinel
# writes what it learns into it (the current primary, the epoch, the other Sentinels and the
# replicas): a Sentinel that restarts, or a whole group restarting at once, goes on from there.
# The first start writes the file, watching the primary that find-primary.sh names.
set -eu
. /etc/redis/find-primary.sh
self="$POD_NAME.$SENTINEL_SERVICE.$POD_NAMESPACE.svc"
conf=/data/sentinel.conf
if [ ! -s "$conf" ]; then
  primary=$(SKIP_HOST="$self" find_primary)
  # resolve-hostnames comes before the monitor line, which names the primary by host name.
  cat >"$conf.new" <<CONF
port 26379
# No password on the Sentinels: the services' client sends none to them (chat_common.redis_client);
# the NetworkPolicy redis-sentinel admits only the gateways, the auth service, the Redis nodes and
# the other Sentinels.
protected-mode no
dir /data
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $self
sentinel announce-port 26379
sentinel monitor $MASTER_NAME $primary 6379 $QUORUM
CONF
  mv "$conf.new" "$conf"
  echo "first start: watching $primary"
fi
# What the manifest says wins over what the file kept: the timings and the password (which may
# have been rotated in the Secret) are written again at every start.
umask 077
grep -v -E "^sentinel (down-after-milliseconds|failover-timeout|parallel-syncs|auth-pass) " \
  "$conf" >"$conf.new" || true
{
  echo "sentinel down-after-milliseconds $MASTER_NAME $DOWN_AFTER_MS"
  echo "sentinel failover-timeout $MASTER_NAME $FAILOVER_TIMEOUT_MS"
  echo "sentinel parallel-syncs $MASTER_NAME 1"
  echo "sentinel auth-pass $MASTER_NAME \"$REDIS_PASSWORD\""
} >>"$conf.new"
mv "$conf.new" "$conf"
exec redis-server "$conf" --sentinel
