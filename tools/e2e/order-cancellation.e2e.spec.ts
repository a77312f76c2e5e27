// The order lifecycle's cancellations end to end: the five services as real processes on the
// real engines, driven over HTTP, and the races a cancellation meets: before the order saga's
// pivot, between approval and capture (the payment service frozen with SIGSTOP at that exact
// point), after capture; two cancels at once; a retried cancel; a participant away past its
// deadline; and a third of the confirmed orders cancelled while new ones arrive. After each, money
// and stock are conserved: per SKU on hand = restocked - committed + returned, per customer
// balance = deposits - captured + refunded, and a CANCELLED order has exactly one refund or void
// and all its stock back (counted in the services' own event stores).
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { postgresConfig } from '@es/runtime-config';
import {
  SERVICES,
  eventually,
  loadStackEnv,
  readSideCaughtUp,
  startService,
  startServices,
  type RunningService,
} from '@es/testing';
import { systemDriver } from './system-driver';

// A short step deadline, so the participant-away case is seconds, not a minute.
const options = { env: { CONSISTENCY_WAIT_MS: '20000', SAGA_STEP_DEADLINE_MS: '3000' } };
const spec = (name: string) => {
  const found = SERVICES.find((s) => s.name === name);
  if (!found) throw new Error(`no service ${name}`);
  return found;
};

