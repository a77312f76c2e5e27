// An order's life: PENDING until the saga approves (CONFIRMED) or rejects it (REJECTED, with a
// reason). The customer may cancel: a pending order is cancelled at once (the saga, finding it
// no longer pending, compensates); a confirmed order's cancellation is only requested, and the
// saga refunds and returns the stock before completing it. Nothing flips silently.
import { DomainError, assertNever, type Decider } from '@es/decider';
import type { OrderEvent, OrderLine } from '@es/order-contracts';
import type { OrderCommand } from './order.commands';
import type { OrderDetails, OrderState } from './order.state';

const notFound = () => new DomainError('ORDER_NOT_FOUND', 'no such order');

function createdEvent(command: Extract<OrderCommand, { type: 'CreateOrder' }>): OrderEvent {
  if (command.items.length === 0)
    throw new DomainError('ORDER_EMPTY', 'an order needs at least one line');
  const seen = new Map<string, number>();
  command.items.forEach((line, index) => {
    const first = seen.get(line.sku);
    if (first !== undefined)
      throw new DomainError(
        'ORDER_DUPLICATE_SKU',
        `items[${index}].sku: ${line.sku} is already items[${first}]; put the quantity on one line`,
        { sku: line.sku, lines: [first, index] },
      );
    seen.set(line.sku, index);
  });
  const total = orderTotal(command.items);
  if (!Number.isSafeInteger(total))
    throw new DomainError('ORDER_TOTAL_TOO_LARGE', 'the order total is too large', { total });
  return {
    type: 'OrderCreated',
    data: {
      orderId: command.orderId,
      customerId: command.customerId,
      items: command.items.map((l) => ({ ...l })),
      total,
      createdAt: command.at,
      contact: {
        name: command.contact.name,
        email: command.contact.email,
        shippingAddress: { ...command.contact.shippingAddress },
      },
    },
  };
}

export function orderTotal(items: readonly OrderLine[]): number {
  return items.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0);
}

function decide(command: OrderCommand, state: OrderState): readonly OrderEvent[] {
  if (command.type === 'CreateOrder') {
    if (state.status !== 'NONE')
      throw new DomainError('ORDER_ALREADY_EXISTS', `order ${command.orderId} already exists`);
    return [createdEvent(command)];
  }
  if (state.status === 'NONE') throw notFound();
  const { orderId } = state.order;
  switch (command.type) {
    case 'ApproveOrder':
      if (state.status === 'CONFIRMED') return []; // a repeated approval changes nothing
      if (state.status !== 'PENDING') throw notPending(state);
      return [{ type: 'OrderApproved', data: { orderId, approvedAt: command.at } }];
    case 'RejectOrder':
      // Rejecting is the saga's compensation: an order the customer cancelled meanwhile is
      // already closed unconfirmed, which is all the compensation wants.
      if (state.status === 'REJECTED' || state.status === 'CANCELLED') return [];
      if (state.status !== 'PENDING') throw notPending(state);
      return [
        {
          type: 'OrderRejected',
          data: { orderId, reason: command.reason, rejectedAt: command.at },
        },
      ];
    case 'CancelOrder':
      return cancel(state, command);
    case 'CompleteOrderCancellation':
      if (state.status === 'CANCELLED') return [];
      if (state.status !== 'CONFIRMED' || state.cancellation === null)
        throw new DomainError(
          'ORDER_NOT_CANCELLING',
          `order is ${state.status} with no cancellation requested`,
          { status: state.status },
        );
      return [
        {
          type: 'OrderCancelled',
          data: { orderId, reason: state.cancellation.reason, cancelledAt: command.at },
        },
      ];
    default:
      return assertNever(command);
  }
}

function notPending(state: Exclude<OrderState, { status: 'NONE' }>): DomainError {
  return new DomainError('ORDER_NOT_PENDING', `order is ${state.status}, not PENDING`, {
    status: state.status,
  });
}

function cancel(
  state: Exclude<OrderState, { status: 'NONE' }>,
  command: Extract<OrderCommand, { type: 'CancelOrder' }>,
): readonly OrderEvent[] {
  const { orderId } = state.order;
  switch (state.status) {
    case 'PENDING':
      return [
        {
          type: 'OrderCancelled',
          data: { orderId, reason: command.reason, cancelledAt: command.at },
        },
      ];
    case 'CONFIRMED':
      if (state.cancellation !== null)
        throw new DomainError(
          'ORDER_CANCELLATION_IN_PROGRESS',
          'the order is already being cancelled',
          { requestedAt: state.cancellation.requestedAt },
        );
      return [
        {
          type: 'OrderCancellationRequested',
          data: { orderId, reason: command.reason, requestedAt: command.at },
        },
      ];
    case 'REJECTED':
      throw new DomainError('ORDER_NOT_CANCELLABLE', 'a rejected order cannot be cancelled', {
        status: state.status,
      });
    case 'CANCELLED':
      throw new DomainError('ORDER_ALREADY_CANCELLED', 'the order is already cancelled', {
        cancelledAt: state.cancelledAt,
      });
    default:
      return assertNever(state);
  }
}

function evolve(state: OrderState, event: OrderEvent): OrderState {
  if (event.type === 'OrderCreated') {
    // The contact is not kept: no decision needs it, and the state is what snapshots hold.
    const { orderId, customerId, items, total, createdAt } = event.data;
    const order: OrderDetails = { orderId, customerId, items, total, createdAt };
    return { status: 'PENDING', order };
  }
  if (state.status === 'NONE') return state; // an event before creation: nothing to apply it to
  switch (event.type) {
    case 'OrderApproved':
      return {
        status: 'CONFIRMED',
        order: state.order,
        approvedAt: event.data.approvedAt,
        cancellation: null,
      };
    case 'OrderRejected':
      return {
        status: 'REJECTED',
        order: state.order,
        rejectionReason: event.data.reason,
        rejectedAt: event.data.rejectedAt,
      };
    case 'OrderCancellationRequested':
      return state.status === 'CONFIRMED'
        ? {
            ...state,
            cancellation: { reason: event.data.reason, requestedAt: event.data.requestedAt },
          }
        : state;
    case 'OrderCancelled':
      return {
        status: 'CANCELLED',
        order: state.order,
        cancellationReason: event.data.reason,
        cancelledAt: event.data.cancelledAt,
      };
    default:
      return assertNever(event);
  }
}

export const orderDecider: Decider<OrderCommand, OrderEvent, OrderState> = {
  initialState: () => ({ status: 'NONE' }),
  decide,
  evolve,
};
