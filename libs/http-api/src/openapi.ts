// OpenAPI 3.1 documents generated from the operations' own schemas: one per service (served at
// /docs/openapi.json) and one for the whole system, where each path names the service that
// serves it. JSON Schema 2020-12 is OpenAPI 3.1's dialect, which zod writes directly.
import { z } from '@es/schema';
import { PROBLEM_CONTENT_TYPE, problem, problemSchema } from './common';
import {
  describeAccess,
  type AnyOperation,
  type Answer,
  type Header,
  type ParameterObject,
  type ServiceApi,
} from './operation';

export const OPENAPI_VERSION = '3.1.1';
/** The version every document states: the system's, as in the root package.json. */
export const API_VERSION = '0.1.0';

type Json = Record<string, unknown>;

export interface OpenApiDocument {
  readonly openapi: string;
  readonly info: Json;
  readonly servers?: readonly Json[];
  readonly tags: readonly Json[];
  readonly paths: Record<string, Record<string, unknown>>;
  readonly components: {
    readonly schemas: Record<string, Json>;
    readonly securitySchemes: Record<string, Json>;
  };
}

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };

export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  if (schema === problemSchema && io === 'output') return PROBLEM_REF;
  const json: Json = z.toJSONSchema(schema, {
    io,
    target: 'draft-2020-12',
    unrepresentable: 'throw',
  });
  delete json['$schema'];
  return json;
}

function objectParameters(
  schema: ParameterObject | undefined,
  where: 'path' | 'query',
  operationId: string,
): Json[] {
  if (!schema) return [];
  const json = jsonSchema(schema, 'input');
  const properties = (json['properties'] ?? {}) as Record<string, Json>;
  if (json['type'] !== 'object')
    throw new Error(`${operationId}: the ${where} schema must be an object`);
  const required = new Set((json['required'] ?? []) as string[]);
  const shape = (schema as { shape?: Record<string, z.ZodType> }).shape ?? {};
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    // The default the server applies, as it applies it (zod loses some across a preprocess).
    const absent = shape[name]?.safeParse(undefined);
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema:
        absent?.success && absent.data !== undefined ? { ...rest, default: absent.data } : rest,
    };
  });
}

function header({ name, schema, description, required }: Header, io: 'input' | 'output'): Json {
  return { name, required: required ?? false, description, schema: jsonSchema(schema, io) };
}

function response(answer: Answer): Json {
  return {
    description: answer.description,
    ...(answer.headers
      ? {
          headers: Object.fromEntries(
            answer.headers.map((h) => {
              const { name, ...rest } = header(h, 'output');
              return [name, rest];
            }),
          ),
        }
      : {}),
    ...(answer.schema
      ? {
          content: {
            [answer.contentType ?? 'application/json']: {
              schema: jsonSchema(answer.schema, 'output'),
            },
          },
        }
      : {}),
  };
}

