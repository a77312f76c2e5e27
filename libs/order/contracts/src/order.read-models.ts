// The order read models as the projection service writes them to MongoDB and the order service
// reads them (docs/decisions.md, Read models). A field change here is a projection change: rebuild.
// Each is a schema first: the HTTP documents publish it and the API's answers are checked with it.
import { sagaStateSchema } from '@es/saga-contracts';
import {
  emailAddress,
  identifier,
  isoInstant,
  money,
  openedField,
  personName,
  postalAddress,
  z,
} from '@es/schema';
import { orderLineSchema, storedContactSchema } from './order.events';

export const orderStatusSchema = z.enum(['PENDING', 'CONFIRMED', 'REJECTED', 'CANCELLED']);
export type OrderStatus = z.output<typeof orderStatusSchema>;

/** Where the order's saga is, from its events on `sagas.events`. */
export const orderSagaProgressSchema = z.strictObject({
  state: sagaStateSchema,
  /** The last command the saga sent (ReserveStock, AuthorizePayment, ...); null before one. */
  step: z.string().nullable(),
  compensating: z.boolean(),
  updatedAt: isoInstant,
  /** The saga stream's version this reflects. */
  version: z.number().int().positive(),
});
export type OrderSagaProgress = Readonly<z.output<typeof orderSagaProgressSchema>>;

/** The contact as a query answers it, opened by the order service: each value, or erased. */
export const contactSchema = z.strictObject({
  name: openedField(personName),
  email: openedField(emailAddress),
  shippingAddress: openedField(postalAddress),
});

/** One order, by order id. */
export const ORDER_DETAILS_READ_MODEL = 'order-details';
export const orderDetailsDocumentSchema = z.strictObject({
  orderId: identifier,
  customerId: identifier,
  status: orderStatusSchema,
  items: z.array(orderLineSchema),
  total: money,
  createdAt: isoInstant,
  approvedAt: isoInstant.optional(),
  rejectedAt: isoInstant.optional(),
  rejectionReason: z.string().optional(),
  /** Set while a confirmed order's cancellation is being compensated. */
  cancellationRequestedAt: isoInstant.optional(),
  cancellationReason: z.string().optional(),
  cancelledAt: isoInstant.optional(),
  /** The time of the order's last event. */
  updatedAt: isoInstant,
  /** The order stream's version this document reflects. */
  version: z.number().int().positive(),
  /** Absent until the saga's first event is projected. */
  saga: orderSagaProgressSchema.optional(),
  /**
   * A confirmed order's cancellation saga (refund, return of the stock, completion): absent
   * unless one was requested. `step` names the last command it sent (RefundPayment, ...).
   */
  cancellation: orderSagaProgressSchema.optional(),
  /**
   * As the event carried it: sealed under the customer's key (the projection service holds no
   * key and sees no value), or erased. Absent on orders placed before contacts were taken
   * (OrderCreated version 1).
   */
  contact: storedContactSchema.optional(),
});
export type OrderDetailsDocument = Readonly<z.output<typeof orderDetailsDocumentSchema>>;
/** An order as GET /orders/{id} answers it: its contact opened. */
export const orderDetailsAnswerSchema = orderDetailsDocumentSchema.extend({
  contact: contactSchema.optional(),
});
export type OrderDetailsAnswer = Readonly<z.output<typeof orderDetailsAnswerSchema>>;

/** A customer's orders, newest first: one small document per order, indexed by customer. */
export const CUSTOMER_ORDERS_READ_MODEL = 'customer-orders';
export const customerOrderDocumentSchema = z.strictObject({
  orderId: identifier,
  customerId: identifier,
  status: orderStatusSchema,
  total: money,
  lines: z.number().int().positive(),
  createdAt: isoInstant,
  updatedAt: isoInstant,
  version: z.number().int().positive(),
});
export type CustomerOrderDocument = Readonly<z.output<typeof customerOrderDocumentSchema>>;
