// The local OpenID Connect provider: oidc-provider (the certified Node implementation) with the
// realm of ../realm.json (users, clients, roles), run by infra/local/stack.sh straight from this
// source (Node's type stripping). docker-compose runs Keycloak with the same realm instead.
//
// Access tokens are JWTs (RFC 9068, `typ: at+jwt`) for the one audience of the services' APIs,
// with a `roles` claim: a client's own roles for client credentials, a user's for the password
// grant (a person's token from the command line: `pnpm token alice`) and for the authorization
// code flow with PKCE (a person's login in the browser: the operator's console, whose login
// page is /interaction/<uid>), `customer` for the test clients' impersonation grant (a token
// for any customer id that is not a realm user: the tests and benchmarks place orders for
// thousands of customers). Secrets are not in the repo: client
// secrets, user passwords and the signing keys are generated at the first start into a 0600 file
// (OIDC_SECRETS_FILE), which the test helpers read. `main.mts rotate-keys` puts a new signing key
// first (the old one stays published, so tokens it signed still verify): restart to use it.
//
//   OIDC_SECRETS_FILE  where the secrets are kept (required)
//   OIDC_HOST, OIDC_PORT  where it listens (127.0.0.1:4400)
//   OIDC_ISSUER        its issuer URL (http://OIDC_HOST:OIDC_PORT)
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';

type Role = 'customer' | 'staff' | 'operator';
type GrantName = 'client_credentials' | 'password' | 'impersonate' | 'authorization_code';

interface Realm {
  readonly audience: string;
  readonly users: readonly { readonly username: string; readonly roles: readonly Role[] }[];
  readonly clients: readonly {
    readonly clientId: string;
    readonly grants: readonly GrantName[];
    readonly roles: readonly Role[];
    /** Where a code-flow client's logins may return. */
    readonly redirectUris?: readonly string[];
  }[];
}

interface Secrets {
  /** Private signing keys (JWK), the one that signs first. */
  keys: Record<string, unknown>[];
  clients: Record<string, string>;
  users: Record<string, string>;
}

/** The grant type of the test clients' tokens for any customer. */
export const IMPERSONATE_GRANT = 'urn:es:params:oauth:grant-type:impersonate';
const RESOURCE = 'urn:es:api';
const CUSTOMER_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

const here = dirname(fileURLToPath(import.meta.url));
const realm = JSON.parse(readFileSync(join(here, '..', 'realm.json'), 'utf8')) as Realm;

const secret = () => randomBytes(24).toString('base64url');

/** The origins the realm's code-flow clients return to. */
const CALLBACK_ORIGINS = [
  ...new Set(realm.clients.flatMap((c) => (c.redirectUris ?? []).map((u) => new URL(u).origin))),
].join(' ');

function signingKey(): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `es-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '')}-${randomBytes(3).toString('hex')}`;
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
}

