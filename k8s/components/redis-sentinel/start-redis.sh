#!/bin/sh
# Starts this pod's Redis as the primary or as a replica of it, decided again at every start of
# the container (find-primary.sh), so a restarted primary that Sentinel has replaced comes back
# as a replica. Sentinel reconfigures a node that guessed wrong.
set -eu
. /etc/redis/find-primary.sh
self="$POD_NAME.$REDIS_SERVICE.$POD_NAMESPACE.svc"
primary=$(SKIP_HOST="$self" find_primary)
# Secrets and this pod's address go to a file on a memory volume, not onto the command line
# where every process of the pod could read them.
umask 077
{
  echo "requirepass \"$REDIS_PASSWORD\""
  echo "masterauth \"$REDIS_PASSWORD\""
  # The stable DNS name through the headless Service, not the pod's IP that changes with every
  # restart: what INFO replication and the Sentinels report, and the services connect to.
  echo "replica-announce-ip $self"
  if [ "$primary" != "$self" ]; then
    echo "replicaof $primary 6379"
  fi
} >/run/redis/runtime.conf
echo "starting as $([ "$primary" = "$self" ] && echo primary || echo "replica of $primary")"
exec redis-server /etc/redis/redis.conf --maxmemory "$REDIS_MAXMEMORY"
