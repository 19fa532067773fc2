/**
 * Turns whatever an SDK call threw into a ProbeError a person can act on. Checks `statusCode` /
 * `code` / `name`, never `instanceof` chains (two generations of core libraries are in play).
 */
import type { ProbeError, ProbeErrorKind } from '../model/snapshot.ts';

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  statusCode?: unknown;
  code?: unknown;
  cause?: unknown;
}

function kindFor(status: number | undefined, name: string, code: string): ProbeErrorKind {
  if (status === 401 || status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 429) return 'throttled';
  if (status !== undefined && status >= 500) return 'server-error';
  if (name === 'AbortError' || name === 'TimeoutError' || code === 'ETIMEDOUT' || code === 'ABORT_ERR') return 'timeout';
  if (/^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS)/.test(code)) return 'network';
  if (name === 'CredentialUnavailableError' || name === 'AuthenticationError' || name === 'AggregateAuthenticationError') return 'forbidden';
  return 'unknown';
}

/** Removes anything that looks like a bearer token or secret from a message. */
export function scrubSecrets(text: string): string {
  return text
    .replace(/Bearer\s+[A-Za-z0-9\-._~+/]+=*/gi, 'Bearer [redacted]')
    .replace(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*/g, '[redacted-jwt]')
    .replace(/(sig|secret|password|client_secret|access_token)=([^&\s]+)/gi, '$1=[redacted]');
}

export function toProbeError(err: unknown, what: string, resourceId?: string): ProbeError {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as ErrorLike;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const name = typeof e.name === 'string' ? e.name : '';
  let code = typeof e.code === 'string' ? e.code : '';
  if (!code && typeof e.cause === 'object' && e.cause !== null && typeof (e.cause as ErrorLike).code === 'string') {
    code = (e.cause as ErrorLike).code as string;
  }
  const kind = kindFor(status, name, code);
  const raw = typeof e.message === 'string' ? e.message.split('\n')[0] ?? '' : '';
  const detail = scrubSecrets(raw).slice(0, 300);
  const head = status !== undefined ? `${status}${code ? ` ${code}` : ''}` : kind === 'timeout' ? 'timed out' : code || name || 'error';
  const error: ProbeError = { kind, message: `${head} ${what}${detail && !detail.includes(head) ? `: ${detail}` : detail ? `: ${detail}` : ''}` };
  if (status !== undefined) error.statusCode = status;
  if (code) error.code = code;
  if (resourceId) error.resourceId = resourceId;
  return error;
}

/** A ProbeError for something not attempted because what it needed is missing. */
export function skipped(what: string, because: string, resourceId?: string): ProbeError {
  return { kind: 'skipped', message: `${what} not attempted: ${because}`, ...(resourceId ? { resourceId } : {}) };
}