function writeSecrets(file: string, secrets: Secrets): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** The secrets file, made (or completed, for a client or user added to the realm) as needed. */
function loadSecrets(file: string): Secrets {
  const secrets: Secrets = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Secrets)
    : { keys: [], clients: {}, users: {} };
  let changed = !existsSync(file);
  if (secrets.keys.length === 0) {
    secrets.keys.push(signingKey());
    changed = true;
  }
  for (const { clientId } of realm.clients)
    if (!secrets.clients[clientId]) {
      secrets.clients[clientId] = secret();
      changed = true;
    }
  for (const { username } of realm.users)
    if (!secrets.users[username]) {
      secrets.users[username] = secret();
      changed = true;
    }
  if (changed) writeSecrets(file, secrets);
  return secrets;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function provider(issuer: string, secrets: Secrets): Provider {
  const resourceServerInfo = () => ({
    scope: '',
    audience: realm.audience,
    accessTokenFormat: 'jwt' as const,
    accessTokenTTL: 3_600,
    jwt: { sign: { alg: 'RS256' as const } },
  });
  const userRoles = new Map(realm.users.map((u) => [u.username, u.roles]));
  const clientRoles = new Map(realm.clients.map((c) => [c.clientId, c.roles]));
  const oidc = new Provider(issuer, {
    clients: realm.clients.map((c) => ({
      client_id: c.clientId,
      client_secret: secrets.clients[c.clientId] ?? '',
      grant_types: c.grants.map((g) => (g === 'impersonate' ? IMPERSONATE_GRANT : g)),
      response_types: c.grants.includes('authorization_code') ? ['code'] : [],
      redirect_uris: [...(c.redirectUris ?? [])],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys: secrets.keys },
    // Every code flow with PKCE (S256), confidential clients' too (OAuth 2.1, RFC 9700).
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx, id) =>
      userRoles.has(id)
        ? { accountId: id, claims: () => ({ sub: id, preferred_username: id }) }
        : undefined,
    claims: { openid: ['sub'], profile: ['preferred_username'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== RESOURCE) throw new errors.InvalidTarget();
          return resourceServerInfo();
        },
      },
    },
    ttl: { AccessToken: 3_600, ClientCredentials: 3_600, Grant: 3_600 },
    cookies: { keys: [secrets.keys.map((k) => String(k.kid)).join('.')] },
    extraTokenClaims: (_ctx, token) => {
      const { accountId, clientId } = token as { accountId?: string; clientId?: string };
      if (accountId) return { roles: userRoles.get(accountId) ?? ['customer'] };
      return { roles: clientRoles.get(clientId ?? '') ?? [] };
    },
  });

  /** A JWT access token for `accountId`, issued to the authenticated client. */
  async function issue(ctx: KoaContextWithOIDC, accountId: string, gty: string): Promise<void> {
    const client = ctx.oidc.client;
    if (!client) throw new errors.InvalidClient();
    const resourceServer = new oidc.ResourceServer(RESOURCE, resourceServerInfo());
    // As the built-in grants do: the token belongs to a grant (kept in memory for its TTL).
    const grant = new oidc.Grant({ accountId, clientId: client.clientId });
    grant.addResourceScope(RESOURCE, '');
    const grantId = await grant.save();
    const token = new oidc.AccessToken({ accountId, client, grantId, gty, resourceServer });
    ctx.oidc.entity('AccessToken', token);
    const accessToken = await token.save();
    ctx.body = {
      access_token: accessToken,
      expires_in: token.expiration,
      token_type: token.tokenType,
    };
  }

  // The resource owner's password: a person's token from the command line (Keycloak has it as
  // direct access grants). Not for browsers; they would use the authorization code flow.
  oidc.registerGrantType(
    'password',
    async (ctx) => {
      const { username, password } = ctx.oidc.params as { username?: string; password?: string };
      if (!username || !password)
        throw new errors.InvalidRequest('username and password are required');
      const expected = secrets.users[username];
      if (!userRoles.has(username) || !expected || !same(password, expected))
        throw new errors.InvalidGrant('invalid resource owner credentials');
      await issue(ctx, username, 'password');
    },
    ['username', 'password'],
  );

  // The test clients' token for any customer: the suites and benchmarks act as thousands of
  // customers. Never for a realm user (that would be a way to their roles).
  oidc.registerGrantType(
    IMPERSONATE_GRANT,
    async (ctx) => {
      const { subject } = ctx.oidc.params as { subject?: string };
      if (!subject || !CUSTOMER_ID.test(subject))
        throw new errors.InvalidRequest('subject must be a customer id (letters, digits, . _ : -)');
      if (userRoles.has(subject))
        throw new errors.InvalidGrant(
          `${subject} is a realm user: ask for its token with its password`,
        );
      await issue(ctx, subject, 'impersonate');
    },
    ['subject'],
  );
  return oidc;
}

const escape = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

