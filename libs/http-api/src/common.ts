// What many operations share: the command headers (Idempotency-Key, If-Match, X-Correlation-Id),
// the read side's consistency token, ETags, the 202 answer of a command, and problems: every
// error is an RFC 9457 `application/problem+json` body, a bad request listing each bad field.
import { consistencyTokenPattern, z } from '@es/schema';
import type { Answer, Header } from './operation';

/** Printable ASCII without spaces, 1-200 characters: keys and correlation ids. */
export const PRINTABLE_TOKEN = /^[\x21-\x7e]{1,200}$/;

const printableToken = () =>
  z.string().regex(PRINTABLE_TOKEN, { error: 'must be 1-200 printable characters without spaces' });

/** A consistency token's text, e.g. `order/o-1@2`; given a stream type, only that type's. */
export function consistencyTokenText(streamType?: string) {
  const pattern = consistencyTokenPattern(streamType);
  return z
    .string()
    .regex(pattern, {
      error: `must be a token from a command's response, e.g. ${streamType ?? 'order'}/o-1@2`,
    })
    .meta({ example: `${streamType ?? 'order'}/o-1@2` });
}

/** A resource version as an entity tag: `"3"`. */
export const versionTag = z
  .string()
  .regex(/^"[1-9][0-9]{0,9}"$/)
  .meta({ example: '"3"' });

export const IDEMPOTENCY_KEY: Header = {
  name: 'Idempotency-Key',
  schema: printableToken(),
  description:
    'A retried POST with the same key returns the first answer and writes nothing; the same key with another request is a 422',
};

/**
 * The key required: a command that moves money or stock (an order placed or cancelled, a
 * deposit, a restock) must be safe to retry after a lost answer, so it is a 400 without one.
 */
export const REQUIRED_IDEMPOTENCY_KEY: Header = {
  ...IDEMPOTENCY_KEY,
  required: true,
  description: `Required: this command moves money or stock, and a retry after a lost answer must not do it twice. ${IDEMPOTENCY_KEY.description}; a key is remembered for 24 hours (IDEMPOTENCY_KEY_RETENTION_HOURS)`,
};

export const IF_MATCH: Header = {
  name: 'If-Match',
  schema: z
    .string()
    .refine((value) => !/^\s*W\//i.test(value), {
      error: 'a weak tag never matches If-Match (RFC 9110): send the strong one, e.g. "3"',
      abort: true,
    })
    .regex(/^(?:"[0-9]{1,9}"|[0-9]{1,9})$/, {
      error: 'must be the resource\'s version, e.g. "3"',
    })
    .meta({ example: '"3"' }),
  description:
    'The version last read (its ETag): the command is refused with 409 VERSION_CONFLICT if the resource moved on',
};

export const CORRELATION_ID: Header = {
  name: 'X-Correlation-Id',
  schema: printableToken(),
  description: 'Carried by every event the command writes and every message it causes',
};

export const ETAG: Header = {
  name: 'ETag',
  schema: versionTag,
  description: "The resource's version, for a later If-Match",
  required: true,
};

const fieldProblem = z.strictObject({
  field: z.string().meta({ description: 'As a client writes it: items[1].quantity, If-Match' }),
  problem: z.string(),
});

/** RFC 9457 problem details, with this system's members: `code`, and `fields` on a 400. */
export const problemSchema = z.looseObject({
  type: z.string().meta({ description: 'about:blank, or urn:es:problem:<code>' }),
  title: z.string(),
  status: z.number().int().min(400).max(599),
  detail: z.string(),
  instance: z.string().meta({ description: 'The request path' }).optional(),
  code: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]*$/)
    .meta({ description: 'What went wrong, for programs: VERSION_CONFLICT, ...' })
    .optional(),
  fields: z.array(fieldProblem).optional(),
});

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function problem(description: string): Answer {
  return { description, schema: problemSchema, contentType: PROBLEM_CONTENT_TYPE };
}

/**
 * An integer query parameter: digits only (no `0x10`, `1e3` or ` 5`, which Number() would take),
 * then its bounds; documented as an integer with them, and with its default when it has one.
 */
export function queryInteger(min: number, max: number) {
  return z.preprocess(
    (value) => (typeof value === 'string' && /^-?[0-9]{1,16}$/.test(value) ? Number(value) : value),
    z
      .number({ error: 'must be a whole number' })
      .int({ error: 'must be a whole number' })
      .min(min, { error: `must be at least ${min}` })
      .max(max, { error: `must be at most ${max}` }),
  );
}

