// The operator's login (docs/console.md): the authorization code flow with PKCE against the
// system's OpenID provider, with openid-client (a certified relying party), the console's own
// server as the client. The tokens stay on the server, in the operator's session; the browser
// holds an opaque, HttpOnly session cookie only (the "backend for frontend" pattern: no token
// within reach of a script). Only a person whose access token the services would take as an
// operator's gets a session: it is verified as the services verify it.
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import type { IncomingMessage } from 'node:http';
import type { AuthConfig } from '@es/runtime-config';
import { localPath } from './paths.mts';
import { TokenVerifier } from '@es/service-runtime';

export interface Session {
  readonly id: string;
  readonly user: string;
  readonly accessToken: string;
  readonly expiresAt: number;
  /** Sent back by every form of the session's pages: a POST without it is refused. */
  readonly csrf: string;
}

/** A login under way: what its callback must find again. */
interface Login {
  readonly verifier: string;
  readonly state: string;
  readonly nonce: string;
  readonly returnTo: string;
  readonly startedAt: number;
}

export const SESSION_COOKIE = 'es_console';
export const LOGIN_COOKIE = 'es_console_login';
const LOGIN_MS = 10 * 60_000;

const newId = () => randomBytes(32).toString('base64url');

export function cookiesOf(request: IncomingMessage): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0)
      cookies.set(part.slice(0, at).trim(), decodeURIComponent(part.slice(at + 1).trim()));
  }
  return cookies;
}

export function cookie(name: string, value: string, maxAgeSeconds: number, path = '/'): string {
  return `${name}=${encodeURIComponent(value)}; Path=${path}; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; HttpOnly; SameSite=Lax`;
}

/** Why a login did not make a session, said to the person. */
export class LoginRefused extends Error {}

export class Auth {
  private readonly sessions = new Map<string, Session>();
  private readonly logins = new Map<string, Login>();
  private readonly verifier: TokenVerifier;
  private configuration: Promise<oidc.Configuration> | undefined;

  private readonly settings: {
    readonly auth: AuthConfig;
    readonly clientId: string;
    readonly clientSecret: string;
    readonly redirectUri: string;
    /**
     * Where this server reaches the provider when that is not where browsers do (in
     * docker-compose, keycloak:8080 for 127.0.0.1:4400): its own requests go there.
     */
    readonly internalUrl?: string;
  };

  constructor(settings: Auth['settings']) {
    this.settings = settings;
    this.verifier = new TokenVerifier(settings.auth);
  }

  /** The provider's metadata, discovered once (again after a failure: it may not be up yet). */
  private discovered(): Promise<oidc.Configuration> {
    this.configuration ??= oidc
      .discovery(
        new URL(this.settings.auth.issuer),
        this.settings.clientId,
        this.settings.clientSecret,
        oidc.ClientSecretBasic(this.settings.clientSecret),
        {
          // The local provider and Keycloak listen on loopback HTTP (docs/security.md).
          ...(this.settings.auth.issuer.startsWith('http:')
            ? // eslint-disable-next-line @typescript-eslint/no-deprecated -- loopback HTTP is the point
              { execute: [oidc.allowInsecureRequests] }
            : {}),
          ...(this.settings.internalUrl ? { [oidc.customFetch]: this.internalFetch() } : {}),
        },
      )
      .catch((error: unknown) => {
        this.configuration = undefined;
        throw error;
      });
    return this.configuration;
  }

  /** This server's requests to the provider's public origin, sent to its internal one. */
  private internalFetch(): oidc.CustomFetch {
    const outside = new URL(this.settings.auth.issuer).origin;
    const inside = new URL(this.settings.internalUrl ?? outside).origin;
    return (url, options) =>
      fetch(url.startsWith(outside) ? inside + url.slice(outside.length) : url, {
        ...options,
        body: options.body as BodyInit | null | undefined,
      });
  }

  /** Where to send the browser to sign in, and the login's id for its cookie. */
  async startLogin(returnTo: string): Promise<{ url: string; loginId: string }> {
    const configuration = await this.discovered();
    const verifier = oidc.randomPKCECodeVerifier();
    const login: Login = {
      verifier,
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      returnTo: localPath(returnTo),
      startedAt: Date.now(),
    };
    const loginId = newId();
    this.forgetOldLogins();
    this.logins.set(loginId, login);
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: this.settings.redirectUri,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: login.state,
      nonce: login.nonce,
    });
    return { url: url.href, loginId };
  }

  /** The provider's answer at the callback: a session, or LoginRefused saying why not. */
  async finishLogin(
    loginId: string | undefined,
    callbackUrl: URL,
  ): Promise<{ session: Session; returnTo: string }> {
    const login = loginId === undefined ? undefined : this.logins.get(loginId);
    if (loginId === undefined || !login || Date.now() - login.startedAt > LOGIN_MS)
      throw new LoginRefused('this sign-in has expired or was not started here: sign in again');
    this.logins.delete(loginId);
    const error = callbackUrl.searchParams.get('error');
    if (error)
      throw new LoginRefused(
        `the identity provider refused: ${callbackUrl.searchParams.get('error_description') ?? error}`,
      );
    const tokens = await oidc.authorizationCodeGrant(await this.discovered(), callbackUrl, {
      pkceCodeVerifier: login.verifier,
      expectedState: login.state,
      expectedNonce: login.nonce,
      idTokenExpected: true,
    });
    const principal = await this.verifier.verify(tokens.access_token);
    if (!principal.roles.includes('operator'))
      throw new LoginRefused(
        `${principal.subject} is not an operator: the console is for operators (their roles: ${principal.roles.join(', ') || 'none'})`,
      );
    const claims = tokens.claims();
    const user =
      typeof claims?.['preferred_username'] === 'string'
        ? claims['preferred_username']
        : principal.subject;
    const session: Session = {
      id: newId(),
      user,
      accessToken: tokens.access_token,
      expiresAt: Date.now() + (tokens.expiresIn() ?? 300) * 1000,
      csrf: newId(),
    };
    this.sessions.set(session.id, session);
    return { session, returnTo: login.returnTo };
  }

  sessionOf(request: IncomingMessage): Session | undefined {
    const id = cookiesOf(request).get(SESSION_COOKIE);
    const session = id ? this.sessions.get(id) : undefined;
    if (!session) return undefined;
    if (session.expiresAt <= Date.now()) {
      this.sessions.delete(session.id);
      return undefined;
    }
    return session;
  }

  endSession(session: Session): void {
    this.sessions.delete(session.id);
  }

  /** The token of the session that lasts longest (the overview's metrics are read with it). */
  anyToken(): string | undefined {
    let best: Session | undefined;
    for (const s of this.sessions.values())
      if (s.expiresAt > Date.now() && (!best || s.expiresAt > best.expiresAt)) best = s;
    return best?.accessToken;
  }

  private forgetOldLogins(): void {
    for (const [id, login] of this.logins)
      if (Date.now() - login.startedAt > LOGIN_MS) this.logins.delete(id);
  }
}
