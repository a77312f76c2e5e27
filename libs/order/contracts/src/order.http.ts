// The order service's HTTP API (docs/api.md): each operation's input and answers as schemas. The
// service validates with them and its OpenAPI document is generated from them.
import {
  readAnswers,
  BAD_REQUEST,
  UNAVAILABLE,
  acceptedSchema,
  commandExchange,
  consistentReadAnswers,
  consistentRead,
  defineOperation,
  deadLetterOperations,
  republishOperations,
  streamOperations,
  recordedEventSchema,
  platformOperations,
  problem,
  queryInteger,
  queryIntegerOr,
  type ServiceApi,
} from '@es/http-api';
import {
  emailAddress,
  identifier,
  isoInstant,
  money,
  personName,
  postalAddress,
  reason,
  z,
  type FieldProblem,
} from '@es/schema';
import { ORDER_STREAM_TYPE, orderLineSchema } from './order.events';
import {
  customerOrderDocumentSchema,
  orderDetailsAnswerSchema,
  orderStatusSchema,
} from './order.read-models';

const orderId = z.strictObject({ id: identifier });

/** Bounds that keep any order's total a safe integer: 100 lines x 10,000 x 100,000,000. */
export const MAX_QUANTITY_PER_LINE = 10_000;
export const MAX_UNIT_PRICE = 100_000_000;

export const placeOrderBody = z.strictObject({
  customerId: identifier,
  items: z
    .array(
      orderLineSchema.extend({
        quantity: orderLineSchema.shape.quantity.max(MAX_QUANTITY_PER_LINE, {
          error: `must be at most ${MAX_QUANTITY_PER_LINE}`,
        }),
        unitPrice: orderLineSchema.shape.unitPrice.max(MAX_UNIT_PRICE, {
          error: `must be at most ${MAX_UNIT_PRICE} (minor units)`,
        }),
      }),
    )
    .min(1, { error: 'must hold at least one line' })
    .max(100, { error: 'must hold at most 100 lines' }),
  // The customer's contact for this order: personal data, sealed under the customer's key
  // wherever it is stored or published (docs/privacy.md).
  name: personName.meta({ description: "The customer's name (personal data)" }),
  email: emailAddress.meta({ description: "The customer's email (personal data)" }),
  shippingAddress: postalAddress.meta({
    description: 'Where the order goes (personal data); country as ISO 3166-1 alpha-2',
  }),
});

/** One line per SKU: a SKU given twice is a 422 naming the later line. */
export function placeOrderRules({ items }: z.output<typeof placeOrderBody>): FieldProblem[] {
  const first = new Map<string, number>();
  const problems: FieldProblem[] = [];
  items.forEach(({ sku }, index) => {
    const earlier = first.get(sku);
    if (earlier === undefined) first.set(sku, index);
    else
      problems.push({
        field: `items[${index}].sku`,
        problem: `${sku} is already items[${earlier}]; put the quantity on one line`,
      });
  });
  return problems;
}

export const placeOrder = defineOperation({
  operationId: 'placeOrder',
  method: 'post',
  path: '/orders',
  access: { roles: [], owner: { in: 'body', field: 'customerId' } },
  summary: 'Place an order: the saga reserves its stock and authorizes its payment',
  tags: ['orders'],
  body: {
    schema: placeOrderBody,
    required: true,
    rules: placeOrderRules,
    description: 'Prices in minor units (cents); one line per SKU',
  },
  ...commandExchange({
    idempotencyKey: 'required',
    ifMatch: false,
    body: true,
    accepted: {
      description: 'Placed (PENDING); the saga takes it from here',
      schema: acceptedSchema({ orderId: identifier }),
    },
    refusals: 'The order was refused',
    rules: 'a SKU on two lines',
  }),
});

export const listCustomerOrders = defineOperation({
  operationId: 'listCustomerOrders',
  method: 'get',
  path: '/orders',
  access: { roles: ['staff', 'operator'], owner: { in: 'query', field: 'customerId' } },
  summary: "A customer's orders, newest first (the customer-orders read model)",
  tags: ['orders'],
  query: z.strictObject({
    customerId: identifier,
    ...consistentRead(ORDER_STREAM_TYPE),
    limit: queryIntegerOr(1, 100, 20),
  }),
  responses: {
    200: {
      description: 'The orders',
      schema: z.strictObject({ orders: z.array(customerOrderDocumentSchema) }),
    },
    400: BAD_REQUEST,
    409: problem('NOT_YET_CONSISTENT: the read model has not reached the token yet; retry'),
    503: UNAVAILABLE,
  },
});

