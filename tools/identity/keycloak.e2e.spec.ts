// docker-compose's identity provider is Keycloak, importing infra/keycloak/es-cqrs-realm.json;
// the native stack's is apps/identity-provider, with apps/identity-provider/realm.json. This
// holds the two to one realm on a real Keycloak (`stack.sh up keycloak`, the same version as
// the compose image), with the local provider's secrets: every user's and client's token is
// what the services make of the local provider's (subject, client, roles), a grant the realm
// does not give a client is refused, and a service configured for Keycloak serves its tokens.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { ROLES, type Role } from '@es/http-api';
import { authConfig, postgresConfig } from '@es/runtime-config';
import { http } from '@es/service-testing';
import { TokenVerifier } from '@es/service-runtime';
import {
  SERVICES,
  loadStackEnv,
  startService,
  workspaceRoot,
  type RunningService,
  contactFor,
} from '@es/testing';

interface Realm {
  readonly audience: string;
  readonly users: readonly { readonly username: string; readonly roles: readonly Role[] }[];
  readonly clients: readonly {
    readonly clientId: string;
    readonly grants: readonly string[];
    readonly roles: readonly Role[];
  }[];
}

const root = workspaceRoot();
const stack = join(root, 'infra', 'local', 'stack.sh');
const realm = JSON.parse(
  readFileSync(join(root, 'apps', 'identity-provider', 'realm.json'), 'utf8'),
) as Realm;
const port = Number(process.env['ES_KEYCLOAK_PORT'] ?? 4480);
const issuer = `http://127.0.0.1:${port}/realms/es-cqrs`;

