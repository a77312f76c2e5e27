// given(events) -> documents, through the runner's own path (schema check, routing, stream
// version guards, evolve), one event at a time.
import { projectionSpec, streamEvents } from '@es/read-models';
import { customerAccount } from './customer-account.projection';
import { customerOrders } from './customer-orders.projection';
import { orderDetails } from './order-details.projection';
import { orderSummary } from './order-summary.projection';
import { stockAvailability } from './stock-availability.projection';

const created = {
  type: 'OrderCreated',
  data: {
    orderId: 'o-1',
    customerId: 'c-1',
    items: [
      { sku: 'SKU-1', quantity: 2, unitPrice: 500 },
      { sku: 'SKU-2', quantity: 1, unitPrice: 250 },
    ],
    total: 1_250,
    createdAt: '2026-11-23T10:00:00.000Z',
  },
};
const approved = {
  type: 'OrderApproved',
  data: { orderId: 'o-1', approvedAt: '2026-11-23T10:00:01.000Z' },
};
const rejected = {
  type: 'OrderRejected',
  data: {
    orderId: 'o-1',
    reason: 'OUT_OF_STOCK: SKU-1 short by 2',
    rejectedAt: '2026-11-23T10:00:01.000Z',
  },
};
const at0 = '2026-11-23T10:00:00.000Z';
const order = (...events: { type: string; data: unknown }[]) =>
  streamEvents('order', 'o-1', events);

