// The dead-letter operations every service with consumers serves (docs/api.md, Dead letters):
// its parked letters listed and read, redriven (one, a key, all of a consumer; a dry run
// first) and discarded with a reason. A letter is parked in the service's own database when
// its consumer can never handle it as it is, and the later messages of its key wait behind it.
import { identifier, isoInstant, reason, z } from '@es/schema';
import { BAD_REQUEST, PRINTABLE_TOKEN, UNAVAILABLE, problem, queryIntegerOr } from './common';
import { defineOperation } from './operation';

const letterId = z
  .string()
  .regex(/^[1-9][0-9]{0,17}$/, { error: 'must be a dead letter id: digits, e.g. 12' })
  .meta({ example: '12' });
const topic = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,249}$/, { error: 'must be a Kafka topic name' })
  .meta({ example: 'inventory.commands' });
const key = z
  .string()
  .regex(PRINTABLE_TOKEN, { error: 'must be 1-200 printable characters without spaces' });
const status = z.enum(['parked', 'redriven', 'discarded']);

export const deadLetterSummarySchema = z.strictObject({
  id: letterId,
  consumer: z.string(),
  topic: z.string(),
  key: z.string().meta({ description: "The message's key: its sequence within the topic" }),
  messageId: z.string(),
  cause: z.enum(['failed', 'behind']).meta({
    description: 'failed: it could not be handled; behind: it waits behind a failed one of its key',
  }),
  error: z.string().nullable(),
  attempts: z.number().int().nonnegative(),
  status,
  parkedAt: isoInstant,
  resolvedAt: isoInstant.nullable(),
  resolution: z.string().nullable().meta({
    description: "A discard's reason, or what a redrive found: handled, duplicate",
  }),
  resolvedBy: z.string().nullable(),
});

export const deadLetterSchema = deadLetterSummarySchema.extend({
  partition: z.number().int().nonnegative(),
  offset: z.string().regex(/^[0-9]+$/),
  headers: z.record(z.string(), z.string()),
  payload: z.unknown(),
  raw: z.boolean().meta({ description: 'The payload was not JSON: kept as its text' }),
});

const redrivenLetter = z.strictObject({
  id: letterId,
  consumer: z.string(),
  topic: z.string(),
  key: z.string(),
  messageId: z.string(),
  outcome: z.enum(['handled', 'duplicate', 'failed', 'would-redrive', 'would-fail']),
  eventType: z.string().nullable(),
  schemaVersion: z.number().int().nullable(),
  upcastTo: z.number().int().nullable().meta({
    description: 'The schema version its upcasters bring it to (null: unchanged)',
  }),
  alreadyHandled: z.boolean(),
  error: z.string().nullable(),
});

export const redriveReportSchema = z.strictObject({
  dryRun: z.boolean(),
  letters: z.array(redrivenLetter),
  handled: z.number().int().nonnegative(),
  duplicates: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  busy: z.array(z.strictObject({ consumer: z.string(), topic: z.string(), key: z.string() })),
  stillParked: z.number().int().nonnegative().meta({
    description: 'Letters still parked in what was asked for (behind a failure, past the limit)',
  }),
});

const dryRun = z
  .boolean()
  .default(false)
  .meta({ description: 'Say what would be done, and do nothing' });
const byId = z.strictObject({ id: letterId });
const bodyAnswers = {
  400: BAD_REQUEST,
  413: problem('The body is larger than the limit'),
  415: problem('The body is not application/json'),
  503: UNAVAILABLE,
};

export const listDeadLetters = defineOperation({
  operationId: 'listDeadLetters',
  method: 'get',
  path: '/dead-letters',
  access: { roles: ['operator'] },
  summary: 'The dead letters of this service’s consumers, oldest first (parked ones by default)',
  tags: ['dead letters'],
  query: z.strictObject({
    consumer: identifier.optional(),
    topic: topic.optional(),
    key: key.optional(),
    status: status.default('parked'),
    after: letterId.optional().meta({ description: 'Only letters after this id (the next page)' }),
    limit: queryIntegerOr(1, 500, 100),
  }),
  responses: {
    200: {
      description: 'The letters, without their payloads',
      schema: z.strictObject({ deadLetters: z.array(deadLetterSummarySchema) }),
    },
    400: BAD_REQUEST,
    503: UNAVAILABLE,
  },
});

export const getDeadLetter = defineOperation({
  operationId: 'getDeadLetter',
  method: 'get',
  path: '/dead-letters/{id}',
  access: { roles: ['operator'] },
  summary: 'A dead letter: its message as it arrived, why and where it was parked',
  tags: ['dead letters'],
  params: byId,
  responses: {
    200: { description: 'The letter', schema: deadLetterSchema },
    400: BAD_REQUEST,
    404: problem('No such dead letter'),
    503: UNAVAILABLE,
  },
});

export const redriveDeadLetter = defineOperation({
  operationId: 'redriveDeadLetter',
  method: 'post',
  path: '/dead-letters/{id}/redrive',
  access: { roles: ['operator'] },
  summary: 'Hand one parked letter, the first of its key, to its consumer again',
  tags: ['dead letters'],
  params: byId,
  body: { schema: z.strictObject({ dryRun }), required: true },
  responses: {
    200: { description: 'What was done (or would be)', schema: redriveReportSchema },
    ...bodyAnswers,
    404: problem('No such dead letter'),
    409: problem(
      'NOT_PARKED: it was redriven or discarded already; NOT_SEQUENCE_HEAD: another letter of its key is ahead of it; REDRIVE_IN_PROGRESS: its key is being redriven now',
    ),
  },
});

export const redriveDeadLetters = defineOperation({
  operationId: 'redriveDeadLetters',
  method: 'post',
  path: '/consumers/{consumer}/dead-letters/redrive',
  access: { roles: ['operator'] },
  summary: 'Hand a consumer’s parked letters (of a topic, of a key) to it again, each key in order',
  tags: ['dead letters'],
  params: z.strictObject({ consumer: identifier }),
  body: {
    schema: z.strictObject({
      topic: topic.optional(),
      key: key.optional(),
      dryRun,
      limit: z.number().int().min(1).max(1_000).default(100).meta({
        description: 'At most this many letters (1-1000, default 100)',
      }),
    }),
    required: true,
  },
  responses: {
    200: { description: 'What was done (or would be)', schema: redriveReportSchema },
    ...bodyAnswers,
    404: problem('No consumer of that name in this service'),
  },
});

export const discardDeadLetter = defineOperation({
  operationId: 'discardDeadLetter',
  method: 'post',
  path: '/dead-letters/{id}/discard',
  access: { roles: ['operator'] },
  summary: 'Give up on a parked letter, with a reason: its message will never be handled',
  tags: ['dead letters'],
  params: byId,
  body: { schema: z.strictObject({ reason }), required: true },
  responses: {
    200: { description: 'The letter, discarded', schema: deadLetterSchema },
    ...bodyAnswers,
    404: problem('No such dead letter'),
    409: problem('NOT_PARKED: it was redriven or discarded already'),
  },
});

export const deadLetterOperations = [
  listDeadLetters,
  getDeadLetter,
  redriveDeadLetter,
  redriveDeadLetters,
  discardDeadLetter,
] as const;
