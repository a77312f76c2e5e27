// Every error becomes an RFC 9457 problem (`application/problem+json`) that says what went
// wrong, with the status a client can act on: 400 names each bad field, 404 an unknown id, 409
// a refused command or a version conflict, 422 a rule the request breaks or an idempotency key
// reused for another request. A 500 is only ever the service's fault, and is logged with its
// stack.
import {
  Catch,
  HttpException,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { Request, Response } from 'express';
import { DomainError } from '@es/decider';
import {
  CommandsRefusedError,
  ConcurrencyError,
  IdempotencyKeyReusedError,
  OverloadedError,
  encodeConsistencyToken,
} from '@es/event-store';
import { PROBLEM_CONTENT_TYPE } from '@es/http-api';
import {
  NotYetConsistentError,
  RebuildInProgressError,
  TopicTruncatedError,
} from '@es/read-models';
import { InvalidInputError, type FieldProblem } from '@es/schema';

/** What a problem says before it is written: the RFC 9457 members are derived from it. */
export interface ProblemParts {
  readonly status: number;
  /** For programs: VERSION_CONFLICT, ...; absent for a plain HTTP error. */
  readonly code?: string;
  readonly detail: string;
  /** Members of this kind of problem: `fields`, `expectedVersion`, ... */
  readonly extra?: Readonly<Record<string, unknown>>;
  /** Response headers that go with it: `Retry-After` on a 503. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** An error that is its own answer: a 404 for an unknown id, a 404 ORDER_NOT_YET_PLACED, ... */
export class ProblemError extends Error {
  constructor(readonly parts: ProblemParts) {
    super(parts.detail);
    this.name = 'ProblemError';
  }
}

/** 404 for an id nobody has written to. */
export class NotFound extends ProblemError {
  constructor(what: string, id: string) {
    super({ status: 404, detail: `${what} ${id} not found` });
  }
}

export class UnprocessableInput extends ProblemError {
  constructor(problems: readonly FieldProblem[]) {
    super({
      status: 422,
      code: 'RULE_BROKEN',
      detail: `unprocessable request: ${problems.map((p) => `${p.field}: ${p.problem}`).join('; ')}`,
      extra: { fields: problems },
    });
  }
}

const domainStatus = (code: string) => (code.endsWith('_NOT_FOUND') ? 404 : 409);

/** How long a client should wait before retrying a request an engine could not serve. */
export const RETRY_AFTER_SECONDS = 1;

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
]);
/** SQLSTATEs of a server going away or refusing connections (classes 08 and 57P, and 53300). */
const PG_UNAVAILABLE = /^(08...|57P0[1-3]|53300)$/;
// 'Query read timeout': node-pg's query_timeout (PG_QUERY_TIMEOUT_MS), a server that stopped
// answering; the pool then discards that connection.
const PG_LOST =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout)/;
const MONGO_UNAVAILABLE = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoPoolClearedError',
  'MongoNotConnectedError',
]);

/**
 * An engine the request needs (PostgreSQL, MongoDB) cannot be reached or is going away: not the
 * client's fault and not a bug, a 503 to retry. A command it cut short may or may not have been
 * written: retried with its Idempotency-Key, it answers the first outcome and writes nothing
 * twice.
 */
export function isEngineUnavailable(error: unknown): boolean {
  // Not `instanceof Error`: Node's socket errors come from its own realm, which under a VM
  // context (Jest's) is not this module's.
  if (typeof error !== 'object' || error === null) return false;
  const { code, name, message } = error as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNREACHABLE.has(code) || PG_UNAVAILABLE.test(code))) return true;
  if (typeof name === 'string' && MONGO_UNAVAILABLE.has(name)) return true;
  if (typeof message === 'string' && PG_LOST.test(message)) return true;
  // An error that wraps the one that counts (an AggregateError of every address tried, a cause).
  const inner = (error as { errors?: unknown; cause?: unknown }).errors ?? [];
  return (
    (Array.isArray(inner) && inner.some(isEngineUnavailable)) ||
    isEngineUnavailable((error as { cause?: unknown }).cause)
  );
}

