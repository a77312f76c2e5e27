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
  encodeConsistencyToken,
} from '@es/event-store';
import { PROBLEM_CONTENT_TYPE } from '@es/http-api';
import { NotYetConsistentError, RebuildInProgressError } from '@es/read-models';
import { InvalidInputError, type FieldProblem } from '@es/schema';

/** What a problem says before it is written: the RFC 9457 members are derived from it. */
export interface ProblemParts {
  readonly status: number;
  /** For programs: VERSION_CONFLICT, ...; absent for a plain HTTP error. */
  readonly code?: string;
  readonly detail: string;
  /** Members of this kind of problem: `fields`, `expectedVersion`, ... */
  readonly extra?: Readonly<Record<string, unknown>>;
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
  if (error instanceof IdempotencyKeyReusedError)
    return {
      status: 422,
      code: 'IDEMPOTENCY_KEY_REUSED',
      detail: `Idempotency-Key ${error.messageId} was first used for a different request`,
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
  const { status, code, detail, extra } = parts;
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

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const request = http.getRequest<Request>();
    const problem = problemOf(error);
    if (problem) {
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
