#!/usr/bin/env bash
# PostgreSQL 15 from Debian's packages, as a project-owned cluster under .run/postgres,
# run as the postgres user (the server refuses root). Usage: postgres.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PG_BIN=/usr/lib/postgresql/15/bin
DATA="$RUN/postgres/data"
LOG="$LOGS/postgres.log"
PORT=5432

as_postgres() { runuser -u postgres -- "$@"; }

init_cluster() {
  [[ -f $DATA/PG_VERSION ]] && return 0
  install -d -o postgres -g postgres -m 700 "$RUN/postgres" "$DATA"
  touch "$LOG" && chown postgres "$LOG"
  as_postgres test -w "$DATA" ||
    fail "the postgres user cannot write $DATA; every folder above it must be searchable (chmod o+x)"
  # Local development only: sockets trust the postgres user, TCP needs the chat password.
  as_postgres "$PG_BIN/initdb" -D "$DATA" -U postgres --auth-local=peer \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >>"$LOG"
  cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$RUN/postgres'
max_connections = 200
shared_buffers = 256MB
# Tests and local runs trade crash durability of the last few ms for speed; production keeps on.
synchronous_commit = off
CONF
}

start() {
  init_cluster
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    touch "$LOG" && chown postgres "$LOG"
    as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 30 start >/dev/null ||
      fail "postgres did not start; its log is $LOG"
  fi
  wait_until postgres "$LOG" 30 as_postgres psql -h "$RUN/postgres" -p $PORT -U postgres -Atc 'SELECT 1'
  # The application role and database; a fresh cluster gets them once, later starts find them.
  as_postgres psql -h "$RUN/postgres" -p $PORT -U postgres -v ON_ERROR_STOP=1 -q <<'SQL' >/dev/null
SELECT 'CREATE ROLE chat LOGIN CREATEDB PASSWORD ''chat'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'chat')\gexec
SELECT 'CREATE DATABASE chat OWNER chat'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'chat')\gexec
SQL
  wait_until postgres "$LOG" 10 env PGPASSWORD=chat psql -h 127.0.0.1 -p $PORT -U chat -d chat -Atc 'SELECT 1'
  say "postgres ready on 127.0.0.1:$PORT (log $LOG)"
}

stop() {
  if [[ -f $DATA/postmaster.pid ]]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
    say "postgres stopped"
  fi
}

status() {
  as_postgres "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1 && say "postgres: running" ||
    say "postgres: stopped"
}

"${1:?usage: postgres.sh start|stop|status}"
