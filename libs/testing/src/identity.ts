// Tokens from the local identity provider (apps/identity-provider), for the test suites, the
// benchmarks and the fault harness: the test client's own (staff and operator), a realm user's
// (password grant), or any customer's (the provider's impersonation grant for test clients).
// The client's secret is read from the stack's secrets file (ES_IDENTITY_SECRETS, 0600), never
// from the repo. Tokens are cached until a minute before they expire.
import { readFileSync } from 'node:fs';

export const IMPERSONATE_GRANT = 'urn:es:params:oauth:grant-type:impersonate';

/**
 * Who a request is made as: a client itself (its own token: staff and operator for the test and
 * bench clients), a customer, or a realm user, through a client (the source's by default).
 */
export type Caller = { readonly client?: string } & (
  | { readonly customer?: never; readonly user?: never }
  | { readonly customer: string; readonly user?: never }
  | { readonly user: string; readonly customer?: never }
);

interface Secrets {
  readonly clients: Record<string, string>;
  readonly users: Record<string, string>;
}

export interface IdentityOptions {
  /** The client tokens are asked through unless a caller names one (es-tests). */
  readonly client?: string;
  /** The provider's issuer URL (AUTH_ISSUER). */
  readonly issuer?: string;
  /** The stack's secrets file (ES_IDENTITY_SECRETS). */
  readonly secretsFile?: string;
}

/** A token source for one provider: tokens by caller, cached. */
export class Identity {
  private readonly cache = new Map<string, { token: string; until: number }>();
  private secrets: Secrets | undefined;

  constructor(private readonly options: IdentityOptions = {}) {}

  get issuer(): string {
    return this.options.issuer ?? process.env['AUTH_ISSUER'] ?? 'http://127.0.0.1:4400';
  }

  private secretsOf(): Secrets {
    if (this.secrets) return this.secrets;
    const file = this.options.secretsFile ?? process.env['ES_IDENTITY_SECRETS'];
    if (!file)
      throw new Error(
        'ES_IDENTITY_SECRETS is not set: start the local stack (infra/local/stack.sh up) and load its environment',
      );
    this.secrets = JSON.parse(readFileSync(file, 'utf8')) as Secrets;
    return this.secrets;
  }

  /** The password of a realm user (alice, bob, sam, olga). */
  password(user: string): string {
    const password = this.secretsOf().users[user];
    if (!password) throw new Error(`no user ${user} in the realm`);
    return password;
  }

  /** An access token for the caller (the client's own by default). */
  async token(caller: Caller = {}): Promise<string> {
    const client = caller.client ?? this.options.client ?? 'es-tests';
    const key = JSON.stringify({ ...caller, client });
    const cached = this.cache.get(key);
    if (cached && cached.until > Date.now()) return cached.token;
    const form: Record<string, string> =
      caller.customer !== undefined
        ? { grant_type: IMPERSONATE_GRANT, subject: caller.customer }
        : caller.user !== undefined
          ? { grant_type: 'password', username: caller.user, password: this.password(caller.user) }
          : { grant_type: 'client_credentials' };
    const response = await this.request(client, form);
    this.cache.set(key, {
      token: response.access_token,
      until: Date.now() + (response.expires_in - 60) * 1000,
    });
    return response.access_token;
  }

  /** The token endpoint's answer, or its error as thrown (status and OAuth error). */
  async request(
    client: string,
    form: Readonly<Record<string, string>>,
  ): Promise<{ access_token: string; expires_in: number }> {
    const secret = this.secretsOf().clients[client];
    if (!secret) throw new Error(`no client ${client} in the realm`);
    const response = await fetch(`${this.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as {
      access_token?: string;
      expires_in?: number;
      error?: string;
      error_description?: string;
    };
    if (!response.ok || !body.access_token)
      throw new Error(
        `token for ${client} (${form['grant_type']}): ${response.status} ${body.error ?? ''} ${body.error_description ?? ''}`,
      );
    return { access_token: body.access_token, expires_in: body.expires_in ?? 300 };
  }

  /** `Authorization: Bearer <token>` for the caller. */
  async headers(caller?: Caller): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.token(caller)}` };
  }
}

/** The local stack's provider, as the environment names it. */
export const identity = new Identity();

/**
 * Who a test request is made as when the test does not say: the customer a body names
 * (placing an order is a customer's own act), else the client itself (staff and operator).
 */
export function callerFor(body: unknown): Caller {
  const customer =
    body !== null && typeof body === 'object'
      ? (body as Record<string, unknown>)['customerId']
      : undefined;
  if (customer === undefined) return {};
  // A body naming no valid customer is refused for its input (400) before whose it is: any
  // customer's token shows that.
  return typeof customer === 'string' && CUSTOMER_ID.test(customer)
    ? { customer }
    : { customer: 'any-customer' };
}

/** What the provider takes as a customer id (apps/identity-provider). */
const CUSTOMER_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** What an openapi-fetch client takes as middleware (structurally; no dependency on it). */
interface RequestMiddleware {
  onRequest(options: { request: Request }): Promise<Request>;
}

/**
 * A typed client's requests with a bearer token: as the customer the JSON body names, else as
 * the test client, unless the call set Authorization itself (a cancellation, as its customer).
 */
export function withIdentity<C extends { use(...middleware: RequestMiddleware[]): void }>(
  client: C,
  source: Identity = identity,
): C {
  client.use({
    async onRequest({ request }) {
      if (request.headers.has('authorization')) return request;
      let body: unknown;
      if (request.body !== null)
        try {
          body = await request.clone().json();
        } catch {
          body = undefined; // not JSON: the test client's
        }
      request.headers.set('authorization', `Bearer ${await source.token(callerFor(body))}`);
      return request;
    },
  });
  return client;
}
