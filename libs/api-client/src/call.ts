// One way for a tool acting as a person (the operator's CLI, the web console) to call a service
// and read its answer: a client with their bearer token, each POST with an Idempotency-Key of
// its own (a command sent again after a lost answer is done once), a time limit; and a failed
// call turned into an error that says, in words, what the service said.
import { randomUUID } from 'node:crypto';
import { SERVICES, serviceClient, type ServiceClient, type ServiceName } from './index';

/** Where a service is: ES_<SERVICE>_URL (e.g. ES_PAYMENT_SERVICE_URL), else its `npm start` port. */
export function serviceUrl(
  service: ServiceName,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  return (
    env[`ES_${service.toUpperCase().replace(/-/g, '_')}_URL`] ??
    `http://127.0.0.1:${SERVICES[service].port}`
  );
}

/** The service could not be reached at all (refused, reset, timed out). */
export class ServiceUnreachable extends Error {
  constructor(
    readonly service: ServiceName,
    readonly baseUrl: string,
    cause: unknown,
  ) {
    super(`${service} is not reachable at ${baseUrl}: ${String(cause)}`, { cause });
  }
}

/** The service answered, and not with what was asked for: its status and problem, in words. */
export class ServiceRefusal extends Error {
  constructor(
    readonly service: ServiceName,
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** A client of `service` at `baseUrl` acting with `token` (an access token, without "Bearer"). */
export function clientAs<S extends ServiceName>(
  service: S,
  baseUrl: string,
  token: string,
  timeoutMs = 30_000,
): ServiceClient<S> {
  const api = serviceClient(service, baseUrl, {
    headers: { authorization: `Bearer ${token}` },
    fetch: (request) => fetch(new Request(request, { signal: AbortSignal.timeout(timeoutMs) })),
  });
  api.use({
    onRequest({ request }) {
      if (request.method === 'POST' && !request.headers.has('idempotency-key'))
        request.headers.set('idempotency-key', randomUUID());
      return request;
    },
  });
  return api;
}

type Answer = { data?: unknown; error?: unknown; response: Response };

/** What the call answered; a ServiceRefusal (a 404 too) or ServiceUnreachable otherwise. */
export async function answerOf<R extends Answer>(
  service: ServiceName,
  baseUrl: string,
  pending: Promise<R>,
): Promise<NonNullable<R['data']>> {
  const { data, error, response } = await settled(service, baseUrl, pending);
  if (response.ok && data !== undefined) return data as NonNullable<R['data']>;
  throw refusalOf(service, response.status, error);
}

/** The same, undefined for a 404 (an order without a saga, a payment not made). */
export async function answerOrMissing<R extends Answer>(
  service: ServiceName,
  baseUrl: string,
  pending: Promise<R>,
): Promise<NonNullable<R['data']> | undefined> {
  const { data, error, response } = await settled(service, baseUrl, pending);
  if (response.ok && data !== undefined) return data as NonNullable<R['data']>;
  if (response.status === 404) return undefined;
  throw refusalOf(service, response.status, error);
}

async function settled<R extends Answer>(
  service: ServiceName,
  baseUrl: string,
  pending: Promise<R>,
): Promise<R> {
  try {
    return await pending;
  } catch (error) {
    throw new ServiceUnreachable(service, baseUrl, error);
  }
}

function problemOf(error: unknown): { detail?: string; title?: string; code?: string } {
  const problem = (typeof error === 'object' && error !== null ? error : {}) as Record<
    string,
    unknown
  >;
  const text = (name: string) => {
    const value = problem[name];
    return typeof value === 'string' ? value : undefined;
  };
  const [detail, title, code] = [text('detail'), text('title'), text('code')];
  return {
    ...(detail === undefined ? {} : { detail }),
    ...(title === undefined ? {} : { title }),
    ...(code === undefined ? {} : { code }),
  };
}

/** A service's answer as words: an expired token says so; a refusal gives its code and detail. */
export function refusalOf(service: ServiceName, status: number, error: unknown): ServiceRefusal {
  const { detail, title, code } = problemOf(error);
  const said = detail ?? title;
  if (status === 401)
    return new ServiceRefusal(
      service,
      status,
      code,
      `${service} refused the token (401): it has expired or is not one of this system's; sign in again`,
    );
  if (status === 403)
    return new ServiceRefusal(
      service,
      status,
      code,
      `${service} refused (403): ${said ?? "the token's roles do not allow it"}`,
    );
  return new ServiceRefusal(
    service,
    status,
    code,
    `${service} answered ${status}${code ? ` ${code}` : ''}: ${said ?? 'no such thing here'}`,
  );
}

/** The services whose API serves `path` (e.g. '/dead-letters'). */
export function servicesServing(path: string): ServiceName[] {
  return (Object.keys(SERVICES) as ServiceName[]).filter((s) =>
    (SERVICES[s].paths as readonly string[]).includes(path),
  );
}

/** The services that serve the stream browser (their API has /streams/{type}/{id}). */
export const STREAM_SERVICES = servicesServing('/streams/{type}/{id}');

export interface StreamQuery {
  readonly asOf?: string;
  readonly atVersion?: number;
  readonly raw?: boolean;
}

/**
 * A stream, from the service that writes its type: each service is asked, and the one that
 * knows the type answers (the others say UNKNOWN_STREAM_TYPE). A ServiceRefusal when none
 * writes that type (404 UNKNOWN_STREAM_TYPE), when the stream does not exist (404), or when
 * the one that writes it refuses; ServiceUnreachable when a service cannot be asked.
 */
export async function streamOf(
  baseUrl: (service: ServiceName) => string,
  token: string,
  type: string,
  id: string,
  query: StreamQuery = {},
) {
  const answers = await Promise.all(
    STREAM_SERVICES.map(async (service) => {
      const url = baseUrl(service);
      const pending = clientAs(service as 'order-service', url, token).GET('/streams/{type}/{id}', {
        params: {
          path: { type, id },
          query: {
            ...(query.asOf !== undefined ? { asOf: query.asOf } : {}),
            ...(query.atVersion !== undefined ? { atVersion: query.atVersion } : {}),
            raw: query.raw ? 'true' : 'false',
          },
        },
      });
      try {
        return { service, stream: await answerOf(service, url, pending) };
      } catch (error) {
        if (error instanceof ServiceRefusal && error.code === 'UNKNOWN_STREAM_TYPE')
          return undefined;
        throw error;
      }
    }),
  );
  const found = answers.find((a) => a !== undefined);
  if (!found)
    throw new ServiceRefusal(
      STREAM_SERVICES[0] ?? 'order-service',
      404,
      'UNKNOWN_STREAM_TYPE',
      `no service writes streams of type '${type}'`,
    );
  return found;
}

/**
 * One order as each service knows it (the CLI's `es order`, the console's order page): its
 * events and state in the order service, its order-details document, its sagas (the order's
 * and its cancellation's), its payment, its order summary; each undefined (sagas: left out)
 * where that service has none.
 */
export async function orderAcrossServices(
  baseUrl: (service: ServiceName) => string,
  token: string,
  id: string,
) {
  const api = <S extends ServiceName>(service: S) => clientAs(service, baseUrl(service), token);
  const found = <R extends Answer>(service: ServiceName, pending: Promise<R>) =>
    answerOrMissing(service, baseUrl(service), pending);
  const saga = (type: 'order-saga' | 'order-cancellation') =>
    found(
      'saga-orchestrator',
      api('saga-orchestrator').GET('/sagas/{id}', { params: { path: { id }, query: { type } } }),
    );
  const [events, state, details, placed, cancellation, payment, summary] = await Promise.all([
    found(
      'order-service',
      api('order-service').GET('/orders/{id}/events', { params: { path: { id } } }),
    ),
    found(
      'order-service',
      api('order-service').GET('/orders/{id}/state', { params: { path: { id } } }),
    ),
    found('order-service', api('order-service').GET('/orders/{id}', { params: { path: { id } } })),
    saga('order-saga'),
    saga('order-cancellation'),
    found(
      'payment-service',
      api('payment-service').GET('/payments/{id}', { params: { path: { id } } }),
    ),
    found(
      'projection-service',
      api('projection-service').GET('/order-summaries/{orderId}', {
        params: { path: { orderId: id } },
      }),
    ),
  ]);
  return {
    events: events?.events ?? [],
    state,
    details,
    sagas: [placed, cancellation].filter((s) => s !== undefined),
    payment,
    summary,
  };
}
