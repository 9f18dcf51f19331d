#!/usr/bin/env bash
# What the fan-out benchmark needs besides the workspace, installed when missing: its own Python
# packages (the uv group `bench`, kept out of the services' images) and Centrifugo, built once
# from the Go module proxy into ~/.cache/chat/go/bin (the machine's Go; a few minutes).
set -euo pipefail
source "$(dirname "$0")/../../deploy/local/lib.sh"

CENTRIFUGO_MODULE=github.com/centrifugal/centrifugo/v6
CENTRIFUGO_VERSION=v6.9.1
BIN="$CACHE/go/bin"
export GOTOOLCHAIN=local UV_PYTHON_DOWNLOADS=never

cd "$ROOT"
uv sync --all-packages --locked --group bench -q
# A build installed by `go install` reports its module version only through `go version -m`.
if ! go version -m "$BIN/centrifugo" 2>/dev/null | grep -q "mod[[:space:]]*$CENTRIFUGO_MODULE[[:space:]]*$CENTRIFUGO_VERSION"; then
  command -v go >/dev/null || fail "go is needed to build Centrifugo $CENTRIFUGO_VERSION"
  say "building Centrifugo $CENTRIFUGO_VERSION from the Go module proxy into $BIN (once)"
  GOBIN="$BIN" CGO_ENABLED=0 go install "$CENTRIFUGO_MODULE@$CENTRIFUGO_VERSION" ||
    fail "could not build Centrifugo $CENTRIFUGO_VERSION"
fi
