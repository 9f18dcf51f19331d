#!/usr/bin/env bash
# The auth service's local signing key: an Ed25519 private key in PEM, made once when missing.
# Production keys come from a Secret instead; rotation steps are in docs/auth-service.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KEYS="$RUN/keys"
SIGNING_KEY="$KEYS/auth-signing.pem"

mkdir -p "$KEYS"
chmod 700 "$KEYS"
if [[ ! -s $SIGNING_KEY ]]; then
  command -v openssl >/dev/null || fail "openssl is missing (make install adds it)"
  (umask 077 && openssl genpkey -algorithm ed25519 -out "$SIGNING_KEY.tmp")
  mv "$SIGNING_KEY.tmp" "$SIGNING_KEY"
  say "made a development signing key: $SIGNING_KEY"
fi
