// pnpm token <user>: an access token for a user of the local identity provider's realm (alice,
// bob: customers; sam: staff; olga: an operator), printed alone so a shell can keep it:
//   ALICE=$(pnpm -s token alice)
//   curl -H "Authorization: Bearer $ALICE" 127.0.0.1:3001/orders?customerId=alice
// It asks the provider (AUTH_ISSUER, the local one by default; its token endpoint from its
// discovery document, so Keycloak too) with the password grant of the es-cli client, whose
// secret and the users' passwords are in the stack's secrets file (ES_IDENTITY_SECRETS, else
// .local/stack/identity/secrets.json; 0600, never in the repo).
// With --password it prints the user's password instead (to sign in to the web console):
//   pnpm -s token olga --password
// With --compose it asks docker-compose's Keycloak (http://127.0.0.1:4400/realms/es-cqrs), with
// the secrets of .env (ES_CLIENT_SECRET_ES_CLI, ES_USER_PASSWORD_<USER>):
//   pnpm -s token alice --compose
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const user = process.argv[2];
const realm = JSON.parse(
  readFileSync(join(root, 'apps', 'identity-provider', 'realm.json'), 'utf8'),
) as { users: { username: string; roles: string[]; description: string }[] };

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n`);
  process.exit(1);
}

if (!user || user === '--help')
  fail(
    `usage: pnpm token <user>; the users: ${realm.users.map((u) => `${u.username} (${u.description})`).join(', ')}`,
  );
if (!realm.users.some((u) => u.username === user))
  fail(`no user ${user}; the users: ${realm.users.map((u) => u.username).join(', ')}`);
const compose = process.argv.includes('--compose');

/** The es-cli client's secret and the user's password: from .env, or the stack's secrets file. */
function credentials(): { client: string; password: string } {
  if (compose) {
    const file = join(root, '.env');
    if (!existsSync(file)) fail(`no ${file}: write it first (bash infra/compose-env.sh)`);
    const env = Object.fromEntries(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    return {
      client: env['ES_CLIENT_SECRET_ES_CLI'] ?? '',
      password: env[`ES_USER_PASSWORD_${(user ?? '').toUpperCase()}`] ?? '',
    };
  }
  const file =
    process.env['ES_IDENTITY_SECRETS'] ?? join(root, '.local', 'stack', 'identity', 'secrets.json');
  if (!existsSync(file)) fail(`no secrets at ${file}: start the system first (npm start)`);
  const secrets = JSON.parse(readFileSync(file, 'utf8')) as {
    clients: Record<string, string>;
    users: Record<string, string>;
  };
  return { client: secrets.clients['es-cli'] ?? '', password: secrets.users[user ?? ''] ?? '' };
}

if (process.argv.includes('--password')) {
  process.stdout.write(`${credentials().password}\n`);
  process.exit(0);
}

const issuer = compose
  ? 'http://127.0.0.1:4400/realms/es-cqrs'
  : (process.env['AUTH_ISSUER'] ?? 'http://127.0.0.1:4400');
const unreachable = (error: unknown): never =>
  fail(
    `the identity provider at ${issuer} does not answer (${String(error)}); is the system started?`,
  );
const found = await fetch(`${issuer}/.well-known/openid-configuration`).catch(unreachable);
if (!found.ok)
  fail(`${issuer} has no discovery document (${found.status}): is it the provider you meant?`);
const discovery = (await found.json()) as { token_endpoint?: string };
if (!discovery.token_endpoint) fail(`${issuer} names no token endpoint in its discovery document`);
const { client, password } = credentials();
const response = await fetch(discovery.token_endpoint, {
  method: 'POST',
  headers: {
    authorization: `Basic ${Buffer.from(`es-cli:${client}`).toString('base64')}`,
    'content-type': 'application/x-www-form-urlencoded',
  },
  body: new URLSearchParams({
    grant_type: 'password',
    username: user,
    password,
  }).toString(),
}).catch(unreachable);
const body = (await response.json()) as { access_token?: string; error?: string };
if (!response.ok || !body.access_token) fail(`${response.status} ${body.error ?? ''}`);
process.stdout.write(`${body.access_token}\n`);
