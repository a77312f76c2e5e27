// The order's events as published on `orders.events` (keyed by order id): the contract the
// read side and the saga consume. A field change is a new schemaVersion plus an upcaster.
import {
  identifier,
  isoInstant,
  money,
  positiveInt,
  reason,
  versioned,
  z,
  type EventOf,
} from '@es/schema';

export const ORDER_STREAM_TYPE = 'order';
export const ORDERS_EVENTS_TOPIC = 'orders.events';

export const orderLineSchema = z.strictObject({
  sku: identifier,
  quantity: positiveInt,
  unitPrice: money,
});
export type OrderLine = z.output<typeof orderLineSchema>;

export const OrderCreated = versioned(
  'OrderCreated',
  1,
  z.strictObject({
    orderId: identifier,
    customerId: identifier,
    items: z.array(orderLineSchema).min(1),
    total: money,
    createdAt: isoInstant,
  }),
);
export const OrderApproved = versioned(
  'OrderApproved',
  1,
  z.strictObject({ orderId: identifier, approvedAt: isoInstant }),
);
export const OrderRejected = versioned(
  'OrderRejected',
  1,
  z.strictObject({ orderId: identifier, reason, rejectedAt: isoInstant }),
);
/** A confirmed order's customer asked to cancel: the saga compensates, then completes it. */
export const OrderCancellationRequested = versioned(
  'OrderCancellationRequested',
  1,
  z.strictObject({ orderId: identifier, reason, requestedAt: isoInstant }),
);
export const OrderCancelled = versioned(
  'OrderCancelled',
  1,
  z.strictObject({ orderId: identifier, reason, cancelledAt: isoInstant }),
);

export const orderEventSchemas = [
  OrderCreated,
  OrderApproved,
  OrderRejected,
  OrderCancellationRequested,
  OrderCancelled,
] as const;

export type OrderEvent = EventOf<(typeof orderEventSchemas)[number]>;
export type OrderEventType = OrderEvent['type'];