/** The path template's parameters are exactly the operation's path parameters. */
function checkPathParameters(operation: AnyOperation, parameters: readonly Json[]): void {
  const inTemplate = [...operation.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
  const declared = parameters.map((p) => p['name'] as string).sort();
  if (inTemplate.join() !== declared.join())
    throw new Error(
      `${operation.operationId}: ${operation.path} has {${inTemplate.join('}, {')}} but its params declare ${declared.join(', ') || 'none'}`,
    );
}

/** The 401 and 403 every operation behind a token answers (docs/security.md). */
const UNAUTHENTICATED = problem(
  'UNAUTHENTICATED: no bearer token, or one that is not valid here (signature, issuer, audience, expiry); WWW-Authenticate says which',
);
const FORBIDDEN = problem(
  "FORBIDDEN: the token's principal may not do this; the detail names what is missing",
);

export function operationObject(operation: AnyOperation): Json {
  const path = objectParameters(operation.params, 'path', operation.operationId);
  checkPathParameters(operation, path);
  const parameters = [
    ...path,
    ...objectParameters(operation.query, 'query', operation.operationId),
    ...(operation.headers ?? []).map((h) => ({ in: 'header', ...header(h, 'input') })),
  ];
  const open = 'open' in operation.access;
  const who = `Who: ${describeAccess(operation.access)}.`;
  return {
    operationId: operation.operationId,
    summary: operation.summary,
    description: operation.description ? `${operation.description}\n\n${who}` : who,
    tags: operation.tags,
    security: open ? [] : [{ bearer: [] }],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(operation.body
      ? {
          requestBody: {
            required: operation.body.required,
            ...(operation.body.description ? { description: operation.body.description } : {}),
            content: {
              'application/json': { schema: jsonSchema(operation.body.schema, 'input') },
            },
          },
        }
      : {}),
    responses: Object.fromEntries(
      Object.entries({
        ...operation.responses,
        ...(open ? {} : { 401: UNAUTHENTICATED, 403: FORBIDDEN }),
      }).map(([status, answer]) => [status, response(answer)]),
    ),
  };
}

function pathsOf(
  operations: readonly AnyOperation[],
  servers?: (operation: AnyOperation) => readonly Json[],
): Record<string, Record<string, unknown>> {
  const paths: Record<string, Record<string, unknown>> = {};
  const ids = new Set<string>();
  for (const operation of operations) {
    if (ids.has(operation.operationId))
      throw new Error(`two operations are called ${operation.operationId}`);
    ids.add(operation.operationId);
    const item = (paths[operation.path] ??= {});
    if (item[operation.method])
      throw new Error(`${operation.method.toUpperCase()} ${operation.path} is declared twice`);
    item[operation.method] = operationObject(operation);
    if (servers) item['servers'] = servers(operation);
  }
  return paths;
}

function tagsOf(operations: readonly AnyOperation[]): Json[] {
  return [...new Set(operations.flatMap((o) => o.tags))].sort().map((name) => ({ name }));
}

const components = () => ({
  schemas: { Problem: jsonSchema(problemSchema, 'input') },
  securitySchemes: {
    bearer: {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description:
        "An access token (RFC 9068 JWT) from the system's OpenID Connect provider, for the audience es-api, with a roles claim (customer, staff, operator); README, Calling the services",
    },
  },
});

export const localServer = (port: number): Json => ({
  url: `http://127.0.0.1:${port}`,
  description: 'npm start (the default port)',
});

/** One service's document. */
export function serviceDocument(api: ServiceApi, version: string): OpenApiDocument {
  return {
    openapi: OPENAPI_VERSION,
    info: { title: api.title, description: api.description, version },
    servers: [localServer(api.defaultPort)],
    tags: tagsOf(api.operations),
    paths: pathsOf(api.operations),
    components: components(),
  };
}

/**
 * The whole system in one document: every service's operations, each path with the servers
 * that serve it (the shared /health and /metrics paths are served by every service).
 */
export function systemDocument(
  apis: readonly ServiceApi[],
  info: { readonly title: string; readonly description: string; readonly version: string },
): OpenApiDocument {
  const servedBy = new Map<AnyOperation, ServiceApi[]>();
  for (const api of apis)
    for (const operation of api.operations)
      servedBy.set(operation, [...(servedBy.get(operation) ?? []), api]);
  const byPath = new Map<string, ServiceApi[]>();
  for (const [operation, services] of servedBy)
    byPath.set(operation.path, [...new Set([...(byPath.get(operation.path) ?? []), ...services])]);
  const operations = [...servedBy.keys()];
  return {
    openapi: OPENAPI_VERSION,
    info,
    tags: tagsOf(operations),
    paths: pathsOf(operations, (operation) =>
      (byPath.get(operation.path) ?? []).map((api) => ({
        ...localServer(api.defaultPort),
        description: api.name,
      })),
    ),
    components: components(),
  };
}

export { PROBLEM_CONTENT_TYPE };
