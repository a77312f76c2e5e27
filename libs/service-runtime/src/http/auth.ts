// Who is calling, and whether they may (docs/security.md). Every operation declares its access
// (libs/http-api: open, roles, a customer's own resource, anyone signed in); one guard enforces
// it for every route, so no handler checks anything itself:
// - a bearer JWT access token is verified against the identity provider's keys (JWKS, fetched
//   and cached by jose, fetched again when a token names a key it has not seen: a rotation needs
//   no restart), its issuer, audience and times with a small clock skew. None, or a bad one: 401
//   with WWW-Authenticate (RFC 6750);
// - then its roles: one the operation grants, or `customer` where a customer may act for their
//   own. Else 403, naming who may;
// - for a customer acting for their own, the request is checked against its operation first (a
//   400 for bad input comes before), then the customer it names (a body, path or query field) or
//   the owner of the resource it names (the service's OwnerResolvers) must be the token's
//   subject: another's is a 403, an unknown resource a 404.
// The verified principal is what the audit trail records (request-context.ts): X-Actor is not
// read any more. /metrics (an open operation) and /docs answer only on loopback unless
// METRICS_OPEN / DOCS_OPEN say otherwise.
import {
  Injectable,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import {
  createRemoteJWKSet,
  errors as jose,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { describeAccess, ROLES, type AnyOperation, type OwnerRule, type Role } from '@es/http-api';
import type { AuthConfig } from '@es/runtime-config';
import type { Pool } from 'pg';
import { PG_POOL } from '../infrastructure';
import { OPERATION, parseInput, rememberInput } from './operation';
import { NotFound, ProblemError, RETRY_AFTER_SECONDS, sendProblem } from './problem.filter';

/** The caller, as its verified token says. */
export interface Principal {
  /** `sub`: the customer id for a customer, the user or client otherwise. */
  readonly subject: string;
  /** The client the token was issued to (`client_id`, or `azp`). */
  readonly client: string | null;
  readonly roles: readonly Role[];
}

/**
 * The owner (a customer id) of a resource by its id; undefined when there is no such resource.
 * Given the request, for a read model that must wait for its consistency token first.
 */
export type OwnerResolver = (id: string, request: Request) => Promise<string | undefined>;
/** A service's owner look-ups, by resource name (an operation's `owner.resource`). */
export type OwnerResolvers = Readonly<Record<string, OwnerResolver>>;
export const OWNER_RESOLVERS = Symbol('OWNER_RESOLVERS');

const principals = new WeakMap<Request, Principal>();

/** The verified principal of a request to a guarded operation; undefined for an open one. */
export function principalOf(request: Request): Principal | undefined {
  return principals.get(request);
}

const CHALLENGE = 'Bearer realm="es"';

/** 401: no token (the bare challenge), or one that is not valid here (`invalid_token`, why). */
export class Unauthenticated extends ProblemError {
  constructor(why: string | undefined) {
    const description = why?.replaceAll('"', "'").replace(/[^\x20-\x7e]/g, '');
    super({
      status: 401,
      code: 'UNAUTHENTICATED',
      detail: why
        ? `the bearer token is not valid here: ${why}`
        : 'a bearer token is required (Authorization: Bearer <access token>)',
      headers: {
        'WWW-Authenticate': description
          ? `${CHALLENGE}, error="invalid_token", error_description="${description}"`
          : CHALLENGE,
      },
    });
  }
}

export class Forbidden extends ProblemError {
  constructor(detail: string) {
    super({ status: 403, code: 'FORBIDDEN', detail });
  }
}

/** Verifies access tokens against the identity provider's published keys. */
export class TokenVerifier {
  private readonly keys: JWTVerifyGetKey;

  constructor(private readonly config: AuthConfig) {
    this.keys = createRemoteJWKSet(new URL(config.jwksUrl), {
      // A token signed with a key not seen yet (a rotation) fetches the set again, at most
      // this often; the set is fetched anew after cacheMaxAge anyway.
      cooldownDuration: 5_000,
      cacheMaxAge: 10 * 60_000,
      timeoutDuration: 5_000,
    });
  }

  async verify(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.config.issuer,
        audience: this.config.audience,
        clockTolerance: this.config.clockSkewSeconds,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      if (error instanceof jose.JWKSTimeout || error instanceof jose.JOSENotSupported)
        throw this.unavailable(error.message);
      if (error instanceof jose.JOSEError) throw new Unauthenticated(reason(error));
      // The key set could not be fetched (the provider is away): not the caller's fault.
      throw this.unavailable(error instanceof Error ? error.message : String(error));
    }
    const claimed = Array.isArray(payload['roles'])
      ? payload['roles']
      : // Keycloak puts a user's realm roles here.
        ((payload['realm_access'] as { roles?: unknown } | undefined)?.roles ?? []);
    const roles = (Array.isArray(claimed) ? claimed : []).filter((r): r is Role =>
      (ROLES as readonly unknown[]).includes(r),
    );
    const client = payload['client_id'] ?? payload['azp'];
    return {
      subject: payload.sub ?? '',
      client: typeof client === 'string' ? client : null,
      roles,
    };
  }

  private unavailable(why: string): ProblemError {
    return new ProblemError({
      status: 503,
      code: 'ENGINE_UNAVAILABLE',
      detail: `the identity provider's signing keys could not be fetched (${why}); retry shortly`,
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    });
  }
}

function reason(error: InstanceType<typeof jose.JOSEError>): string {
  if (error instanceof jose.JWTExpired) return 'it has expired';
  if (error instanceof jose.JWTClaimValidationFailed)
    return `its ${error.claim} claim is not accepted (${error.reason})`;
  if (error instanceof jose.JWKSNoMatchingKey) return 'no published key of the provider signed it';
  if (error instanceof jose.JWSSignatureVerificationFailed) return 'its signature does not verify';
  if (error instanceof jose.JWSInvalid || error instanceof jose.JWTInvalid)
    return 'it is not a well-formed JWT';
  return error.message;
}

function bearer(request: Request): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
  if (!match?.[1]) throw new Unauthenticated('the Authorization header is not "Bearer <token>"');
  return match[1];
}