describe('order-details', () => {
  const spec = projectionSpec(orderDetails);

  it('a created order is PENDING with its lines, total and version 1', () => {
    expect(spec.given(...order(created)).documents).toEqual({
      'o-1': {
        orderId: 'o-1',
        customerId: 'c-1',
        status: 'PENDING',
        items: created.data.items,
        total: 1_250,
        createdAt: '2026-11-23T10:00:00.000Z',
        updatedAt: '2026-11-23T10:00:00.000Z',
        version: 1,
      },
    });
  });

  it('approved: CONFIRMED with the approval time; rejected: REJECTED with the reason', () => {
    expect(spec.given(...order(created, approved)).documents['o-1']).toMatchObject({
      status: 'CONFIRMED',
      approvedAt: '2026-11-23T10:00:01.000Z',
      version: 2,
    });
    expect(spec.given(...order(created, rejected)).documents['o-1']).toMatchObject({
      status: 'REJECTED',
      rejectionReason: 'OUT_OF_STOCK: SKU-1 short by 2',
      version: 2,
    });
  });

  it('a confirmed order whose cancellation was requested, then cancelled', () => {
    const requested = {
      type: 'OrderCancellationRequested',
      data: { orderId: 'o-1', reason: 'changed my mind', requestedAt: '2026-11-23T10:00:02.000Z' },
    };
    const cancelled = {
      type: 'OrderCancelled',
      data: { orderId: 'o-1', reason: 'changed my mind', cancelledAt: '2026-11-23T10:00:03.000Z' },
    };
    expect(spec.given(...order(created, approved, requested)).documents['o-1']).toMatchObject({
      status: 'CONFIRMED',
      cancellationRequestedAt: '2026-11-23T10:00:02.000Z',
    });
    expect(
      spec.given(...order(created, approved, requested, cancelled)).documents['o-1'],
    ).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'changed my mind',
      cancelledAt: '2026-11-23T10:00:03.000Z',
      version: 4,
    });
  });

  it('a duplicate or an older redelivery never moves the document backwards', () => {
    const [v1, v2] = order(created, approved);
    const outcome = spec.given(v1!, v2!, v1!, v2!, v1!);
    expect(outcome.documents['o-1']).toMatchObject({ status: 'CONFIRMED', version: 2 });
    expect(outcome.duplicates).toBe(3);
  });

  it('an event that breaks its schema is poison, named by field, and changes nothing', () => {
    const [v1] = order(created);
    const broken = {
      ...order(created, approved)[1]!,
      data: { orderId: 'o-1', approvedAt: 'yesterday' },
    };
    const outcome = spec.given(v1!, broken);
    expect(outcome.documents['o-1']).toMatchObject({ status: 'PENDING', version: 1 });
    expect(outcome.failures.map((f) => f.error)).toEqual([
      'OrderApproved v1 does not match its schema: approvedAt: must be an ISO-8601 date-time',
    ]);
  });

  it('an unknown schema version is poison; a type it does not handle is skipped', () => {
    const [v1] = order(created);
    const future = { ...order(created, approved)[1]!, schemaVersion: 2 };
    const other = { ...v1!, type: 'OrderArchived', streamVersion: 3 };
    const outcome = spec.given(v1!, future, other);
    expect(outcome.failures.map((f) => f.error)).toEqual([
      'OrderApproved schema version 2 cannot be read: this projection reads version 1 and has no upcaster from it',
    ]);
    expect(outcome.documents['o-1']).toMatchObject({ status: 'PENDING', version: 1 });
  });

  it("keeps the customer's contact as the event carried it, sealed or erased, never opened", () => {
    const sealed = (n: number) => ({ sealed: 'v1', key: 'c-1#1', data: `Y2lwaGVy${n}` });
    const at = (schemaVersion: number, contact: object) => ({
      ...order({ ...created, data: { ...created.data, ...contact } })[0]!,
      schemaVersion,
    });
    // Version 3: the contact sealed whole, or erased whole.
    const whole = sealed(0);
    expect(spec.given(at(3, { contact: whole })).documents['o-1']).toMatchObject({
      contact: whole,
    });
    const erased = { erased: true };
    expect(spec.given(at(3, { contact: erased })).documents['o-1']).toMatchObject({
      contact: erased,
    });
    // Version 2, each field sealed on its own: upcast, the three moved into `contact` as they are.
    const fields = { name: sealed(1), email: sealed(2), shippingAddress: sealed(3) };
    expect(spec.given(at(2, fields)).documents['o-1']).toMatchObject({ contact: fields });
    const gone = { name: erased, email: erased, shippingAddress: erased };
    expect(spec.given(at(2, gone)).documents['o-1']).toMatchObject({ contact: gone });
    // Version 1, before contacts were taken: upcast, with none.
    expect(spec.given(at(1, {})).documents['o-1']).not.toHaveProperty('contact');
    // A sealed value of another shape is no value of the field: poison, not stored.
    const bent = at(3, { contact: { ...whole, sealed: 'v9' } });
    expect(spec.given(bent).failures[0]?.error).toMatch(
      /OrderCreated v3 does not match its schema: contact/,
    );
    // Nor is a contact in the clear with a field missing.
    const partial = at(2, { name: sealed(1), email: sealed(2) });
    expect(spec.given(partial).failures[0]?.error).toMatch(/does not match its schema: contact/);
  });

  it('an event for an order never created fails as poison', () => {
    const outcome = spec.given(...streamEvents('order', 'o-1', [approved], { from: 2 }));
    expect(outcome.failures[0]?.error).toMatch(
      /OrderApproved for order o-1, which was never created/,
    );
  });
});

