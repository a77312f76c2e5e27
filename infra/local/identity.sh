#!/usr/bin/env bash
# The local OpenID Connect provider: apps/identity-provider (oidc-provider), run by Node 24
# straight from its TypeScript source, with the realm of apps/identity-provider/realm.json.
# Its secrets (client secrets, user passwords, signing keys) are generated at the first start
# into $ES_STACK_DIR/identity/secrets.json (0600). `stack.sh rotate-keys` puts a new signing
# key first and restarts it (the old key stays published: tokens it signed still verify).

IDENTITY_DIR="$ES_STACK_DIR/identity"
IDENTITY_SECRETS="$IDENTITY_DIR/secrets.json"
IDENTITY_MAIN="$STACK_ROOT/apps/identity-provider/src/main.mts"

# Node 24 (the bootstrap's, else the PATH's): it runs TypeScript sources as they are.
identity_node() {
  local node="$ES_CACHE_DIR/node-24-linux-x64/bin/node"
  [ -x "$node" ] || node="$(command -v node || true)"
  [ -n "$node" ] || die "the identity provider needs Node 24 (npm start or npm test fetches it)"
  local major; major="$("$node" -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 23 ] || die "the identity provider needs Node >= 23 to run TypeScript (found $("$node" --version) at $node); npm start or npm test fetches Node 24"
  echo "$node"
}

identity_running() { pid_alive "$RUN_DIR/identity.pid"; }

identity_env() {
  echo "OIDC_SECRETS_FILE=$IDENTITY_SECRETS" "OIDC_HOST=$ES_BIND_HOST" "OIDC_PORT=$ES_OIDC_PORT"
}

identity_up() {
  if identity_running; then return; fi
  [ -d "$STACK_ROOT/node_modules/.pnpm" ] && [ -e "$STACK_ROOT/apps/identity-provider/node_modules/oidc-provider" ] \
    || die "the identity provider's packages are not installed: run npm start or npm test (they install them)"
  require_free_port "$ES_OIDC_PORT" "the identity provider"
  mkdir -p "$IDENTITY_DIR"; chmod 700 "$IDENTITY_DIR"
  local node; node="$(identity_node)"
  # shellcheck disable=SC2046
  spawn identity env $(identity_env) "$node" --disable-warning=ExperimentalWarning "$IDENTITY_MAIN"
  # It listens once its provider is built (keys loaded, clients checked).
  identity_ready() { identity_running || return 2; port_open "$ES_OIDC_PORT"; }
  await_ready "identity provider" 30 identity_ready identity_down "$LOG_DIR/identity.log"
}

identity_down() { stop_pidfile identity 10; }

identity_status() {
  if identity_running && port_open "$ES_OIDC_PORT"; then echo "identity  up    $ES_BIND_HOST:$ES_OIDC_PORT  (OpenID Connect issuer http://$ES_BIND_HOST:$ES_OIDC_PORT)"
  else echo "identity  down"; fi
}

identity_rotate_keys() {
  local node; node="$(identity_node)"
  # shellcheck disable=SC2046
  env $(identity_env) "$node" --disable-warning=ExperimentalWarning "$IDENTITY_MAIN" rotate-keys
  if identity_running; then identity_down; identity_up; fi
}