function loginPage(uid: string, client: string, username = '', problem = ''): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - es-cqrs</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1f24}
main{max-width:22rem;margin:10vh auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin:0 0 1rem}label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #6b7280;border-radius:4px;font:inherit}
button{margin-top:1.2rem;width:100%;padding:.6rem;border:0;border-radius:4px;background:#1d4ed8;color:#fff;font:inherit;font-weight:600;cursor:pointer}
button:focus,input:focus{outline:3px solid #f59e0b;outline-offset:1px}
.problem{color:#991b1b;background:#fee2e2;padding:.5rem;border-radius:4px}
</style></head>
<body><main>
<h1>Sign in to ${escape(client)}</h1>
${problem ? `<p class="problem" role="alert">${escape(problem)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus value="${escape(username)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
</main></body></html>`;
}

async function formOf(request: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of request) {
    body += String(chunk);
    if (body.length > 10_000) throw new errors.InvalidRequest('the form is too large');
  }
  return new URLSearchParams(body);
}

/**
 * A person's login for the authorization code flow: the form, then their password checked as
 * the password grant checks it; the grant (openid, and the services' API) given at once, since
 * the realm's code-flow clients are its own (no consent screen).
 */
async function interaction(
  oidc: Provider,
  secrets: Secrets,
  request: IncomingMessage,
  response: ServerResponse,
  submitted: boolean,
): Promise<void> {
  const details = await oidc.interactionDetails(request, response);
  const clientId =
    typeof details.params['client_id'] === 'string' ? details.params['client_id'] : '';
  const page = (status: number, html: string) => {
    response.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
      // The form's answer redirects to the client's callback: its origin is a form action too.
      'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${CALLBACK_ORIGINS}`,
    });
    response.end(html);
  };
  let accountId = details.session?.accountId;
  if (details.prompt.name === 'login') {
    if (!submitted || request.method !== 'POST') {
      page(200, loginPage(details.uid, clientId));
      return;
    }
    const form = await formOf(request);
    const username = form.get('username') ?? '';
    const expected = secrets.users[username];
    if (!expected || !same(form.get('password') ?? '', expected)) {
      page(401, loginPage(details.uid, clientId, username, 'Wrong username or password.'));
      return;
    }
    accountId = username;
  }
  if (!accountId) throw new errors.InvalidRequest('no one is signed in');
  const grant = details.grantId
    ? ((await oidc.Grant.find(details.grantId)) ?? new oidc.Grant({ accountId, clientId }))
    : new oidc.Grant({ accountId, clientId });
  const missing = details.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  grant.addOIDCScope((missing.missingOIDCScope ?? ['openid']).join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {}))
    grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  await oidc.interactionFinished(
    request,
    response,
    { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

function main(): void {
  const file = process.env['OIDC_SECRETS_FILE'];
  if (!file) throw new Error('OIDC_SECRETS_FILE is required: where the secrets are kept');
  if (process.argv[2] === 'rotate-keys') {
    const secrets = loadSecrets(file);
    secrets.keys = [signingKey(), ...secrets.keys].slice(0, 2);
    writeSecrets(file, secrets);
    console.log(
      `signing key ${String(secrets.keys[0]?.kid)} first; restart the provider to use it`,
    );
    return;
  }
  const host = process.env['OIDC_HOST'] ?? '127.0.0.1';
  const port = Number(process.env['OIDC_PORT'] ?? 4400);
  const issuer = process.env['OIDC_ISSUER'] ?? `http://${host}:${port}`;
  const secrets = loadSecrets(file);
  const oidc = provider(issuer, secrets);
  const handle = oidc.callback();
  const server = createServer((request, response) => {
    const at = /^\/interaction\/([A-Za-z0-9_-]{1,64})(\/login)?$/.exec(
      new URL(request.url ?? '/', issuer).pathname,
    );
    if (!at) {
      void handle(request, response);
      return;
    }
    interaction(oidc, secrets, request, response, at[2] !== undefined).catch((error: unknown) => {
      // An expired or unknown interaction (its cookie gone): start the login again.
      if (!response.headersSent)
        response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      response.end(
        `The sign-in could not go on (${error instanceof Error ? error.message : String(error)}): go back to the application and sign in again.`,
      );
    });
  });
  server.listen(port, host, () => {
    console.log(`identity provider ${issuer} (audience ${realm.audience}) on ${host}:${port}`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