/** The same, taking `fallback` when absent. */
export function queryIntegerOr(min: number, max: number, fallback: number) {
  return queryInteger(min, max)
    .default(fallback)
    .meta({ description: `${min}-${max}, default ${fallback}` });
}

/** A request an engine (PostgreSQL, MongoDB) could not serve, or the service had no room for: retry after the delay given. */
export const UNAVAILABLE: Answer = {
  ...problem(
    'ENGINE_UNAVAILABLE: a storage engine it needs is unavailable; OVERLOADED: the service holds as many waiting writes as it queues; retry after Retry-After seconds (with the same Idempotency-Key, for a command)',
  ),
  headers: [
    {
      name: 'Retry-After',
      schema: z.string().regex(/^[0-9]+$/),
      description: 'Seconds to wait before retrying',
      required: true,
    },
  ],
};

/** The answers every operation taking input can give when the input is bad. */
export const BAD_REQUEST = problem('A bad parameter, header or body field; `fields` names each');

/** A 202 command answer: the ids the command names, the stream's new version and its token. */
export function acceptedSchema<Ids extends z.core.$ZodLooseShape>(ids: Ids) {
  return z.strictObject({
    ...ids,
    version: z.number().int().positive().meta({ description: "The stream's version after it" }),
    token: consistencyTokenText().meta({
      description: 'Give it to a query (consistentWith) to read this write',
    }),
  });
}

/** The headers and answers of a command: 202 with an ETag, and each way it is refused. */
export function commandExchange({
  ifMatch,
  accepted,
  refusals,
  notFound,
  body,
  rules,
  idempotencyKey = 'optional',
}: {
  readonly ifMatch: boolean;
  /** `required` for a command that moves money or stock (REQUIRED_IDEMPOTENCY_KEY). */
  readonly idempotencyKey?: 'required' | 'optional';
  readonly accepted: Answer;
  /** What a 409 means for this command (state refusals, a stale If-Match). */
  readonly refusals: string;
  readonly notFound?: string;
  readonly body: boolean;
  /** The body's rules beyond its schema, each a 422 (RequestBody.rules). */
  readonly rules?: string;
}): { headers: readonly Header[]; responses: Record<number, Answer> } {
  const responses: Record<number, Answer> = {
    202: { ...accepted, headers: [ETAG] },
    400: BAD_REQUEST,
    409: problem(refusals),
    422: problem(
      `IDEMPOTENCY_KEY_REUSED: the key was first used for another request${rules ? `; or ${rules}` : ''}`,
    ),
    503: UNAVAILABLE,
  };
  if (notFound) responses[404] = problem(notFound);
  if (body) {
    responses[413] = problem('The body is larger than the limit');
    responses[415] = problem('The body is not application/json');
  }
  return {
    headers: [
      idempotencyKey === 'required' ? REQUIRED_IDEMPOTENCY_KEY : IDEMPOTENCY_KEY,
      CORRELATION_ID,
      ...(ifMatch ? [IF_MATCH] : []),
    ],
    responses,
  };
}

/**
 * A read served from a read model, which may be asked to wait for a command's token (of one
 * stream type, any without one). Only as a query parameter: the token is part of what is asked
 * for, so it belongs in the URL (a cache keys on it; a header would need Vary), and one way to
 * give it leaves nothing to decide when two disagree.
 */
export function consistentRead(streamType?: string) {
  return {
    consistentWith: consistencyTokenText(streamType)
      .meta({
        description:
          "A command's token: wait until the read model reflects it (bounded, 2 s by default)",
      })
      .optional(),
  };
}

/** A GET of one resource: found (with its ETag when `etag`), a bad id, unknown, or unavailable. */
export function readAnswers(
  found: Answer,
  notFound: string,
  { etag = false }: { readonly etag?: boolean } = {},
): Record<number, Answer> {
  return {
    200: etag ? { ...found, headers: [ETAG] } : found,
    400: BAD_REQUEST,
    404: problem(notFound),
    503: UNAVAILABLE,
  };
}

/** The same, served from a read model that may be asked to wait for a command's token. */
export function consistentReadAnswers(found: Answer, notFound: string): Record<number, Answer> {
  return {
    ...readAnswers(found, notFound, { etag: true }),
    409: problem('NOT_YET_CONSISTENT: the read model has not reached the token yet; retry'),
    422: problem("TOKEN_OF_ANOTHER_STREAM: the token is another resource's, never reached here"),
  };
}
