// Strict input at the HTTP edge, before any controller: a body is JSON or nothing (415 for any
// other media type, so a form-encoded body is never half-understood), a JSON object never names
// a key twice (JSON.parse keeps the last one silently: `"customerId":"a","customerId":"b"`
// would act for b), and a query parameter is given once, as a plain value (a repeated one
// would skip the validation of the single value it is read as). Each refusal names the field
// or header and writes nothing.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { InvalidInputError, type FieldProblem } from '@es/schema';
import { sendProblem } from './problem.filter';

/** The path of the first key that an object of this JSON text names twice; undefined if none. */
export function duplicateKey(text: string): string | undefined {
  type Frame =
    | { readonly kind: 'object'; readonly path: string; readonly keys: Set<string>; key?: string }
    | { readonly kind: 'array'; readonly path: string; index: number };
  const stack: Frame[] = [];
  const pathOf = (frame: Frame | undefined): string => {
    if (!frame) return '';
    if (frame.kind === 'array') return `${frame.path}[${frame.index}]`;
    return frame.path ? `${frame.path}.${frame.key ?? ''}` : (frame.key ?? '');
  };
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      // A string: the JSON is valid (parsed before), so it ends at the next unescaped quote.
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack.at(-1);
      if (expectKey && top?.kind === 'object') {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) {
          top.key = key;
          return pathOf(top);
        }
        top.keys.add(key);
        top.key = key;
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      const path = pathOf(stack.at(-1));
      stack.push(
        c === '{' ? { kind: 'object', path, keys: new Set() } : { kind: 'array', path, index: 0 },
      );
      expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      const top = stack.at(-1);
      if (top?.kind === 'array') top.index++;
      else expectKey = true;
    }
  }
  return undefined;
}

/** An error body-parser style: the problem filter shows its status and message. */
function httpError(status: number, type: string, message: string): Error {
  return Object.assign(new Error(message), { status, expose: true, type });
}

const hasBody = (request: Request) =>
  request.headers['transfer-encoding'] !== undefined ||
  (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0');

/**
 * Reads a request's JSON body (at most `limitBytes`) strictly. A POST must have one (`{}` for a
 * command without fields): a body-less POST is a request a browser sends cross-origin without
 * asking first (a "simple" request), an application/json one it never does (docs/security.md).
 * Any other request without a body passes.
 */
export function strictJsonBody({ limitBytes = 100_000 } = {}): RequestHandler {
  return (request: Request, _response: Response, next: NextFunction) => {
    if (!hasBody(request)) {
      if (request.method === 'POST')
        next(
          httpError(
            415,
            'entity.unsupported.media.type',
            'Content-Type: a POST takes an application/json body ({} for a command without fields)',
          ),
        );
      else next();
      return;
    }
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (type !== 'application/json') {
      // Drained, so that the answer is read and the connection can be reused.
      request.resume();
      next(
        httpError(
          415,
          'entity.unsupported.media.type',
          `Content-Type: a body must be application/json, got ${type || 'none'}`,
        ),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes && !failed) {
        failed = true;
        request.resume();
        next(httpError(413, 'entity.too.large', `(body) is larger than ${limitBytes} bytes`));
        return;
      }
      if (!failed) chunks.push(chunk);
    });
    request.on('error', (error) => {
      if (!failed) {
        failed = true;
        next(error);
      }
    });
    request.on('end', () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        next(new InvalidInputError([{ field: '(body)', problem: 'is not valid JSON' }], 'body'));
        return;
      }
      const twice = duplicateKey(text);
      if (twice !== undefined) {
        next(new InvalidInputError([{ field: twice, problem: 'is given more than once' }], 'body'));
        return;
      }
      (request as { body?: unknown }).body = body;
      next();
    });
  };
}

/** Every query parameter given once, as a plain value (all of this API's are single-valued). */
export function strictQuery(): RequestHandler {
  return (request: Request, _response: Response, next: NextFunction) => {
    const problems: FieldProblem[] = [];
    for (const [name, value] of Object.entries(request.query))
      if (typeof value !== 'string')
        problems.push({ field: name, problem: 'must be given once, as a plain value' });
    next(problems.length > 0 ? new InvalidInputError(problems, 'query') : undefined);
  };
}

/** The request headers a browser may send cross-origin (the API's own). */
const CORS_HEADERS =
  'authorization, content-type, idempotency-key, if-match, x-correlation-id, traceparent';
/** The response headers a browser's script may read. */
const CORS_EXPOSED = 'etag, retry-after, www-authenticate';

/**
 * Cross-origin requests (docs/security.md, Browsers): a page of an allowed origin
 * (ALLOWED_ORIGINS) is answered with Access-Control-Allow-Origin, its preflight with the
 * methods and headers the API takes; another origin's preflight is refused (403) and its
 * requests carry no CORS header, so its page can read nothing. A request without an Origin
 * (curl, a service) is not a browser's: untouched.
 */
export function crossOrigin(allowed: readonly string[]): RequestHandler {
  const origins = new Set(allowed);
  return (request: Request, response: Response, next: NextFunction) => {
    const origin = request.headers.origin;
    if (origin === undefined) {
      next();
      return;
    }
    response.vary('Origin');
    const preflight =
      request.method === 'OPTIONS' &&
      request.headers['access-control-request-method'] !== undefined;
    if (!origins.has(origin)) {
      if (preflight)
        sendProblem(response, request, {
          status: 403,
          code: 'ORIGIN_NOT_ALLOWED',
          detail: `${origin} is not an allowed origin (ALLOWED_ORIGINS)`,
        });
      else next();
      return;
    }
    response.setHeader('Access-Control-Allow-Origin', origin);
    response.setHeader('Access-Control-Expose-Headers', CORS_EXPOSED);
    if (!preflight) {
      next();
      return;
    }
    response.setHeader('Access-Control-Allow-Methods', 'GET, POST');
    response.setHeader('Access-Control-Allow-Headers', CORS_HEADERS);
    response.setHeader('Access-Control-Max-Age', '600');
    response.status(204).end();
  };
}
