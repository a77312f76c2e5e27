// Republishing the order service's events from its store (real PostgreSQL and Kafka): the whole
// store, then one stream's range, each run in the background until every message of it is in
// Kafka, with the message ids, keys and offsets a consumer relies on, and the marker a rebuild
// reads (the whole store only); and the refusals.
import { latestRepublishMarkers } from '@es/messaging';
import { ORDERS_EVENTS_TOPIC, orderServiceApi } from '@es/order-contracts';
import {
  collect,
  createTestDatabase,
  eventually,
  startReadSide,
  testKafka,
  uniqueName,
  type ReadSide,
  type TestDatabase,
  contactFor,
} from '@es/testing';
import { http, startTestService, type TestService } from '@es/service-testing';
import { AppModule } from './app.module';

interface Republish {
  id: string;
  status: string;
  events: number;
  total: number | null;
  fromOffsets: Record<string, Record<string, string>>;
  completedAt: string | null;
}

describe('order-service republish (real PostgreSQL and Kafka)', () => {
  let db: TestDatabase;
  let readSide: ReadSide;
  let service: TestService;
  const kafka = testKafka('order-republish');

  beforeAll(async () => {
    db = await createTestDatabase('order_republish');
    readSide = await startReadSide('rm_republish');
    service = await startTestService(orderServiceApi, AppModule, db.name, {
      MONGO_DATABASE: readSide.database,
    });
  }, 120_000);
  afterAll(async () => {
    await service.close();
    await readSide.stop();
    await db.drop();
  });

  const place = async () => {
    const placed = await http<{ orderId: string }>(service.url('/orders'), {
      body: {
        customerId: uniqueName('cust'),
        items: [{ sku: 'SKU-1', quantity: 1, unitPrice: 100 }],
        ...contactFor('c'),
      },
    });
    expect(placed.status).toBe(202);
    return placed.body.orderId;
  };
  const completed = (id: string) =>
    eventually(
      async () => {
        const r = await http<Republish>(service.url(`/republish/${id}`));
        expect(r.status).toBe(200);
        expect(r.body.status).toBe('completed');
        return r.body;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  /** The messages of a republish on the topic, once `count` of them are there. */
  const republished = async (id: string, count: number) =>
    (
      await collect(
        kafka,
        ORDERS_EVENTS_TOPIC,
        (m) => m.filter((x) => x.headers['republish-id'] === id).length >= count,
      )
    ).filter((m) => m.headers['republish-id'] === id);

  it('the whole store: every event again, under its own id and key, after the offsets it began at', async () => {
    const orders = [await place(), await place(), await place()];
    const started = await http<Republish>(service.url('/republish'), { body: {} });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ status: 'running', events: 0 });
    expect(Object.keys(started.body.fromOffsets[ORDERS_EVENTS_TOPIC] ?? {})).toHaveLength(6);

    const done = await completed(started.body.id);
    const { rows } = await db.pool.query<{ event_id: string; stream_id: string }>(
      `SELECT event_id, stream_id FROM events WHERE stream_type = 'order' ORDER BY global_position`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(orders.length);
    expect(done).toMatchObject({ events: rows.length, total: rows.length });
    expect(done.completedAt).not.toBeNull();

    const messages = await republished(started.body.id, rows.length);
    expect(messages.map((m) => m.headers['message-id']).sort()).toEqual(
      rows.map((r) => r.event_id).sort(),
    );
    // The topic's marker: from the offsets it began at to offsets past its every copy.
    const marker = (await latestRepublishMarkers(kafka)).get(ORDERS_EVENTS_TOPIC);
    expect(marker).toMatchObject({
      republishId: started.body.id,
      service: 'order-service',
      from: started.body.fromOffsets[ORDERS_EVENTS_TOPIC],
    });
    for (const m of messages) {
      expect(m.key).toBe(rows.find((r) => r.event_id === m.headers['message-id'])?.stream_id);
      const from = started.body.fromOffsets[ORDERS_EVENTS_TOPIC]?.[String(m.partition)];
      expect(BigInt(m.offset)).toBeGreaterThanOrEqual(BigInt(from ?? 'x'));
      expect(BigInt(m.offset)).toBeLessThan(BigInt(marker?.to[String(m.partition)] ?? '0'));
    }
    wholeStore = started.body.id;
  }, 90_000);

  let wholeStore = '';

  it('one stream, one version: that event alone', async () => {
    const orderId = await place();
    const started = await http<Republish>(service.url('/republish'), {
      body: { streamType: 'order', streamId: orderId, fromVersion: 1, toVersion: 1 },
    });
    expect(started.status).toBe(202);
    expect(await completed(started.body.id)).toMatchObject({ events: 1 });
    const [message] = await republished(started.body.id, 1);
    const { rows } = await db.pool.query<{ event_id: string }>(
      `SELECT event_id FROM events WHERE stream_type = 'order' AND stream_id = $1 AND stream_version = 1`,
      [orderId],
    );
    expect(message).toMatchObject({
      key: orderId,
      headers: { 'message-id': rows[0]?.event_id, 'event-type': 'OrderCreated' },
    });
    // A range puts no topic back whole: no marker of its own.
    expect((await latestRepublishMarkers(kafka)).get(ORDERS_EVENTS_TOPIC)?.republishId).toBe(
      wholeStore,
    );
  }, 60_000);

  it('refuses what it cannot do, naming the field', async () => {
    const unknownType = await http<{ code: string; detail: string }>(service.url('/republish'), {
      body: { streamType: 'stock-item' },
    });
    expect(unknownType).toMatchObject({ status: 422, body: { code: 'UNKNOWN_STREAM_TYPE' } });
    expect(unknownType.body.detail).toContain('publishes no events of stream type stock-item');
    const noType = await http<{ fields: { field: string; problem: string }[] }>(
      service.url('/republish'),
      { body: { streamId: 'x' } },
    );
    expect(noType.status).toBe(422);
    expect(noType.body.fields).toEqual([
      { field: 'streamType', problem: 'is required with streamId' },
    ]);
    const reversed = await http<{ fields: { field: string }[] }>(service.url('/republish'), {
      body: { streamType: 'order', streamId: 'x', fromVersion: 3, toVersion: 2 },
    });
    expect(reversed.status).toBe(422);
    expect(reversed.body.fields.map((f) => f.field)).toEqual(['fromVersion']);
    const unknownId = await http(
      service.url(`/republish/${'0'.repeat(8)}-0000-7000-8000-${'0'.repeat(12)}`),
    );
    expect(unknownId.status).toBe(404);
  });
});
