// The republish operations every service with an event store serves (docs/api.md, Republish):
// its events published again to their topics from the store, as the relay published them the
// first time (the same message ids, so consumers dedupe): one stream's range, or the whole
// store. A republish runs in the background; its progress is read back by id from any instance.
import { identifier, isoInstant, z, type FieldProblem } from '@es/schema';
import { BAD_REQUEST, UNAVAILABLE, problem } from './common';
import { defineOperation } from './operation';

const republishId = z
  .uuid({ error: 'must be a republish id (a UUID)' })
  .meta({ example: '01939a5e-3c1f-7a2b-9c1d-5e6f7a8b9c0d' });
const version = z.number().int().min(1).max(2_147_483_647);

const scopeSchema = z
  .strictObject({
    streamType: identifier.optional().meta({
      description: 'Only this stream type’s events (with streamId: one stream’s)',
    }),
    streamId: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[\x21-\x7e]+$/, { error: 'must be 1-200 printable characters without spaces' })
      .optional(),
    fromVersion: version.optional().meta({ description: 'A stream’s first version (included)' }),
    toVersion: version.optional().meta({ description: 'A stream’s last version (included)' }),
  })
  .meta({
    description:
      'Empty: the whole store, in commit order. streamType and streamId: one stream, from fromVersion to toVersion',
  });

/** What the scope's schema cannot say: which fields need which, and the versions' order. */
function scopeRules(scope: z.output<typeof scopeSchema>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (scope.streamId !== undefined && scope.streamType === undefined)
    problems.push({ field: 'streamType', problem: 'is required with streamId' });
  for (const field of ['fromVersion', 'toVersion'] as const)
    if (scope[field] !== undefined && scope.streamId === undefined)
      problems.push({ field: 'streamId', problem: `is required with ${field}` });
  if (
    scope.fromVersion !== undefined &&
    scope.toVersion !== undefined &&
    scope.fromVersion > scope.toVersion
  )
    problems.push({
      field: 'fromVersion',
      problem: `must not be after toVersion (${scope.toVersion}), got ${scope.fromVersion}`,
    });
  return problems;
}

export const republishSchema = z.strictObject({
  id: republishId,
  scope: scopeSchema,
  status: z.enum(['running', 'publishing', 'completed', 'failed', 'interrupted']).meta({
    description:
      'running: writing the messages to the outbox; publishing: waiting for the relay to publish them; completed: every message of it is in Kafka; failed: see error; interrupted: its instance stopped (start it again: what was published is deduplicated)',
  }),
  events: z.number().int().nonnegative().meta({ description: 'Messages written so far' }),
  total: z
    .number()
    .int()
    .nonnegative()
    .nullable()
    .meta({ description: 'Events in scope when it began (null until counted)' }),
  fromOffsets: z.record(z.string(), z.record(z.string(), z.string())).meta({
    description:
      'Each topic’s partitions’ end offsets when it began: every republished message is at or after them',
  }),
  requestedBy: z.string().nullable(),
  startedAt: isoInstant,
  completedAt: isoInstant.nullable(),
  error: z.string().nullable(),
});

export const startRepublish = defineOperation({
  operationId: 'startRepublish',
  method: 'post',
  path: '/republish',
  access: { roles: ['operator'] },
  summary: 'Publish events again from the event store: one stream’s range, or the whole store',
  tags: ['republish'],
  body: { schema: scopeSchema, required: true, rules: scopeRules },
  responses: {
    202: { description: 'The republish, started', schema: republishSchema },
    400: BAD_REQUEST,
    413: problem('The body is larger than the limit'),
    415: problem('The body is not application/json'),
    422: problem(
      'A streamId without its streamType, versions without a streamId, fromVersion after toVersion; or UNKNOWN_STREAM_TYPE: this service publishes no events of that stream type',
    ),
    503: UNAVAILABLE,
  },
});

export const getRepublish = defineOperation({
  operationId: 'getRepublish',
  method: 'get',
  path: '/republish/{id}',
  access: { roles: ['operator'] },
  summary: 'A republish: how far it got, and whether every message of it is in Kafka',
  tags: ['republish'],
  params: z.strictObject({ id: republishId }),
  responses: {
    200: { description: 'The republish', schema: republishSchema },
    400: BAD_REQUEST,
    404: problem('No such republish'),
    503: UNAVAILABLE,
  },
});

export const republishOperations = [startRepublish, getRepublish] as const;
