// Who may call what, over every operation of the five services as `npm start` runs them, with the
// real identity provider's tokens (docs/security.md): no token, an expired one, one for another
// audience, one from another issuer, a customer for their own, another customer, staff and an
// operator. The table below is written by hand, apart from the contracts: a refusal is 401 (no
// valid token) or 403 (a valid one without the right), and nothing is written by any refusal;
// an allowed caller gets past the guard, to the input check (a POST here carries a body its
// operation refuses, so nothing is written either) or to its answer. Every operation of every
// service must be in the table, so a new one cannot go unchecked.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { inventoryServiceApi } from '@es/inventory-contracts';
import { orderServiceApi } from '@es/order-contracts';
import { paymentServiceApi } from '@es/payment-contracts';
import { projectionServiceApi } from '@es/projections';
import { postgresConfig } from '@es/runtime-config';
import { sagaOrchestratorApi } from '@es/saga-contracts';
import { forgedToken } from '@es/service-testing';
import {
  SERVICE_DATABASES,
  eventually,
  identity,
  readSideCaughtUp,
  startServices,
  type Caller,
  type RunningService,
  contactFor,
} from '@es/testing';
import { systemDriver } from './system-driver';

type Who = 'alice' | 'bob' | 'staff' | 'operator';
type Service =
  | 'order-service'
  | 'inventory-service'
  | 'payment-service'
  | 'saga-orchestrator'
  | 'projection-service';

interface Row {
  readonly service: Service;
  readonly method: 'GET' | 'POST';
  /** The operation's path template, as its contract has it. */
  readonly template: string;
  /** Who gets past the guard; `open` is anyone, without a token. */
  readonly allowed: readonly Who[] | 'open';
}

const OPERATOR_ONLY: readonly Who[] = ['operator'];
const WRITE_SIDES = [
  'order-service',
  'inventory-service',
  'payment-service',
  'saga-orchestrator',
] as const;
const ALL = [...WRITE_SIDES, 'projection-service'] as const;

// alice owns the order placed below (its payment has its id) and the account; bob owns nothing.
const MATRIX: readonly Row[] = [
  {
    service: 'inventory-service',
    method: 'POST',
    template: '/inventory/{sku}/restock',
    allowed: ['staff'],
  },
  {
    service: 'inventory-service',
    method: 'GET',
    template: '/inventory/{sku}',
    allowed: ['alice', 'bob', 'staff', 'operator'],
  },
  { service: 'order-service', method: 'POST', template: '/orders', allowed: ['alice'] },
  {
    service: 'order-service',
    method: 'GET',
    template: '/orders',
    allowed: ['alice', 'staff', 'operator'],
  },
  {
    service: 'order-service',
    method: 'GET',
    template: '/orders/{id}',
    allowed: ['alice', 'staff', 'operator'],
  },
  {
    service: 'order-service',
    method: 'POST',
    template: '/orders/{id}/cancel',
    allowed: ['alice', 'staff'],
  },
  {
    service: 'order-service',
    method: 'GET',
    template: '/orders/{id}/events',
    allowed: OPERATOR_ONLY,
  },
  {
    service: 'order-service',
    method: 'GET',
    template: '/orders/{id}/state',
    allowed: ['alice', 'staff', 'operator'],
  },
  {
    service: 'payment-service',
    method: 'POST',
    template: '/accounts/{customerId}/deposit',
    allowed: ['staff'],
  },
  {
    service: 'payment-service',
    method: 'POST',
    template: '/accounts/{customerId}/holder',
    allowed: ['alice', 'staff'],
  },
  {
    service: 'payment-service',
    method: 'POST',
    template: '/customers/{customerId}/erase',
    allowed: OPERATOR_ONLY,
  },
  {
    service: 'payment-service',
    method: 'GET',
    template: '/accounts/{customerId}',
    allowed: ['alice', 'staff', 'operator'],
  },
  {
    service: 'payment-service',
    method: 'GET',
    template: '/payments/{id}',
    allowed: ['alice', 'staff', 'operator'],
  },
  { service: 'saga-orchestrator', method: 'GET', template: '/sagas', allowed: OPERATOR_ONLY },
  { service: 'saga-orchestrator', method: 'GET', template: '/sagas/{id}', allowed: OPERATOR_ONLY },
  {
    service: 'saga-orchestrator',
    method: 'POST',
    template: '/sagas/{id}/retry',
    allowed: OPERATOR_ONLY,
  },
  {
    service: 'projection-service',
    method: 'GET',
    template: '/projections',
    allowed: OPERATOR_ONLY,
  },
  {
    service: 'projection-service',
    method: 'POST',
    template: '/projections/{name}/rebuild',
    allowed: OPERATOR_ONLY,
  },
  {
    service: 'projection-service',
    method: 'GET',
    template: '/order-summaries/{orderId}',
    allowed: ['alice', 'staff', 'operator'],
  },
  ...WRITE_SIDES.flatMap((service): Row[] => [
    { service, method: 'GET', template: '/dead-letters', allowed: OPERATOR_ONLY },
    { service, method: 'GET', template: '/dead-letters/{id}', allowed: OPERATOR_ONLY },
    { service, method: 'POST', template: '/dead-letters/{id}/redrive', allowed: OPERATOR_ONLY },
    {
      service,
      method: 'POST',
      template: '/consumers/{consumer}/dead-letters/redrive',
      allowed: OPERATOR_ONLY,
    },
    { service, method: 'POST', template: '/dead-letters/{id}/discard', allowed: OPERATOR_ONLY },
    { service, method: 'POST', template: '/republish', allowed: OPERATOR_ONLY },
    { service, method: 'GET', template: '/republish/{id}', allowed: OPERATOR_ONLY },
    { service, method: 'GET', template: '/streams/{type}/{id}', allowed: OPERATOR_ONLY },
  ]),
  ...ALL.flatMap((service): Row[] => [
    { service, method: 'GET', template: '/health/live', allowed: 'open' },
    { service, method: 'GET', template: '/health/ready', allowed: 'open' },
    { service, method: 'GET', template: '/metrics', allowed: 'open' },
  ]),
];

