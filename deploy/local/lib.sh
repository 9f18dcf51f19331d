# Shared by the local stack scripts: paths, messages, waiting for a service to answer.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN="$ROOT/.run"
LOGS="$RUN/logs"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/chat"
mkdir -p "$LOGS"

say() { printf '%s\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

# wait_until NAME LOGFILE SECONDS CMD...: run CMD every half second until it succeeds.
wait_until() {
  local name=$1 logfile=$2 seconds=$3
  shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      printf 'error: %s did not answer within %ss; its log is %s\n' "$name" "$seconds" "$logfile" >&2
      tail -n 20 "$logfile" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.5
  done
}

# pid_alive PIDFILE: the process named in PIDFILE is running.
pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid NAME PIDFILE [SECONDS]: SIGTERM, wait, then SIGKILL; harmless when not running.
stop_pid() {
  local name=$1 pidfile=$2 seconds=${3:-20}
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    return 0
  fi
  local pid
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + seconds))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      say "$name did not stop within ${seconds}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
  say "$name stopped"
}
