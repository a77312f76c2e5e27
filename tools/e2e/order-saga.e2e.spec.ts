// The order saga end to end: the five services as real processes (as `npm start` runs them) on
// the real engines, driven and checked over HTTP only, plus the faults a saga must survive: a
// participant away past its deadline, a participant SIGKILLed under load and restarted, the
// orchestrator killed mid-saga, a reply delivered twice, an order the orchestrator never read
// (found by the verdict sweep), and 200 orders racing for 50 units. Orders, stock and accounts are read from the read models:
// a read names the version it expects (a consistency token) where the test knows it, and waits
// for the final figures (eventually) where it does not.
import { SAGA_REPLIES_TOPIC } from '@es/saga-contracts';
import {
  SERVICES,
  collect,
  eventually,
  readSideCaughtUp,
  startService,
  startServices,
  testKafka,
  type RunningService,
} from '@es/testing';
import { systemDriver } from './system-driver';

// The read side may still be catching up on the topics when the first reads come. A PENDING
// order is nudged after 3 s (its OrderCreated again: a duplicate to every saga here but one).
const NUDGE_MS = 3_000;
const options = {
  env: { CONSISTENCY_WAIT_MS: '20000', ORDER_VERDICT_NUDGE_MS: String(NUDGE_MS) },
};
const spec = (name: string) => {
  const found = SERVICES.find((s) => s.name === name);
  if (!found) throw new Error(`no service ${name}`);
  return found;
};

