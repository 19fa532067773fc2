/**
 * Microsoft Entra ID bearer tokens: the tenant's OpenID metadata
 * (`<authority>/<tenant>/v2.0/.well-known/openid-configuration`) gives the issuer and the JWKS URL;
 * a token is accepted when it is RS256-signed by one of the tenant's keys, issued by that issuer,
 * meant for one of the configured audiences and within its validity (60 s of clock tolerance).
 *
 * Keys rotate: a token whose `kid` is unknown makes jose fetch the JWKS again (at most once per
 * `keyCooldownMs`). When the keys cannot be read again, the ones known so far keep serving; when
 * none are known (or the metadata was never read), verification fails with
 * IdentityProviderUnavailable (answered 503: the caller's token may well be valid), never a hang:
 * every fetch has a timeout.
 *
 * The issuer is the v2.0 one (`https://login.microsoftonline.com/<tenant id>/v2.0`): the API's app
 * registration must issue v2 access tokens (manifest `api.requestedAccessTokenVersion: 2`).
 */
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Caller } from './authorize.ts';

/** The token was refused (answered 401); `reason` says why without repeating the token. */
export class TokenRejected extends Error {
  override name = 'TokenRejected';
}

/** The tenant's metadata or keys could not be read (answered 503). */
export class IdentityProviderUnavailable extends Error {
  override name = 'IdentityProviderUnavailable';
}

export interface EntraOptions {
  /** e.g. https://login.microsoftonline.com (https, or http on a loopback address for tests). */
  authority: string;
  /** Tenant id (GUID) or verified domain. */
  tenant: string;
  /** Accepted `aud` values: the API's application id URI and/or its client id. */
  audience: readonly string[];
  /** Per metadata or JWKS request (default 5 s). */
  timeoutMs?: number;
  /** Allowed clock skew for exp/nbf (default 60 s). */
  clockToleranceSec?: number;
  /** After a JWKS fetch, how long an unknown `kid` waits before triggering another (default 30 s). */
  keyCooldownMs?: number;
  /** How long fetched keys are used before they are read again (default 10 min). */
  keysMaxAgeMs?: number;
  /** How long the metadata is kept before it is read again (default 24 h). */
  metadataTtlMs?: number;
  /**
   * After a failed metadata or key read, how long before the identity provider is asked again
   * (default 2 s); meanwhile requests use the keys known so far, or are answered 503 at once.
   */
  retryAfterMs?: number;
  /** Where failures to reach the identity provider are reported. */
  log?: { warn(obj: object, msg: string): void };
}

export interface TokenVerifier {
  /** The caller the token stands for; throws TokenRejected or IdentityProviderUnavailable. */
  verify(token: string): Promise<Caller>;
}

export const ALGORITHMS = ['RS256'];

/** https, or http only to a loopback address (a test identity provider). */
export function isAllowedAuthorityUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  if (url.username || url.password || url.search || url.hash) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
}

export function metadataUrl(authority: string, tenant: string): string {
  return `${authority.replace(/\/+$/, '')}/${encodeURIComponent(tenant)}/v2.0/.well-known/openid-configuration`;
}

interface Metadata {
  issuer: string;
  jwksUri: string;
  keys: ReturnType<typeof createRemoteJWKSet>;
}

async function fetchJson(url: string, timeoutMs: number): Promise<unknown> {
  // The timeout covers the body too: the signal aborts the read.
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status}`);
  }
  return res.json();
}

/** Codes of jose errors that say something about the token, not about the identity provider. */
const KEY_SELECTION_CODES = new Set(['ERR_JWKS_NO_MATCHING_KEY', 'ERR_JWKS_MULTIPLE_MATCHING_KEYS']);

/** Why a token was refused, in words that never repeat it. */
export function rejectionReason(err: unknown): string {
  if (!(err instanceof errors.JOSEError)) return 'the token could not be verified';
  switch (err.code) {
    case 'ERR_JWT_EXPIRED':
      return 'the token has expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (err as errors.JWTClaimValidationFailed).claim;
      if (claim === 'nbf') return 'the token is not valid yet';
      if (claim === 'aud') return 'the token is meant for another audience';
      if (claim === 'iss') return 'the token was not issued by the configured tenant';
      return `the token's ${claim} claim is missing or invalid`;
    }
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'the token signature does not verify';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return "the token is not signed by one of the tenant's keys";
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return `the token's signing algorithm is not accepted (${ALGORITHMS.join(', ')} only)`;
    default:
      return 'the token is malformed';
  }
}