const APIS = {
  'order-service': orderServiceApi,
  'inventory-service': inventoryServiceApi,
  'payment-service': paymentServiceApi,
  'saga-orchestrator': sagaOrchestratorApi,
  'projection-service': projectionServiceApi,
} as const;

describe('who may call what, on every operation of every service (real provider, real processes)', () => {
  let services: RunningService[] = [];
  const url = (name: string, path: string) => {
    const found = services.find((s) => s.name === name);
    if (!found) throw new Error(`${name} is not running`);
    return found.url(path);
  };
  const run = Date.now().toString(36);
  const alice = `alice-${run}`;
  const bob = `bob-${run}`;
  const sku = `SKU-AUTH-${run}`;
  let orderId = '';
  const bad: Record<string, string> = {};
  const callers: Record<Who, Caller> = {
    alice: { customer: alice },
    bob: { customer: bob },
    staff: { user: 'sam' },
    operator: { user: 'olga' },
  };
  const { restock, deposit, place, order } = systemDriver((name) => url(name, ''));

  /** The row's path with ids filled: alice's order, her account, a SKU, a projection. */
  const pathOf = (row: Row) =>
    row.template
      .replace('{sku}', sku)
      .replace('{customerId}', alice)
      .replace('{orderId}', orderId)
      .replace('{type}', 'order')
      .replace(
        '{id}',
        row.template.startsWith('/dead-letters')
          ? '1'
          : row.template.startsWith('/republish')
            ? randomUUID()
            : orderId,
      )
      .replace('{name}', 'order-details')
      .replace('{consumer}', 'no-such-consumer') +
    (row.template === '/orders' && row.method === 'GET' ? `?customerId=${alice}` : '');

  /**
   * A POST's body. A caller the table refuses sends a valid one, so that nothing but the access
   * rule can stop it (an ownership rule reads the input, which must be valid first); a caller it
   * allows sends one its operation refuses (400), so that nothing is written either way.
   */
  const VALID: Record<string, unknown> = {
    '/inventory/{sku}/restock': { quantity: 1 },
    '/orders': {
      customerId: alice,
      items: [{ sku, quantity: 1, unitPrice: 1 }],
      ...contactFor(alice),
    },
    '/orders/{id}/cancel': { reason: 'the matrix' },
    '/accounts/{customerId}/deposit': { amount: 1 },
    '/accounts/{customerId}/holder': { name: 'The Matrix', email: 'matrix@example.invalid' },
    '/customers/{customerId}/erase': {},
    '/dead-letters/{id}/discard': { reason: 'the matrix' },
    '/dead-letters/{id}/redrive': { dryRun: true },
    '/consumers/{consumer}/dead-letters/redrive': { dryRun: true },
  };
  const bodyOf = (row: Row, allowed: boolean) =>
    allowed ? { unexpected: true } : (VALID[row.template] ?? {});

  async function call(row: Row, as: Who | { bearer: string } | 'anonymous') {
    const allowed =
      typeof as === 'string' &&
      as !== 'anonymous' &&
      row.allowed !== 'open' &&
      row.allowed.includes(as);
    const headers: Record<string, string> = {
      'idempotency-key': randomUUID(),
      ...(as === 'anonymous'
        ? {}
        : typeof as === 'object'
          ? { authorization: `Bearer ${as.bearer}` }
          : await identity.headers(callers[as])),
    };
    const init: RequestInit = { method: row.method, headers };
    if (row.method === 'POST') {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(bodyOf(row, allowed));
    }
    const response = await fetch(url(row.service, pathOf(row)), init);
    await response.arrayBuffer();
    return response.status;
  }

  /**
   * What a refusal could have written: the events of the streams the table names (alice's order,
   * its saga and payment, her account, the SKU) and any order of hers, the first dead letter's
   * state and the republishes of each store, and every projection's generation. Only these: the
   * services may still be working through what earlier tests left on the topics meanwhile.
   */
  async function written(): Promise<string> {
    const counts: string[] = [];
    for (const database of Object.values(SERVICE_DATABASES)) {
      const client = new pg.Client(postgresConfig(database));
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>(
          `SELECT (SELECT count(*) FROM events
                    WHERE stream_id = ANY($1::text[]) OR data->>'customerId' = $2)
                  || '/' || coalesce((SELECT status FROM dead_letters WHERE id = 1), '-')
                  || '/' || (SELECT count(*) FROM republishes) AS n`,
          [[orderId, alice, sku], alice],
        );
        counts.push(`${database}:${rows[0]?.n}`);
      } finally {
        await client.end();
      }
    }
    const projections = await fetch(url('projection-service', '/projections'), {
      headers: await identity.headers(callers.operator),
    });
    const body = (await projections.json()) as {
      projections: { name: string; active: { generation: number }; rebuilding?: unknown }[];
    };
    for (const p of body.projections)
      counts.push(`${p.name}:g${p.active.generation}:${p.rebuilding ? 'rebuilding' : '-'}`);
    return counts.join(' ');
  }

  beforeAll(async () => {
    services = await startServices(undefined, { env: { CONSISTENCY_WAIT_MS: '20000' } });
    await readSideCaughtUp(url('projection-service', ''));
    // alice's order, confirmed: an order, a payment, a saga that all have an owner.
    await restock(sku, 10);
    await deposit(alice, 10_000);
    orderId = await place(alice, sku, 1, 100);
    await eventually(
      async () => {
        expect((await order(orderId)).status).toBe('CONFIRMED');
        const saga = await fetch(url('saga-orchestrator', `/sagas/${orderId}`), {
          headers: await identity.headers(callers.operator),
        });
        expect(((await saga.json()) as { state?: string }).state).toBe('COMPLETED');
      },
      { timeoutMs: 60_000 },
    );
    const now = Math.floor(Date.now() / 1000);
    bad['expired'] = await forgedToken({ exp: now - 120 });
    bad['for another audience'] = await forgedToken({ aud: 'someone-else' });
    bad['from another issuer'] = await forgedToken({ iss: 'http://127.0.0.1:1/' });
  }, 180_000);
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
  });

  it('covers every operation of every service', () => {
    const operations = Object.entries(APIS).flatMap(([service, api]) =>
      api.operations.map((o) => `${service} ${o.method.toUpperCase()} ${o.path}`),
    );
    expect(MATRIX.map((r) => `${r.service} ${r.method} ${r.template}`).sort()).toEqual(
      operations.sort(),
    );
  });

  it('answers each caller as the table says, and no refusal writes anything', async () => {
    const before = await written();
    const wrong: string[] = [];
    let refusals = 0;
    for (const row of MATRIX) {
      const what = `${row.method} ${row.service}${pathOf(row)}`;
      if (row.allowed === 'open') {
        const status = await call(row, 'anonymous');
        if (status !== 200) wrong.push(`${what} anonymous: ${status}, expected 200`);
        continue;
      }
      for (const as of ['anonymous', ...Object.keys(bad)]) {
        const status = await call(
          row,
          as === 'anonymous' ? 'anonymous' : { bearer: bad[as] ?? '' },
        );
        refusals++;
        if (status !== 401) wrong.push(`${what} ${as}: ${status}, expected 401`);
      }
      for (const who of Object.keys(callers) as Who[]) {
        const status = await call(row, who);
        if (row.allowed.includes(who)) {
          if (status === 401 || status === 403)
            wrong.push(`${what} ${who}: ${status}, expected past the guard`);
          else if (row.method === 'POST' && status >= 200 && status < 300)
            wrong.push(`${what} ${who}: ${status}, expected its input refused`);
        } else {
          refusals++;
          if (status !== 403) wrong.push(`${what} ${who}: ${status}, expected 403`);
        }
      }
    }
    expect(wrong).toEqual([]);
    // Every guarded row was asked by the four kinds of bad token and each caller it refuses.
    const guarded = MATRIX.flatMap((r) => (r.allowed === 'open' ? [] : [r.allowed.length]));
    expect(refusals).toBe(guarded.reduce((n, allowed) => n + 4 + (4 - allowed), 0));
    expect(await written()).toBe(before);
  }, 300_000);
});