function running(): boolean {
  try {
    execFileSync('bash', [stack, 'status', 'keycloak'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('Keycloak with the realm docker-compose imports', () => {
  let startedHere = false;
  let secrets: { clients: Record<string, string>; users: Record<string, string> };
  let tokenEndpoint: string;
  let verifier: TokenVerifier;

  beforeAll(async () => {
    loadStackEnv();
    if (!running()) {
      execFileSync('bash', [stack, 'up', 'keycloak'], { stdio: ['ignore', 'ignore', 'inherit'] });
      startedHere = true;
    }
    secrets = JSON.parse(readFileSync(process.env['ES_IDENTITY_SECRETS'] ?? '', 'utf8')) as {
      clients: Record<string, string>;
      users: Record<string, string>;
    };
    const discovery = (await (
      await fetch(`${issuer}/.well-known/openid-configuration`)
    ).json()) as { issuer: string; token_endpoint: string; jwks_uri: string };
    expect(discovery.issuer).toBe(issuer);
    tokenEndpoint = discovery.token_endpoint;
    // As a service configured for this issuer makes its verifier (audience, clock skew).
    verifier = new TokenVerifier(
      authConfig({ AUTH_ISSUER: issuer, AUTH_JWKS_URL: discovery.jwks_uri }),
    );
  }, 240_000);

  afterAll(() => {
    if (startedHere) execFileSync('bash', [stack, 'down', 'keycloak'], { stdio: 'ignore' });
  });

  async function token(
    clientId: string,
    params: Record<string, string>,
  ): Promise<{ status: number; token?: string; error?: string }> {
    const response = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${secrets.clients[clientId] ?? ''}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(params).toString(),
    });
    const body = (await response.json()) as { access_token?: string; error?: string };
    return {
      status: response.status,
      ...(body.access_token ? { token: body.access_token } : {}),
      ...(body.error ? { error: body.error } : {}),
    };
  }

  const password = (clientId: string, username: string, pw?: string) =>
    token(clientId, {
      grant_type: 'password',
      username,
      password: pw ?? secrets.users[username] ?? '',
    });

  it.each(realm.users.map((u) => [u.username, u] as const))(
    "%s's token (es-cli, password) is what the services make of the local provider's",
    async (_name, user) => {
      const issued = await password('es-cli', user.username);
      expect(issued.error).toBeUndefined();
      const principal = await verifier.verify(issued.token ?? '');
      expect(principal).toEqual({
        subject: user.username,
        client: 'es-cli',
        roles: [...user.roles].sort((a, b) => ROLES.indexOf(a) - ROLES.indexOf(b)),
      });
    },
  );

  it.each(realm.clients.map((c) => [c.clientId, c] as const))(
    '%s: client credentials and the password grant exactly as the realm gives them',
    async (_name, client) => {
      const own = await token(client.clientId, { grant_type: 'client_credentials' });
      if (client.grants.includes('client_credentials')) {
        const principal = await verifier.verify(own.token ?? '');
        expect(principal.subject).toBe(client.clientId);
        expect(principal.client).toBe(client.clientId);
        expect([...principal.roles].sort()).toEqual([...client.roles].sort());
      } else {
        expect(own).toMatchObject({ status: 401, error: 'unauthorized_client' });
      }
      const alice = await password(client.clientId, 'alice');
      if (client.grants.includes('password')) expect(alice.token).toBeDefined();
      else expect(alice).toMatchObject({ status: 400, error: 'unauthorized_client' });
    },
  );

  it("gives a person's token from the command line (pnpm token), the endpoint discovered", () => {
    const printed = execFileSync(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        join(root, 'tools', 'identity', 'token.mts'),
        'sam',
      ],
      { encoding: 'utf8', env: { ...process.env, AUTH_ISSUER: issuer } },
    ).trim();
    return expect(verifier.verify(printed)).resolves.toEqual({
      subject: 'sam',
      client: 'es-cli',
      roles: ['staff'],
    });
  });

  it('refuses a wrong password and an unknown client secret', async () => {
    expect(await password('es-cli', 'alice', 'not-her-password')).toMatchObject({
      status: 401,
      error: 'invalid_grant',
    });
    const forged = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('es-tests:not-its-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    expect(forged.status).toBe(401);
  });

  describe('a service configured for Keycloak, as docker-compose configures it', () => {
    let service: RunningService;
    beforeAll(async () => {
      const spec = SERVICES.find((s) => s.name === 'order-service')!;
      service = await startService(spec, {
        env: {
          AUTH_ISSUER: issuer,
          AUTH_JWKS_URL: `${issuer}/protocol/openid-connect/certs`,
        },
      });
    }, 90_000);
    afterAll(async () => {
      await service.stop();
    });

    it('records alice as the principal of her order, which bob may not read nor place', async () => {
      const bearer = async (user: string) => ({
        authorization: `Bearer ${(await password('es-cli', user)).token ?? ''}`,
      });
      const order = {
        customerId: 'alice',
        items: [{ sku: `kc-${randomUUID().slice(0, 8)}`, quantity: 1, unitPrice: 5 }],
        ...contactFor('alice'),
      };
      const placed = await http<{ orderId: string }>(service.url('/orders'), {
        as: 'anonymous',
        headers: await bearer('alice'),
        body: order,
      });
      expect(placed.status).toBe(202);
      const pool = new pg.Pool({ ...postgresConfig('orders'), max: 1 });
      try {
        const { rows } = await pool.query<{ metadata: { principal?: unknown } }>(
          `SELECT metadata FROM events WHERE stream_type = 'order' AND stream_id = $1`,
          [placed.body.orderId],
        );
        expect(rows.map((r) => r.metadata.principal)).toEqual([
          { subject: 'alice', client: 'es-cli', roles: ['customer'] },
        ]);
      } finally {
        await pool.end();
      }
      const path = service.url(`/orders/${placed.body.orderId}`);
      const read = async (headers: Record<string, string>) =>
        (await http(path, { as: 'anonymous', headers })).status;
      expect(await read(await bearer('bob'))).toBe(403);
      expect(await read({})).toBe(401);
      // The list of alice's orders: hers and staff's to read, not bob's.
      const list = async (user: string) =>
        (
          await http(service.url('/orders?customerId=alice'), {
            as: 'anonymous',
            headers: await bearer(user),
          })
        ).status;
      expect(await list('alice')).toBe(200);
      expect(await list('sam')).toBe(200);
      expect(await list('bob')).toBe(403);
      const asBob = await http(service.url('/orders'), {
        as: 'anonymous',
        headers: await bearer('bob'),
        body: order,
      });
      expect(asBob.status).toBe(403);
    });
  });
});
