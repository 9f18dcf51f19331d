#!/usr/bin/env bash
# The local stack's own secrets, each made once when missing:
# - the auth service's signing key, an Ed25519 private key in PEM (production keys come from a
#   Secret instead; rotation steps are in docs/auth-service.md);
# - the token the media worker calls the gateways' /internal/ routes with, in internal.env as
#   both services' settings (CHAT_GATEWAY_INTERNAL_TOKEN, CHAT_MEDIA_INTERNAL_TOKEN; the
#   Secret chat-internal-token in Kubernetes).
# The object store's key pair is seaweedfs.sh's (object-store.env), made with the store.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KEYS="$RUN/keys"
SIGNING_KEY="$KEYS/auth-signing.pem"
INTERNAL="$KEYS/internal.env"

mkdir -p "$KEYS"
chmod 700 "$KEYS"
if [[ ! -s $SIGNING_KEY ]]; then
  command -v openssl >/dev/null || fail "openssl is missing (make install adds it)"
  (umask 077 && openssl genpkey -algorithm ed25519 -out "$SIGNING_KEY.tmp")
  mv "$SIGNING_KEY.tmp" "$SIGNING_KEY"
  say "made a development signing key: $SIGNING_KEY"
fi
if [[ ! -s $INTERNAL ]]; then
  command -v openssl >/dev/null || fail "openssl is missing (make install adds it)"
  token=$(openssl rand -hex 32)
  (
    umask 077
    printf 'CHAT_GATEWAY_INTERNAL_TOKEN=%s\nCHAT_MEDIA_INTERNAL_TOKEN=%s\n' "$token" "$token" >"$INTERNAL.tmp"
  )
  mv "$INTERNAL.tmp" "$INTERNAL"
  say "made the token of the gateways' internal routes: $INTERNAL"
fi
