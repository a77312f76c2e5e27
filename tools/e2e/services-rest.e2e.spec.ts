// The three domain services as npm start runs them (real processes, real engines), with the
// projection service building the read models their GETs answer from, over HTTP: each answers
// its REST contract with read-your-writes, documents it in OpenAPI, and exports its relay's
// metrics.
import {
  SERVICES,
  identity,
  readSideCaughtUp,
  startServices,
  withIdentity,
  type RunningService,
  contactFor,
} from '@es/testing';
import { serviceClient, type ServiceName } from '@es/api-client';

const domainServices = SERVICES.filter((s) =>
  ['order-service', 'inventory-service', 'payment-service', 'projection-service'].includes(s.name),
);

describe('order, inventory and payment services over HTTP', () => {
  let services: RunningService[] = [];
  const url = (name: string, path: string) => services.find((s) => s.name === name)!.url(path);
  const run = Date.now().toString(36);
  // The typed client generated from the system's OpenAPI document (libs/api-client), each
  // request with a token (the customer's for an order, else the test client's: staff, operator).
  const client = <S extends ServiceName>(name: S) =>
    withIdentity(serviceClient(name, url(name, '')));
  const orders = () => client('order-service');
  const inventory = () => client('inventory-service');
  const payments = () => client('payment-service');
  const projections = () => client('projection-service');

  beforeAll(async () => {
    services = await startServices(domainServices);
    // The read side first catches up on what the topics already hold (earlier tests' events), so
    // the reads below measure read-your-writes, not that catch-up.
    await readSideCaughtUp(url('projection-service', ''));
  }, 180_000);
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
  });

  it('places an order and reads it back, with its audit trail', async () => {
    const placed = await orders().POST('/orders', {
      body: {
        customerId: `cust-${run}`,
        items: [{ sku: `SKU-${run}`, quantity: 3, unitPrice: 500 }],
        ...contactFor(`cust-${run}`),
      },
      params: { header: { 'Idempotency-Key': `e2e-${run}` } },
    });
    expect(placed.response.status).toBe(202);
    const { orderId, token } = placed.data!;
    // Read-your-writes: with the POST's token, the GET answers the new order at once.
    const order = await orders().GET('/orders/{id}', {
      params: { path: { id: orderId }, query: { consistentWith: token } },
    });
    expect(order.response.status).toBe(200);
    expect(order.data).toMatchObject({
      status: 'PENDING',
      total: 1_500,
      customerId: `cust-${run}`,
    });
    const events = await orders().GET('/orders/{id}/events', { params: { path: { id: orderId } } });
    expect(events.data?.events.map((e) => e.type)).toEqual(['OrderCreated']);
    // The customer's list, with the same token, and the cross-context summary.
    const list = await orders().GET('/orders', {
      params: { query: { customerId: `cust-${run}`, consistentWith: token } },
    });
    expect(list.data?.orders.map((o) => o.orderId)).toContain(orderId);
    const summary = await projections().GET('/order-summaries/{orderId}', {
      params: { path: { orderId }, query: { consistentWith: token } },
    });
    expect(summary.data).toMatchObject({ orderId, order: { status: 'PENDING' } });
    // A version the order never reached: a clear 409 after the bounded wait, not stale data.
    const ahead = await orders().GET('/orders/{id}', {
      params: { path: { id: orderId }, query: { consistentWith: `order/${orderId}@9` } },
    });
    expect(ahead.response.status).toBe(409);
    expect(ahead.error).toMatchObject({
      code: 'NOT_YET_CONSISTENT',
      token: `order/${orderId}@9`,
      seenVersion: 1,
    });
    const garbage = await fetch(
      url('order-service', `/orders/${orderId}?consistentWith=yesterday`),
      { headers: await identity.headers() },
    );
    expect(garbage.status).toBe(400);
    expect(await garbage.json()).toMatchObject({ fields: [{ field: 'consistentWith' }] });
  });

  it('restocks a SKU and deposits funds', async () => {
    const sku = `SKU-${run}`;
    const restocked = await inventory().POST('/inventory/{sku}/restock', {
      params: { path: { sku }, header: { 'Idempotency-Key': `restock-${run}` } },
      body: { quantity: 9 },
    });
    expect(restocked.response.status).toBe(202);
    const stock = await inventory().GET('/inventory/{sku}', {
      params: { path: { sku }, query: { consistentWith: restocked.data!.token } },
    });
    expect(stock.data).toMatchObject({ sku, onHand: 9, reserved: 0, available: 9 });
    const customerId = `cust-${run}`;
    const deposited = await payments().POST('/accounts/{customerId}/deposit', {
      params: { path: { customerId }, header: { 'Idempotency-Key': `deposit-${run}` } },
      body: { amount: 2_500 },
    });
    expect(deposited.response.status).toBe(202);
    const account = await payments().GET('/accounts/{customerId}', {
      params: { path: { customerId }, query: { consistentWith: deposited.data!.token } },
    });
    expect(account.data).toMatchObject({ balance: 2_500, available: 2_500 });
  });

  it.each([
    [
      'order-service',
      [
        '/orders',
        '/orders/{id}',
        '/orders/{id}/cancel',
        '/orders/{id}/events',
        '/orders/{id}/state',
      ],
    ],
    ['inventory-service', ['/inventory/{sku}/restock', '/inventory/{sku}']],
    [
      'payment-service',
      ['/accounts/{customerId}/deposit', '/accounts/{customerId}', '/payments/{id}'],
    ],
    [
      'projection-service',
      ['/projections', '/projections/{name}/rebuild', '/order-summaries/{orderId}'],
    ],
  ])('%s documents its REST contract in OpenAPI', async (name, paths) => {
    const document = (await (await fetch(url(name, '/docs/openapi.json'))).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(document.openapi).toMatch(/^3\.1\./);
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(paths));
  });

  it.each(['order-service', 'inventory-service', 'payment-service'])(
    '%s exports its outbox relay figures on /metrics',
    async (name) => {
      const text = await (await fetch(url(name, '/metrics'))).text();
      expect(text).toMatch(new RegExp(`^outbox_is_leader\\{[^}]*relay="${name}"[^}]*\\} 1`, 'm'));
      expect(text).toMatch(/^outbox_backlog_messages\{[^}]*\} \d+/m);
      expect(text).toMatch(/^outbox_oldest_unpublished_age_seconds\{[^}]*\} [\d.e+-]+/m);
    },
  );

  it('projection-service exports the lag of each projection on /metrics', async () => {
    const text = await (await fetch(url('projection-service', '/metrics'))).text();
    for (const name of [
      'order-details',
      'customer-orders',
      'stock-availability',
      'customer-account',
      'order-summary',
    ])
      expect(text).toMatch(
        new RegExp(`^projection_lag_events\\{[^}]*projection="${name}"[^}]*\\} \\d+`, 'm'),
      );
    expect(text).toMatch(/^projection_events_total\{[^}]*outcome="applied"[^}]*\} \d+/m);
  });
});
