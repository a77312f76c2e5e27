// The order service on real PostgreSQL and Kafka, with the projection service (a child process)
// building its read models in MongoDB: REST commands and queries, the events they write and
// publish, read-your-writes, idempotent retries, temporal reads, and the 400/404/409 answers.
import { ORDERS_EVENTS_TOPIC, orderServiceApi } from '@es/order-contracts';
import {
  collect,
  createTestDatabase,
  startReadSide,
  testKafka,
  uniqueName,
  type ReadSide,
  type TestDatabase,
  callerFor,
  contactFor,
  dumpMongoDatabase,
  identity,
} from '@es/testing';
import { privacyConfig } from '@es/runtime-config';
import { PersonalData } from '@es/service-runtime';
import { http, startTestService, type TestService } from '@es/service-testing';
import { AppModule } from './app.module';

interface Accepted {
  orderId: string;
  version: number;
  token: string;
}

const items = [
  { sku: 'SKU-1', quantity: 2, unitPrice: 1_250 },
  { sku: 'SKU-2', quantity: 1, unitPrice: 99 },
];

describe('order-service (real PostgreSQL and Kafka)', () => {
  let db: TestDatabase;
  let kafka: ReturnType<typeof testKafka>;
  let service: TestService;
  let readSide: ReadSide;
  const place = (customerId: string, headers: Record<string, string> = {}) =>
    http<Accepted>(service.url('/orders'), {
      body: { customerId, items, ...contactFor(customerId) },
      headers,
    });
  const eventCount = async () =>
    Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]!.n);

  beforeAll(async () => {
    db = await createTestDatabase('order_svc');
    kafka = testKafka('order-int');
    readSide = await startReadSide('rm_order');
    // A fresh read side projects the topics from their beginning: allow it time to catch up.
    service = await startTestService(orderServiceApi, AppModule, db.name, {
      MONGO_DATABASE: readSide.database,
      CONSISTENCY_WAIT_MS: '30000',
    });
  });
  afterAll(async () => {
    await service.close();
    await readSide.stop();
    await db.drop();
  });
  const consistentWith = (path: string, token: string) =>
    service.url(`${path}?consistentWith=${encodeURIComponent(token)}`);

  it('places an order: 202 with a token, the event in Postgres with metadata, and on Kafka keyed by order id', async () => {
    const customerId = uniqueName('cust');
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const placed = await place(customerId, {
      'X-Correlation-Id': 'corr-place',
      traceparent,
      'X-Actor': 'alice',
    });
    expect(placed.status).toBe(202);
    const { orderId } = placed.body;
    expect(placed.body).toEqual({ orderId, version: 1, token: `order/${orderId}@1` });

    const { rows } = await db.pool.query<{
      event_type: string;
      data: unknown;
      metadata: Record<string, unknown>;
    }>(
      `SELECT event_type, data, metadata FROM events WHERE stream_type = 'order' AND stream_id = $1`,
      [orderId],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      event_type: 'OrderCreated',
      data: { orderId, customerId, items, total: 2_599 },
      // The verified principal, not the X-Actor the caller wrote (a forgery, ignored).
      metadata: {
        correlationId: 'corr-place',
        traceparent,
        actor: customerId,
        principal: { subject: customerId, client: 'es-tests', roles: ['customer'] },
      },
    });
    expect(JSON.stringify(rows[0]?.metadata)).not.toContain('alice');
    // The customer's contact is stored sealed under their key, and nowhere in the clear.
    const contact = contactFor(customerId);
    // Sealed whole, one value (OrderCreated version 3), under the customer's first key.
    const sealedAs = { sealed: 'v1', key: `${customerId}#1` };
    expect(rows[0]?.data).toMatchObject({ contact: sealedAs });
    expect(rows[0]?.data).not.toHaveProperty('name');
    const plain = [contact.name, contact.email, contact.shippingAddress.line1];
    for (const value of plain) expect(JSON.stringify(rows[0]?.data)).not.toContain(value);

    const messages = await collect(kafka, ORDERS_EVENTS_TOPIC, (m) =>
      m.some((x) => x.key === orderId),
    );
    const message = messages.find((m) => m.key === orderId)!;
    expect(message.headers).toMatchObject({
      'event-type': 'OrderCreated',
      'correlation-id': 'corr-place',
      traceparent,
      'stream-version': '1',
    });
    expect(JSON.parse(message.value)).toMatchObject({
      streamId: orderId,
      data: { total: 2_599, contact: sealedAs },
    });
    for (const value of plain) expect(message.value).not.toContain(value);

    const read = await http(consistentWith(`/orders/${orderId}`, placed.body.token));
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe('"1"');
    expect(read.body).toMatchObject({
      orderId,
      customerId,
      status: 'PENDING',
      total: 2_599,
      version: 1,
      // Opened for the answer; the read model holds it sealed.
      contact,
    });
    const readModels = await dumpMongoDatabase(readSide.database);
    expect(readModels).toContain(`"key":"${customerId}#1"`);
    for (const value of plain) expect(readModels).not.toContain(value);
    // The operator's audit trail opens it.
    const trail = await http<{ events: { data: unknown }[] }>(
      service.url(`/orders/${orderId}/events`),
    );
    expect(trail.body.events[0]?.data).toMatchObject({ contact });
  });

  it('reads an order placed at OrderCreated version 2, each contact field sealed alone, upcast with its contact opened', async () => {
    const customerId = uniqueName('cust');
    const orderId = uniqueName('v2');
    const contact = contactFor(customerId);
    // As version 2 wrote it: three sealed values, under the customer's key in the service's
    // vault (here its own database).
    const vault = new PersonalData('order-int-v2', db.pool, privacyConfig());
    const sealed = await vault.shredder.seal(
      { customerId, ...contact },
      { subject: 'customerId', fields: ['name', 'email', 'shippingAddress'] },
    );
    await db.pool.query(
      `INSERT INTO events (stream_type, stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
       VALUES ('order', $1, 1, gen_random_uuid(), 'OrderCreated', 2, $2, '{"correlationId":"v2","causationId":null}')`,
      [orderId, { orderId, items, total: 2_599, createdAt: '2026-12-01T00:00:00.000Z', ...sealed }],
    );
    const trail = await http<{ events: { schemaVersion: number; data: unknown }[] }>(
      service.url(`/orders/${orderId}/events`),
    );
    expect(trail.status).toBe(200);
    // Upcast to version 3 and opened: the three values in `contact`, none left beside it.
    expect(trail.body.events[0]).toMatchObject({ schemaVersion: 3, data: { orderId, contact } });
    expect(trail.body.events[0]?.data).not.toHaveProperty('name');
    const then = await http(service.url(`/orders/${orderId}/state?atVersion=1`));
    expect(then.body).toMatchObject({ status: 'PENDING', version: 1, total: 2_599 });
  });

  it('a retried POST with the same Idempotency-Key returns the first answer and writes nothing', async () => {
    const customerId = uniqueName('cust');
    const key = uniqueName('key');
    const first = await place(customerId, { 'Idempotency-Key': key });
    const before = await eventCount();
    const again = await place(customerId, { 'Idempotency-Key': key });
    expect(again).toMatchObject({ status: 202, body: first.body });
    expect(await eventCount()).toBe(before);
    // The same key for another request is refused, and writes nothing either.
    const other = await http(service.url('/orders'), {
      body: { customerId, items: items.slice(1), ...contactFor(customerId) },
      headers: { 'Idempotency-Key': key },
    });
    expect(other).toMatchObject({ status: 422, body: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    expect(await eventCount()).toBe(before);
    const list = await http<{ orders: { orderId: string }[] }>(
      service.url(`/orders?customerId=${customerId}&consistentWith=${first.body.token}`),
    );
    expect(list.body.orders.map((o) => o.orderId)).toEqual([first.body.orderId]);
  });

  // Bad input at the HTTP edge: each answer a 4xx naming the field or header, nothing written.
  const raw = async (path: string, init: { method?: string; body?: string; type?: string }) => {
    // As the customer the body names (placing an order is theirs), else as some customer: the
    // input is checked before whose it is.
    let named: unknown;
    try {
      named = JSON.parse(init.body ?? 'null');
    } catch {
      named = undefined;
    }
    const caller = callerFor(named);
    const auth = await identity.headers(caller.customer ? caller : { customer: 'any-customer' });
    const response = await fetch(service.url(path), {
      method: init.method ?? 'POST',
      ...(init.body === undefined
        ? { headers: auth }
        : {
            body: init.body,
            headers: { ...auth, 'content-type': init.type ?? 'application/json' },
          }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const line = '{"sku":"SKU-1","quantity":1,"unitPrice":100}';
  it.each([
    {
      input: 'a key given twice (the last would win)',
      body: `{"customerId":"a","customerId":"b","items":[${line}]}`,
      status: 400,
      names: 'customerId',
    },
    {
      input: 'a nested key given twice',
      body: '{"customerId":"a","items":[{"sku":"SKU-1","quantity":-5,"quantity":1,"unitPrice":1}]}',
      status: 400,
      names: 'items[0].quantity',
    },
    {
      input: 'a form-encoded body',
      body: 'customerId=a&items[0][sku]=SKU-1&items[0][quantity]=1&items[0][unitPrice]=1',
      type: 'application/x-www-form-urlencoded',
      status: 415,
      names: 'Content-Type',
    },
    {
      input: 'a text/plain body',
      body: '{}',
      type: 'text/plain',
      status: 415,
      names: 'Content-Type',
    },
    { input: 'a body of null', body: 'null', status: 400, names: '(body)' },
    { input: 'a body that is not JSON', body: '{"customerId":', status: 400, names: '(body)' },
  ])('refuses $input with $status naming $names, and writes nothing', async (bad) => {
    const before = await eventCount();
    const answer = await raw('/orders', {
      body: bad.body,
      ...(bad.type ? { type: bad.type } : {}),
    });
    expect(answer.status).toBe(bad.status);
    expect(JSON.stringify(answer.body)).toContain(bad.names);
    // RFC 9457 problem details, the per-field list beside them.
    expect(answer.body).toMatchObject({ status: bad.status, title: expect.any(String) as string });
    if (bad.input === 'a body of null') expect(answer.body['detail']).not.toMatch(/not valid JSON/);
    expect(await eventCount()).toBe(before);
  });

  it('refuses a consistency token of another stream at once, naming it', async () => {
    const { body } = await place(uniqueName('cust'));
    const started = Date.now();
    // Another type's token breaks the documented pattern: 400.
    const other = await http(consistentWith(`/orders/${body.orderId}`, 'stock-item/SKU-1@999'));
    expect(other).toMatchObject({ status: 400, body: { fields: [{ field: 'consistentWith' }] } });
    // Another order's matches it, and can never be reached by this read: 422, not a wait.
    const another = await http(consistentWith(`/orders/${body.orderId}`, 'order/someone-else@1'));
    expect(another).toMatchObject({
      status: 422,
      body: { code: 'TOKEN_OF_ANOTHER_STREAM', fields: [{ field: 'consistentWith' }] },
    });
    expect(Date.now() - started).toBeLessThan(1_000); // not after the wait's bound
    const listed = await http(service.url(`/orders?customerId=x&consistentWith=account/x@1`));
    expect(listed).toMatchObject({ status: 400, body: { fields: [{ field: 'consistentWith' }] } });
  });

  it('refuses a query parameter given twice, naming it', async () => {
    const { body } = await place(uniqueName('cust'));
    const answer = await raw(
      `/orders/${body.orderId}?consistentWith=${body.token}&consistentWith=${body.token}`,
      { method: 'GET' },
    );
    expect(answer).toMatchObject({ status: 400, body: { fields: [{ field: 'consistentWith' }] } });
  });

  it('cancels a pending order; If-Match guards it; a second cancel is a 409', async () => {
    const { body } = await place(uniqueName('cust'));
    const url = service.url(`/orders/${body.orderId}/cancel`);
    const stale = await http(url, { body: {}, headers: { 'If-Match': '"3"' } });
    expect(stale).toMatchObject({
      status: 409,
      body: { code: 'VERSION_CONFLICT', expectedVersion: 3, actualVersion: 1 },
    });
    // If-Match compares strongly (RFC 9110): a weak tag never matches, and is refused as such.
    const weak = await http(url, { body: {}, headers: { 'If-Match': 'W/"1"' } });
    expect(weak).toMatchObject({ status: 400, body: { fields: [{ field: 'If-Match' }] } });
    // A NUL in a reason (PostgreSQL's jsonb cannot hold it; the fuzzer found it as a 500).
    const nul = await http(url, { body: { reason: 'a\u0000b' }, headers: { 'If-Match': '"1"' } });
    expect(nul).toMatchObject({ status: 400, body: { fields: [{ field: 'reason' }] } });
    const cancelled = await http(url, {
      body: { reason: 'found it cheaper' },
      headers: { 'If-Match': '"1"' },
    });
    // The answer's ETag is the order's version, not a hash of the answer.
    expect(cancelled.headers.get('etag')).toBe('"2"');
    expect(cancelled).toMatchObject({ status: 202, body: { orderId: body.orderId, version: 2 } });
    const token = (cancelled.body as Accepted).token;
    expect((await http(consistentWith(`/orders/${body.orderId}`, token))).body).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'found it cheaper',
    });
    const twice = await http(url, { body: {} });
    expect(twice).toMatchObject({ status: 409, body: { code: 'ORDER_ALREADY_CANCELLED' } });
    // Without a body at all: every POST takes application/json ({} for no fields).
    const bare = await http(url, { method: 'POST' });
    expect(bare).toMatchObject({
      status: 415,
      body: {
        detail: expect.stringMatching(
          /^Content-Type: a POST takes an application\/json body/,
        ) as string,
      },
    });
  });

  it('a retry racing its first request with the same key gets the same answer, not a refusal', async () => {
    const { body } = await place(uniqueName('cust'));
    const key = uniqueName('cancel');
    const cancel = () =>
      http(service.url(`/orders/${body.orderId}/cancel`), {
        body: { reason: 'twice by accident' },
        headers: { 'Idempotency-Key': key },
      });
    const answers = await Promise.all([cancel(), cancel(), cancel()]);
    for (const answer of answers)
      expect(answer).toMatchObject({ status: 202, body: { orderId: body.orderId, version: 2 } });
  });

  it('answers the audit trail and the state as of a version or a time', async () => {
    const { body } = await place(uniqueName('cust'), { 'X-Correlation-Id': 'corr-audit' });
    const betweenEvents = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await http(service.url(`/orders/${body.orderId}/cancel`), { body: { reason: 'too slow' } });

    const trail = await http<{
      events: { type: string; streamVersion: number; metadata: object }[];
    }>(service.url(`/orders/${body.orderId}/events`));
    expect(trail.body.events.map((e) => [e.streamVersion, e.type])).toEqual([
      [1, 'OrderCreated'],
      [2, 'OrderCancelled'],
    ]);
    expect(trail.body.events[0]!.metadata).toMatchObject({ correlationId: 'corr-audit' });

    const atV1 = await http(service.url(`/orders/${body.orderId}/state?atVersion=1`));
    expect(atV1.body).toMatchObject({ status: 'PENDING', version: 1 });
    const asOf = await http(service.url(`/orders/${body.orderId}/state?asOf=${betweenEvents}`));
    expect(asOf.body).toMatchObject({ status: 'PENDING', version: 1 });
    const now = await http(
      service.url(`/orders/${body.orderId}/state?asOf=${new Date().toISOString()}`),
    );
    expect(now.body).toMatchObject({ status: 'CANCELLED', version: 2 });
    const before = await http(
      service.url(`/orders/${body.orderId}/state?asOf=2000-01-01T00:00:00Z`),
    );
    // It did not exist yet then: said so, with when it was placed.
    expect(before).toMatchObject({
      status: 404,
      body: { code: 'ORDER_NOT_YET_PLACED', placedAt: expect.any(String) as string },
    });
    expect((before.body as { detail: string }).detail).toContain('did not exist yet');
    const nobody = await http(service.url(`/orders/no-such-order/state?atVersion=1`));
    expect(nobody).toMatchObject({
      status: 404,
      body: { detail: 'order no-such-order not found' },
    });
    // Both bound it (the earlier wins); neither is the order now, from its events.
    const both = await http(
      service.url(`/orders/${body.orderId}/state?asOf=${new Date().toISOString()}&atVersion=1`),
    );
    expect(both.body).toMatchObject({ status: 'PENDING', version: 1 });
    const latest = await http(service.url(`/orders/${body.orderId}/state`));
    expect(latest.body).toMatchObject({ status: 'CANCELLED', version: 2 });
    const digitsOnly = await http(service.url(`/orders/${body.orderId}/state?atVersion=0x1`));
    expect(digitsOnly).toMatchObject({ status: 400, body: { fields: [{ field: 'atVersion' }] } });
  });

  it('answers 400 naming each bad field and 404 for unknown ids, writing nothing', async () => {
    const before = await eventCount();
    const bad = await http(service.url('/orders'), {
      body: {
        customerId: '',
        items: [
          { sku: 'SKU-1', quantity: 0, unitPrice: 1.5 },
          { sku: 'SKU 2', quantity: 1 },
        ],
        coupon: 'FREE',
      },
    });
    expect(bad.status).toBe(400);
    const fields = (bad.body as { fields: { field: string }[] }).fields.map((f) => f.field);
    expect(new Set(fields)).toEqual(
      new Set([
        'customerId',
        'items[0].quantity',
        'items[0].unitPrice',
        'items[1].sku',
        'items[1].unitPrice',
        'coupon',
        'name',
        'email',
        'shippingAddress',
      ]),
    );
    expect(
      (
        await http(service.url('/orders'), {
          body: { customerId: 'c', items: [], ...contactFor('c') },
        })
      ).body,
    ).toMatchObject({
      fields: [{ field: 'items', problem: 'must hold at least one line' }],
    });
    const duplicate = await http(service.url('/orders'), {
      body: { customerId: 'c', items: [items[0], items[0]], ...contactFor('c') },
    });
    // Well-formed by the document, but against a rule it cannot state: 422, naming the line.
    expect(duplicate).toMatchObject({
      status: 422,
      body: {
        code: 'RULE_BROKEN',
        fields: [
          {
            field: 'items[1].sku',
            problem: 'SKU-1 is already items[0]; put the quantity on one line',
          },
        ],
      },
    });
    const tooLarge = await http(service.url('/orders'), {
      body: {
        customerId: 'c',
        items: [{ sku: 'X', quantity: 2 ** 30, unitPrice: 2 ** 30 }],
        ...contactFor('c'),
      },
    });
    expect(tooLarge).toMatchObject({
      status: 400,
      body: { fields: [{ field: 'items[0].quantity' }, { field: 'items[0].unitPrice' }] },
    });
    const huge = await fetch(service.url('/orders'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: 'c', items: [], padding: 'x'.repeat(200_000) }),
    });
    expect(huge.status).toBe(413);
    const notJson = await fetch(service.url('/orders'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"customerId":',
    });
    expect(notJson.status).toBe(400);
    expect(await eventCount()).toBe(before);

    expect((await http(service.url('/orders/no-such-order'))).status).toBe(404);
    expect((await http(service.url('/orders/no-such-order/events'))).status).toBe(404);
    expect((await http(service.url('/orders/no-such-order/cancel'), { body: {} })).status).toBe(
      404,
    );
    expect((await http(service.url('/orders/bad%20id'))).body).toMatchObject({
      status: 400,
      fields: [{ field: 'id' }],
    });
  });
});
