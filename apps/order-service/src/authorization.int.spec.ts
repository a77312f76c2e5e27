// Who may call what, on the order service with the real identity provider's tokens (docs/
// security.md): each operation against no token, a bad one (malformed, expired, for another
// audience, from another issuer, signed by a key the provider never published), a customer,
// another customer, staff and an operator; the expected status, and nothing written on any
// refusal. Then a key rotation at a provider of the test's own: tokens signed with the new key
// verify without the service restarting, and those of the old key still do.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JWK } from 'jose';
import { orderServiceApi } from '@es/order-contracts';
import {
  Identity,
  createTestDatabase,
  freePort,
  identity,
  readSideCaughtUp,
  startReadSide,
  uniqueName,
  workspaceRoot,
  type Caller,
  type ReadSide,
  type TestDatabase,
  contactFor,
} from '@es/testing';
import { forgedToken, http, startTestService, type TestService } from '@es/service-testing';
import { AppModule } from './app.module';

type As = Caller | 'anonymous' | { readonly bearer: string };

describe('order-service: who may call what (real identity provider)', () => {
  let db: TestDatabase;
  let readSide: ReadSide;
  let service: TestService;
  const alice = uniqueName('alice');
  const bob = uniqueName('bob');
  const staff: Caller = { user: 'sam' };
  const operator: Caller = { user: 'olga' };
  const bad: Record<string, string> = {};

  const call = (path: string, as: As, init: { method?: string; body?: unknown } = {}) =>
    http<{ code?: string; detail?: string }>(service.url(path), {
      ...init,
      ...(typeof as === 'object' && 'bearer' in as
        ? {
            as: 'anonymous',
            headers: { authorization: `Bearer ${as.bearer}` },
          }
        : { as: as }),
    });
  const eventCount = async () =>
    Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]?.n);

  beforeAll(async () => {
    db = await createTestDatabase('order_auth');
    readSide = await startReadSide('rm_auth');
    service = await startTestService(orderServiceApi, AppModule, db.name, {
      MONGO_DATABASE: readSide.database,
      ALLOWED_ORIGINS: 'http://shop.example',
    });
    // The read side first replays what the topics hold already (other tests' events).
    await readSideCaughtUp(readSide.service.url(''));
    const now = Math.floor(Date.now() / 1000);
    bad['malformed'] = 'not.a.jwt';
    bad['expired'] = await forgedToken({ exp: now - 120 });
    bad['for another audience'] = await forgedToken({ aud: 'someone-else' });
    bad['from another issuer'] = await forgedToken({ iss: 'http://127.0.0.1:1/' });
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      format: 'jwk',
    }) as JWK;
    bad['signed by an unpublished key'] = await forgedToken(
      {},
      { jwk: stranger, kid: 'not-published' },
    );
  }, 120_000);
  afterAll(async () => {
    await service.close();
    await readSide.stop();
    await db.drop();
  });

  it('no token, or one that is not valid here: 401 with WWW-Authenticate, nothing written', async () => {
    const before = await eventCount();
    const body = {
      customerId: alice,
      items: [{ sku: 'SKU-1', quantity: 1, unitPrice: 100 }],
      ...contactFor(alice),
    };
    const none = await call('/orders', 'anonymous', { body });
    expect(none).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="es"');
    for (const [what, token] of Object.entries(bad)) {
      const answer = await call('/orders', { bearer: token }, { body });
      expect({ what, status: answer.status }).toEqual({ what, status: 401 });
      expect(answer.headers.get('www-authenticate')).toMatch(
        /^Bearer realm="es", error="invalid_token"/,
      );
    }
    expect(
      bad['expired'] &&
        (await call('/orders?customerId=x', { bearer: bad['expired'] })).body.detail,
    ).toMatch(/expired/);
    // Open: the probes, and the metrics on loopback.
    expect((await call('/health/live', 'anonymous')).status).toBe(200);
    expect((await call('/metrics', 'anonymous')).status).toBe(200);
    expect(await eventCount()).toBe(before);
  });

  it('browsers: an allowed origin is answered with CORS, another origin is refused its preflight and can read nothing', async () => {
    const preflight = (origin: string) =>
      fetch(service.url('/orders'), {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
    const allowed = await preflight('http://shop.example');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://shop.example');
    expect(allowed.headers.get('access-control-allow-methods')).toBe('GET, POST');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(allowed.headers.get('vary')).toContain('Origin');
    const other = await preflight('http://evil.example');
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const read = (origin: string) =>
      http(service.url(`/orders?customerId=${alice}`), {
        as: { customer: alice },
        headers: { origin },
      });
    expect((await read('http://shop.example')).headers.get('access-control-allow-origin')).toBe(
      'http://shop.example',
    );
    expect(
      (await read('http://evil.example')).headers.get('access-control-allow-origin'),
    ).toBeNull();
    // A body-less POST (what a page may send cross-origin without a preflight) is refused.
    const before = await eventCount();
    const bare = await fetch(service.url('/orders'), {
      method: 'POST',
      headers: await identity.headers({ customer: alice }),
    });
    expect(bare.status).toBe(415);
    const form = await fetch(service.url('/orders'), {
      method: 'POST',
      headers: {
        ...(await identity.headers({ customer: alice })),
        'content-type': 'text/plain',
      },
      body: JSON.stringify({
        customerId: alice,
        items: [{ sku: 'S', quantity: 1, unitPrice: 1 }],
        ...contactFor(alice),
      }),
    });
    expect(form.status).toBe(415);
    expect(await eventCount()).toBe(before);
  });

  it('each operation: its roles, and a customer for their own only', async () => {
    const placed = await call(
      '/orders',
      { customer: alice },
      {
        body: {
          customerId: alice,
          items: [{ sku: 'SKU-1', quantity: 1, unitPrice: 100 }],
          ...contactFor(alice),
        },
      },
    );
    expect(placed.status).toBe(202);
    const { orderId, token } = placed.body as unknown as { orderId: string; token: string };
    const before = await eventCount();
    const order = `/orders/${orderId}?consistentWith=${token}`;
    const matrix: [string, As, { method?: string; body?: unknown }, number][] = [
      // Placing an order is the customer's own act: not for someone else, not staff's.
      [
        '/orders',
        { customer: bob },
        {
          body: {
            customerId: alice,
            items: [{ sku: 'S', quantity: 1, unitPrice: 1 }],
            ...contactFor(alice),
          },
        },
        403,
      ],
      [
        '/orders',
        staff,
        {
          body: {
            customerId: alice,
            items: [{ sku: 'S', quantity: 1, unitPrice: 1 }],
            ...contactFor(alice),
          },
        },
        403,
      ],
      [
        '/orders',
        operator,
        {
          body: {
            customerId: alice,
            items: [{ sku: 'S', quantity: 1, unitPrice: 1 }],
            ...contactFor(alice),
          },
        },
        403,
      ],
      [order, { customer: alice }, {}, 200],
      [order, { customer: bob }, {}, 403],
      [order, staff, {}, 200],
      [order, operator, {}, 200],
      [`/orders?customerId=${alice}&consistentWith=${token}`, { customer: alice }, {}, 200],
      [`/orders?customerId=${alice}`, { customer: bob }, {}, 403],
      [`/orders?customerId=${alice}`, staff, {}, 200],
      [`/orders/${orderId}/state`, { customer: alice }, {}, 200],
      [`/orders/${orderId}/state`, { customer: bob }, {}, 403],
      [`/orders/${orderId}/state`, operator, {}, 200],
      // The audit trail (every caller's metadata) is the operators'.
      [`/orders/${orderId}/events`, { customer: alice }, {}, 403],
      [`/orders/${orderId}/events`, staff, {}, 403],
      [`/orders/${orderId}/events`, operator, {}, 200],
      // Cancelling: the order's customer, or staff on their behalf.
      [`/orders/${orderId}/cancel`, { customer: bob }, { body: {} }, 403],
      [`/orders/${orderId}/cancel`, operator, { body: {} }, 403],
      // Another customer's order, or none: not found for a customer.
      ['/orders/no-such-order', { customer: bob }, {}, 404],
      // The operators' tools.
      ['/dead-letters', { customer: alice }, {}, 403],
      ['/dead-letters', staff, {}, 403],
      ['/dead-letters', operator, {}, 200],
    ];
    for (const [path, as, init, status] of matrix) {
      const answer = await call(path, as, init);
      expect({ path, as, status: answer.status }).toEqual({ path, as, status });
      if (status === 403) expect(answer.body).toMatchObject({ code: 'FORBIDDEN' });
    }
    const forbidden = await call(`/orders/${orderId}`, { customer: bob });
    expect(forbidden.body.detail).toBe(`order ${orderId} is another customer's`);
    const notStaff = await call(`/orders/${orderId}/events`, staff);
    expect(notStaff.body.detail).toMatch(
      /getOrderEvents is for operators; this token \(sam\) has the roles staff/,
    );
    expect(await eventCount()).toBe(before); // no refusal wrote anything
    // Her own cancellation goes through.
    expect(
      (await call(`/orders/${orderId}/cancel`, { customer: alice }, { body: {} })).status,
    ).toBe(202);
  });
});

