// The three domain services as npm start runs them (real processes, real engines), over HTTP:
// each answers its REST contract, documents it in OpenAPI, and exports its relay's metrics.
import { SERVICES, startServices, type RunningService } from '@es/testing';
import { http } from '@es/service-testing';

const domainServices = SERVICES.filter((s) =>
  ['order-service', 'inventory-service', 'payment-service'].includes(s.name),
);

describe('order, inventory and payment services over HTTP', () => {
  let services: RunningService[] = [];
  const url = (name: string, path: string) => services.find((s) => s.name === name)!.url(path);
  const run = Date.now().toString(36);

  beforeAll(async () => {
    services = await startServices(domainServices);
  }, 120_000);
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
    const order = await http(url('order-service', `/orders/${placed.body.orderId}`));
    expect(order.body).toMatchObject({
      status: 'PENDING',
      total: 1_500,
      customerId: `cust-${run}`,
    });
    const events = await http<{ events: { type: string }[] }>(
      url('order-service', `/orders/${placed.body.orderId}/events`),
    );
    expect(events.body.events.map((e) => e.type)).toEqual(['OrderCreated']);
  });

  it('restocks a SKU and deposits funds', async () => {
    const sku = `SKU-${run}`;
    expect(
      (await http(url('inventory-service', `/inventory/${sku}/restock`), { body: { quantity: 9 } }))
        .status,
    ).toBe(202);
    expect((await http(url('inventory-service', `/inventory/${sku}`))).body).toMatchObject({
      sku,
      onHand: 9,
      reserved: 0,
      available: 9,
    });
    const customer = `cust-${run}`;
    expect(
      (
        await http(url('payment-service', `/accounts/${customer}/deposit`), {
          body: { amount: 2_500 },
        })
      ).status,
    ).toBe(202);
    expect((await http(url('payment-service', `/accounts/${customer}`))).body).toMatchObject({
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
  ])('%s documents its REST contract in OpenAPI', async (name, paths) => {
    const document = await http<{ paths: Record<string, unknown> }>(
      url(name, '/docs/openapi.json'),
    );
    expect(Object.keys(document.body.paths)).toEqual(expect.arrayContaining(paths));
  });

  it.each(domainServices.map((s) => s.name))(
    '%s exports its outbox relay figures on /metrics',
    async (name) => {
      const text = await (await fetch(url(name, '/metrics'))).text();
      expect(text).toMatch(new RegExp(`^outbox_is_leader\\{[^}]*relay="${name}"[^}]*\\} 1`, 'm'));
      expect(text).toMatch(/^outbox_backlog_messages\{[^}]*\} \d+/m);
      expect(text).toMatch(/^outbox_oldest_unpublished_age_seconds\{[^}]*\} [\d.e+-]+/m);
    },
  );
});
