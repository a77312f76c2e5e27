// What the saga asks of the order service on `orders.commands` and the typed replies it gets
// on `sagas.replies`. Keyed by order id (the saga's id).
import { messageSchema, replySchema } from '@es/saga-contracts';
import { identifier, reason, z } from '@es/schema';

export const ORDERS_COMMANDS_TOPIC = 'orders.commands';

const orderRef = z.strictObject({ orderId: identifier });

export const ApproveOrderCommand = messageSchema('ApproveOrder', 1, orderRef);
export const RejectOrderCommand = messageSchema(
  'RejectOrder',
  1,
  z.strictObject({ orderId: identifier, reason }),
);
/** After compensating a confirmed order's cancellation: mark it CANCELLED. */
export const CompleteOrderCancellationCommand = messageSchema(
  'CompleteOrderCancellation',
  1,
  orderRef,
);
export const orderSagaCommandSchema = z.discriminatedUnion('type', [
  ApproveOrderCommand,
  RejectOrderCommand,
  CompleteOrderCancellationCommand,
]);
export type OrderSagaCommand = z.output<typeof orderSagaCommandSchema>;

export const ApproveOrderReply = replySchema('ApproveOrder', 1, orderRef, [
  'ORDER_NOT_FOUND',
  'ORDER_NOT_PENDING',
]);
export const RejectOrderReply = replySchema('RejectOrder', 1, orderRef, [
  'ORDER_NOT_FOUND',
  'ORDER_NOT_PENDING',
]);
export const CompleteOrderCancellationReply = replySchema(
  'CompleteOrderCancellation',
  1,
  orderRef,
  ['ORDER_NOT_FOUND', 'ORDER_NOT_CANCELLING'],
);
