// What every command request carries into the write side: event metadata (correlation and
// causation ids, traceparent, actor, idempotency key), the inbox entry that makes a retried POST
// return its first answer, and the If-Match version.
import { createHash, randomUUID } from 'node:crypto';
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { decodeConsistencyToken, type ConsistencyToken, type InboxContext } from '@es/event-store';
import { currentTraceparent, type EventMetadata } from '@es/messaging';
import { logContext } from '@es/observability';
import {
  CORRELATION_ID,
  IDEMPOTENCY_KEY,
  IF_MATCH,
  PRINTABLE_TOKEN,
  type Header,
} from '@es/http-api';
import { InvalidInputError, parse, type FieldProblem } from '@es/schema';
import { principalOf } from './auth';
import { ProblemError } from './problem.filter';

export interface CommandRequest {
  readonly metadata: EventMetadata;
  /** Present when the request has an Idempotency-Key. */
  readonly inbox?: InboxContext;
  /** From If-Match: the version the client last saw. */
  readonly expectedVersion?: number;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

function header(request: Request, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A header checked with its published schema; a problem naming it when it is bad. */
function checkedHeader(
  request: Request,
  { name, schema }: Header,
  problems: FieldProblem[],
): string | undefined {
  const value = header(request, name.toLowerCase());
  if (value === undefined) return undefined;
  const parsed = parse(schema, value);
  if (parsed.ok) return parsed.value;
  problems.push(
    ...parsed.problems.map((p) => ({
      field: name,
      problem: `${p.problem}; got ${value.slice(0, 200)}`,
    })),
  );
  return undefined;
}

/** Canonical JSON (sorted keys), so a retry with reordered fields is the same request. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : 1,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return value === undefined ? 'null' : JSON.stringify(value);
}

export function commandRequestOf(request: Request): CommandRequest {
  const problems: FieldProblem[] = [];
  const idempotencyKey = checkedHeader(request, IDEMPOTENCY_KEY, problems);
  const ifMatch = checkedHeader(request, IF_MATCH, problems);
  const correlation = checkedHeader(request, CORRELATION_ID, problems);
  if (problems.length > 0) throw new InvalidInputError(problems, 'request headers');

  const requestId = logContext.getStore()?.causationId ?? randomUUID();
  // The request's server span when tracing is on (a child of the caller's traceparent), so the
  // events it writes continue this trace; else the caller's traceparent as it came.
  const traceparent = currentTraceparent() ?? header(request, 'traceparent');
  // The verified principal (http/auth.ts), never a header the caller wrote.
  const principal = principalOf(request);
  const metadata: EventMetadata = {
    correlationId: correlation ?? logContext.getStore()?.correlationId ?? requestId,
    causationId: requestId,
    ...(traceparent && TRACEPARENT.test(traceparent) ? { traceparent } : {}),
    ...(principal
      ? {
          actor: principal.subject,
          principal: {
            subject: principal.subject,
            ...(principal.client ? { client: principal.client } : {}),
            roles: [...principal.roles],
          },
        }
      : {}),
    ...(idempotencyKey ? { idempotencyKey } : {}),
  };
  const route = (request.route as { path?: string } | undefined)?.path ?? request.path;
  return {
    metadata,
    ...(idempotencyKey
      ? {
          inbox: {
            // Keys are the caller's: two principals' equal keys are two requests.
            consumer: `http:${request.method} ${route}${principal ? ` ${principal.subject}` : ''}`,
            messageId: idempotencyKey,
            fingerprint: createHash('sha256')
              .update(`${request.method} ${request.path}\n${canonical(request.body ?? null)}`)
              .digest('base64url'),
          },
        }
      : {}),
    ...(ifMatch !== undefined ? { expectedVersion: Number(ifMatch.replaceAll('"', '')) } : {}),
  };
}

/** The command request of this HTTP request (headers checked; a bad one is a 400 naming it). */
export const CommandContext = createParamDecorator(
  (_data: unknown, context: ExecutionContext): CommandRequest =>
    commandRequestOf(context.switchToHttp().getRequest<Request>()),
);

/** Which stream a read can wait for: a type, and the route parameter that is its id. */
export interface ConsistencyFor {
  readonly streamType: string;
  /** The route parameter holding the stream's id; without one, any stream of the type. */
  readonly idParam?: string;
}

/**
 * The consistency token a read must wait for (docs/decisions.md, Read models: read-your-writes):
 * the `consistentWith` query parameter; undefined without one.
 */
export function consistencyTokenOf(
  request: Request,
  expected?: ConsistencyFor,
): ConsistencyToken | undefined {
  const text = request.query['consistentWith'];
  const field = 'consistentWith';
  if (typeof text !== 'string') return undefined;
  const token = decodeConsistencyToken(text);
  if (!token)
    throw new InvalidInputError(
      [
        {
          field,
          problem: `must be a token from a command's response, e.g. order/o-1@2; got ${text.slice(0, 200)}`,
        },
      ],
      'request',
    );
  // A token of another stream can never be reached by this read: a client's mistake, said at
  // once rather than after the wait's bound. Another type's token breaks the documented pattern
  // (400); another resource's of the same type matches it and is refused as unprocessable (422).
  const param: unknown =
    expected?.idParam === undefined ? undefined : request.params[expected.idParam];
  const id = typeof param === 'string' ? param : undefined;
  if (expected && token.stream.type !== expected.streamType)
    throw new InvalidInputError(
      [
        {
          field,
          problem: `must be a token of a ${expected.streamType}; got ${text.slice(0, 200)}`,
        },
      ],
      'request',
    );
  if (expected && id !== undefined && token.stream.id !== id)
    throw new ProblemError({
      status: 422,
      code: 'TOKEN_OF_ANOTHER_STREAM',
      detail: `${field} is a token of ${token.stream.type}/${token.stream.id}; this read waits only for ${expected.streamType}/${id}`,
      extra: {
        fields: [{ field, problem: `is a token of ${token.stream.type}/${token.stream.id}` }],
      },
    });
  return token;
}

/** The read's consistency token; given `expected`, a token of another stream is refused. */
export const ConsistentWith = createParamDecorator(
  (expected: ConsistencyFor | undefined, context: ExecutionContext): ConsistencyToken | undefined =>
    consistencyTokenOf(context.switchToHttp().getRequest<Request>(), expected),
);

/**
 * Express middleware: the rest of the request runs in a log context with its correlation id
 * (X-Correlation-Id when it is a valid one, else the request's own id) and its request id as
 * causation: every log line carries them, and the command's event metadata uses the same.
 */
export function correlated(request: Request, _response: unknown, next: () => void): void {
  // Probes and scrapes carry no one's correlation, and what they start (a Kafka admin's
  // reconnects) outlives them: they run outside any log context.
  if (/^\/(health|metrics)(\/|$)/.test(request.path)) {
    next();
    return;
  }
  const requestId = randomUUID();
  const given = header(request, 'x-correlation-id');
  logContext.run(
    {
      correlationId: given !== undefined && PRINTABLE_TOKEN.test(given) ? given : requestId,
      causationId: requestId,
    },
    next,
  );
}
