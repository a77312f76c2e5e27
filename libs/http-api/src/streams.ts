// The stream browser every service with an event store serves (docs/api.md, Streams): one of its
// streams' events with their metadata, upcast to their current schema versions (or as stored),
// and the aggregate's state folded from them, now, at a version or as of an instant. For
// operators: what the operator's CLI (`es stream`) and web console show.
import { identifier, isoInstant, z } from '@es/schema';
import { queryInteger, readAnswers } from './common';
import { defineOperation } from './operation';

/** An event as the store recorded it, with its metadata (the audit trail's entries too). */
export const recordedEventSchema = z.strictObject({
  eventId: z.string(),
  type: z.string(),
  schemaVersion: z.number().int().positive(),
  streamVersion: z.number().int().positive(),
  globalPosition: z
    .string()
    .regex(/^[0-9]+$/)
    .meta({ description: 'A 64-bit integer, as text' }),
  recordedAt: isoInstant,
  data: z.unknown(),
  metadata: z.looseObject({ correlationId: z.string(), causationId: z.string() }),
});

export const streamSchema = z.strictObject({
  streamType: z.string(),
  streamId: z.string(),
  version: z
    .number()
    .int()
    .nonnegative()
    .meta({ description: 'The last version shown (0: none yet then)' }),
  raw: z.boolean(),
  events: z.array(recordedEventSchema),
  state: z.unknown().meta({
    description: "The aggregate's state folded from the events up to there (upcast, opened)",
  }),
});

export const getStream = defineOperation({
  operationId: 'getStream',
  method: 'get',
  path: '/streams/{type}/{id}',
  access: { roles: ['operator'] },
  summary: "A stream's events with their metadata, and its state folded from them",
  description:
    'asOf: the events recorded up to that instant; atVersion: up to that version; both: up to the earlier; raw=true: the events as stored (their schema version, personal fields sealed), not upcast. The state is always folded from the upcast events.',
  tags: ['streams'],
  params: z.strictObject({
    type: identifier.meta({
      description: "One of the stream types this service writes (e.g. 'order')",
    }),
    id: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[\x21-\x7e]+$/, { error: 'must be 1-200 printable characters without spaces' }),
  }),
  query: z.strictObject({
    asOf: isoInstant.meta({ description: 'An ISO-8601 instant' }).optional(),
    atVersion: queryInteger(1, 2_147_483_647).meta({ description: 'A version' }).optional(),
    raw: z
      .enum(['true', 'false'], { error: "must be 'true' or 'false'" })
      .default('false')
      .meta({ description: 'true: the events as stored, not upcast' }),
  }),
  responses: readAnswers(
    { description: 'The stream up to there', schema: streamSchema },
    'No stream of that type and id; or UNKNOWN_STREAM_TYPE: this service writes no stream of that type',
  ),
});

export const streamOperations = [getStream] as const;
