#!/usr/bin/env bash
# Shared bootstrap for `npm start` and `npm test`: puts a Node >= 22.12 and pnpm on PATH,
# fetching Node 24 from the npm registry (node-linux-<arch>@24) into a per-user cache when the
# machine's own Node is older. Sourced, not run. Idempotent: a warm cache costs no download.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ES_CACHE_DIR="${ES_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/es-cqrs}"
PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$ROOT/package.json")"
NODE_MAJOR=24
export ES_CACHE_DIR

log() { printf '\033[1m[%s]\033[0m %s\n' "${LOG_TAG:-bootstrap}" "$*" >&2; }
die() { printf '\033[31m[%s] error:\033[0m %s\n' "${LOG_TAG:-bootstrap}" "$*" >&2; exit 1; }

node_is_recent() { # $1 = node binary
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)' 2>/dev/null
}

ensure_node() {
  if command -v node >/dev/null && node_is_recent node; then return; fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) die "no Node.js ${NODE_MAJOR} package for $(uname -m); install Node >= 22.12 yourself" ;;
  esac
  local dir="$ES_CACHE_DIR/node-$NODE_MAJOR-linux-$arch"
  if [ ! -x "$dir/bin/node" ] || ! node_is_recent "$dir/bin/node"; then
    command -v npm >/dev/null || die "need npm (any version) to fetch Node $NODE_MAJOR from the npm registry"
    log "machine Node is $(node -v 2>/dev/null || echo absent); fetching node-linux-$arch@$NODE_MAJOR from the npm registry"
    local tmp; tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_MAJOR" >/dev/null) || die "npm pack node-linux-$arch@$NODE_MAJOR failed"
    tar -xzf "$tmp"/node-linux-*.tgz -C "$tmp"
    mkdir -p "$ES_CACHE_DIR"; rm -rf "$dir"; mv "$tmp/package" "$dir"; rm -rf "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
  log "using Node $(node -v) from $dir"
}

ensure_pnpm() {
  local dir="$ES_CACHE_DIR/pnpm-$PNPM_VERSION"
  if [ ! -f "$dir/node_modules/pnpm/bin/pnpm.cjs" ]; then
    log "installing pnpm $PNPM_VERSION into $dir"
    local tmp="$dir.tmp.$$"
    rm -rf "$tmp"; mkdir -p "$tmp"
    npm install --silent --no-save --prefix "$tmp" "pnpm@$PNPM_VERSION" >/dev/null || die "npm install pnpm@$PNPM_VERSION failed"
    rm -rf "$dir"; mv "$tmp" "$dir"
  fi
  mkdir -p "$ES_CACHE_DIR/bin"
  printf '#!/bin/sh\nexec node "%s" "$@"\n' "$dir/node_modules/pnpm/bin/pnpm.cjs" > "$ES_CACHE_DIR/bin/pnpm"
  chmod +x "$ES_CACHE_DIR/bin/pnpm"
  export PATH="$ES_CACHE_DIR/bin:$PATH"
}

ensure_deps() {
  cd "$ROOT"
  local args=(install --prefer-offline --reporter=append-only)
  if [ "${CI:-}" = "true" ]; then args+=(--frozen-lockfile); fi
  pnpm "${args[@]}" >"$ROOT/.local/pnpm-install.log" 2>&1 || { tail -30 "$ROOT/.local/pnpm-install.log" >&2; die "pnpm install failed (log: .local/pnpm-install.log)"; }
  export PATH="$ROOT/node_modules/.bin:$PATH"
}

bootstrap() {
  mkdir -p "$ROOT/.local"
  ensure_node
  ensure_pnpm
  ensure_deps
  export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false NX_SKIP_NX_CACHE="${NX_SKIP_NX_CACHE:-false}"
}