describe('order-details: the saga step', () => {
  const spec = projectionSpec(orderDetails);
  const at = '2026-11-23T10:00:00.500Z';
  const sent = (step: number, phase: string, type: string) => ({
    type: 'SagaCommandSent',
    data: {
      step,
      phase,
      attempt: 1,
      messageId: `o-1/${step}`,
      command: { topic: 't', type, version: 1, data: {} },
      awaited: true,
      deadlineAt: '2026-11-23T10:00:10.000Z',
      at,
    },
  });
  const saga = (...events: { type: string; data: unknown }[]) =>
    streamEvents('order-saga', 'o-1', events);
  const started = { type: 'SagaStarted', data: { sagaId: 'o-1', data: {}, at } };

  it('follows the saga: the last command sent, compensating, then its end', () => {
    const events = saga(
      started,
      sent(1, 'forward', 'ReserveStock'),
      sent(2, 'forward', 'AuthorizePayment'),
      { type: 'SagaCompensationStarted', data: { step: 2, reason: 'INSUFFICIENT_FUNDS: no', at } },
      sent(1, 'compensation', 'ReleaseStock'),
      { type: 'SagaCompensated', data: { reason: 'INSUFFICIENT_FUNDS: no', at } },
    );
    const running = spec.given(...order(created), ...events.slice(0, 3)).documents['o-1'];
    expect(running).toMatchObject({
      status: 'PENDING',
      saga: { state: 'RUNNING', step: 'AuthorizePayment', compensating: false, version: 3 },
    });
    const undoing = spec.given(...order(created), ...events.slice(0, 5)).documents['o-1'];
    expect(undoing?.saga).toMatchObject({
      state: 'COMPENSATING',
      step: 'ReleaseStock',
      compensating: true,
    });
    const ended = spec.given(...order(created), ...events, ...order(created, rejected).slice(1))
      .documents['o-1'];
    expect(ended).toMatchObject({
      status: 'REJECTED',
      version: 2,
      saga: { state: 'COMPENSATED', step: 'ReleaseStock', version: 6 },
    });
  });

  it('saga events before the order keep their progress, and the order fills in around it', () => {
    const early = saga(started, sent(1, 'forward', 'ReserveStock'));
    const outcome = spec.given(...early, ...order(created));
    expect(outcome.failures).toEqual([]);
    expect(outcome.documents['o-1']).toMatchObject({
      orderId: 'o-1',
      status: 'PENDING',
      customerId: 'c-1',
      version: 1,
      saga: { state: 'RUNNING', step: 'ReserveStock', version: 2 },
    });
    // Before OrderCreated the document holds only the saga (the order service answers 404).
    expect(spec.given(...early).documents['o-1']).toEqual({
      orderId: 'o-1',
      saga: expect.objectContaining({ step: 'ReserveStock' }) as object,
    });
  });

  it('parked and resumed: back to where it was', () => {
    const events = saga(
      started,
      sent(1, 'forward', 'ReserveStock'),
      { type: 'SagaParked', data: { step: 1, phase: 'forward', problem: 'no answer', at } },
      { type: 'SagaResumed', data: { actor: 'ops', at } },
    );
    expect(spec.given(...order(created), ...events.slice(0, 3)).documents['o-1']?.saga?.state).toBe(
      'PARKED',
    );
    expect(spec.given(...order(created), ...events).documents['o-1']?.saga?.state).toBe('RUNNING');
  });
});

describe('order-details: the cancellation', () => {
  const spec = projectionSpec(orderDetails);
  const at = '2026-11-23T10:05:00.000Z';
  const sent = (step: number, type: string) => ({
    type: 'SagaCommandSent',
    data: {
      step,
      phase: 'forward',
      attempt: 1,
      messageId: `o-1/${step}`,
      command: { topic: 't', type, version: 1, data: {} },
      awaited: true,
      deadlineAt: '2026-11-23T10:05:10.000Z',
      at,
    },
  });
  const orderSaga = streamEvents('order-saga', 'o-1', [
    { type: 'SagaStarted', data: { sagaId: 'o-1', data: {}, at } },
    { type: 'SagaCompleted', data: { at } },
  ]);
  const cancellation = streamEvents('order-cancellation', 'o-1', [
    { type: 'SagaStarted', data: { sagaId: 'o-1', data: {}, at } },
    { type: 'SagaHeld', data: { waitingFor: 'order-saga', at } },
    { type: 'SagaReleased', data: { at } },
    sent(1, 'RefundPayment'),
    sent(2, 'ReturnStock'),
  ]);

  it('shows the cancellation beside the order saga, from the stream of its own type', () => {
    const held = spec.given(...order(created, approved), ...orderSaga, ...cancellation.slice(0, 2));
    expect(held.documents['o-1']).toMatchObject({
      saga: { state: 'COMPLETED', version: 2 },
      cancellation: { state: 'WAITING', step: null, version: 2 },
    });
    const refunding = spec.given(...order(created, approved), ...orderSaga, ...cancellation);
    expect(refunding.documents['o-1']).toMatchObject({
      status: 'CONFIRMED',
      saga: { state: 'COMPLETED', version: 2 },
      cancellation: { state: 'RUNNING', step: 'ReturnStock', version: 5 },
    });
  });

  it('cancellation events before the order keep their progress', () => {
    const outcome = spec.given(...cancellation.slice(0, 1), ...order(created));
    expect(outcome.documents['o-1']).toMatchObject({
      status: 'PENDING',
      cancellation: { state: 'RUNNING', version: 1 },
    });
    expect(outcome.documents['o-1']).not.toHaveProperty('saga');
  });
});