describe('a signing key rotated at the provider', () => {
  let provider: ChildProcess | undefined;
  let db: TestDatabase;
  let service: TestService;
  const dir = mkdtempSync(join(tmpdir(), 'es-idp-'));
  const secretsFile = join(dir, 'secrets.json');
  let port = 0;
  const main = join(workspaceRoot(), 'apps', 'identity-provider', 'src', 'main.mts');
  const env = () => ({
    ...process.env,
    OIDC_SECRETS_FILE: secretsFile,
    OIDC_HOST: '127.0.0.1',
    OIDC_PORT: String(port),
  });

  async function startProvider(): Promise<void> {
    provider = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', main], {
      env: env(),
      stdio: 'ignore',
    });
    for (let i = 0; i < 100; i++) {
      const up = await fetch(`http://127.0.0.1:${port}/jwks`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) return;
      await sleep(100);
    }
    throw new Error('the test provider did not start');
  }
  async function stopProvider(): Promise<void> {
    const child = provider;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  const kidOf = (token: string) =>
    (JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { kid: string })
      .kid;

  beforeAll(async () => {
    port = await freePort();
    await startProvider();
    db = await createTestDatabase('order_rotation');
    service = await startTestService(orderServiceApi, AppModule, db.name, {
      AUTH_ISSUER: `http://127.0.0.1:${port}`,
    });
  }, 120_000);
  afterAll(async () => {
    await service.close();
    await stopProvider();
    await db.drop();
  });

  it('tokens of the new key verify without a restart; the old key still does until its tokens expire', async () => {
    const before = new Identity({ issuer: `http://127.0.0.1:${port}`, secretsFile });
    const old = await before.token();
    const read = (token: string) =>
      http(service.url('/orders?customerId=anyone'), {
        as: 'anonymous',
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await read(old)).status).toBe(200);
    // The provider's own command: a new key first, the old one kept; then a restart.
    await new Promise<void>((resolve, reject) => {
      const rotate = spawn(
        process.execPath,
        ['--disable-warning=ExperimentalWarning', main, 'rotate-keys'],
        {
          env: env(),
          stdio: 'ignore',
        },
      );
      rotate.once('exit', (code) => {
        if (code === 0) resolve();
        else reject(new Error(`rotate-keys exited ${String(code)}`));
      });
    });
    await stopProvider();
    await startProvider();
    const after = new Identity({ issuer: `http://127.0.0.1:${port}`, secretsFile });
    const fresh = await after.token();
    expect(kidOf(fresh)).not.toBe(kidOf(old));
    // The service fetches the key set again for a key it has not seen, at most every 5 s.
    await sleep(5_500);
    expect((await read(fresh)).status).toBe(200);
    expect((await read(old)).status).toBe(200);
  });
});
