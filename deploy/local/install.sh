#!/usr/bin/env bash
# Installs what the local stack and the tests need and is missing; quick when nothing is.
# Debian packages (PostgreSQL 15, Redis, nginx, Chromium and a colour emoji font for the browser
# tests and screenshots, libmagic for the gateway's sniffing of uploaded files' types, Java and
# Maven when missing), uv, the Python workspace, the Kafka jars,
# SeaweedFS (built once from the Go module proxy). `make doctor` lists what it needs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

APT_PACKAGES=(postgresql-15 postgresql-client-15 redis-server redis-tools nginx-light openssl chromium
  fonts-noto-color-emoji libmagic1)

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$package")
done
# Kafka runs on Java 17 and its jars are collected with Maven: Debian's, unless the machine
# already has them from elsewhere.
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""
  ((EUID == 0)) || SUDO=sudo
  $SUDO apt-get update -q >/dev/null
  # Debian starts packaged services on install; the project runs its own instances instead.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  $SUDO rm -f /usr/sbin/policy-rc.d
fi
if ! command -v uv >/dev/null; then
  say "installing uv"
  python3 -m pip install -q --disable-pip-version-check uv
fi
# Node.js and Go cannot come from Debian 12 in the versions needed: stop here, saying exactly
# what to install, rather than fail later inside npm or go.
"$ROOT/deploy/local/doctor.sh" --quiet || fail "install the prerequisites above, then run make again"
export UV_PYTHON_DOWNLOADS=never
uv sync --all-packages --locked -q

"$ROOT/deploy/local/kafka.sh" install
"$ROOT/deploy/local/seaweedfs.sh" prefetch
