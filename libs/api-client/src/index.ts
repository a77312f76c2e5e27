// A typed client of the system's HTTP API: openapi-fetch over the types openapi-typescript
// generates from the system's OpenAPI document (tools/openapi/generate.mts; checked in
// `npm test`, so it cannot drift from the operations). Each service's client knows only the
// paths that service serves: `client.GET('/orders/{id}', { params: { path: { id } } })` is
// typed from the path to the body of each status.
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { paths } from './schema';
import { SERVICES } from './services';

export type { components, operations, paths } from './schema';
export { SERVICES } from './services';

export type ServiceName = keyof typeof SERVICES;
export type PathsOf<S extends ServiceName> = Pick<paths, (typeof SERVICES)[S]['paths'][number]>;
export type ServiceClient<S extends ServiceName> = Client<PathsOf<S>>;

/** A client of one service, at its `npm start` address unless given another. */
export function serviceClient<S extends ServiceName>(
  service: S,
  baseUrl = `http://127.0.0.1:${SERVICES[service].port}`,
  options: Omit<ClientOptions, 'baseUrl'> = {},
): ServiceClient<S> {
  return createClient<PathsOf<S>>({ ...options, baseUrl });
}

export {
  ServiceRefusal,
  ServiceUnreachable,
  answerOf,
  answerOrMissing,
  clientAs,
  refusalOf,
  serviceUrl,
  servicesServing,
  orderAcrossServices,
  streamOf,
  STREAM_SERVICES,
  type StreamQuery,
} from './call';
