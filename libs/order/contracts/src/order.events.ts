// The order's events as published on `orders.events` (keyed by order id): the contract the
// read side and the saga consume. A field change is a new schemaVersion plus an upcaster.
import {
  emailAddress,
  identifier,
  isoInstant,
  money,
  personName,
  personalField,
  positiveInt,
  postalAddress,
  reason,
  versioned,
  z,
  type EventOf,
  type Upcaster,
} from '@es/schema';

export const ORDER_STREAM_TYPE = 'order';
export const ORDERS_EVENTS_TOPIC = 'orders.events';

export const orderLineSchema = z.strictObject({
  sku: identifier,
  quantity: positiveInt,
  unitPrice: money,
});
export type OrderLine = z.output<typeof orderLineSchema>;

/**
 * Version 2 added the customer's contact for the order: their name, email and shipping address,
 * personal data of the customer (docs/privacy.md), sealed under their key wherever the event is
 * stored or published. Orders placed at version 1 have none (the upcaster adds nothing).
 */
export const OrderCreated = versioned(
  'OrderCreated',
  2,
  z.strictObject({
    orderId: identifier,
    customerId: identifier,
    items: z.array(orderLineSchema).min(1),
    total: money,
    createdAt: isoInstant,
    name: personalField(personName).optional(),
    email: personalField(emailAddress).optional(),
    shippingAddress: personalField(postalAddress).optional(),
  }),
  { personal: { subject: 'customerId', fields: ['name', 'email', 'shippingAddress'] } },
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

/** Older versions of the order's events, brought up to the current ones on every read. */
export const orderUpcasters: readonly Upcaster[] = [
  { type: 'OrderCreated', fromVersion: 1, upcast: (data) => ({ data }) },
];

export type OrderEvent = EventOf<(typeof orderEventSchemas)[number]>;
export type OrderEventType = OrderEvent['type'];
