// The order saga (docs/decisions.md, The order saga), read as its table: each row is a step, its participant,
// the command that performs it and the one that undoes it. Approving the order is the pivot;
// committing the stock and capturing the payment come after it and so must succeed.
import {
  ApproveOrderCommand,
  ORDERS_COMMANDS_TOPIC,
  RejectOrderCommand,
  type OrderLine,
} from '@es/order-contracts';
import {
  CommitStockCommand,
  INVENTORY_COMMANDS_TOPIC,
  ReleaseStockCommand,
  ReserveStockCommand,
} from '@es/inventory-contracts';
import {
  AuthorizePaymentCommand,
  CapturePaymentCommand,
  PAYMENTS_COMMANDS_TOPIC,
  VoidPaymentCommand,
} from '@es/payment-contracts';
import { ORDER_SAGA_TYPE } from '@es/saga-contracts';
import { commandTo, defineSaga } from '../engine/saga-definition';

/** What the saga knows of its order, from OrderCreated. The payment's id is the order's. */
export interface OrderSagaData {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderLine[];
  readonly total: number;
}

const skus = (d: OrderSagaData) => d.items.map((line) => line.sku);
const paymentId = (d: OrderSagaData) => d.orderId;

export const orderSaga = defineSaga<OrderSagaData>({
  type: ORDER_SAGA_TYPE,
  // The orchestrator sets its own (SAGA_STEP_DEADLINE_MS): it knows its load and its participants.
  deadlineMs: 5_000,
  maxAttempts: 5,
  backoffMs: 500,
  // A missed reservation or authorization is asked once more before the order is rejected: a
  // participant killed and restarted answers within two deadlines (its old group session ends
  // after 10 s), so a restart costs those orders latency, not a rejection.
  sendsBeforeCompensating: 2,
  steps: [
    {
      name: 'create-order',
      participant: 'order',
      compensation: (d, reason) =>
        commandTo(ORDERS_COMMANDS_TOPIC, RejectOrderCommand, { orderId: d.orderId, reason }),
    },
    {
      name: 'reserve-stock',
      participant: 'inventory',
      invoke: (d) =>
        commandTo(INVENTORY_COMMANDS_TOPIC, ReserveStockCommand, {
          orderId: d.orderId,
          lines: d.items.map(({ sku, quantity }) => ({ sku, quantity })),
        }),
      compensation: (d) =>
        commandTo(INVENTORY_COMMANDS_TOPIC, ReleaseStockCommand, {
          orderId: d.orderId,
          skus: skus(d),
        }),
    },
    {
      name: 'authorize-payment',
      participant: 'payment',
      invoke: (d) =>
        commandTo(PAYMENTS_COMMANDS_TOPIC, AuthorizePaymentCommand, {
          paymentId: paymentId(d),
          orderId: d.orderId,
          customerId: d.customerId,
          amount: d.total,
        }),
      compensation: (d) =>
        commandTo(PAYMENTS_COMMANDS_TOPIC, VoidPaymentCommand, { paymentId: paymentId(d) }),
    },
    {
      name: 'approve-order',
      participant: 'order',
      invoke: (d) => commandTo(ORDERS_COMMANDS_TOPIC, ApproveOrderCommand, { orderId: d.orderId }),
    },
    {
      name: 'commit-stock',
      participant: 'inventory',
      retriable: true,
      invoke: (d) =>
        commandTo(INVENTORY_COMMANDS_TOPIC, CommitStockCommand, {
          orderId: d.orderId,
          skus: skus(d),
        }),
    },
    {
      name: 'capture-payment',
      participant: 'payment',
      retriable: true,
      invoke: (d) =>
        commandTo(PAYMENTS_COMMANDS_TOPIC, CapturePaymentCommand, { paymentId: paymentId(d) }),
    },
  ],
});
