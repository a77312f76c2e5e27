// The order cancellation (docs/decisions.md, The order cancellation), read as its table like the
// order saga: a confirmed order's customer asked to cancel, and that cannot be taken back, so the
// trigger is the pivot and every step after it must succeed (retried with back-off, then parked
// for an operator, never dropped): the money goes back, then the stock, then the order is marked
// CANCELLED. It starts after the order's own saga has ended, so the two never command the same
// participants for one order at once (a cancel that lands between approval and capture waits
// for the capture, then refunds it).
import { CompleteOrderCancellationCommand, ORDERS_COMMANDS_TOPIC } from '@es/order-contracts';
import { INVENTORY_COMMANDS_TOPIC, ReturnStockCommand } from '@es/inventory-contracts';
import { PAYMENTS_COMMANDS_TOPIC, RefundPaymentCommand } from '@es/payment-contracts';
import { ORDER_CANCELLATION_SAGA_TYPE, ORDER_SAGA_TYPE } from '@es/saga-contracts';
import { commandTo, defineSaga } from '../engine/saga-definition';
import type { OrderSagaData } from '../order-saga/order-saga';

/** What the cancellation knows: the order as its saga knew it, and the customer's reason. */
export interface OrderCancellationData extends OrderSagaData {
  readonly reason: string;
}

export const orderCancellationSaga = defineSaga<OrderCancellationData>({
  type: ORDER_CANCELLATION_SAGA_TYPE,
  startsAfter: ORDER_SAGA_TYPE,
  deadlineMs: 5_000,
  maxAttempts: 5,
  backoffMs: 500,
  steps: [
    // OrderCancellationRequested, recorded by the order service: the customer's word.
    { name: 'request-cancellation', participant: 'order' },
    {
      name: 'refund-payment',
      participant: 'payment',
      retriable: true,
      // A captured payment is refunded; an authorization never captured is voided.
      invoke: (d) =>
        commandTo(PAYMENTS_COMMANDS_TOPIC, RefundPaymentCommand, { paymentId: d.orderId }),
    },
    {
      name: 'return-stock',
      participant: 'inventory',
      retriable: true,
      invoke: (d) =>
        commandTo(INVENTORY_COMMANDS_TOPIC, ReturnStockCommand, {
          orderId: d.orderId,
          lines: d.items.map(({ sku, quantity }) => ({ sku, quantity })),
        }),
    },
    {
      name: 'complete-cancellation',
      participant: 'order',
      retriable: true,
      invoke: (d) =>
        commandTo(ORDERS_COMMANDS_TOPIC, CompleteOrderCancellationCommand, { orderId: d.orderId }),
    },
  ],
});
