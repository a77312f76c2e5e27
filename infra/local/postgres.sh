#!/usr/bin/env bash
# PostgreSQL 15+ from Debian's packages: a throwaway cluster in the clone (not the distribution's
# default cluster), one database per service. Roles (docs/security.md, PostgreSQL): `es` owns the
# databases and runs the migrations (and the tests' throwaway databases); each service logs in
# as its own role (es_orders, ...), which may connect to its own database only and, once the
# owner's migration granted it, append to the events but never change or delete them. Their
# generated passwords are in a passfile (mode 600, PGPASSFILE), never on a command line.

PG_DIR="$ES_STACK_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_SOCKET_DIR="$PG_DIR/run"
PG_DATABASES=(orders inventory payments sagas)
# The key vault (docs/privacy.md): the data subjects' keys, reached by the roles of the services
# that write or read personal data only (the projection service stores them sealed, and needs
# no key).
PG_VAULT=vault
PG_VAULT_ROLES=(es_orders es_payments)
# The master key the vault's data keys are wrapped under (PRIVACY_MASTER_KEYS_FILE, stack.env):
# 32 random bytes in base64, made once, in a file only its owner may read. In production it
# comes from a KMS or a secret store, never from a file beside the data.
PRIVACY_MASTER_KEYS_FILE="$ES_STACK_DIR/privacy/master-keys"
PG_ROLE=es
PG_PASSFILE="$ES_STACK_DIR/pgpass"
pg_service_role() { echo "es_$1"; } # the login role of the service whose database is $1

pg_bindir() {
  local v
  for v in 17 16 15; do
    if [ -x "/usr/lib/postgresql/$v/bin/postgres" ]; then echo "/usr/lib/postgresql/$v/bin"; return; fi
  done
  return 1
}

pg_install() {
  pg_bindir >/dev/null && return
  log "PostgreSQL server not found; installing postgresql-15 from Debian's packages"
  if is_root; then
    # Keep the package from creating and starting its own default cluster on 5432.
    mkdir -p /etc/postgresql-common
    grep -qs '^create_main_cluster *= *false' /etc/postgresql-common/createcluster.conf \
      || echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
  fi
  apt_install postgresql-15
  pg_bindir >/dev/null || die "postgresql-15 installed but /usr/lib/postgresql/15/bin/postgres is missing"
}

# Settings a newer checkout may change: written to their own file at every start, included last
# (a later setting wins), and the server restarted when they changed. One replication slot per
# service database for the decoding relay, and one per database the integration tests make;
# a slot whose relay is gone retains WAL only up to max_slot_wal_keep_size, then is invalidated
# (the relay re-creates it and republishes from the outbox: docs/event-store.md, Relay).
pg_settings() {
  cat <<CONF
# es-cqrs: written by infra/local/postgres.sh at every start; edits here are overwritten.
max_replication_slots = 64
max_wal_senders = 64
max_slot_wal_keep_size = 4GB
CONF
}

pg_configure() { # prints "changed" when the settings file was (re)written
  local file="$PG_DATA/es-cqrs.conf" wanted
  wanted="$(pg_settings)"
  grep -qs "^include_if_exists = 'es-cqrs.conf'" "$PG_DATA/postgresql.conf" \
    || printf "\ninclude_if_exists = 'es-cqrs.conf'\n" | as_user postgres tee -a "$PG_DATA/postgresql.conf" >/dev/null
  [ "$(cat "$file" 2>/dev/null)" = "$wanted" ] && return
  printf '%s\n' "$wanted" | as_user postgres tee "$file" >/dev/null
  echo changed
}

# Client authentication, rewritten at every start: the superuser over the socket only (peer),
# every other role with a password over loopback TCP, and no physical replication for anyone
# (a role with REPLICATION, which the decoding relays need, could otherwise copy the whole
# cluster's WAL; logical replication connections match the database lines, so CONNECT rules).
pg_hba() {
  cat <<CONF
# es-cqrs: written by infra/local/postgres.sh at every start; edits here are overwritten.
local all postgres peer
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128 scram-sha-256
CONF
}

