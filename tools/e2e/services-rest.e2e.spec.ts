// The three domain services as npm start runs them (real processes, real engines), with the
// projection service building the read models their GETs answer from, over HTTP: each answers
// its REST contract with read-your-writes, documents it in OpenAPI, and exports its relay's
// metrics.
import { SERVICES, readSideCaughtUp, startServices, type RunningService } from '@es/testing';
import { http } from '@es/service-testing';

const domainServices = SERVICES.filter((s) =>
  ['order-service', 'inventory-service', 'payment-service', 'projection-service'].includes(s.name),
);

describe('order, inventory and payment services over HTTP', () => {
  let services: RunningService[] = [];
  const url = (name: string, path: string) => services.find((s) => s.name === name)!.url(path);
  const run = Date.now().toString(36);

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
    const placed = await http<{ orderId: string; version: number; token: string }>(
      url('order-service', '/orders'),
      {
        body: {
          customerId: `cust-${run}`,
          items: [{ sku: `SKU-${run}`, quantity: 3, unitPrice: 500 }],
        },
        headers: { 'Idempotency-Key': `e2e-${run}` },
      },
    );
    expect(placed.status).toBe(202);
    // Read-your-writes: with the POST's token, the GET answers the new order at once.
    const order = await http(
      url('order-service', `/orders/${placed.body.orderId}?consistentWith=${placed.body.token}`),
    );
    expect(order.status).toBe(200);
    expect(order.body).toMatchObject({
      status: 'PENDING',
      total: 1_500,
      customerId: `cust-${run}`,
    });
    const events = await http<{ events: { type: string }[] }>(
      url('order-service', `/orders/${placed.body.orderId}/events`),
    );
    expect(events.body.events.map((e) => e.type)).toEqual(['OrderCreated']);
    // The customer's list, with the same token, and the cross-context summary.
    const list = await http<{ orders: { orderId: string }[] }>(
      url('order-service', `/orders?customerId=cust-${run}&consistentWith=${placed.body.token}`),
    );
    expect(list.body.orders.map((o) => o.orderId)).toContain(placed.body.orderId);
    const summary = await http(
      url(
        'projection-service',
        `/order-summaries/${placed.body.orderId}?consistentWith=${placed.body.token}`,
      ),
    );
    expect(summary.body).toMatchObject({
      orderId: placed.body.orderId,
      order: { status: 'PENDING' },
    });
    // A version the order never reached: a clear 409 after the bounded wait, not stale data.
    const ahead = await http(
      url(
        'order-service',
        `/orders/${placed.body.orderId}?consistentWith=order/${placed.body.orderId}@9`,
      ),
    );
    expect(ahead).toMatchObject({
      status: 409,
      body: { code: 'NOT_YET_CONSISTENT', token: `order/${placed.body.orderId}@9`, seenVersion: 1 },
    });
    const garbage = await http(
      url('order-service', `/orders/${placed.body.orderId}?consistentWith=yesterday`),
    );
    expect(garbage).toMatchObject({ status: 400, body: { fields: [{ field: 'consistentWith' }] } });
  });

  it('restocks a SKU and deposits funds', async () => {
    const sku = `SKU-${run}`;
    const restocked = await http<{ token: string }>(
      url('inventory-service', `/inventory/${sku}/restock`),
      {
        body: { quantity: 9 },
      },
    );
    expect(restocked.status).toBe(202);
    expect(
      (
        await http(
          url('inventory-service', `/inventory/${sku}?consistentWith=${restocked.body.token}`),
        )
      ).body,
    ).toMatchObject({
      sku,
      onHand: 9,
      reserved: 0,
      available: 9,
    });
    const customer = `cust-${run}`;
    const deposited = await http<{ token: string }>(
      url('payment-service', `/accounts/${customer}/deposit`),
      {
        body: { amount: 2_500 },
      },
    );
    expect(deposited.status).toBe(202);
    expect(
      (
        await http(
          url('payment-service', `/accounts/${customer}?consistentWith=${deposited.body.token}`),
        )
      ).body,
    ).toMatchObject({
      balance: 2_500,
      available: 2_500,
    });
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
    const document = await http<{ paths: Record<string, unknown> }>(
      url(name, '/docs/openapi.json'),
    );
    expect(Object.keys(document.body.paths)).toEqual(expect.arrayContaining(paths));
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
