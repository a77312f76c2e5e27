// What every command endpoint answers and documents, and how every versioned GET answers: one
// place for the consistency token, the command headers in OpenAPI, and 404-or-ETag.
import {
  HttpCode,
  Injectable,
  applyDecorators,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { map, type Observable } from 'rxjs';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiHeader,
  ApiQuery,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { encodeConsistencyToken } from '@es/event-store';
import { NotFound } from './problem.filter';

export interface Accepted {
  /** The stream's version after the command. */
  readonly version: number;
  /** Read-your-writes: give it to a query to wait until the read side has this version. */
  readonly token: string;
}

export function accepted(streamType: string, streamId: string, version: number): Accepted {
  return {
    version,
    token: encodeConsistencyToken({ stream: { type: streamType, id: streamId }, version }),
  };
}

/** A 202 command endpoint's shared OpenAPI: Idempotency-Key, optionally If-Match, 400 and 422. */
export function ApiCommand({ ifMatch }: { readonly ifMatch: boolean }): MethodDecorator {
  return applyDecorators(
    HttpCode(202),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description: 'A retried POST with the same key returns the first answer and writes nothing',
    }),
    ...(ifMatch
      ? [
          ApiHeader({
            name: 'If-Match',
            required: false,
            description: 'The version last read: 409 if it moved on',
          }),
          ApiConflictResponse({ description: 'Refused in its state, or If-Match is stale' }),
        ]
      : []),
    ApiBadRequestResponse({ description: 'Each bad field named in `fields`' }),
    ApiUnprocessableEntityResponse({ description: 'Idempotency-Key reused for another request' }),
  );
}

/** A GET served from a read model: the consistency token it may be given, and its 409. */
export function ApiConsistentRead(): MethodDecorator {
  return applyDecorators(
    ApiQuery({
      name: 'consistentWith',
      required: false,
      description:
        "A command's token (e.g. order/o-1@2): wait until the read model reflects it (bounded, 2 s by default)",
    }),
    ApiHeader({
      name: 'X-Consistency-Token',
      required: false,
      description: 'Same as consistentWith',
    }),
    ApiConflictResponse({
      description: 'NOT_YET_CONSISTENT: the read model has not reached the token yet',
    }),
  );
}

/**
 * A command's answer carries the written resource's version as its ETag (what a later If-Match
 * sends back), not a hash of the answer's bytes.
 */
@Injectable()
export class AcceptedETag implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<{ method: string }>();
    const response = http.getResponse<Response>();
    return next.handle().pipe(
      map((body: unknown) => {
        const version = (body as { version?: unknown } | null)?.version;
        if (request.method === 'POST' && typeof version === 'number')
          response.setHeader('ETag', `"${version}"`);
        return body;
      }),
    );
  }
}

/** The view with its version as ETag, or 404 when there is none. */
export function foundWithETag<View extends { readonly version: number }>(
  view: View | undefined,
  response: Response,
  what: string,
  id: string,
): View {
  if (!view) throw new NotFound(what, id);
  response.setHeader('ETag', `"${view.version}"`);
  return view;
}
