#!/usr/bin/env bash
# docker-compose's kafka-users job (the apache/kafka image): the SASL/SCRAM-SHA-256 users of
# infra/kafka/access.json, as the brokers' super user, each with its password from the
# environment (ES_KAFKA_PASSWORD_<USER>, from .env; ES_KAFKA_ADMIN_PASSWORD for `admin`). A
# password reaches kafka-configs through a 0600 file, never as an argument. Setting a user's
# credential again is harmless, so the job runs at every `docker compose up`.
# The native stack does the same in infra/local/kafka.sh (kafka_provision).
#   KAFKA_HOME (/opt/kafka) and ES_KAFKA_BOOTSTRAP (kafka:19092) say where.
set -euo pipefail
KAFKA_HOME="${KAFKA_HOME:-/opt/kafka}"
BOOTSTRAP="${ES_KAFKA_BOOTSTRAP:-kafka:19092}"
USERS=(order-service inventory-service payment-service saga-orchestrator projection-service es-tools)

work="$(umask 077 && mktemp -d)"
trap 'rm -rf "$work"' EXIT
{
  echo "security.protocol=SASL_PLAINTEXT"
  echo "sasl.mechanism=PLAIN"
  printf 'sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="%s";\n' \
    "${ES_KAFKA_ADMIN_PASSWORD:?ES_KAFKA_ADMIN_PASSWORD is not set}"
} >"$work/admin.properties"

for user in "${USERS[@]}"; do
  variable="ES_KAFKA_PASSWORD_$(echo "$user" | tr 'a-z-' 'A-Z_')"
  password="${!variable:-}"
  [ -n "$password" ] || { echo "kafka-users: $variable is not set (see .env.example)" >&2; exit 1; }
  printf 'SCRAM-SHA-256=iterations=4096,password=%s\n' "$password" >"$work/$user.properties"
  "$KAFKA_HOME/bin/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$work/admin.properties" \
    --alter --entity-type users --entity-name "$user" --add-config-file "$work/$user.properties" >/dev/null
  echo "kafka-users: $user"
done