/** The problem for an error, or undefined when it is not one a client caused. */
export function problemOf(error: unknown): ProblemParts | undefined {
  if (error instanceof ProblemError) return error.parts;
  if (error instanceof InvalidInputError)
    return { status: 400, detail: error.message, extra: { fields: error.problems } };
  if (error instanceof DomainError)
    return {
      status: domainStatus(error.code),
      code: error.code,
      detail: error.message,
      extra: { details: error.details },
    };
  if (error instanceof CommandsRefusedError)
    return {
      status: 409,
      code: 'COMMAND_REFUSED',
      detail: error.message,
      extra: {
        refusals: error.refusals.map((r) => ({
          stream: r.stream,
          code: r.error.code,
          message: r.error.message,
          details: (r.error as Partial<DomainError>).details ?? {},
        })),
      },
    };
  if (error instanceof ConcurrencyError)
    return {
      status: 409,
      code: 'VERSION_CONFLICT',
      detail: error.message,
      extra: { expectedVersion: error.expected, actualVersion: error.actual },
    };
  if (error instanceof NotYetConsistentError)
    return {
      status: 409,
      code: 'NOT_YET_CONSISTENT',
      detail: `${error.message}; retry the read`,
      extra: { token: encodeConsistencyToken(error.token), seenVersion: error.seenVersion },
    };
  if (error instanceof RebuildInProgressError)
    return {
      status: 409,
      code: 'REBUILD_IN_PROGRESS',
      detail: error.message,
      extra: { generation: error.generation },
    };
  if (error instanceof TopicTruncatedError)
    return {
      status: 409,
      code: 'TOPIC_TRUNCATED',
      detail: error.message,
      extra: {
        partitions: error.partitions.map((p) => ({
          topic: p.topic,
          partition: p.partition,
          firstOffset: p.low,
        })),
      },
    };
  if (error instanceof IdempotencyKeyReusedError)
    return {
      status: 422,
      code: 'IDEMPOTENCY_KEY_REUSED',
      detail: `Idempotency-Key ${error.messageId} was first used for a different request`,
    };
  if (error instanceof OverloadedError)
    return {
      status: 503,
      code: 'OVERLOADED',
      detail: `${error.message}: nothing was written; retry shortly (a command with the same Idempotency-Key writes nothing twice)`,
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    };
  if (isEngineUnavailable(error))
    return {
      status: 503,
      code: 'ENGINE_UNAVAILABLE',
      detail:
        'a storage engine this request needs is unavailable; retry shortly (a command with the same Idempotency-Key writes nothing twice)',
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    };
  if (error instanceof HttpException) {
    const body = error.getResponse();
    const message = typeof body === 'string' ? body : (body as { message?: unknown }).message;
    return {
      status: error.getStatus(),
      detail: typeof message === 'string' ? message : error.message,
    };
  }
  // The body reader's own errors (413 too large, 415 not JSON) carry their status and are safe
  // to show.
  const http = error as { status?: unknown; expose?: unknown; message?: unknown };
  if (
    http.expose === true &&
    typeof http.status === 'number' &&
    http.status >= 400 &&
    http.status < 500
  )
    return {
      status: http.status,
      detail: typeof http.message === 'string' ? http.message : 'bad request',
    };
  return undefined;
}

/** Writes a problem as RFC 9457 `application/problem+json`. */
export function sendProblem(response: Response, request: Request, parts: ProblemParts): void {
  const { status, code, detail, extra, headers } = parts;
  for (const [name, value] of Object.entries(headers ?? {})) response.setHeader(name, value);
  response
    .status(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(
      JSON.stringify({
        type: code ? `urn:es:problem:${code}` : 'about:blank',
        title: STATUS_CODES[status] ?? 'Error',
        status,
        detail,
        instance: request.path,
        ...(code ? { code } : {}),
        ...extra,
      }),
    );
}

const describe = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const request = http.getRequest<Request>();
    const problem = problemOf(error);
    if (problem) {
      if (problem.status === 503)
        this.logger.warn(`${request.method} ${request.path}: ${describe(error)}`);
      sendProblem(response, request, problem);
      return;
    }
    this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    sendProblem(response, request, {
      status: 500,
      detail: 'the service failed to handle the request; it is logged',
    });
  }
}
