// The order's events as published on `orders.events` (keyed by order id): the contract the
// read side and the saga consume. A field change is a new schemaVersion plus an upcaster.
import {
  emailAddress,
  erasedValue,
  identifier,
  isoInstant,
  money,
  personName,
  personalField,
  positiveInt,
  postalAddress,
  reason,
  sealedValue,
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

/** The customer's contact for an order: personal data of the customer (docs/privacy.md). */
export const orderContactSchema = z.strictObject({
  name: personName,
  email: emailAddress,
  shippingAddress: postalAddress,
});

/**
 * Version 2 added the customer's contact for the order (name, email and shipping address), each
 * field sealed on its own. Version 3 holds them as one `contact`, sealed whole under the
 * customer's key wherever the event is stored or published: one cipher operation an order
 * instead of three, and 155 bytes more than the clear contact instead of 325 (docs/privacy.md).
 * Orders placed at version 1 have none; those placed at version 2 are brought up with their
 * three values moved, as they are (sealed, or erased), into `contact`.
 */
export const storedContactSchema = z.union([
  orderContactSchema,
  sealedValue,
  erasedValue,
  // A version 2 order's contact, upcast: each field as it was stored.
  z.strictObject({
    name: personalField(personName),
    email: personalField(emailAddress),
    shippingAddress: personalField(postalAddress),
  }),
]);
export const OrderCreated = versioned(
  'OrderCreated',
  3,
  z.strictObject({
    orderId: identifier,
    customerId: identifier,
    items: z.array(orderLineSchema).min(1),
    total: money,
    createdAt: isoInstant,
    contact: storedContactSchema.optional(),
  }),
  { personal: { subject: 'customerId', fields: ['contact'] } },
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
  {
    type: 'OrderCreated',
    fromVersion: 2,
    upcast: (data) => {
      const { name, email, shippingAddress, ...rest } = data as Record<string, unknown>;
      return {
        data:
          name === undefined && email === undefined && shippingAddress === undefined
            ? rest
            : { ...rest, contact: { name, email, shippingAddress } },
      };
    },
  },
];

export type OrderEvent = EventOf<(typeof orderEventSchemas)[number]>;
export type OrderEventType = OrderEvent['type'];
