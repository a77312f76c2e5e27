// What every command endpoint answers and how every versioned GET answers: the consistency
// token, the version as ETag, and 404-or-ETag.
import {
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { map, type Observable } from 'rxjs';
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
