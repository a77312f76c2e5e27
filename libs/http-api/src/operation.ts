// One HTTP operation as data: its route, the schemas its input is validated with, and every
// answer it can give with the schema of each body. The server validates with these schemas and
// the OpenAPI document is generated from the same ones, so the two cannot drift apart.
import type { FieldProblem, z } from '@es/schema';

export type Method = 'get' | 'post';

/** Path parameters and queries are objects: each property is one parameter. */
export type ParameterObject = z.ZodType<Record<string, unknown>>;

export interface Header {
  /** As documented, e.g. `Idempotency-Key` (matched without regard to case). */
  readonly name: string;
  readonly schema: z.ZodType<string>;
  readonly description: string;
  readonly required?: boolean;
}

export interface Answer {
  readonly description: string;
  readonly schema?: z.ZodType;
  /** `application/json` unless said; problems are `application/problem+json`. */
  readonly contentType?: string;
  readonly headers?: readonly Header[];
}

export interface RequestBody<Body extends z.ZodType = z.ZodType> {
  readonly schema: Body;
  readonly required: boolean;
  readonly description?: string;
  /**
   * Rules a JSON Schema cannot state (a SKU on two lines): checked once the body matches its
   * schema; a broken rule is a 422 naming the field, not a 400, so a request that matches the
   * document is never called malformed. Each rule is listed in the operation's 422 answer.
   */
  readonly rules?: (body: z.output<Body>) => readonly FieldProblem[];
}

/** What a token's `roles` claim grants (docs/security.md). */
export const ROLES = ['customer', 'staff', 'operator'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Whose an operation's resource is, for a customer calling it for their own: a field of its
 * input naming the customer, or a resource whose owner the service looks up (its
 * `OwnerResolvers`) from a path parameter.
 */
export type OwnerRule =
  | { readonly in: 'body' | 'params' | 'query'; readonly field: string }
  | { readonly resource: string; readonly param: string };

/**
 * Who may call an operation. `open`: anyone, no token (health, and metrics on loopback);
 * otherwise a valid bearer token, and one of `roles`, or (`owner`) a customer for their own
 * resource, or (`anyone`) any signed-in principal.
 */
export type Access =
  | { readonly open: true }
  | {
      readonly roles: readonly Role[];
      readonly owner?: OwnerRule;
      readonly anyone?: true;
    };

export interface Operation<
  Params extends ParameterObject = ParameterObject,
  Query extends ParameterObject = ParameterObject,
  Body extends z.ZodType = z.ZodType,
> {
  /** Unique in the whole system (the merged document has every service's operations). */
  readonly operationId: string;
  readonly method: Method;
  /** An OpenAPI path template: `/orders/{id}/state`. */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly params?: Params;
  readonly query?: Query;
  /** Request headers the server reads and checks. */
  readonly headers?: readonly Header[];
  readonly body?: RequestBody<Body>;
  /** Who may call it; 401 and 403 answers are documented from it. */
  readonly access: Access;
  /** Every status the operation answers with on purpose (5xx aside). */
  readonly responses: Readonly<Record<number, Answer>>;
}

/** Who may call it, in words, for its documentation and its 403's detail. */
export function describeAccess(access: Access): string {
  if ('open' in access) return 'anyone, without a token';
  const who = [
    ...(access.anyone ? ['any signed-in principal'] : []),
    ...access.roles.map(
      (r) => ({ customer: 'customers', staff: 'staff', operator: 'operators' })[r],
    ),
    ...(access.owner
      ? [
          'resource' in access.owner
            ? `a customer, for their own ${access.owner.resource}`
            : `a customer, for themself (${access.owner.in}.${access.owner.field})`,
        ]
      : []),
  ];
  return who.length === 0 ? 'nobody' : who.join(', ');
}

export type AnyOperation = Operation;

export type ParamsOf<O> = O extends Operation<infer P> ? z.output<P> : never;
export type QueryOf<O> = O extends Operation<ParameterObject, infer Q> ? z.output<Q> : never;
export type BodyOf<O> =
  O extends Operation<ParameterObject, ParameterObject, infer B> ? z.output<B> : never;

/** Identity, for inference: `defineOperation({...})` keeps each schema's own type. */
export function defineOperation<
  Params extends ParameterObject = ParameterObject,
  Query extends ParameterObject = ParameterObject,
  Body extends z.ZodType = z.ZodType,
>(operation: Operation<Params, Query, Body>): Operation<Params, Query, Body> {
  return operation;
}

/** An HTTP service as its clients see it: what it is, where it listens, what it answers. */
export interface ServiceApi {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly defaultPort: number;
  readonly operations: readonly AnyOperation[];
}

/** `/orders/{id}` as Express writes it: `/orders/:id`. */
export function expressPath(path: string): string {
  return path.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, ':$1');
}

/** Matches a concrete request path against an operation's template. */
export function pathMatcher(path: string): RegExp {
  const escaped = path
    .split(/\{[A-Za-z_][A-Za-z0-9_]*\}/)
    .map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('[^/]+')}/?$`);
}
