// Every error becomes a JSON answer that says what went wrong, with the status a client can act
// on: 400 names each bad field, 404 an unknown id, 409 a refused command or a version conflict,
// 422 an idempotency key reused for another request. A 500 is only ever the service's fault,
// and is logged with its stack.
import {
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { Response } from 'express';
import { DomainError } from '@es/decider';
import {
  CommandsRefusedError,
  ConcurrencyError,
  IdempotencyKeyReusedError,
  encodeConsistencyToken,
} from '@es/event-store';
import { NotYetConsistentError, RebuildInProgressError } from '@es/read-models';
import { InvalidInputError } from '@es/schema';

export interface Problem {
  readonly statusCode: number;
  readonly error: string;
  readonly message: string;
  readonly [extra: string]: unknown;
}

const domainStatus = (code: string) =>
  code.endsWith('_NOT_FOUND') ? HttpStatus.NOT_FOUND : HttpStatus.CONFLICT;

/** The answer for an error, or undefined when it is not one a client caused. */
export function problemOf(error: unknown): Problem | undefined {
  if (error instanceof InvalidInputError)
    return {
      statusCode: 400,
      error: 'Bad Request',
      message: error.message,
      fields: error.problems,
    };
  if (error instanceof DomainError) {
    const statusCode = domainStatus(error.code);
    return {
      statusCode,
      error: statusCode === HttpStatus.NOT_FOUND ? 'Not Found' : 'Conflict',
      code: error.code,
      message: error.message,
      details: error.details,
    };
  }
  if (error instanceof CommandsRefusedError)
    return {
      statusCode: 409,
      error: 'Conflict',
      code: 'COMMAND_REFUSED',
      message: error.message,
      refusals: error.refusals.map((r) => ({
        stream: r.stream,
        code: r.error.code,
        message: r.error.message,
        details: (r.error as Partial<DomainError>).details ?? {},
      })),
    };
  if (error instanceof ConcurrencyError)
    return {
      statusCode: 409,
      error: 'Conflict',
      code: 'VERSION_CONFLICT',
      message: error.message,
      expectedVersion: error.expected,
      actualVersion: error.actual,
    };
  if (error instanceof NotYetConsistentError)
    return {
      statusCode: 409,
      error: 'Conflict',
      code: 'NOT_YET_CONSISTENT',
      message: `${error.message}; retry the read`,
      token: encodeConsistencyToken(error.token),
      seenVersion: error.seenVersion,
    };
  if (error instanceof RebuildInProgressError)
    return {
      statusCode: 409,
      error: 'Conflict',
      code: 'REBUILD_IN_PROGRESS',
      message: error.message,
      generation: error.generation,
    };
  if (error instanceof IdempotencyKeyReusedError)
    return {
      statusCode: 422,
      error: 'Unprocessable Entity',
      code: 'IDEMPOTENCY_KEY_REUSED',
      message: `Idempotency-Key ${error.messageId} was first used for a different request`,
    };
  // body-parser's own errors (413 too large, 415 unsupported encoding, 400 bad charset) carry
  // their status and are safe to show.
  const http = error as { status?: unknown; expose?: unknown; message?: unknown; type?: unknown };
  if (
    http.expose === true &&
    typeof http.status === 'number' &&
    http.status >= 400 &&
    http.status < 500
  )
    return {
      statusCode: http.status,
      error: STATUS_CODES[http.status] ?? 'Bad Request',
      code: typeof http.type === 'string' ? http.type : 'bad.request',
      message: typeof http.message === 'string' ? http.message : 'bad request',
    };
  return undefined;
}

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    if (error instanceof HttpException) {
      const body = error.getResponse();
      response
        .status(error.getStatus())
        .json(typeof body === 'string' ? { statusCode: error.getStatus(), message: body } : body);
      return;
    }
    const problem = problemOf(error);
    if (problem) {
      response.status(problem.statusCode).json(problem);
      return;
    }
    this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    response.status(500).json({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'the service failed to handle the request; it is logged',
    });
  }
}

/** 404 for an id nobody has written to. */
export class NotFound extends HttpException {
  constructor(what: string, id: string) {
    super(
      { statusCode: 404, error: 'Not Found', message: `${what} ${id} not found` },
      HttpStatus.NOT_FOUND,
    );
  }
}
