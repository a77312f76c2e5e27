#!/usr/bin/env bash
# The real engines on loopback, without Docker: PostgreSQL, Kafka (KRaft), FerretDB and the
# OpenID Connect provider the services take tokens from.
#   stack.sh up [engine...]     install what is missing, start, wait until ready (idempotent)
#   stack.sh down [engine...]   stop what runs (data is kept)
#   stack.sh status             what runs, where; exit 0 only when all engines are up
#   stack.sh env                the environment services and tests use (sourceable)
#   stack.sh reset              stop and delete all data, logs and credentials
#   stack.sh crash-restart postgres   a crash (immediate stop) and a start: for the fault harness
#   stack.sh rotate-keys        a new signing key for the identity provider, which restarts
# engines: postgres kafka ferretdb identity (default: these four), keycloak (only when named:
# docker-compose's identity provider, natively, with the same realm)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$HERE/common.sh"
. "$HERE/postgres.sh"
. "$HERE/kafka.sh"
. "$HERE/ferretdb.sh"
. "$HERE/identity.sh"
. "$HERE/keycloak.sh"

ENGINES=(postgres kafka ferretdb identity)

engine_fn() { # $1 = engine, $2 = verb
  case "$1" in
    postgres) echo "pg_$2" ;;
    kafka) echo "kafka_$2" ;;
    ferretdb|mongo) echo "ferret_$2" ;;
    identity|oidc) echo "identity_$2" ;;
    keycloak) echo "keycloak_$2" ;;
    *) die "unknown engine '$1' (expected: ${ENGINES[*]} keycloak)" ;;
  esac
}

write_env() {
  mkdir -p "$ES_STACK_DIR"
  {
    echo "# written by infra/local/stack.sh; sourced by scripts/run.sh and the test helpers"
    echo "export PGHOST=$ES_BIND_HOST"
    echo "export PGPORT=$ES_PG_PORT"
    # The owner's role, for the tests and tools; each service runs as its own (es_<database>,
    # libs/testing services.ts), which the passfile holds the passwords of too.
    echo "export PGUSER=$PG_ROLE"
    echo "export PGPASSFILE=$PG_PASSFILE"
    echo "export PRIVACY_MASTER_KEYS_FILE=$PRIVACY_MASTER_KEYS_FILE"
    echo "export KAFKA_BROKERS=$(kafka_brokers)"
    # The tools' principal for the tests and tools; each service runs as its own (its name).
    echo "export KAFKA_SASL_USERNAME=es-tools"
    echo "export KAFKA_PASSFILE=$KAFKA_CREDENTIALS"
    echo "export MONGO_URL=mongodb://$ES_BIND_HOST:$ES_MONGO_PORT/"
    echo "export AUTH_ISSUER=http://$ES_BIND_HOST:$ES_OIDC_PORT"
    echo "export ES_IDENTITY_SECRETS=$IDENTITY_SECRETS"
  } >"$ES_STACK_DIR/stack.env.tmp"
  chmod 600 "$ES_STACK_DIR/stack.env.tmp"
  mv "$ES_STACK_DIR/stack.env.tmp" "$ES_STACK_DIR/stack.env"
}

cmd="${1:-status}"; shift || true
selected=("$@"); [ ${#selected[@]} -gt 0 ] || selected=("${ENGINES[@]}")

case "$cmd" in
  up)
    start=$SECONDS
    for e in "${selected[@]}"; do
      t=$SECONDS
      "$(engine_fn "$e" up)"
      log "$e ready ($((SECONDS - t)) s)"
    done
    write_env
    log "stack ready in $((SECONDS - start)) s; environment: $ES_STACK_DIR/stack.env; logs: $LOG_DIR"
    ;;
  down)
    for ((i = ${#selected[@]} - 1; i >= 0; i--)); do "$(engine_fn "${selected[$i]}" down)"; done
    log "stopped: ${selected[*]}"
    ;;
  status)
    all=0
    for e in "${selected[@]}"; do
      line="$("$(engine_fn "$e" status)")"; echo "$line"
      case "$line" in *" up "*) ;; *) all=1 ;; esac
    done
    exit $all
    ;;
  crash-restart)
    # A fault for the fault harness (tools/chaos): the engine stopped as a crash would stop it,
    # then started again. PostgreSQL only: an immediate stop, so the start runs crash recovery.
    for e in "${selected[@]}"; do
      [ "$e" = postgres ] || die "crash-restart: only postgres (Kafka nodes are killed by their pid files)"
      pg_crash_restart
    done
    log "crash-restarted: ${selected[*]}"
    ;;
  rotate-keys)
    identity_rotate_keys
    log "identity provider: new signing key first"
    ;;
  env)
    [ -f "$ES_STACK_DIR/stack.env" ] || die "no $ES_STACK_DIR/stack.env yet: run 'stack.sh up' first"
    cat "$ES_STACK_DIR/stack.env"
    ;;
  reset)
    keycloak_down
    for ((i = ${#ENGINES[@]} - 1; i >= 0; i--)); do "$(engine_fn "${ENGINES[$i]}" down)"; done
    rm -rf "$ES_STACK_DIR"
    log "deleted $ES_STACK_DIR"
    ;;
  *) die "usage: stack.sh up|down|status|env|reset|crash-restart|rotate-keys [postgres|kafka|ferretdb|identity|keycloak...]" ;;
esac