describe('order cancellation across the services (real processes, real engines)', () => {
  const services = new Map<string, RunningService>();
  const running = (name: string) => {
    const service = services.get(name);
    if (!service) throw new Error(`${name} is not running`);
    return service;
  };
  const run = Date.now().toString(36);
  let n = 0;
  const unique = (prefix: string) => `${prefix}-${run}-${++n}`;
  const pools = new Map<string, Pool>();
  /** The service's own event store, for counting what happened (never to change anything). */
  const store = (database: 'orders' | 'inventory' | 'payments') => {
    let pool = pools.get(database);
    if (!pool) {
      loadStackEnv();
      pool = new Pool({ ...postgresConfig(database), max: 2 });
      pools.set(database, pool);
    }
    return pool;
  };

  const { client, ok, restock, deposit, place, order, stock, account, asCustomerOf, ...reads } =
    systemDriver((name) => running(name).url(''));
  const payment = async (orderId: string) => ok(await reads.payment(orderId), `payment ${orderId}`);
  const cancel = async (
    orderId: string,
    headers: { 'If-Match'?: string; 'Idempotency-Key'?: string } = {},
    reason?: string,
  ) =>
    // A cancellation is the customer's own act: their token.
    client('order-service').POST('/orders/{id}/cancel', {
      params: {
        path: { id: orderId },
        header: { 'Idempotency-Key': randomUUID(), ...headers },
      },
      headers: await asCustomerOf(orderId),
      body: reason === undefined ? {} : { reason },
    });
  const sagaOf = (orderId: string, type: 'order-saga' | 'order-cancellation') =>
    client('saga-orchestrator').GET('/sagas/{id}', {
      params: { path: { id: orderId }, query: { type } },
    });
  const saga = async (orderId: string, type: 'order-saga' | 'order-cancellation') =>
    ok(await sagaOf(orderId, type), `${type} ${orderId}`);
  type Saga = Awaited<ReturnType<typeof saga>>;
  const summary = async (orderId: string) =>
    ok(
      await client('projection-service').GET('/order-summaries/{orderId}', {
        params: { path: { orderId } },
      }),
      `summary ${orderId}`,
    );
  /** Waits until the saga of this type has ended, and returns it. */
  const ended = (orderId: string, type: 'order-saga' | 'order-cancellation', timeoutMs = 60_000) =>
    eventually(
      async () => {
        const s = await saga(orderId, type);
        if (!['COMPLETED', 'COMPENSATED'].includes(s.state))
          throw new Error(`${type} is ${s.state}`);
        return s;
      },
      { timeoutMs, intervalMs: 200 },
    );
  /** The commands a saga sent, each once (a re-send after a missed deadline is the same step). */
  const sent = (s: Saga) => [
    ...new Set(s.timeline.filter((e) => e.event === 'SagaCommandSent').map((e) => e.command)),
  ];

  /** Per customer: deposits - captured + refunded, and nothing left held. */
  const balanceIs = async (customerId: string, expected: number) =>
    eventually(async () => {
      expect(await account(customerId)).toMatchObject({ balance: expected, reserved: 0 });
    });
  /** Per SKU: restocked - committed + returned on hand, nothing left reserved. */
  const onHandIs = async (sku: string, expected: number) =>
    eventually(async () => {
      expect(await stock(sku)).toMatchObject({ onHand: expected, reserved: 0 });
    });
  /** Counts in the services' own event stores: what a CANCELLED order must have, exactly. */
  const givenBack = async (orderId: string) => {
    const count = async (database: 'inventory' | 'payments', types: string[]) => {
      const { rows } = await store(database).query<{ event_type: string; n: string }>(
        `SELECT event_type, count(*) AS n FROM events
          WHERE event_type = ANY($2) AND (stream_id = $1 OR data->>'orderId' = $1 OR data->>'paymentId' = $1)
          GROUP BY 1`,
        [orderId, types],
      );
      return Object.fromEntries(rows.map((r) => [r.event_type, Number(r.n)]));
    };
    return {
      payments: await count('payments', [
        'PaymentCaptured',
        'PaymentRefunded',
        'PaymentVoided',
        'FundsDebited',
        'FundsCredited',
        'FundsReleased',
      ]),
      stock: await count('inventory', [
        'StockReservationCommitted',
        'StockReservationReleased',
        'StockReturned',
        'OrderStockReturned',
      ]),
    };
  };

  beforeAll(async () => {
    for (const s of await startServices(SERVICES, options)) services.set(s.name, s);
    await readSideCaughtUp(running('projection-service').url(''));
  }, 240_000);
  afterAll(async () => {
    await Promise.all([...services.values()].map((s) => s.stop()));
    await Promise.all([...pools.values()].map((p) => p.end()));
  });

  it('a confirmed order cancelled: refunded, its stock returned, then CANCELLED with the reason', async () => {
    const sku = unique('SKU');
    const customer = unique('cust');
    await restock(sku, 10);
    await deposit(customer, 10_000);
    const orderId = await place(customer, sku, 3, 700);
    expect((await ended(orderId, 'order-saga')).state).toBe('COMPLETED');
    await balanceIs(customer, 7_900);

    const r = await cancel(orderId, { 'If-Match': '"2"' }, 'changed my mind');
    expect(r.response.status).toBe(202);
    const done = await ended(orderId, 'order-cancellation');
    expect(done).toMatchObject({ type: 'order-cancellation', state: 'COMPLETED', step: null });
    expect(sent(done)).toEqual(['RefundPayment', 'ReturnStock', 'CompleteOrderCancellation']);
    // The order: requested (v3), then cancelled by the saga (v4), with the customer's reason.
    expect(await order(orderId, 4)).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'changed my mind',
      cancellation: { state: 'COMPLETED', step: 'CompleteOrderCancellation' },
    });
    expect(await payment(orderId)).toMatchObject({ status: 'REFUNDED' });
    await balanceIs(customer, 10_000);
    await onHandIs(sku, 10);
    await eventually(async () => {
      expect(await summary(orderId)).toMatchObject({
        order: { status: 'CANCELLED', reason: 'changed my mind' },
        stock: [{ sku, quantity: 3, status: 'RETURNED' }],
        payment: { status: 'REFUNDED', amount: 2_100 },
      });
      const refunded = (await account(customer)).recentPayments[0];
      expect(refunded).toMatchObject({ paymentId: orderId, amount: 2_100, status: 'REFUNDED' });
    });
    expect(await givenBack(orderId)).toEqual({
      payments: { PaymentCaptured: 1, FundsDebited: 1, PaymentRefunded: 1, FundsCredited: 1 },
      stock: { StockReservationCommitted: 1, StockReturned: 1, OrderStockReturned: 1 },
    });
    // Cancelled is final: another cancel is refused, and nothing more happens.
    const again = await cancel(orderId);
    expect(again.response.status).toBe(409);
    expect(again.error).toMatchObject({ code: 'ORDER_ALREADY_CANCELLED' });
  });

  it('cancelled before the pivot: CANCELLED at once; the order saga gives back what it took', async () => {
    const sku = unique('SKU');
    const customer = unique('cust');
    await restock(sku, 5);
    await deposit(customer, 5_000);
    await running('payment-service').stop();
    services.delete('payment-service');
    const orderId = await place(customer, sku, 2, 100);
    // The saga waits on the payment: the order is still PENDING, so the cancel is immediate.
    const r = await cancel(orderId, { 'If-Match': '"1"' });
    expect(r.response.status).toBe(202);
    expect(await order(orderId, 2)).toMatchObject({ status: 'CANCELLED' });
    services.set('payment-service', await startService(spec('payment-service'), options));
    // Its approval is refused (or its deadline passed first): it compensates either way.
    expect((await ended(orderId, 'order-saga')).state).toBe('COMPENSATED');
    expect((await sagaOf(orderId, 'order-cancellation')).response.status).toBe(404);
    await balanceIs(customer, 5_000);
    await onHandIs(sku, 5);
    const back = await eventually(async () => {
      const counted = await givenBack(orderId);
      expect(counted.stock).toEqual({ StockReservationReleased: 1 });
      return counted;
    });
    // Authorized late then voided, or never authorized at all: never captured.
    expect(back.payments.PaymentCaptured).toBeUndefined();
    expect(back.payments.PaymentRefunded).toBeUndefined();
  });

  it('cancelled between approval and capture: held until the capture, then refunded', async () => {
    const sku = unique('SKU');
    const customer = unique('cust');
    await restock(sku, 5);
    await deposit(customer, 5_000);
    const pay = running('payment-service');
    /**
     * Freezes the payment service the moment an order is approved: the capture, three hops
     * later, cannot be taken until it thaws. Should the capture have come first all the same (a
     * loaded machine), that order only shows a cancel after capture: thawed, it is set up again.
     */
    const frozenBeforeCapture = async (): Promise<{ orderId: string; kept: number }> => {
      for (let attempt = 1; ; attempt++) {
        const id = await place(customer, sku, 1, 400);
        await eventually(
          async () => {
            const { rows } = await store('orders').query(
              `SELECT 1 FROM events WHERE stream_id = $1 AND event_type = 'OrderApproved'`,
              [id],
            );
            if (rows.length === 0) throw new Error('not approved yet');
          },
          { timeoutMs: 30_000, intervalMs: 1 },
        );
        pay.freeze();
        // (Nothing may ask the frozen service anything: it would never answer. Its store can.)
        const { rows: captured } = await store('payments').query(
          `SELECT 1 FROM events WHERE stream_id = $1 AND event_type = 'PaymentCaptured'`,
          [id],
        );
        if (captured.length === 0) return { orderId: id, kept: attempt - 1 };
        pay.thaw();
        if (attempt === 3) throw new Error('the capture came before the freeze three times');
        await ended(id, 'order-saga');
        await balanceIs(customer, 5_000 - 400 * attempt);
      }
    };
    const { orderId, kept } = await frozenBeforeCapture();
    try {
      const r = await cancel(orderId, { 'If-Match': '"2"' });
      expect(r.response.status).toBe(202);
      const held = await eventually(async () => {
        const s = await saga(orderId, 'order-cancellation');
        expect(s.state).toBe('WAITING');
        return s;
      });
      expect(held).toMatchObject({
        waitingFor: 'order-saga',
        step: 'request-cancellation',
        attempt: null,
      });
      expect(sent(held)).toEqual([]);
      expect((await saga(orderId, 'order-saga')).state).toBe('RUNNING');
    } finally {
      pay.thaw();
    }
    // Thawed: the order saga captures and ends; only then does the cancellation refund.
    const orderSaga = await ended(orderId, 'order-saga');
    expect(orderSaga.state).toBe('COMPLETED');
    const done = await ended(orderId, 'order-cancellation');
    expect(done.timeline.map((e) => e.event).slice(0, 3)).toEqual([
      'SagaStarted',
      'SagaHeld',
      'SagaReleased',
    ]);
    expect(Date.parse(done.startedAt)).toBeLessThan(Date.parse(orderSaga.endedAt ?? ''));
    expect(sent(done)).toEqual(['RefundPayment', 'ReturnStock', 'CompleteOrderCancellation']);
    expect(await order(orderId, 4)).toMatchObject({ status: 'CANCELLED' });
    // Only the orders set up before (captured before the freeze, kept) are still paid for.
    await balanceIs(customer, 5_000 - 400 * kept);
    await onHandIs(sku, 5 - kept);
    expect(await givenBack(orderId)).toEqual({
      payments: { PaymentCaptured: 1, FundsDebited: 1, PaymentRefunded: 1, FundsCredited: 1 },
      stock: { StockReservationCommitted: 1, StockReturned: 1, OrderStockReturned: 1 },
    });
  });

  it('two cancels at once: one is taken, one refused; a retried cancel is the same answer', async () => {
    const sku = unique('SKU');
    const customer = unique('cust');
    await restock(sku, 5);
    await deposit(customer, 5_000);
    const orderId = await place(customer, sku, 2, 300);
    await ended(orderId, 'order-saga');
    const [a, b] = await Promise.all([cancel(orderId), cancel(orderId)]);
    const statuses = [a.response.status, b.response.status].sort();
    expect(statuses).toEqual([202, 409]);
    const refused = a.response.status === 409 ? a : b;
    expect(refused.error).toMatchObject({ code: 'ORDER_CANCELLATION_IN_PROGRESS' });
    // The same Idempotency-Key again: the first answer, nothing written.
    const key = { 'Idempotency-Key': `cancel-${orderId}` };
    const other = unique('SKU');
    await restock(other, 1);
    const second = await place(customer, other, 1, 50);
    await ended(second, 'order-saga');
    const first = await cancel(second, key);
    const retried = await cancel(second, key);
    expect(first.response.status).toBe(202);
    expect(retried.response.status).toBe(202);
    expect(retried.data).toEqual(first.data);
    for (const id of [orderId, second]) {
      expect((await ended(id, 'order-cancellation')).state).toBe('COMPLETED');
      expect(await order(id, 4)).toMatchObject({ status: 'CANCELLED', version: 4 });
    }
    await balanceIs(customer, 5_000);
    await onHandIs(sku, 5);
    await onHandIs(other, 1);
    expect((await givenBack(orderId)).payments).toMatchObject({
      PaymentRefunded: 1,
      FundsCredited: 1,
    });
    expect((await givenBack(second)).payments).toMatchObject({
      PaymentRefunded: 1,
      FundsCredited: 1,
    });
  });

  it('a participant away past the deadline: the step is sent again, and completes once it is back', async () => {
    const sku = unique('SKU');
    const customer = unique('cust');
    await restock(sku, 5);
    await deposit(customer, 5_000);
    const orderId = await place(customer, sku, 2, 250);
    await ended(orderId, 'order-saga');
    await running('inventory-service').stop();
    services.delete('inventory-service');
    expect((await cancel(orderId)).response.status).toBe(202);
    // Refunded, then the return waits on inventory: its deadline passes, it is sent again.
    const waiting = await eventually(
      async () => {
        const s = await saga(orderId, 'order-cancellation');
        expect(s.timeline.filter((e) => e.event === 'SagaDeadlineMissed').length).toBeGreaterThan(
          0,
        );
        return s;
      },
      { timeoutMs: 30_000 },
    );
    expect(waiting).toMatchObject({ state: 'RUNNING', step: 'return-stock' });
    await balanceIs(customer, 5_000);
    services.set('inventory-service', await startService(spec('inventory-service'), options));
    const done = await ended(orderId, 'order-cancellation');
    expect(done.state).toBe('COMPLETED');
    expect(await order(orderId, 4)).toMatchObject({ status: 'CANCELLED' });
    await onHandIs(sku, 5);
    // Every sending of the return reached the inventory; it returned the units once.
    expect((await givenBack(orderId)).stock).toEqual({
      StockReservationCommitted: 1,
      StockReturned: 1,
      OrderStockReturned: 1,
    });
  });

  it('200 orders for 50 units, a third of the confirmed cancelled as new ones arrive: every total reconciles', async () => {
    const sku = unique('SKU');
    await restock(sku, 50);
    const customers = Array.from({ length: 10 }, () => unique('cust'));
    await Promise.all(customers.map((c) => deposit(c, 1_000_000)));
    const placed: { orderId: string; customer: string; total: number }[] = [];
    const cancelled = new Set<string>();
    const placeWave = async (count: number) => {
      const wave = await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const customer = customers[(placed.length + i) % customers.length] as string;
          const unitPrice = 100 + placed.length + i;
          return { orderId: await place(customer, sku, 1, unitPrice), customer, total: unitPrice };
        }),
      );
      placed.push(...wave);
      return wave;
    };
    // Waves of orders: while one wave is being placed, every third confirmed order of the one
    // before is cancelled (their returned stock goes to the orders arriving meanwhile).
    let previous = await placeWave(50);
    for (let w = 0; w < 3; w++) {
      const next = placeWave(50);
      const sagas = await Promise.all(previous.map((p) => ended(p.orderId, 'order-saga', 120_000)));
      const confirmed = previous.filter((_, i) => sagas[i]?.state === 'COMPLETED');
      await Promise.all(
        confirmed
          .filter((_, i) => i % 3 === 0)
          .map(async (p) => {
            cancelled.add(p.orderId);
            expect((await cancel(p.orderId)).response.status).toBe(202);
          }),
      );
      previous = await next;
    }
    const orderSagas = await Promise.all(
      placed.map((p) => ended(p.orderId, 'order-saga', 120_000)),
    );
    await Promise.all([...cancelled].map((id) => ended(id, 'order-cancellation', 120_000)));
    expect(cancelled.size).toBeGreaterThan(5);
    const orders = await Promise.all(placed.map((p) => order(p.orderId, 2)));
    const kept = placed.filter(
      (p, i) => orderSagas[i]?.state === 'COMPLETED' && !cancelled.has(p.orderId),
    );
    for (const [i, p] of placed.entries()) {
      const expected = cancelled.has(p.orderId)
        ? 'CANCELLED'
        : orderSagas[i]?.state === 'COMPLETED'
          ? 'CONFIRMED'
          : 'REJECTED';
      await eventually(async () => {
        expect((await order(p.orderId, orders[i]?.version)).status).toBe(expected);
      });
    }
    // Stock: restocked 50 - committed + returned = 50 - the orders kept; nothing held.
    await onHandIs(sku, 50 - kept.length);
    // Money: deposits - captured + refunded, per customer.
    for (const customer of customers) {
      const spent = kept.filter((p) => p.customer === customer).reduce((s, p) => s + p.total, 0);
      await balanceIs(customer, 1_000_000 - spent);
    }
    // A CANCELLED order: exactly one refund, all its stock back.
    for (const id of cancelled) {
      const back = await givenBack(id);
      expect(back.payments).toMatchObject({ PaymentRefunded: 1, FundsCredited: 1 });
      expect(back.stock).toMatchObject({ StockReturned: 1, OrderStockReturned: 1 });
    }
  });
});