export const getOrder = defineOperation({
  operationId: 'getOrder',
  method: 'get',
  path: '/orders/{id}',
  access: { roles: ['staff', 'operator'], owner: { resource: 'order', param: 'id' } },
  summary: 'An order (the order-details read model); its ETag is its version',
  tags: ['orders'],
  params: orderId,
  query: z.strictObject(consistentRead(ORDER_STREAM_TYPE)),
  responses: consistentReadAnswers(
    {
      description: "The order; its contact opened, or marked erased once the customer's data is",
      schema: orderDetailsAnswerSchema,
    },
    'No such order',
  ),
});

export const cancelOrderBody = z.preprocess(
  (body) => body ?? {},
  z.strictObject({ reason: reason.default('cancelled by the customer') }),
);

export const cancelOrder = defineOperation({
  operationId: 'cancelOrder',
  method: 'post',
  path: '/orders/{id}/cancel',
  access: { roles: ['staff'], owner: { resource: 'order', param: 'id' } },
  summary: 'Cancel an order: a pending one at once, a confirmed one by compensation',
  tags: ['orders'],
  params: orderId,
  body: { schema: cancelOrderBody, required: true },
  ...commandExchange({
    idempotencyKey: 'required',
    ifMatch: true,
    body: true,
    accepted: {
      description: 'Cancelled, or its cancellation requested',
      schema: acceptedSchema({ orderId: identifier }),
    },
    notFound: 'No such order',
    refusals: 'Refused in its state (e.g. ORDER_ALREADY_CANCELLED), or If-Match is stale',
  }),
});

export const getOrderEvents = defineOperation({
  operationId: 'getOrderEvents',
  method: 'get',
  path: '/orders/{id}/events',
  access: { roles: ['operator'] },
  summary: "The order's audit trail: every event with its metadata, in order",
  tags: ['orders'],
  params: orderId,
  responses: readAnswers(
    {
      description: 'The events',
      schema: z.strictObject({ events: z.array(recordedEventSchema) }),
    },
    'No such order',
  ),
});

export const orderStateSchema = z.strictObject({
  orderId: identifier,
  customerId: identifier,
  status: orderStatusSchema,
  items: z.array(orderLineSchema),
  total: money,
  createdAt: isoInstant,
  rejectionReason: z.string().optional(),
  cancellationReason: z.string().optional(),
  /** Set while a confirmed order's cancellation is being compensated. */
  cancellationRequestedAt: isoInstant.optional(),
  version: z.number().int().positive(),
});

export const getOrderState = defineOperation({
  operationId: 'getOrderState',
  method: 'get',
  path: '/orders/{id}/state',
  access: { roles: ['staff', 'operator'], owner: { resource: 'order', param: 'id' } },
  summary: 'The order as it was, rebuilt from its events (a temporal query)',
  description:
    'asOf: as it was at that instant; atVersion: as it was at that version; both: at the earlier of the two; neither: as it is now, from its events rather than the read model.',
  tags: ['orders'],
  params: orderId,
  query: z.strictObject({
    asOf: isoInstant.meta({ description: 'An ISO-8601 instant' }).optional(),
    atVersion: queryInteger(1, 2_147_483_647).meta({ description: 'A version' }).optional(),
  }),
  responses: readAnswers(
    { description: 'The order then', schema: orderStateSchema },
    'No such order; or ORDER_NOT_YET_PLACED: it did not exist yet then',
  ),
});

export const orderServiceApi: ServiceApi = {
  name: 'order-service',
  title: 'Order service',
  description: 'Orders: commands, their read models and temporal queries',
  defaultPort: 3001,
  operations: [
    placeOrder,
    listCustomerOrders,
    getOrder,
    cancelOrder,
    getOrderEvents,
    getOrderState,
    ...deadLetterOperations,
    ...republishOperations,
    ...streamOperations,
    ...platformOperations,
  ],
};
