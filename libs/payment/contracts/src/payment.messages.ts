// What the saga asks of payments on `payments.commands` and the typed replies on
// `sagas.replies`. Keyed by order id (the saga's id).
import { messageSchema, replySchema } from '@es/saga-contracts';
import { identifier, money, z } from '@es/schema';

export const PAYMENTS_COMMANDS_TOPIC = 'payments.commands';

const paymentRef = z.strictObject({ paymentId: identifier });

export const AuthorizePaymentCommand = messageSchema(
  'AuthorizePayment',
  1,
  z.strictObject({
    paymentId: identifier,
    orderId: identifier,
    customerId: identifier,
    amount: money,
  }),
);
export const CapturePaymentCommand = messageSchema('CapturePayment', 1, paymentRef);
/** Compensation: release an authorization (a captured payment is refused: refund it). */
export const VoidPaymentCommand = messageSchema('VoidPayment', 1, paymentRef);
/** A cancellation's money back: a capture refunded, an authorization never captured voided. */
export const RefundPaymentCommand = messageSchema('RefundPayment', 1, paymentRef);
export const paymentSagaCommandSchema = z.discriminatedUnion('type', [
  AuthorizePaymentCommand,
  CapturePaymentCommand,
  VoidPaymentCommand,
  RefundPaymentCommand,
]);
export type PaymentSagaCommand = z.output<typeof paymentSagaCommandSchema>;

/**
 * A decline's details: `{ amount }`. Never the customer's available funds: the reason reaches
 * the order, which more people may read than the account (the payment records them).
 */
export const AuthorizePaymentReply = replySchema('AuthorizePayment', 1, paymentRef, [
  'INSUFFICIENT_FUNDS',
  'PAYMENT_CONFLICT',
]);
export const CapturePaymentReply = replySchema('CapturePayment', 1, paymentRef, [
  'PAYMENT_NOT_AUTHORIZED',
]);
export const VoidPaymentReply = replySchema('VoidPayment', 1, paymentRef, [
  'PAYMENT_ALREADY_CAPTURED',
]);
export const RefundPaymentReply = replySchema('RefundPayment', 1, paymentRef, [
  'PAYMENT_NOT_CAPTURED',
]);
