import { deciderSpec, everyCommandInEveryState, type Expected } from '@es/decider';
import type { OrderEvent } from '@es/order-contracts';
import type { OrderCommand } from './order.commands';
import { orderDecider } from './order.decider';

const at = '2026-11-23T10:00:00.000Z';
const later = '2026-11-23T10:05:00.000Z';
const orderId = 'o-1';
const items = [
  { sku: 'SKU-1', quantity: 2, unitPrice: 1_250 },
  { sku: 'SKU-2', quantity: 1, unitPrice: 99 },
];
const contact = {
  name: 'Ada Lovelace',
  email: 'ada@example.invalid',
  shippingAddress: {
    line1: '12 St James Sq',
    city: 'London',
    postalCode: 'SW1Y 4JH',
    country: 'GB',
  },
};
const created: OrderEvent = {
  type: 'OrderCreated',
  data: { orderId, customerId: 'c-1', items, total: 2_599, createdAt: at, contact },
};
const approved: OrderEvent = { type: 'OrderApproved', data: { orderId, approvedAt: at } };
const rejected: OrderEvent = {
  type: 'OrderRejected',
  data: { orderId, reason: 'out of stock: SKU-1', rejectedAt: at },
};
const cancellationRequested: OrderEvent = {
  type: 'OrderCancellationRequested',
  data: { orderId, reason: 'changed my mind', requestedAt: at },
};
const cancelled = (reason = 'changed my mind'): OrderEvent => ({
  type: 'OrderCancelled',
  data: { orderId, reason, cancelledAt: later },
});

const commands = {
  create: { type: 'CreateOrder', orderId, customerId: 'c-1', items, contact, at },
  approve: { type: 'ApproveOrder', at: later },
  reject: { type: 'RejectOrder', reason: 'payment declined', at: later },
  cancel: { type: 'CancelOrder', reason: 'changed my mind', at: later },
  complete: { type: 'CompleteOrderCancellation', at: later },
} satisfies Record<string, OrderCommand>;

const histories = {
  none: [],
  pending: [created],
  confirmed: [created, approved],
  cancelling: [created, approved, cancellationRequested],
  rejected: [created, rejected],
  cancelled: [created, cancelled()],
} satisfies Record<string, OrderEvent[]>;

// Every command in every state: the events it causes or the code it is refused with.
const table: Record<keyof typeof histories, Record<keyof typeof commands, Expected<OrderEvent>>> = {
  none: {
    create: { events: [{ ...created, data: { ...created.data, createdAt: at } }] },
    approve: { error: 'ORDER_NOT_FOUND' },
    reject: { error: 'ORDER_NOT_FOUND' },
    cancel: { error: 'ORDER_NOT_FOUND' },
    complete: { error: 'ORDER_NOT_FOUND' },
  },
  pending: {
    create: { error: 'ORDER_ALREADY_EXISTS' },
    approve: { events: [{ type: 'OrderApproved', data: { orderId, approvedAt: later } }] },
    reject: {
      events: [
        { type: 'OrderRejected', data: { orderId, reason: 'payment declined', rejectedAt: later } },
      ],
    },
    cancel: { events: [cancelled()] },
    complete: { error: 'ORDER_NOT_CANCELLING' },
  },
  confirmed: {
    create: { error: 'ORDER_ALREADY_EXISTS' },
    approve: { events: [] },
    reject: { error: 'ORDER_NOT_PENDING' },
    cancel: {
      events: [
        {
          type: 'OrderCancellationRequested',
          data: { orderId, reason: 'changed my mind', requestedAt: later },
        },
      ],
    },
    complete: { error: 'ORDER_NOT_CANCELLING' },
  },
  cancelling: {
    create: { error: 'ORDER_ALREADY_EXISTS' },
    approve: { events: [] },
    reject: { error: 'ORDER_NOT_PENDING' },
    cancel: { error: 'ORDER_CANCELLATION_IN_PROGRESS' },
    complete: { events: [cancelled()] },
  },
  rejected: {
    create: { error: 'ORDER_ALREADY_EXISTS' },
    approve: { error: 'ORDER_NOT_PENDING' },
    reject: { events: [] },
    cancel: { error: 'ORDER_NOT_CANCELLABLE' },
    complete: { error: 'ORDER_NOT_CANCELLING' },
  },
  cancelled: {
    create: { error: 'ORDER_ALREADY_EXISTS' },
    approve: { error: 'ORDER_NOT_PENDING' },
    // The saga's compensation after the customer cancelled: the order is closed already.
    reject: { events: [] },
    cancel: { error: 'ORDER_ALREADY_CANCELLED' },
    complete: { events: [] },
  },
};

const spec = deciderSpec(orderDecider);

describe('order decider: every command in every state', () => {
  it.each(everyCommandInEveryState(orderDecider, histories, commands, table))(
    'given %s, when %s',
    (_state, _command, actual, expected) => {
      expect(actual).toEqual(expected);
    },
  );
});

describe('order decider: rules and state', () => {
  it('computes the total in minor units', () => {
    const outcome = spec.given([]).when(commands.create);
    expect(outcome.events?.[0]?.data).toMatchObject({ total: 2 * 1_250 + 99 });
  });

  it('refuses a second line for the same SKU, naming both lines', () => {
    const outcome = spec.given([]).when({
      ...commands.create,
      items: [...items, { sku: 'SKU-1', quantity: 1, unitPrice: 1_250 }],
    });
    expect(outcome.error?.code).toBe('ORDER_DUPLICATE_SKU');
    expect(outcome.error?.message).toMatch(/items\[2\]\.sku: SKU-1 is already items\[0\]/);
  });

  it('refuses an empty order and a total beyond safe integers', () => {
    expect(spec.given([]).when({ ...commands.create, items: [] }).error?.code).toBe('ORDER_EMPTY');
    const huge = [{ sku: 'X', quantity: 2 ** 30, unitPrice: 2 ** 30 }];
    expect(spec.given([]).when({ ...commands.create, items: huge }).error?.code).toBe(
      'ORDER_TOTAL_TOO_LARGE',
    );
  });

  it('folds to status variants carrying what each status means', () => {
    // The contact is not kept: no decision needs it, and snapshots are written from the state.
    const order = { orderId, customerId: 'c-1', items, total: 2_599, createdAt: at };
    expect(spec.given(histories.pending).state).toEqual({ status: 'PENDING', order });
    expect(spec.given(histories.cancelling).state).toMatchObject({
      status: 'CONFIRMED',
      cancellation: { reason: 'changed my mind', requestedAt: at },
    });
    expect(spec.given(histories.rejected).state).toMatchObject({
      status: 'REJECTED',
      rejectionReason: 'out of stock: SKU-1',
    });
    expect(spec.given([created, approved, cancellationRequested, cancelled()]).state).toMatchObject(
      {
        status: 'CANCELLED',
        cancellationReason: 'changed my mind',
        cancelledAt: later,
      },
    );
  });
});