describe('customer-orders', () => {
  it('one small document per order with its status, total and line count', () => {
    expect(projectionSpec(customerOrders).given(...order(created, rejected)).documents).toEqual({
      'o-1': {
        orderId: 'o-1',
        customerId: 'c-1',
        status: 'REJECTED',
        total: 1_250,
        lines: 2,
        createdAt: '2026-11-23T10:00:00.000Z',
        updatedAt: '2026-11-23T10:00:01.000Z',
        version: 2,
      },
    });
  });
});

describe('stock-availability', () => {
  const spec = projectionSpec(stockAvailability);
  const item = (...events: { type: string; data: unknown }[]) =>
    streamEvents('stock-item', 'SKU-1', events);
  const line = (orderId: string, quantity: number) => ({ sku: 'SKU-1', orderId, quantity });

  it('restocks, reservations, releases and commits: on hand, reserved, available', () => {
    const outcome = spec.given(
      ...item(
        { type: 'StockRestocked', data: { sku: 'SKU-1', quantity: 10 } },
        { type: 'StockReserved', data: line('o-1', 3) },
        { type: 'StockReserved', data: line('o-2', 4) },
        { type: 'StockReservationReleased', data: line('o-1', 3) },
        { type: 'StockReservationCommitted', data: line('o-2', 4) },
        { type: 'StockRestocked', data: { sku: 'SKU-1', quantity: 5 } },
        { type: 'StockReserved', data: line('o-3', 2) },
      ),
    );
    expect(outcome.documents['SKU-1']).toEqual({
      sku: 'SKU-1',
      onHand: 11,
      reserved: 2,
      available: 9,
      updatedAt: '2026-11-23T10:00:06.000Z',
      version: 7,
    });
  });
});

describe('stock-availability: returns', () => {
  it('a cancelled order’s returned units are on hand again (restocked - committed + returned)', () => {
    const line = (orderId: string, quantity: number) => ({ sku: 'SKU-1', orderId, quantity });
    const outcome = projectionSpec(stockAvailability).given(
      ...streamEvents('stock-item', 'SKU-1', [
        { type: 'StockRestocked', data: { sku: 'SKU-1', quantity: 10 } },
        { type: 'StockReserved', data: line('o-1', 3) },
        { type: 'StockReservationCommitted', data: line('o-1', 3) },
        { type: 'StockReturned', data: line('o-1', 3) },
      ]),
      // The order's own return record is on the same topic: not a SKU's, skipped.
      ...streamEvents('stock-return', 'o-1', [
        {
          type: 'OrderStockReturned',
          data: { orderId: 'o-1', lines: [{ sku: 'SKU-1', quantity: 3 }], returnedAt: at0 },
        },
      ]),
    );
    expect(outcome.failures).toEqual([]);
    expect(Object.keys(outcome.documents)).toEqual(['SKU-1']);
    expect(outcome.documents['SKU-1']).toMatchObject({
      onHand: 10,
      reserved: 0,
      available: 10,
      version: 4,
    });
  });
});