pg_configure_hba() { # prints "changed" when pg_hba.conf was rewritten
  local wanted; wanted="$(pg_hba)"
  [ "$(cat "$PG_DATA/pg_hba.conf" 2>/dev/null)" = "$wanted" ] && return
  printf '%s\n' "$wanted" | as_user postgres tee "$PG_DATA/pg_hba.conf" >/dev/null
  echo changed
}

pg_new_password() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# The passfile: one line per role (`*:*:*:role:password`), a role's password generated once. A
# stack made before the service roles kept the owner's password in credentials.env: taken over.
pg_passfile() {
  local role pw old=""
  mkdir -p "$ES_STACK_DIR"
  [ -f "$PG_PASSFILE" ] || { (umask 077 && : >"$PG_PASSFILE"); }
  chmod 600 "$PG_PASSFILE"
  [ ! -f "$ES_STACK_DIR/credentials.env" ] || old="$(sed -n 's/^export PGPASSWORD=//p' "$ES_STACK_DIR/credentials.env")"
  sed -i '/^\*:\*:\*:es_projections:/d' "$PG_PASSFILE" # a role of an earlier layout
  for role in "$PG_ROLE" $(for db in "${PG_DATABASES[@]}"; do pg_service_role "$db"; done); do
    grep -q "^\*:\*:\*:$role:" "$PG_PASSFILE" && continue
    pw="$(pg_new_password)"
    [ "$role" != "$PG_ROLE" ] || [ -z "$old" ] || pw="$old"
    printf '*:*:*:%s:%s\n' "$role" "$pw" >>"$PG_PASSFILE"
  done
  rm -f "$ES_STACK_DIR/credentials.env"
}

pg_password() { sed -n "s/^\*:\*:\*:$1://p" "$PG_PASSFILE"; }

pg_init() {
  [ -f "$PG_DATA/PG_VERSION" ] && return
  local bin; bin="$(pg_bindir)"
  log "initdb: new cluster in $PG_DATA"
  mkdir -p "$PG_DIR" "$PG_SOCKET_DIR"
  rm -rf "$PG_DATA"
  if is_root; then chown postgres:postgres "$PG_DIR" "$PG_SOCKET_DIR"; fi
  as_user postgres "$bin/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 >"$LOG_DIR/postgres-initdb.log" 2>&1 \
    || die "initdb failed (log: $LOG_DIR/postgres-initdb.log)"
  # Superuser over the socket only (peer); the `es` role over loopback TCP with a password.
  cat >>"$PG_DATA/postgresql.conf" <<CONF
# es-cqrs local cluster
listen_addresses = '$ES_BIND_HOST'
port = $ES_PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
wal_level = logical
max_connections = 300
shared_buffers = 512MB
max_wal_size = 2GB
synchronous_commit = on
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
CONF
}

pg_psql() { # superuser psql over the socket
  as_user postgres "$(pg_bindir)/psql" -h "$PG_SOCKET_DIR" -p "$ES_PG_PORT" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 -qAt "$@"
}

