// No stranded order (real PostgreSQL and Kafka): with no saga orchestrator running, every order
// placed is stranded, and the verdict sweep of two instances finds it. Its OrderCreated is
// published again under the same message id once per interval (not once per instance), then,
// at the deadline, the order is rejected NO_VERDICT, and nothing more is sent for it. An order a
// saga approves in time is never nudged. Orders placed before orders had summary rows are found
// too. The figures (time from placing to the first nudge and to the verdict) are printed.
import { ORDERS_COMMANDS_TOPIC, ORDERS_EVENTS_TOPIC, orderServiceApi } from '@es/order-contracts';
import {
  collect,
  createTestDatabase,
  eventually,
  testKafka,
  uniqueName,
  type TestDatabase,
  contactFor,
} from '@es/testing';
import { http, startTestService, type TestService } from '@es/service-testing';
import { AppModule } from './app.module';
import { backfillOrderSummaries } from './verdict-sweep';

const NUDGE_MS = 1_000;
const DEADLINE_MS = 4_500;

describe('the verdict sweep (real PostgreSQL and Kafka, no orchestrator)', () => {
  let db: TestDatabase;
  let a: TestService;
  let b: TestService;
  const kafka = testKafka('verdict-sweep-int');
  const producer = kafka.producer();

  const place = async () => {
    const placed = await http<{ orderId: string }>(a.url('/orders'), {
      body: {
        customerId: uniqueName('cust'),
        items: [{ sku: 'SKU-1', quantity: 1, unitPrice: 100 }],
        ...contactFor('c'),
      },
    });
    expect(placed.status).toBe(202);
    return { orderId: placed.body.orderId, at: Date.now() };
  };
  const state = async (orderId: string) =>
    (await http<{ status: string; rejectionReason?: string }>(a.url(`/orders/${orderId}/state`)))
      .body;

  beforeAll(async () => {
    db = await createTestDatabase('verdict_sweep');
    const env = {
      MONGO_DATABASE: uniqueName('rm_sweep'),
      ORDER_VERDICT_NUDGE_MS: String(NUDGE_MS),
      ORDER_VERDICT_DEADLINE_MS: String(DEADLINE_MS),
      ORDER_VERDICT_SWEEP_MS: '200',
    };
    a = await startTestService(orderServiceApi, AppModule, db.name, env);
    b = await startTestService(orderServiceApi, AppModule, db.name, env);
    await producer.connect();
  }, 120_000);
  afterAll(async () => {
    await producer.disconnect();
    await Promise.all([a.close(), b.close()]);
    await db.drop();
  });

  it('publishes a stranded order’s OrderCreated again once per interval, then rejects it NO_VERDICT at its deadline', async () => {
    const stranded = await place();
    // Approved by a saga in time: never nudged.
    const approved = await place();
    await producer.send({
      topic: ORDERS_COMMANDS_TOPIC,
      messages: [
        {
          key: approved.orderId,
          value: JSON.stringify({
            type: 'ApproveOrder',
            version: 1,
            sagaId: approved.orderId,
            data: { orderId: approved.orderId },
          }),
          headers: { 'message-id': `${approved.orderId}/approve` },
        },
      ],
    });
    await eventually(async () => {
      expect((await state(approved.orderId)).status).toBe('CONFIRMED');
    });

    await eventually(
      async () => {
        expect(await state(stranded.orderId)).toMatchObject({
          status: 'REJECTED',
          rejectionReason: expect.stringMatching(/^NO_VERDICT: /) as unknown,
        });
      },
      { timeoutMs: DEADLINE_MS + 10_000 },
    );
    const verdictMs = Date.now() - stranded.at;
    // Stays quiet: no nudge after the verdict.
    await new Promise((resolve) => setTimeout(resolve, 2 * NUDGE_MS));
    const has = (
      m: readonly { key: string | null; headers: Record<string, string> }[],
      key: string,
      type: string,
    ) => m.some((x) => x.key === key && x.headers['event-type'] === type);
    const messages = await collect(
      kafka,
      ORDERS_EVENTS_TOPIC,
      (m) => has(m, stranded.orderId, 'OrderRejected') && has(m, approved.orderId, 'OrderApproved'),
    );
    const ofOrder = (orderId: string) => messages.filter((m) => m.key === orderId);
    const created = ofOrder(stranded.orderId).filter(
      (m) => m.headers['event-type'] === 'OrderCreated',
    );
    const [original, ...nudges] = created;
    // The same message (id, payload) each time, so a consumer that saw it dedupes it.
    expect(nudges.length).toBeGreaterThanOrEqual(2);
    for (const nudge of nudges) {
      expect(nudge.headers['message-id']).toBe(original!.headers['message-id']);
      expect(JSON.parse(nudge.value)).toEqual(JSON.parse(original!.value));
    }
    // One nudge per attempt, whichever instance sent it; consecutive attempts from the first.
    const attempts = nudges.map((m) => Number(m.headers['verdict-sweep-attempt']));
    expect(attempts).toEqual(attempts.map((_, i) => i + 1));
    expect(attempts.length).toBeLessThanOrEqual(Math.ceil(DEADLINE_MS / NUDGE_MS));
    expect(ofOrder(approved.orderId).map((m) => m.headers['event-type'])).toEqual([
      'OrderCreated',
      'OrderApproved',
    ]);
    const summary = await db.pool.query<{ status: string; due_at: Date | null }>(
      `SELECT status, due_at FROM stream_summaries WHERE stream_type = 'order' AND stream_id = $1`,
      [stranded.orderId],
    );
    expect(summary.rows).toEqual([{ status: 'REJECTED', due_at: null }]);
    console.log(
      `verdict sweep: ${nudges.length} nudges (every ${NUDGE_MS} ms), verdict ${verdictMs} ms after placing (deadline ${DEADLINE_MS} ms)`,
    );
  });

  it('finds the PENDING orders placed before orders had summary rows', async () => {
    const { rows } = await db.pool.query<{ stream_id: string }>(
      `INSERT INTO events (stream_type, stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
       VALUES ('order', $1, 1, gen_random_uuid(), 'OrderCreated', 1, $2, '{"correlationId":"legacy","causationId":null}')
       RETURNING stream_id`,
      [
        uniqueName('legacy'),
        {
          orderId: 'legacy',
          customerId: 'c',
          items: [{ sku: 'SKU-1', quantity: 1, unitPrice: 1 }],
          total: 1,
          createdAt: '2026-01-01T00:00:00.000Z',
        },
      ],
    );
    expect(await backfillOrderSummaries(db.pool)).toBe(1);
    expect(await backfillOrderSummaries(db.pool)).toBe(0);
    const summary = await db.pool.query<{ status: string; due_at: Date }>(
      `SELECT status, due_at FROM stream_summaries WHERE stream_type = 'order' AND stream_id = $1`,
      [rows[0]!.stream_id],
    );
    expect(summary.rows).toEqual([
      { status: 'PENDING', due_at: new Date('2026-01-01T00:00:00.000Z') },
    ]);
    // Long past its deadline: the running sweep rejects it.
    await eventually(async () => {
      expect((await state(rows[0]!.stream_id)).status).toBe('REJECTED');
    });
  });
});
