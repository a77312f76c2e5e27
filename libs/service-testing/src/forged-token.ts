// Tokens a test makes itself, to show what the services refuse: signed as the local provider
// signs (its real key, from the stack's secrets file, or a key of the test's own), with claims
// changed (expired, for another audience, from another issuer). For the authorization tests only.
import { readFileSync } from 'node:fs';
import { importJWK, SignJWT, type JWK } from 'jose';
import { identity } from '@es/testing';

export interface ForgedClaims {
  readonly iss?: string;
  readonly aud?: string;
  /** Seconds since the epoch. */
  readonly exp?: number;
}

/** A staff and operator token of es-tests, with `claims` changed, signed by `key` or the provider's. */
export async function forgedToken(
  claims: ForgedClaims,
  key?: { readonly jwk: JWK; readonly kid: string },
): Promise<string> {
  const secrets = JSON.parse(readFileSync(process.env['ES_IDENTITY_SECRETS'] ?? '', 'utf8')) as {
    keys: (JWK & { kid: string })[];
  };
  const published = secrets.keys[0];
  const signing = key ?? (published ? { jwk: published, kid: published.kid } : undefined);
  if (!signing) throw new Error('the provider has no signing key');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ roles: ['staff', 'operator'], client_id: 'es-tests', ...claims })
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: signing.kid })
    .setSubject('es-tests')
    .setIssuer(claims.iss ?? identity.issuer)
    .setAudience(claims.aud ?? 'es-api')
    .setIssuedAt(now - 7_200)
    .setExpirationTime(claims.exp ?? now + 600)
    .sign(await importJWK(signing.jwk, 'RS256'));
}
