#!/usr/bin/env bash
# The Temporal CLI, whose `server start-dev` is the Temporal development server the saga is
# measured against (bench/saga-vs-temporal.mts), built from the Go module proxy into the cache
# on the first run only, and its path printed. v1.5.1 is the newest release `go install` builds
# from the proxy alone: later ones replace a nested module (cliext) the proxy does not serve.
# About 15 s of downloads and 3-4 minutes of compiling on 2 cores, 1.5 GB of memory.
set -euo pipefail
VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
CACHE="${ES_CACHE_DIR:-$HOME/.cache/es-cqrs}/temporal"
BIN="$CACHE/temporal-$VERSION"
if [ ! -x "$BIN" ]; then
  command -v go >/dev/null || { echo "building the Temporal CLI needs Go >= 1.23 on PATH" >&2; exit 1; }
  mkdir -p "$CACHE"
  started=$SECONDS
  echo "building the Temporal CLI $VERSION from the Go module proxy (first run only; a few minutes)" >&2
  rm -rf "$CACHE/gobin.tmp"
  if ! CGO_ENABLED=0 GOBIN="$CACHE/gobin.tmp" go install -trimpath \
      -ldflags="-s -w -X github.com/temporalio/cli/temporalcli.Version=${VERSION#v}" \
      "github.com/temporalio/cli/cmd/temporal@$VERSION" >"$CACHE/build.log" 2>&1; then
    tail -20 "$CACHE/build.log" >&2
    echo "building the Temporal CLI failed (log: $CACHE/build.log)" >&2
    exit 1
  fi
  mv "$CACHE/gobin.tmp/temporal" "$BIN"
  rm -rf "$CACHE/gobin.tmp" "$CACHE/build.log"
  echo "  built in $((SECONDS - started)) s: $BIN" >&2
fi
echo "$BIN"
