#!/usr/bin/env bash
# FerretDB v1.24 (MongoDB wire protocol) from the Go module proxy: infra/ferretdb is a tiny Go
# main embedding github.com/FerretDB/FerretDB/ferretdb, built once per source hash into the
# cache. SQLite backend by default (ES_FERRETDB_BACKEND=postgresql uses the local Postgres).

FERRET_SRC="$STACK_ROOT/infra/ferretdb"
FERRET_DIR="$ES_STACK_DIR/ferretdb"
FERRET_BACKEND="${ES_FERRETDB_BACKEND:-sqlite}"

ferret_binary() {
  local hash; hash="$(cat "$FERRET_SRC/go.mod" "$FERRET_SRC/go.sum" "$FERRET_SRC/main.go" "$FERRET_SRC"/patches/*.patch | sha256sum | cut -c1-12)"
  echo "$ES_CACHE_DIR/ferretdb/ferretdb-$hash"
}

ferret_install() {
  local bin; bin="$(ferret_binary)"
  [ -x "$bin" ] && return
  command -v go >/dev/null || die "FerretDB is built from the Go module proxy and needs Go >= 1.24 on PATH (not found)"
  log "building FerretDB $(sed -n 's/.*github.com\/FerretDB\/FerretDB \(v[0-9.]*\).*/\1/p' "$FERRET_SRC/go.mod") from the Go module proxy (first run only; a few minutes on 2 cores)"
  mkdir -p "$(dirname "$bin")"
  local started=$SECONDS
  command -v patch >/dev/null || apt_install patch
  (cd "$FERRET_SRC" && ferret_prepare_source >"$bin.log" 2>&1 && go mod download >>"$bin.log" 2>&1 \
     && log "  modules downloaded and patched ($((SECONDS - started)) s); compiling" \
     && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$bin.tmp" . >>"$bin.log" 2>&1) \
    || { tail -20 "$bin.log" >&2; die "building FerretDB failed (log: $bin.log)"; }
  mv "$bin.tmp" "$bin"; rm -f "$bin.log"
  log "  FerretDB built in $((SECONDS - started)) s: $bin"
}

# The pristine module (verified by the Go module proxy's checksum database) copied to
# infra/ferretdb/third_party and patched: stock 1.24.2 deadlocks the whole server once an update
# batch matches as many documents as its backend pool holds (100 on SQLite), its SQLite
# backend never uses the _id index, a conditional update is not atomic, and an update command
# commits each document on its own (docs/engines.md).
ferret_prepare_source() {
  local version tmp dir
  version="$(sed -n 's/^require github.com\/FerretDB\/FerretDB \(v[0-9.]*\)$/\1/p' go.mod)"
  tmp="$(mktemp -d)"
  printf 'module tmp\ngo 1.24\nrequire github.com/FerretDB/FerretDB %s\n' "$version" >"$tmp/go.mod"
  dir="$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$version" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
  rm -rf "$tmp" third_party/FerretDB
  [ -n "$dir" ] || { echo "go mod download found no FerretDB $version"; return 1; }
  mkdir -p third_party && cp -r "$dir" third_party/FerretDB && chmod -R u+w third_party/FerretDB
  local p
  for p in patches/*.patch; do patch -d third_party/FerretDB -p1 --forward --quiet <"$p"; done
}

ferret_running() { pid_alive "$RUN_DIR/ferretdb.pid"; }

ferret_up() {
  ferret_install
  if ferret_running; then return; fi
  require_free_port "$ES_MONGO_PORT" FerretDB
  mkdir -p "$FERRET_DIR/data"
  local args=(--listen-addr="$ES_BIND_HOST:$ES_MONGO_PORT" --handler="$FERRET_BACKEND" --log-level=warn)
  case "$FERRET_BACKEND" in
    sqlite) args+=(--sqlite-url="file:$FERRET_DIR/data/?_pragma=synchronous(NORMAL)") ;;
    postgresql)
      pg_running || die "ES_FERRETDB_BACKEND=postgresql needs PostgreSQL up first: stack.sh up postgres ferretdb"
      if [ -z "$(pg_psql -c "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'")" ]; then
        pg_psql -c "CREATE DATABASE ferretdb OWNER $PG_ROLE" >/dev/null
      fi
      args+=(--postgresql-url="postgres://$PG_ROLE:$(pg_password)@$ES_BIND_HOST:$ES_PG_PORT/ferretdb") ;;
    *) die "ES_FERRETDB_BACKEND must be sqlite or postgresql, not '$FERRET_BACKEND'" ;;
  esac
  spawn ferretdb "$(ferret_binary)" "${args[@]}"
  ferret_ready() { ferret_running || return 2; port_open "$ES_MONGO_PORT"; }
  await_ready FerretDB 30 ferret_ready ferret_down "$LOG_DIR/ferretdb.log"
}

ferret_down() { stop_pidfile ferretdb 20; }

ferret_status() {
  if ferret_running && port_open "$ES_MONGO_PORT"; then echo "ferretdb  up    $ES_BIND_HOST:$ES_MONGO_PORT  (MongoDB wire, $FERRET_BACKEND backend)"
  else echo "ferretdb  down"; fi
}
