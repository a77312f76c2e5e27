// The saga orchestrator's HTTP API (docs/api.md): a saga's state and timeline, the sagas in a
// state (parked ones, for an operator), and the operator's retry of a parked saga. A saga is
// named by its id and type (`?type=`, the order saga by default).
import {
  readAnswers,
  BAD_REQUEST,
  UNAVAILABLE,
  acceptedSchema,
  commandExchange,
  defineOperation,
  deadLetterOperations,
  republishOperations,
  streamOperations,
  platformOperations,
  queryIntegerOr,
  type ServiceApi,
} from '@es/http-api';
import { identifier, isoInstant, z } from '@es/schema';
import { ORDER_SAGA_TYPE, SAGA_TYPES } from './saga-types';

/** Which saga of an id: an order's saga and its cancellation share the order's id. */
export const sagaTypeSchema = z.enum(SAGA_TYPES);
const sagaTypeQuery = z.strictObject({
  type: sagaTypeSchema
    .default(ORDER_SAGA_TYPE)
    .describe('The saga type; an order and its cancellation share an id'),
});

export const sagaStateSchema = z.enum([
  'WAITING',
  'RUNNING',
  'COMPENSATING',
  'PARKED',
  'COMPLETED',
  'COMPENSATED',
]);

export const timelineEntrySchema = z.strictObject({
  at: isoInstant,
  event: z.string(),
  step: z.string().optional(),
  phase: z.string().optional(),
  command: z.string().optional(),
  outcome: z.string().optional(),
  detail: z.string().optional(),
});
export type TimelineEntry = Readonly<z.output<typeof timelineEntrySchema>>;

export const sagaViewSchema = z.strictObject({
  sagaId: identifier,
  type: sagaTypeSchema,
  state: sagaStateSchema,
  step: z.string().nullable(),
  /** The saga type a WAITING saga waits for to end (its order's saga, for a cancellation). */
  waitingFor: z.string().nullable(),
  compensating: z.boolean(),
  attempt: z.number().int().positive().nullable(),
  awaiting: z.string().nullable(),
  deadlineAt: isoInstant.nullable(),
  reason: z.string().nullable(),
  problem: z.string().nullable(),
  data: z.unknown(),
  startedAt: isoInstant,
  endedAt: isoInstant.nullable(),
  version: z.number().int().positive(),
  timeline: z.array(timelineEntrySchema),
});
export type SagaView = Readonly<z.output<typeof sagaViewSchema>>;

const sagaId = z.strictObject({ id: identifier });

export const listSagas = defineOperation({
  operationId: 'listSagas',
  method: 'get',
  path: '/sagas',
  access: { roles: ['operator'] },
  summary: 'The sagas in a state, oldest first (PARKED ones wait for an operator)',
  tags: ['sagas'],
  query: z.strictObject({
    state: sagaStateSchema,
    type: sagaTypeSchema.optional().describe('Only sagas of this type; every type when absent'),
    limit: queryIntegerOr(1, 500, 100),
  }),
  responses: {
    200: {
      description: 'Their ids, types and versions',
      schema: z.strictObject({
        sagas: z.array(
          z.strictObject({
            sagaId: identifier,
            type: sagaTypeSchema,
            version: z.number().int().positive(),
          }),
        ),
      }),
    },
    400: BAD_REQUEST,
    503: UNAVAILABLE,
  },
});

export const getSaga = defineOperation({
  operationId: 'getSaga',
  method: 'get',
  path: '/sagas/{id}',
  access: { roles: ['operator'] },
  summary: 'A saga: state, step, compensating flag and timeline; its ETag is its version',
  tags: ['sagas'],
  params: sagaId,
  query: sagaTypeQuery,
  responses: readAnswers({ description: 'The saga', schema: sagaViewSchema }, 'No such saga', {
    etag: true,
  }),
});

export const retrySaga = defineOperation({
  operationId: 'retrySaga',
  method: 'post',
  path: '/sagas/{id}/retry',
  access: { roles: ['operator'] },
  summary: 'Try a parked saga’s step again, with fresh attempts',
  tags: ['sagas'],
  params: sagaId,
  query: sagaTypeQuery,
  // No fields, but a body all the same: every POST takes application/json (docs/security.md).
  body: { schema: z.strictObject({}), required: true },
  ...commandExchange({
    ifMatch: true,
    body: true,
    accepted: { description: 'Resumed', schema: acceptedSchema({ sagaId: identifier }) },
    notFound: 'No such saga',
    refusals: 'SAGA_NOT_PARKED: only a parked saga is retried; or If-Match is stale',
  }),
});

export const sagaOrchestratorApi: ServiceApi = {
  name: 'saga-orchestrator',
  title: 'Saga orchestrator',
  description: 'The order saga and the order cancellation: state, timelines and operator retries',
  defaultPort: 3004,
  operations: [
    listSagas,
    getSaga,
    retrySaga,
    ...deadLetterOperations,
    ...republishOperations,
    ...streamOperations,
    ...platformOperations,
  ],
};
