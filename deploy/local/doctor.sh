#!/usr/bin/env bash
# Every prerequisite of `make up` and `make test` with the version found here.
# Usage: doctor.sh          print them all; exit 1 when one is missing or too old
#        doctor.sh --quiet  print only what is wrong (install.sh runs this first)
# Debian packages, uv, the Python workspace and the Kafka jars are installed by install.sh
# when missing; the toolchains below are not, and each line says what to install.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

quiet=false
[[ ${1:-} == --quiet ]] && quiet=true
problems=0

# version_at_least FOUND WANTED: dotted versions compared number by number.
version_at_least() { [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1) == "$2" ]]; }

# check NAME WANTED FOUND HOW: one line per prerequisite.
check() {
  local name=$1 wanted=$2 found=$3 how=$4
  if [[ -z $found ]]; then
    printf '  %-14s missing (need %s): %s\n' "$name" "$wanted" "$how"
    problems=$((problems + 1))
  elif ! version_at_least "$found" "$wanted"; then
    printf '  %-14s %s is too old (need %s): %s\n' "$name" "$found" "$wanted" "$how"
    problems=$((problems + 1))
  elif ! $quiet; then
    printf '  %-14s %s\n' "$name" "$found"
  fi
}

# first_version CMD...: the first dotted version number CMD prints, or nothing.
first_version() { "$@" 2>&1 | grep -oE '[0-9]+\.[0-9]+(\.[0-9]+)?' | head -n1; }
have() { command -v "$1" >/dev/null 2>&1; }

$quiet || say "prerequisites (installed by make install when missing: Debian packages, uv, Python packages, Kafka jars, SeaweedFS):"
check python3 3.11 "$(have python3 && first_version python3 --version)" \
  "install CPython 3.11 or newer (Debian: apt-get install python3)"
# Java and Maven run Kafka and collect its jars; Debian has both, so install.sh adds them.
check java 17 "$(have java && java -version 2>&1 | grep -oE 'version "[0-9]+(\.[0-9]+)*' | grep -oE '[0-9]+(\.[0-9]+)*' | head -n1)" \
  "apt-get install openjdk-17-jre-headless (make install does this)"
check maven 3.6 "$(have mvn && first_version mvn -v)" \
  "apt-get install maven (make install does this)"
# Vite 8 needs Node 20.19; Debian 12 packages Node 18, so it comes from nodejs.org or nodesource.
check node 20.19 "$(have node && first_version node --version)" \
  "install Node.js 20.19 or newer with npm (https://nodejs.org or your distribution's nodesource packages)"
check npm 10 "$(have npm && first_version npm --version)" "comes with Node.js"
# The offline validators of make k8s-check are built from the Go module proxy with this Go.
check go 1.26 "$(have go && first_version go version)" \
  "install Go 1.26 or newer (https://go.dev/dl); GOTOOLCHAIN=local is used, nothing is downloaded"
check git 2.20 "$(have git && first_version git --version)" "apt-get install git"
check uv 0.5 "$(have uv && first_version uv --version)" "python3 -m pip install uv (make install does this)"
for tool in pg_ctlcluster:postgresql-15 redis-server:redis-server nginx:nginx-light chromium:chromium; do
  binary=${tool%%:*} package=${tool##*:}
  if ! have "$binary"; then
    printf '  %-14s missing: apt-get install %s (make install does this)\n' "$binary" "$package"
    problems=$((problems + 1))
  elif ! $quiet; then
    printf '  %-14s installed\n' "$binary"
  fi
done

# The gateway sniffs uploaded files' types with libmagic (python-magic loads it at import).
if dpkg-query -W -f='${Status}' libmagic1 2>/dev/null | grep -q 'install ok installed'; then
  $quiet || printf '  %-14s installed\n' libmagic1
else
  printf '  %-14s missing: apt-get install libmagic1 (make install does this)\n' libmagic1
  problems=$((problems + 1))
fi

# SeaweedFS is built from the Go module proxy by install.sh with the Go checked above, so a
# binary not built yet is no problem here, only a line to read.
weed=$("$ROOT/deploy/local/seaweedfs.sh" path)
if [[ -x $weed ]]; then
  $quiet || printf '  %-14s %s\n' seaweedfs "$(basename "$(dirname "$weed")" | sed 's/^weed-//') built"
else
  $quiet || printf '  %-14s not built yet: make install builds it from the Go module proxy\n' seaweedfs
fi

if ((problems)); then
  printf '%d prerequisite(s) to install first; see the lines above.\n' "$problems" >&2
  exit 1
fi
$quiet || say "everything is here."
exit 0
