// The projection service's HTTP API (docs/api.md): each projection's generations, lag and
// progress; a rebuild without downtime; and the cross-context order summary.
import {
  BAD_REQUEST,
  UNAVAILABLE,
  consistentRead,
  defineOperation,
  platformOperations,
  problem,
  type ServiceApi,
} from '@es/http-api';
import { orderStatusSchema } from '@es/order-contracts';
import { identifier, isoInstant, money, positiveInt, z } from '@es/schema';

export const orderSummaryDocumentSchema = z.strictObject({
  orderId: identifier,
  /** Null until the order's own events are projected. */
  order: z
    .strictObject({
      customerId: identifier,
      status: orderStatusSchema,
      total: money,
      createdAt: isoInstant,
      reason: z.string().optional(),
    })
    .nullable(),
  stock: z.array(
    z.strictObject({
      sku: identifier,
      quantity: positiveInt,
      status: z.enum(['RESERVED', 'RELEASED', 'COMMITTED', 'RETURNED']),
    }),
  ),
  payment: z
    .strictObject({
      status: z.enum(['AUTHORIZED', 'DECLINED', 'CAPTURED', 'VOIDED', 'REFUNDED']),
      amount: money.optional(),
      declineReason: z.string().optional(),
    })
    .nullable(),
  updatedAt: isoInstant,
});
export type OrderSummaryDocument = Readonly<z.output<typeof orderSummaryDocumentSchema>>;

const generation = {
  generation: z.number().int().positive(),
  collection: z.string(),
  groupId: z.string(),
  startedAt: isoInstant,
};
const generationStatus = {
  ...generation,
  documents: z.number().int().nonnegative(),
  lagEvents: z.number().int().nonnegative(),
  lagSeconds: z.number().nonnegative(),
  progress: z.number().min(0).max(1),
  runningHere: z.boolean(),
};

export const projectionStatusSchema = z.strictObject({
  name: z.string(),
  description: z.string(),
  status: z.enum(['live', 'rebuilding']),
  active: z.strictObject({ ...generationStatus, activatedAt: isoInstant }),
  rebuilding: z
    .strictObject({
      ...generationStatus,
      held: z.string().optional().meta({
        description:
          'Why it has not taken over although it caught up: a partition of its topics lost its first events while it ran',
      }),
      phase: z.enum(['starting', 'prelude']).optional().meta({
        description:
          'A rebuild from republished topics: starting (its offsets being set), then prelude (the republished copies alone being folded); absent once it reads like any rebuild',
      }),
      republished: z
        .array(z.strictObject({ topic: z.string(), republishId: z.string() }))
        .optional()
        .meta({
          description:
            'Topics that lost their first events, read from where a completed republish put them back',
        }),
    })
    .optional(),
});

export const listProjections = defineOperation({
  operationId: 'listProjections',
  method: 'get',
  path: '/projections',
  access: { roles: ['operator'] },
  summary: 'Each projection: live or rebuilding, its generations, lag and progress',
  tags: ['projections'],
  responses: {
    200: {
      description: 'The projections',
      schema: z.strictObject({ projections: z.array(projectionStatusSchema) }),
    },
    503: UNAVAILABLE,
  },
});

export const rebuildProjection = defineOperation({
  operationId: 'rebuildProjection',
  method: 'post',
  path: '/projections/{name}/rebuild',
  access: { roles: ['operator'] },
  summary: 'Rebuild a projection beside the live one; readers switch once it has caught up',
  tags: ['projections'],
  params: z.strictObject({ name: identifier }),
  // No fields, but a body all the same: every POST takes application/json (docs/security.md).
  body: { schema: z.strictObject({}), required: true },
  responses: {
    202: {
      description: 'The next generation is being built',
      schema: z.strictObject({ projection: z.string(), rebuilding: z.strictObject(generation) }),
    },
    400: BAD_REQUEST,
    404: problem('No projection of that name'),
    413: problem('The body is larger than the limit'),
    415: problem('The body is not application/json'),
    409: problem(
      'REBUILD_IN_PROGRESS: one rebuild of a projection at a time (a held one is replaced); TOPIC_TRUNCATED: a partition of its topics lost its first events and no completed republish of its store puts them back, so a rebuild would miss them',
    ),
    503: UNAVAILABLE,
  },
});

export const getOrderSummary = defineOperation({
  operationId: 'getOrderSummary',
  method: 'get',
  path: '/order-summaries/{orderId}',
  access: { roles: ['staff', 'operator'], owner: { resource: 'order', param: 'orderId' } },
  summary: 'An order across contexts: the order, its stock reservation per line, its payment',
  tags: ['projections'],
  params: z.strictObject({ orderId: identifier }),
  query: z.strictObject(consistentRead()),
  responses: {
    200: { description: 'The summary', schema: orderSummaryDocumentSchema },
    400: BAD_REQUEST,
    404: problem('No summary of that order (yet)'),
    409: problem('NOT_YET_CONSISTENT: the read model has not reached the token yet; retry'),
    503: UNAVAILABLE,
  },
});

export const projectionServiceApi: ServiceApi = {
  name: 'projection-service',
  title: 'Projection service',
  description: 'The read models: projections, rebuilds and the order summary',
  defaultPort: 3005,
  operations: [listProjections, rebuildProjection, getOrderSummary, ...platformOperations],
};