describe('customer-account', () => {
  const spec = projectionSpec(customerAccount);
  const hold = (paymentId: string, amount: number) => ({ customerId: 'c-1', paymentId, amount });

  it('deposits, holds, releases and debits, with the latest payments first', () => {
    const outcome = spec.given(
      ...streamEvents('account', 'c-1', [
        { type: 'FundsDeposited', data: { customerId: 'c-1', amount: 10_000 } },
        { type: 'FundsReserved', data: hold('p-1', 1_250) },
        { type: 'FundsReserved', data: hold('p-2', 500) },
        { type: 'FundsReleased', data: hold('p-1', 1_250) },
        { type: 'FundsDebited', data: hold('p-2', 500) },
      ]),
    );
    expect(outcome.documents['c-1']).toMatchObject({
      customerId: 'c-1',
      balance: 9_500,
      reserved: 0,
      available: 9_500,
      version: 5,
      recentPayments: [
        { paymentId: 'p-2', amount: 500, status: 'CAPTURED', at: '2026-11-23T10:00:04.000Z' },
        { paymentId: 'p-1', amount: 1_250, status: 'VOIDED', at: '2026-11-23T10:00:03.000Z' },
      ],
    });
  });

  it('a refund puts the captured amount back in the balance (deposits - captured + refunded)', () => {
    const outcome = spec.given(
      ...streamEvents('account', 'c-1', [
        { type: 'FundsDeposited', data: { customerId: 'c-1', amount: 10_000 } },
        { type: 'FundsReserved', data: hold('p-1', 1_250) },
        { type: 'FundsDebited', data: hold('p-1', 1_250) },
        { type: 'FundsCredited', data: hold('p-1', 1_250) },
      ]),
    );
    expect(outcome.documents['c-1']).toMatchObject({
      balance: 10_000,
      reserved: 0,
      available: 10_000,
      recentPayments: [{ paymentId: 'p-1', amount: 1_250, status: 'REFUNDED' }],
    });
  });

  it('keeps its holder sealed as it came, and blanks it when the customer is erased', () => {
    const sealed = (n: number) => ({ sealed: 'v1', key: 'c-1#1', data: `c2VhbGVk${n}` });
    const account = streamEvents('account', 'c-1', [
      {
        type: 'AccountHolderRecorded',
        data: { customerId: 'c-1', name: sealed(1), email: sealed(2), recordedAt: at0 },
      },
      { type: 'FundsDeposited', data: { customerId: 'c-1', amount: 100 } },
    ]);
    const [erased] = streamEvents('data-subject', 'c-1', [
      { type: 'DataSubjectErased', data: { customerId: 'c-1', keysErased: 1, erasedAt: at0 } },
    ]);
    expect(spec.given(...account).documents['c-1']).toMatchObject({
      balance: 100,
      version: 2,
      holder: { name: sealed(1), email: sealed(2) },
    });
    const after = spec.given(...account, erased!).documents['c-1'];
    // Blanked; the account's own version (its ETag) untouched by another stream's event.
    expect(after).toMatchObject({
      balance: 100,
      version: 2,
      holder: { name: { erased: true }, email: { erased: true } },
    });
    expect(JSON.stringify(after)).not.toContain('c2VhbGVk');
    // An erasure of someone with no account makes none.
    const [alone] = streamEvents('data-subject', 'c-2', [
      { type: 'DataSubjectErased', data: { customerId: 'c-2', keysErased: 0, erasedAt: at0 } },
    ]);
    expect(spec.given(alone!).documents['c-2'] ?? null).toBeNull();
  });

  it('keeps only the ten latest payments', () => {
    const holds = Array.from({ length: 12 }, (_, i) => ({
      type: 'FundsReserved',
      data: hold(`p-${i}`, 1),
    }));
    const outcome = spec.given(
      ...streamEvents('account', 'c-1', [
        { type: 'FundsDeposited', data: { customerId: 'c-1', amount: 100 } },
        ...holds,
      ]),
    );
    const recent = outcome.documents['c-1']?.recentPayments ?? [];
    expect(recent.map((p) => p.paymentId)).toEqual(
      Array.from({ length: 10 }, (_, i) => `p-${11 - i}`),
    );
  });
});