# Passwords go to psql on its standard input, never as an argument (which `ps` shows).
pg_provision() {
  pg_passfile
  local db role sql
  sql="SET client_min_messages = warning;
    DO \$\$BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN CREATE ROLE $PG_ROLE; END IF;
    END\$\$;
    ALTER ROLE $PG_ROLE LOGIN CREATEDB REPLICATION PASSWORD '$(pg_password "$PG_ROLE")';
    GRANT pg_checkpoint TO $PG_ROLE; -- benchmarks start each run from a checkpoint"
  printf '%s\n' "$sql" | pg_psql >/dev/null
  for db in "${PG_DATABASES[@]}"; do
    if [ -z "$(pg_psql -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
      pg_psql -c "CREATE DATABASE $db OWNER $PG_ROLE" >/dev/null
    fi
    # The service's role: no superuser, no CREATEDB, no CREATEROLE; REPLICATION for its
    # decoding relay's slot. Its table privileges come from the owner's migration.
    role="$(pg_service_role "$db")"
    sql="DO \$\$BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN CREATE ROLE $role; END IF;
      END\$\$;
      ALTER ROLE $role LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '$(pg_password "$role")';
      REVOKE CONNECT, TEMPORARY ON DATABASE $db FROM PUBLIC;
      GRANT CONNECT ON DATABASE $db TO $role;"
    printf '%s\n' "$sql" | pg_psql >/dev/null
  done
  # The key vault: its table and its grants come from the owner's migration (migrateKeyStore).
  if [ -z "$(pg_psql -c "SELECT 1 FROM pg_database WHERE datname = '$PG_VAULT'")" ]; then
    pg_psql -c "CREATE DATABASE $PG_VAULT OWNER $PG_ROLE" >/dev/null
  fi
  # An earlier layout gave the projection service a vault role: gone, with its grants.
  if [ -n "$(pg_psql -c "SELECT 1 FROM pg_roles WHERE rolname = 'es_projections'")" ]; then
    pg_psql -d "$PG_VAULT" -c 'DROP OWNED BY es_projections' >/dev/null
    pg_psql -c 'DROP ROLE es_projections' >/dev/null
  fi
  sql="REVOKE CONNECT, TEMPORARY ON DATABASE $PG_VAULT FROM PUBLIC;"
  for role in "${PG_VAULT_ROLES[@]}"; do sql="$sql
    GRANT CONNECT ON DATABASE $PG_VAULT TO $role;"; done
  printf '%s\n' "$sql" | pg_psql >/dev/null
}

pg_running() { [ -f "$PG_DATA/postmaster.pid" ] && as_user postgres "$(pg_bindir)/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

pg_up() {
  pg_install
  mkdir -p "$LOG_DIR"
  pg_init
  if [ -n "$(pg_configure)" ] && pg_running; then
    log "PostgreSQL settings changed (infra/local/postgres.sh): restarting it"
    as_user postgres "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -l "$LOG_DIR/postgres.log" -m fast -w -t 60 restart >/dev/null \
      || die "PostgreSQL did not restart (log: $LOG_DIR/postgres.log)"
  fi
  if [ -n "$(pg_configure_hba)" ] && pg_running; then
    as_user postgres "$(pg_bindir)/pg_ctl" -D "$PG_DATA" reload >/dev/null
  fi
  if ! pg_running; then
    require_free_port "$ES_PG_PORT" PostgreSQL
    if is_root; then chown postgres:postgres "$LOG_DIR"; touch "$LOG_DIR/postgres.log"; chown postgres "$LOG_DIR/postgres.log"; fi
    as_user postgres "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -l "$LOG_DIR/postgres.log" -w -t 60 start >/dev/null \
      || die "PostgreSQL did not start (log: $LOG_DIR/postgres.log)"
  fi
  pg_provision
  pg_master_key
}

pg_master_key() {
  [ -s "$PRIVACY_MASTER_KEYS_FILE" ] && return 0
  mkdir -p "$(dirname "$PRIVACY_MASTER_KEYS_FILE")"
  (umask 077 && head -c 32 /dev/urandom | base64 >"$PRIVACY_MASTER_KEYS_FILE.tmp")
  mv "$PRIVACY_MASTER_KEYS_FILE.tmp" "$PRIVACY_MASTER_KEYS_FILE"
}

pg_down() {
  pg_running || return 0
  as_user postgres "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
}

# No shutdown checkpoint, no goodbye to clients: the start that follows replays the WAL.
pg_crash_restart() {
  pg_running || die "PostgreSQL is not running"
  as_user postgres "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -m immediate -w -t 60 stop >/dev/null
  as_user postgres "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -l "$LOG_DIR/postgres.log" -w -t 60 start >/dev/null \
    || die "PostgreSQL did not start after the crash (log: $LOG_DIR/postgres.log)"
}

pg_status() {
  if pg_running; then echo "postgres  up    $ES_BIND_HOST:$ES_PG_PORT  databases: ${PG_DATABASES[*]} $PG_VAULT"
  else echo "postgres  down"; fi
}
