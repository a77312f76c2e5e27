#!/usr/bin/env bash
# One database per service (docs/architecture.md, Runtime pieces), each reachable by its own
# service's role only (docs/security.md, PostgreSQL): the postgres image runs this once, at the
# volume's first start, as its superuser (POSTGRES_USER, `es`, the databases' owner, which
# migrates). The native stack makes the same in infra/local/postgres.sh. Passwords come from
# the environment (.env) and reach psql on its standard input, never as an argument.
set -euo pipefail
for db in orders inventory payments sagas; do
  var="ES_${db^^}_DB_PASSWORD"
  [ -n "${!var:-}" ] || { echo "$var is not set" >&2; exit 1; }
  [ "$db" = "$POSTGRES_DB" ] || psql -v ON_ERROR_STOP=1 -qAt -U "$POSTGRES_USER" -d postgres \
    -c "CREATE DATABASE $db OWNER $POSTGRES_USER"
  psql -v ON_ERROR_STOP=1 -qAt -U "$POSTGRES_USER" -d postgres <<SQL
CREATE ROLE es_$db LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${!var}';
REVOKE CONNECT, TEMPORARY ON DATABASE $db FROM PUBLIC;
GRANT CONNECT ON DATABASE $db TO es_$db;
SQL
done
# The key vault (docs/privacy.md), reached by the services that write or read personal data
# only.
psql -v ON_ERROR_STOP=1 -qAt -U "$POSTGRES_USER" -d postgres <<SQL
CREATE DATABASE vault OWNER $POSTGRES_USER;
REVOKE CONNECT, TEMPORARY ON DATABASE vault FROM PUBLIC;
GRANT CONNECT ON DATABASE vault TO es_orders, es_payments;
SQL
# No physical replication for anyone: a role with REPLICATION (the decoding relays') could
# otherwise copy the whole cluster's WAL. Logical replication connections match database lines.
sed -i '/^[^#]*[[:space:]]replication[[:space:]]/d' "$PGDATA/pg_hba.conf"
