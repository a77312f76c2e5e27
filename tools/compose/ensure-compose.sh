#!/usr/bin/env bash
# The real `docker compose` (github.com/docker/compose/v2, a pinned version), built from the Go
# module proxy, for the tests that check docker-compose.yml on machines without a Docker engine
# (`docker compose config` needs none). Prints the binary's path. Idempotent: a binary already
# built for that version is used as it is; it is kept in the per-user cache, shared by clones.
# `go install` refuses the module's exclude directives, so it is built from a copy of the
# module as the module cache holds it.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../infra/local/common.sh"
VERSION=v2.40.3
BIN="$ES_CACHE_DIR/bin/docker-compose-$VERSION"

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null || die "building docker compose needs Go (1.24 or newer) on the PATH"
  log "building docker compose $VERSION from the Go module proxy (first run only, a few minutes)"
  work="$(mktemp -d)"
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  mkdir -p "$ES_CACHE_DIR/bin" "$STACK_ROOT/.local"
  dir="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/docker/compose/v2@$VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$dir" ] || die "go mod download github.com/docker/compose/v2@$VERSION gave no module directory"
  cp -r "$dir" "$work/src"
  chmod -R u+w "$work/src"
  (cd "$work/src" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$BIN.tmp" ./cmd) \
    >"$STACK_ROOT/.local/compose-build.log" 2>&1 ||
    die "building docker compose failed (log: .local/compose-build.log)"
  mv "$BIN.tmp" "$BIN"
fi
echo "$BIN"
