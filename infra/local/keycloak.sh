#!/usr/bin/env bash
# Keycloak, the identity provider docker-compose runs, natively: its distribution from Maven
# Central (org.keycloak:keycloak-quarkus-dist), in development mode with an in-memory database,
# importing infra/keycloak/es-cqrs-realm.json at every start. Not one of the default engines
# (the services take their tokens from apps/identity-provider): `stack.sh up keycloak` starts it
# for the test that holds the realm file to the local provider's realm
# (tools/identity/keycloak.e2e.spec.ts), or for anyone trying the services against Keycloak.
# The realm's client secrets and user passwords are the local provider's (its secrets file),
# handed to Keycloak in its environment, which fills the realm file's ${...} placeholders.

KEYCLOAK_VERSION=26.5.6
KEYCLOAK_DIST="$ES_CACHE_DIR/keycloak-$KEYCLOAK_VERSION"
KEYCLOAK_DIR="$ES_STACK_DIR/keycloak"
ES_KEYCLOAK_PORT="${ES_KEYCLOAK_PORT:-4480}"
KEYCLOAK_ISSUER="http://$ES_BIND_HOST:$ES_KEYCLOAK_PORT/realms/es-cqrs"

keycloak_install() {
  [ -f "$KEYCLOAK_DIST/.complete" ] && return
  log "fetching Keycloak $KEYCLOAK_VERSION from Maven Central (first run only)"
  local tmp="$KEYCLOAK_DIST.tmp.$$"
  maven_fetch "$tmp" "Keycloak" dependency:copy \
    -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz" -DoutputDirectory="$tmp"
  tar -xzf "$tmp/keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz" -C "$tmp" --strip-components=1 \
    || die "could not unpack Keycloak $KEYCLOAK_VERSION"
  rm -f "$tmp/keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz"
  [ -x "$tmp/bin/kc.sh" ] || die "bin/kc.sh missing from the Keycloak distribution"
  touch "$tmp/.complete"
  rm -rf "$KEYCLOAK_DIST"; mv "$tmp" "$KEYCLOAK_DIST"
}

# This stack's Keycloak home: the distribution's code (shared by every clone) and a data folder
# of its own, whose import/ holds the realm (Keycloak imports from <home>/data/import only).
# kc.sh finds its home from its own path, so it is a copy, not a link.
keycloak_home() {
  local home="$KEYCLOAK_DIR/home" part
  mkdir -p "$home/bin" "$home/data/import"
  for part in lib providers themes conf; do ln -sfn "$KEYCLOAK_DIST/$part" "$home/$part"; done
  cp "$KEYCLOAK_DIST/bin/kc.sh" "$home/bin/kc.sh"
  cp "$STACK_ROOT/infra/keycloak/es-cqrs-realm.json" "$home/data/import/"
  echo "$home"
}

# The realm's secrets as Keycloak reads them (ES_CLIENT_SECRET_ES_CLI, ES_USER_PASSWORD_ALICE,
# ...: the names of docker-compose's .env), from the local provider's secrets file, into a
# 0600 file this shell sources; never on a command line.
keycloak_secrets_env() {
  [ -f "$IDENTITY_SECRETS" ] || die "Keycloak takes the realm's secrets from the local identity provider's: 'stack.sh up identity' first"
  (umask 077 && "$(identity_node)" -e '
    const s = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    const name = (kind, id) => `${kind}_${id.toUpperCase().replace(/-/g, "_")}`;
    for (const [id, v] of Object.entries(s.clients)) console.log(`export ${name("ES_CLIENT_SECRET", id)}=${v}`);
    for (const [id, v] of Object.entries(s.users)) console.log(`export ${name("ES_USER_PASSWORD", id)}=${v}`);
  ' "$IDENTITY_SECRETS" >"$KEYCLOAK_DIR/realm.env")
}

keycloak_running() { pid_alive "$RUN_DIR/keycloak.pid"; }

keycloak_up() {
  if keycloak_running; then return; fi
  keycloak_install
  require_free_port "$ES_KEYCLOAK_PORT" "Keycloak"
  mkdir -p "$KEYCLOAK_DIR"; chmod 700 "$KEYCLOAK_DIR"
  local home; home="$(keycloak_home)"
  keycloak_secrets_env
  (
    # shellcheck disable=SC1091
    . "$KEYCLOAK_DIR/realm.env"
    export KC_BOOTSTRAP_ADMIN_USERNAME=admin
    KC_BOOTSTRAP_ADMIN_PASSWORD="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    export KC_BOOTSTRAP_ADMIN_PASSWORD
    export JAVA_OPTS_KC_HEAP="${ES_KEYCLOAK_HEAP:--Xms128m -Xmx512m}"
    spawn keycloak "$home/bin/kc.sh" start-dev --import-realm --db=dev-mem \
      --http-host="$ES_BIND_HOST" --http-port="$ES_KEYCLOAK_PORT" \
      --hostname="http://$ES_BIND_HOST:$ES_KEYCLOAK_PORT"
  )
  # Ready once the realm answers its discovery document (after the import).
  keycloak_ready() {
    keycloak_running || return 2
    "$(identity_node)" -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
      "$KEYCLOAK_ISSUER/.well-known/openid-configuration"
  }
  await_ready "Keycloak" 180 keycloak_ready keycloak_down "$LOG_DIR/keycloak.log"
}

keycloak_down() { stop_pidfile keycloak 30; }

keycloak_status() {
  if keycloak_running && port_open "$ES_KEYCLOAK_PORT"; then echo "keycloak  up    $ES_BIND_HOST:$ES_KEYCLOAK_PORT  (issuer $KEYCLOAK_ISSUER)"
  else echo "keycloak  down"; fi
}