export const isLoopback = (address: string | undefined): boolean =>
  address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';

/** The one guard: every routed request's caller checked against its operation's access. */
@Injectable()
export class Authorization implements CanActivate {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly owners: OwnerResolvers,
    private readonly metricsOpen: boolean,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const operation = Reflect.getMetadata(OPERATION, context.getHandler()) as
      AnyOperation | undefined;
    // Every route is an operation (route-check.ts); anything else is not ours to open.
    if (!operation) throw new Forbidden('this route declares no access');
    const request = context.switchToHttp().getRequest<Request>();
    const { access } = operation;
    if ('open' in access) {
      if (operation.operationId === 'getMetrics' && !this.metricsOpen)
        if (!isLoopback(request.socket.remoteAddress))
          throw new Forbidden('metrics are served on loopback only (METRICS_OPEN=true opens them)');
      return true;
    }
    const token = bearer(request);
    if (token === undefined) throw new Unauthenticated(undefined);
    const principal = await this.verifier.verify(token);
    principals.set(request, principal);
    if (access.anyone || principal.roles.some((r) => access.roles.includes(r))) return true;
    if (access.owner && principal.roles.includes('customer')) {
      const input = parseInput(operation, request);
      rememberInput(request, input);
      await this.checkOwner(access.owner, input, principal, request);
      return true;
    }
    throw new Forbidden(
      `${operation.operationId} is for ${describeAccess(access)}; this token (${principal.subject}) has ${
        principal.roles.length > 0 ? `the roles ${principal.roles.join(', ')}` : 'no role'
      }`,
    );
  }

  private async checkOwner(
    rule: OwnerRule,
    input: { params: unknown; query: unknown; body: unknown },
    principal: Principal,
    request: Request,
  ): Promise<void> {
    if ('resource' in rule) {
      const id = (input.params as Record<string, unknown>)[rule.param];
      const resolve = this.owners[rule.resource];
      if (!resolve) throw new Error(`no owner look-up for ${rule.resource} in this service`);
      const owner = typeof id === 'string' ? await resolve(id, request) : undefined;
      if (owner === undefined) throw new NotFound(rule.resource, String(id));
      if (owner !== principal.subject)
        throw new Forbidden(`${rule.resource} ${String(id)} is another customer's`);
      return;
    }
    const part = input[rule.in] as Record<string, unknown> | undefined;
    const named = part?.[rule.field];
    if (named !== principal.subject)
      throw new Forbidden(
        `a customer acts for themself: ${rule.in}.${rule.field} must be ${principal.subject}, not ${String(named)}`,
      );
  }
}

/** /docs on loopback only, unless DOCS_OPEN=true. */
export function docsOnLoopback(open: boolean) {
  return (request: Request, response: Response, next: NextFunction): void => {
    if (open || !/^\/docs(\/|$)/.test(request.path) || isLoopback(request.socket.remoteAddress)) {
      next();
      return;
    }
    sendProblem(response, request, {
      status: 403,
      code: 'FORBIDDEN',
      detail: 'the API documents are served on loopback only (DOCS_OPEN=true opens them)',
    });
  };
}

/** Installs the guard on a service, with its owner look-ups when it has any. */
export function guard(app: INestApplication, config: AuthConfig): void {
  let owners: OwnerResolvers = {};
  try {
    // Through ModuleRef: the application's own get logs a missing provider as an error.
    owners = app.get(ModuleRef).get<OwnerResolvers>(OWNER_RESOLVERS, { strict: false });
  } catch {
    // a service whose operations name no resource owner
  }
  app.useGlobalGuards(new Authorization(new TokenVerifier(config), owners, config.metricsOpen));
}

/**
 * The owners of a service's streams, from each stream's first event: the customer its data
 * names (`field`, e.g. OrderCreated's customerId). From the store, so an order is its customer's
 * from the moment it was placed, before any read model has it.
 */
export function streamOwners(
  streams: Readonly<Record<string, { readonly streamType: string; readonly field: string }>>,
) {
  return {
    provide: OWNER_RESOLVERS,
    inject: [PG_POOL],
    useFactory: (pool: Pool): OwnerResolvers =>
      Object.fromEntries(
        Object.entries(streams).map(([resource, { streamType, field }]) => {
          // A stream's first event never changes: an owner found is kept (the most recent
          // 10,000), so a customer's reads cost no query after the first.
          const known = new Map<string, string>();
          return [
            resource,
            async (id: string) => {
              const cached = known.get(id);
              if (cached !== undefined) return cached;
              const { rows } = await pool.query<{ owner: string | null }>(
                `SELECT data->>$3 AS owner FROM events
                 WHERE stream_type = $1 AND stream_id = $2 ORDER BY stream_version LIMIT 1`,
                [streamType, id, field],
              );
              const owner = rows[0]?.owner ?? undefined;
              if (owner !== undefined) {
                if (known.size >= 10_000) known.delete(known.keys().next().value ?? '');
                known.set(id, owner);
              }
              return owner;
            },
          ];
        }),
      ),
  };
}