describe('the order saga across the services (real processes, real engines)', () => {
  const services = new Map<string, RunningService>();
  const url = (name: string, path: string) => {
    const service = services.get(name);
    if (!service) throw new Error(`${name} is not running`);
    return service.url(path);
  };
  const run = Date.now().toString(36);
  let n = 0;
  const unique = (prefix: string) => `${prefix}-${run}-${++n}`;

  const { client, ok, restock, deposit, place, order, stock, account, payment } = systemDriver(
    (name) => url(name, ''),
  );
  const sagaOf = (orderId: string) =>
    client('saga-orchestrator').GET('/sagas/{id}', { params: { path: { id: orderId } } });
  const saga = async (orderId: string) => ok(await sagaOf(orderId), `saga ${orderId}`);
  type Saga = Awaited<ReturnType<typeof saga>>;
  /** Waits until the saga has ended (or parked), and returns it. */
  const ended = (orderId: string, timeoutMs = 30_000) =>
    eventually(
      async () => {
        const s = await saga(orderId);
        if (!['COMPLETED', 'COMPENSATED'].includes(s.state)) throw new Error(`saga is ${s.state}`);
        return s;
      },
      { timeoutMs, intervalMs: 200 },
    );

  /**
   * Waits until every saga has ended, asking only about those still going, a few at a time:
   * polling hundreds of sagas flat out would be the heaviest load on the machine.
   */
  const allEnded = async (orderIds: readonly string[], timeoutMs = 90_000) => {
    const found = new Map<string, Saga>();
    const deadline = Date.now() + timeoutMs;
    while (found.size < orderIds.length) {
      const open = orderIds.filter((id) => !found.has(id));
      for (let i = 0; i < open.length; i += 10) {
        const batch = open.slice(i, i + 10);
        const sagas = await Promise.all(batch.map(sagaOf));
        sagas.forEach((r, j) => {
          if (r.data && ['COMPLETED', 'COMPENSATED'].includes(r.data.state))
            found.set(batch[j] as string, r.data);
        });
      }
      if (Date.now() > deadline)
        throw new Error(`${orderIds.length - found.size} sagas had not ended in ${timeoutMs} ms`);
      if (found.size < orderIds.length) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return orderIds.map((id) => found.get(id) as Saga);
  };

  beforeAll(async () => {
    for (const s of await startServices(SERVICES, options)) services.set(s.name, s);
    // The read models first replay what the topics already hold (earlier suites' orders): the
    // tests' reads then wait only for their own writes.
    await readSideCaughtUp(url('projection-service', ''));
  }, 240_000);
  afterAll(async () => {
    await Promise.all([...services.values()].map((s) => s.stop()));
  });

  it('happy path: CONFIRMED, the stock committed, the balance debited', async () => {
    const sku = unique('SKU');
    const customer = unique('cust');
    await restock(sku, 10);
    await deposit(customer, 10_000);
    const orderId = await place(customer, sku, 3, 700);
    const done = await ended(orderId);
    expect(done.state).toBe('COMPLETED');
    // Order created then approved; stock restocked, reserved, committed; funds in, held, debited.
    expect(await order(orderId, 2)).toMatchObject({ status: 'CONFIRMED', total: 2_100 });
    expect(await stock(sku, 3)).toMatchObject({ onHand: 7, reserved: 0, available: 7 });
    expect(await account(customer, 3)).toMatchObject({ balance: 7_900, reserved: 0 });
    expect((await payment(orderId)).data).toMatchObject({ status: 'CAPTURED' });
    // The order's read model follows its saga too (from sagas.events).
    await eventually(async () => {
      expect(await order(orderId, 2)).toMatchObject({
        saga: { state: 'COMPLETED', step: 'CapturePayment', compensating: false },
      });
    });
    expect(
      done.timeline.filter((e) => e.event === 'SagaCommandSent').map((e) => e.command),
    ).toEqual([
      'ReserveStock',
      'AuthorizePayment',
      'ApproveOrder',
      'CommitStock',
      'CapturePayment',
    ]);
  });

  it('out of stock: REJECTED with the reason, no payment attempted, no stock held', async () => {
    const sku = unique('SKU');
    const customer = unique('cust');
    await restock(sku, 2);
    await deposit(customer, 10_000);
    const orderId = await place(customer, sku, 5, 100);
    expect((await ended(orderId)).state).toBe('COMPENSATED');
    const rejected = await order(orderId, 2);
    expect(rejected.status).toBe('REJECTED');
    expect(rejected.rejectionReason).toBe(`INSUFFICIENT_STOCK: ${sku}: 5 requested, 2 available`);
    expect((await payment(orderId)).response.status).toBe(404);
    // Nothing was reserved or held: both streams are still at their first event.
    expect(await stock(sku, 1)).toMatchObject({ onHand: 2, reserved: 0 });
    expect(await account(customer, 1)).toMatchObject({ balance: 10_000, reserved: 0 });
  });

  it('a SKU the inventory never stocked: REJECTED as UNKNOWN_SKU, not as short stock', async () => {
    const customer = unique('cust');
    const never = unique('NEVER');
    await deposit(customer, 1_000);
    const orderId = await place(customer, never, 1, 100);
    expect((await ended(orderId)).state).toBe('COMPENSATED');
    expect(await order(orderId, 2)).toMatchObject({
      status: 'REJECTED',
      rejectionReason: `UNKNOWN_SKU: the inventory has never stocked ${never}`,
    });
    expect((await payment(orderId)).response.status).toBe(404);
  });

  it('payment declined: the stock released, REJECTED with why but not the balance', async () => {
    const sku = unique('SKU');
    const customer = unique('cust');
    await restock(sku, 5);
    await deposit(customer, 100);
    const orderId = await place(customer, sku, 2, 500);
    expect((await ended(orderId)).state).toBe('COMPENSATED');
    expect(await order(orderId, 2)).toMatchObject({
      status: 'REJECTED',
      rejectionReason: "INSUFFICIENT_FUNDS: the customer's available funds do not cover 1000",
    });
    // Stock restocked, reserved, released; the account never held anything.
    expect(await stock(sku, 3)).toMatchObject({ onHand: 5, reserved: 0, available: 5 });
    expect(await account(customer, 1)).toMatchObject({ balance: 100, reserved: 0 });
  });

  it('the same reply delivered twice has one effect', async () => {
    const sku = unique('SKU');
    const customer = unique('cust');
    await restock(sku, 4);
    await deposit(customer, 5_000);
    const orderId = await place(customer, sku, 1, 1_000);
    const before = await ended(orderId);
    const kafka = testKafka('e2e-duplicate-reply');
    const replies = await collect(
      kafka,
      SAGA_REPLIES_TOPIC,
      (m) => m.filter((x) => x.key === orderId).length >= 5,
    );
    const reserved = replies.find(
      (m) =>
        m.key === orderId &&
        (JSON.parse(m.value) as { command: string }).command === 'ReserveStock',
    );
    if (!reserved) throw new Error('no ReserveStock reply');
    const producer = kafka.producer();
    await producer.connect();
    try {
      // Redelivered as it was (same message id), and re-sent under a new id.
      await producer.send({
        topic: SAGA_REPLIES_TOPIC,
        messages: [
          { key: orderId, value: reserved.value, headers: reserved.headers },
          {
            key: orderId,
            value: reserved.value,
            headers: { ...reserved.headers, 'message-id': `${orderId}-resent` },
          },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    // The re-sent one is recorded as ignored; the redelivered one is not even recorded. (A
    // duplicate the system itself delivered before, under load, is already in the timeline.)
    const ignored = (x: Saga) => x.timeline.filter((e) => e.event === 'SagaReplyIgnored').length;
    const after = await eventually(async () => {
      const s = await saga(orderId);
      expect(ignored(s)).toBe(ignored(before) + 1);
      return s;
    });
    expect(after.version).toBe(before.version + 1);
    expect(after.timeline.filter((e) => e.event === 'SagaCommandSent')).toHaveLength(5);
    expect(await stock(sku, 3)).toMatchObject({ onHand: 3, reserved: 0 });
    expect(await account(customer, 3)).toMatchObject({ balance: 4_000, reserved: 0 });
  });

  it('a participant away past the deadline: compensated, REJECTED; its return changes nothing', async () => {
    const sku = unique('SKU');
    const customer = unique('cust');
    await restock(sku, 5);
    await deposit(customer, 5_000);
    await services.get('payment-service')?.stop();
    services.delete('payment-service');
    const orderId = await place(customer, sku, 2, 100);
    // Asked twice (a restarting participant answers the second deadline), then compensated.
    await eventually(
      async () => {
        expect((await order(orderId)).status).toBe('REJECTED');
      },
      {
        timeoutMs: 45_000,
      },
    );
    expect((await order(orderId)).rejectionReason).toBe(
      'DEADLINE: payment did not answer AuthorizePayment within 10000 ms (sent 2 times)',
    );
    expect((await ended(orderId)).state).toBe('COMPENSATED');
    expect(await stock(sku, 3)).toMatchObject({ onHand: 5, reserved: 0 });

    services.set('payment-service', await startService(spec('payment-service'), options));
    // Back, it authorizes (twice, the same payment: once in effect) then voids, in order on one
    // key: every answer reaches the saga, ignored.
    const late = await eventually(
      async () => {
        const s = await saga(orderId);
        expect(
          s.timeline.filter((e) => e.event === 'SagaReplyIgnored').map((e) => e.command),
        ).toEqual(['AuthorizePayment', 'AuthorizePayment', 'VoidPayment']);
        return s;
      },
      { timeoutMs: 30_000 },
    );
    expect(late.state).toBe('COMPENSATED');
    expect(await order(orderId, 2)).toMatchObject({ status: 'REJECTED' });
    // Funds deposited, held by the late authorization, released by the void.
    expect(await account(customer, 3)).toMatchObject({ balance: 5_000, reserved: 0 });
    expect((await payment(orderId)).data).toMatchObject({ status: 'VOIDED' });
  });

  it('SIGKILL of inventory under load, started again 9 s later: no order rejected for want of an answer', async () => {
    const skus = Array.from({ length: 10 }, () => unique('SKU'));
    await Promise.all(skus.map((sku) => restock(sku, 1_000)));
    const customers = Array.from({ length: 5 }, () => unique('cust'));
    await Promise.all(customers.map((c) => deposit(c, 1_000_000)));
    const orderIds: string[] = [];
    // 10 orders/s for 15 s; inventory killed at 3 s, started again at 12 s: the orders placed
    // meanwhile wait longer than one step deadline (10 s) for their reservation.
    const placing = (async () => {
      for (let i = 0; i < 150; i++) {
        const due = Date.now() + 100;
        orderIds.push(
          await place(customers[i % 5] as string, skus[i % 10] as string, 1, 100 + (i % 7)),
        );
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await services.get('inventory-service')?.kill();
    services.delete('inventory-service');
    await new Promise((resolve) => setTimeout(resolve, 9_000));
    services.set('inventory-service', await startService(spec('inventory-service'), options));
    await placing;
    const sagas = await allEnded(orderIds, 120_000);
    const orders = await Promise.all(orderIds.map((id) => order(id, 2)));
    const rejected = orders.filter((o) => o.status === 'REJECTED');
    expect(rejected.map((o) => o.rejectionReason)).toEqual([]);
    expect(sagas.every((s) => s.state === 'COMPLETED')).toBe(true);
    // The price is latency: how long the orders waited for their verdict (printed, not asserted).
    const waits = sagas
      .map((s) => Date.parse(s.endedAt ?? '') - Date.parse(s.startedAt))
      .sort((a, b) => a - b);
    const at = (q: number) => waits[Math.min(waits.length - 1, Math.floor(q * waits.length))];
    console.log(
      `inventory SIGKILLed and restarted under 10 orders/s: ${orderIds.length} orders, 0 rejected; saga start -> end p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${waits.at(-1)} ms`,
    );
  });

  it('SIGKILL of the orchestrator mid-saga: every saga ends, no step taken twice in effect', async () => {
    const sku = unique('SKU');
    const customer = unique('cust');
    await restock(sku, 100);
    await deposit(customer, 1_000_000);
    const placeSome = (count: number) =>
      Promise.all(Array.from({ length: count }, () => place(customer, sku, 1, 100)));
    const orderIds = await placeSome(15);
    await new Promise((resolve) => setTimeout(resolve, 150)); // sagas in flight
    await services.get('saga-orchestrator')?.kill();
    services.delete('saga-orchestrator');
    orderIds.push(...(await placeSome(15))); // their OrderCreated wait in Kafka
    services.set('saga-orchestrator', await startService(spec('saga-orchestrator'), options));
    const sagas = await allEnded(orderIds);
    const orders = await Promise.all(orderIds.map((id) => order(id, 2)));
    // Each saga ends one way or the other (a deadline may pass while it is down: compensated),
    // and its order says the same.
    sagas.forEach((s, i) => {
      expect([s.state, orders[i]?.status]).toEqual(
        s.state === 'COMPLETED' ? ['COMPLETED', 'CONFIRMED'] : ['COMPENSATED', 'REJECTED'],
      );
      const sent = s.timeline.filter((e) => e.event === 'SagaCommandSent').map((e) => e.command);
      // A step before the approval is sent at most twice (once more at a missed deadline, which
      // the orchestrator's absence can cause); its effect happens once, as counted below.
      expect(sent.filter((c) => c === 'ReserveStock').length).toBeGreaterThanOrEqual(1);
      expect(sent.filter((c) => c === 'ReserveStock').length).toBeLessThanOrEqual(2);
      expect(sent.filter((c) => c === 'AuthorizePayment').length).toBeLessThanOrEqual(2);
    });
    // Exactly one unit and one debit per confirmed order, nothing held, whatever was redelivered.
    const confirmed = sagas.filter((s) => s.state === 'COMPLETED').length;
    expect(confirmed).toBeGreaterThan(0);
    await eventually(async () => {
      expect(await stock(sku)).toMatchObject({ onHand: 100 - confirmed, reserved: 0 });
      expect(await account(customer)).toMatchObject({
        balance: 1_000_000 - confirmed * 100,
        reserved: 0,
      });
    });
  });

  it('an order whose OrderCreated the orchestrator never read is found by the verdict sweep, and its saga runs', async () => {
    const sku = unique('SKU');
    const customer = unique('cust');
    const kafka = testKafka('e2e-stranded-order');
    await restock(sku, 5);
    await deposit(customer, 5_000);
    // The orchestrator away, and its offsets on orders.events moved past what is published
    // meanwhile (an operator's reset, a retention that ran): the order's OrderCreated is never
    // read from the log again.
    await services.get('saga-orchestrator')?.stop();
    services.delete('saga-orchestrator');
    const placedAt = Date.now();
    const orderId = await place(customer, sku, 1, 300);
    await collect(kafka, 'orders.events', (m) => m.some((x) => x.key === orderId));
    const admin = kafka.admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets('orders.events');
      await admin.setOffsets({
        groupId: 'saga-orchestrator',
        topic: 'orders.events',
        partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
      });
    } finally {
      await admin.disconnect();
    }
    services.set('saga-orchestrator', await startService(spec('saga-orchestrator'), options));
    const done = await ended(orderId, 60_000);
    const verdictMs = Date.now() - placedAt;
    expect(done.state).toBe('COMPLETED');
    expect(await order(orderId, 2)).toMatchObject({ status: 'CONFIRMED' });
    expect(await stock(sku, 3)).toMatchObject({ onHand: 4, reserved: 0 });
    // Started by a nudge: the same OrderCreated, published again by the order service.
    const created = (
      await collect(kafka, 'orders.events', (m) =>
        m.some((x) => x.key === orderId && x.headers['verdict-sweep-attempt'] !== undefined),
      )
    ).filter((m) => m.key === orderId && m.headers['event-type'] === 'OrderCreated');
    expect(created.length).toBeGreaterThanOrEqual(2);
    expect(new Set(created.map((m) => m.headers['message-id'])).size).toBe(1);
    console.log(
      `stranded order: verdict ${verdictMs} ms after placing (nudged after ${NUDGE_MS} ms, ${created.length - 1} nudges)`,
    );
  });

  it('200 concurrent orders for 50 units: exactly 50 confirmed, debits equal confirmed totals', async () => {
    const sku = unique('SKU');
    await restock(sku, 50);
    const customers = Array.from({ length: 20 }, () => unique('cust'));
    await Promise.all(customers.map((c) => deposit(c, 1_000_000)));
    const orderIds = await Promise.all(
      Array.from({ length: 200 }, (_, i) => place(customers[i % 20] as string, sku, 1, 250 + i)),
    );
    const sagas = await allEnded(orderIds);
    const orders = await Promise.all(orderIds.map((id) => order(id, 2)));
    const confirmed = orders.filter((o) => o.status === 'CONFIRMED');
    expect(confirmed).toHaveLength(50);
    expect(orders.filter((o) => o.status === 'REJECTED')).toHaveLength(150);
    expect(sagas.filter((s) => s.state === 'COMPLETED')).toHaveLength(50);
    await eventually(async () => {
      expect(await stock(sku)).toMatchObject({ onHand: 0, reserved: 0, available: 0 });
      const accounts = await Promise.all(customers.map((c) => account(c)));
      const debited = accounts.reduce((sum, a) => sum + (1_000_000 - a.balance), 0);
      expect(debited).toBe(confirmed.reduce((sum, o) => sum + o.total, 0));
      expect(accounts.every((a) => a.reserved === 0)).toBe(true);
    });
    // None of them is left running, compensating or parked.
    const mine = new Set(orderIds);
    for (const state of ['RUNNING', 'COMPENSATING', 'PARKED'] as const) {
      const listed = await client('saga-orchestrator').GET('/sagas', {
        params: { query: { state, limit: 500 } },
      });
      expect(listed.data?.sagas.filter((x) => mine.has(x.sagaId))).toEqual([]);
    }
  });
});