/** The caller a verified payload stands for. */
export function callerOf(payload: JWTPayload): Caller {
  const id = typeof payload.oid === 'string' ? payload.oid : payload.sub;
  if (!id) throw new TokenRejected('the token names no subject (oid or sub)');
  const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
  const scopes = typeof payload.scp === 'string' ? payload.scp.split(' ').filter((s) => s !== '') : [];
  return { kind: 'entra', id, ...(typeof payload.tid === 'string' ? { tenant: payload.tid } : {}), roles: [...new Set([...roles, ...scopes])] };
}

export function createEntraVerifier(opts: EntraOptions): TokenVerifier {
  if (!isAllowedAuthorityUrl(opts.authority)) throw new Error(`authority '${opts.authority}' must be an https URL (http only on a loopback address)`);
  if (opts.audience.length === 0) throw new Error('at least one audience is needed');
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const ttlMs = opts.metadataTtlMs ?? 24 * 3_600_000;
  const retryAfterMs = opts.retryAfterMs ?? 2_000;
  const url = metadataUrl(opts.authority, opts.tenant);
  let current: Metadata | undefined;
  let refreshAt = 0;
  let pending: Promise<Metadata> | undefined;
  /** Until when key reads are not retried after a failure, and the keys known before it. */
  let keysFailedUntil = 0;
  let knownKeys: ReturnType<typeof createLocalJWKSet> | undefined;

  async function load(): Promise<Metadata> {
    const doc = (await fetchJson(url, timeoutMs)) as { issuer?: unknown; jwks_uri?: unknown } | null;
    const issuer = doc?.issuer;
    const jwksUri = doc?.jwks_uri;
    if (typeof issuer !== 'string' || issuer === '') throw new Error('the metadata has no issuer');
    if (typeof jwksUri !== 'string' || !isAllowedAuthorityUrl(jwksUri)) throw new Error('the metadata has no usable jwks_uri (https)');
    // A refresh that finds the same JWKS URL keeps the key cache.
    const keys =
      current?.jwksUri === jwksUri
        ? current.keys
        : createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: timeoutMs, cooldownDuration: opts.keyCooldownMs ?? 30_000, cacheMaxAge: opts.keysMaxAgeMs ?? 600_000 });
    return { issuer, jwksUri, keys };
  }

  function refresh(): Promise<Metadata> {
    pending ??= load()
      .then(
        (loaded) => {
          current = loaded;
          refreshAt = Date.now() + ttlMs;
          return loaded;
        },
        (err: unknown) => {
          refreshAt = Date.now() + retryAfterMs;
          opts.log?.warn({ url, error: err instanceof Error ? err.message : String(err), keepingPrevious: current !== undefined }, 'reading the Entra ID OpenID metadata failed');
          throw err;
        },
      )
      .finally(() => (pending = undefined));
    return pending;
  }

  async function metadata(): Promise<Metadata> {
    if (current) {
      // The issuer and JWKS URL hardly ever change: the known ones serve while a refresh runs or fails.
      if (Date.now() >= refreshAt) refresh().catch(() => undefined);
      return current;
    }
    if (Date.now() < refreshAt) throw new IdentityProviderUnavailable('the OpenID metadata of the tenant could not be read');
    try {
      return await refresh();
    } catch (err) {
      throw new IdentityProviderUnavailable('the OpenID metadata of the tenant could not be read', { cause: err });
    }
  }

  return {
    async verify(token) {
      const meta = await metadata();
      const getKey: JWTVerifyGetKey = async (header, jws) => {
        if (Date.now() < keysFailedUntil) {
          if (knownKeys) return knownKeys(header, jws);
          throw new IdentityProviderUnavailable("the tenant's signing keys could not be read");
        }
        try {
          return await meta.keys(header, jws);
        } catch (err) {
          if (err instanceof errors.JOSEError && KEY_SELECTION_CODES.has(err.code)) throw err;
          keysFailedUntil = Date.now() + retryAfterMs;
          const known = meta.keys.jwks();
          knownKeys = known ? createLocalJWKSet(known) : undefined;
          opts.log?.warn({ url: meta.jwksUri, error: err instanceof Error ? err.message : String(err), usingKnownKeys: known !== undefined }, 'reading the Entra ID signing keys failed');
          if (knownKeys) return knownKeys(header, jws);
          throw new IdentityProviderUnavailable("the tenant's signing keys could not be read", { cause: err });
        }
      };
      try {
        const { payload } = await jwtVerify(token, getKey, {
          issuer: meta.issuer,
          audience: [...opts.audience],
          algorithms: ALGORITHMS,
          clockTolerance: opts.clockToleranceSec ?? 60,
          requiredClaims: ['exp', 'iss', 'aud'],
        });
        return callerOf(payload);
      } catch (err) {
        if (err instanceof IdentityProviderUnavailable || err instanceof TokenRejected) throw err;
        throw new TokenRejected(rejectionReason(err));
      }
    },
  };
}