describe('order-summary', () => {
  const spec = projectionSpec(orderSummary);
  const reservation = (type: string, sku: string, quantity: number) => ({
    type,
    data: { sku, orderId: 'o-1', quantity },
  });
  const payment = (...events: { type: string; data: unknown }[]) =>
    streamEvents('payment', 'o-1', events);
  const authorized = {
    type: 'PaymentAuthorized',
    data: {
      paymentId: 'o-1',
      orderId: 'o-1',
      customerId: 'c-1',
      amount: 1_250,
      authorizedAt: '2026-11-23T10:00:01.000Z',
    },
  };

  it('joins the order, its reservations (from SKU streams) and its payment, in any order of arrival', () => {
    const [sku1Reserved] = streamEvents(
      'stock-item',
      'SKU-1',
      [reservation('StockReserved', 'SKU-1', 2)],
      { from: 7 },
    );
    const [sku2Reserved] = streamEvents(
      'stock-item',
      'SKU-2',
      [reservation('StockReserved', 'SKU-2', 1)],
      { from: 3 },
    );
    const [sku1Committed] = streamEvents(
      'stock-item',
      'SKU-1',
      [reservation('StockReservationCommitted', 'SKU-1', 2)],
      { from: 9 },
    );
    const [paid, captured] = payment(authorized, {
      type: 'PaymentCaptured',
      data: { paymentId: 'o-1', capturedAt: '2026-11-23T10:00:02.000Z' },
    });
    const [v1, v2] = order(created, approved);
    // Inventory before the order; the order's own events in order; payment last.
    const outcome = spec.given(
      sku1Reserved!,
      sku2Reserved!,
      v1!,
      paid!,
      v2!,
      sku1Committed!,
      captured!,
      sku1Reserved!,
    );
    expect(outcome.failures).toEqual([]);
    expect(outcome.duplicates).toBe(1);
    expect(outcome.documents['o-1']).toMatchObject({
      orderId: 'o-1',
      order: { customerId: 'c-1', status: 'CONFIRMED', total: 1_250 },
      stock: [
        { sku: 'SKU-2', quantity: 1, status: 'RESERVED' },
        { sku: 'SKU-1', quantity: 2, status: 'COMMITTED' },
      ],
      payment: { status: 'CAPTURED', amount: 1_250 },
    });
  });

  it('a cancelled order: CANCELLED with its reason, its stock RETURNED, its payment REFUNDED', () => {
    const cancelled = {
      type: 'OrderCancelled',
      data: { orderId: 'o-1', reason: 'changed my mind', cancelledAt: '2026-11-23T10:09:00.000Z' },
    };
    const stock = streamEvents('stock-item', 'SKU-1', [
      reservation('StockReserved', 'SKU-1', 2),
      reservation('StockReservationCommitted', 'SKU-1', 2),
      reservation('StockReturned', 'SKU-1', 2),
    ]);
    const paid = payment(
      authorized,
      { type: 'PaymentCaptured', data: { paymentId: 'o-1', capturedAt: at0 } },
      { type: 'PaymentRefunded', data: { paymentId: 'o-1', refundedAt: at0 } },
    );
    const outcome = spec.given(...order(created, approved, cancelled), ...stock, ...paid);
    expect(outcome.failures).toEqual([]);
    expect(outcome.documents['o-1']).toMatchObject({
      order: { status: 'CANCELLED', reason: 'changed my mind' },
      stock: [{ sku: 'SKU-1', quantity: 2, status: 'RETURNED' }],
      payment: { status: 'REFUNDED', amount: 1_250 },
    });
  });

  it('a declined payment shows its reason; restocks (no order) are not its concern', () => {
    const declined = {
      type: 'PaymentDeclined',
      data: {
        paymentId: 'o-1',
        orderId: 'o-1',
        customerId: 'c-1',
        amount: 1_250,
        reason: 'INSUFFICIENT_FUNDS',
        available: 10,
        declinedAt: '2026-11-23T10:00:01.000Z',
      },
    };
    const restock = streamEvents('stock-item', 'SKU-1', [
      { type: 'StockRestocked', data: { sku: 'SKU-1', quantity: 5 } },
    ]);
    const outcome = spec.given(...order(created, rejected), ...payment(declined), ...restock);
    expect(Object.keys(outcome.documents)).toEqual(['o-1']);
    expect(outcome.documents['o-1']).toMatchObject({
      order: { status: 'REJECTED', reason: 'OUT_OF_STOCK: SKU-1 short by 2' },
      payment: { status: 'DECLINED', declineReason: 'INSUFFICIENT_FUNDS' },
    });
  });
});
