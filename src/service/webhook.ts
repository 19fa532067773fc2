/**
 * Webhook delivery: POST a JSON payload to a receiver, signed, retried with backoff.
 *
 * Signature scheme (what a receiver checks):
 *   x-netdoctor-timestamp: <unix seconds when this attempt was sent>
 *   x-netdoctor-signature: sha256=<lower-case hex of HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 * The receiver recomputes the HMAC over the timestamp header, a dot and the raw request body bytes
 * exactly as received (not re-serialised JSON), compares in constant time, and rejects timestamps
 * too far from its clock (replay protection); `verifySignature` does all three.
 * Other headers: `x-netdoctor-event: drift` and `x-netdoctor-delivery: <uuid>`, the same on every
 * attempt of one delivery so a receiver can drop duplicates; the timestamp and signature are
 * recomputed per attempt so a late retry still passes the receiver's tolerance.
 *
 * Retries: network errors, per-attempt timeouts, 429 and 5xx are retried, up to `attempts` in all,
 * after a full-jitter exponential backoff (random 0..min(maxDelayMs, baseDelayMs * 2^(n-1))); a 429
 * or 503 with `Retry-After` (seconds or an HTTP date) waits that long instead, capped at maxDelayMs.
 * Any other status (4xx, and 3xx: redirects are not followed, so a receiver cannot bounce the
 * signed body elsewhere) ends the delivery. The result never contains the secret or the response
 * body, and the URL is not echoed (webhook URLs often carry tokens in their path).
 *
 * Targets: https only, except http to 127.0.0.1 or localhost (local receivers and tests); anything
 * else is refused before any connection is made.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

export interface WebhookTarget {
  url: string;
  secret: string;
}

export interface DeliverOptions {
  /** Attempts in all, including the first (default 5). */
  attempts?: number;
  /** Backoff base (default 1000 ms). */
  baseDelayMs?: number;
  /** Cap on a backoff or Retry-After wait (default 60 000 ms). */
  maxDelayMs?: number;
  /** Per-attempt timeout, headers and body (default 10 000 ms). */
  timeoutMs?: number;
  /** Cancels the delivery (between or during attempts). */
  signal?: AbortSignal;
  /** Clock for the timestamp header (default the system clock). */
  now?: () => Date;
  /** Event name for x-netdoctor-event (default drift). */
  event?: string;
}

export interface AttemptRecord {
  attempt: number;
  /** HTTP status of the response, when there was one. */
  httpStatus?: number;
  /** Why the attempt failed without a response (network error, timeout). */
  error?: string;
  durationMs: number;
  /** Wait before the next attempt, when there is one. */
  delayMs?: number;
}

export interface DeliveryResult {
  deliveryId: string;
  /** delivered: a 2xx; failed: gave up (non-retryable status or attempts exhausted); cancelled: the signal aborted it. */
  status: 'delivered' | 'failed' | 'cancelled';
  attempts: number;
  /** Status of the last response, if any attempt got one. */
  httpStatus?: number;
  /** Why the last attempt failed, when it did. */
  error?: string;
  durationMs: number;
  history: AttemptRecord[];
}

export class WebhookTargetError extends Error {
  override name = 'WebhookTargetError';
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost']);

/** Why `url` may not be a webhook target, or undefined when it may. The message never echoes the URL's path or query. */
export function webhookUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'the webhook URL is not a valid absolute URL';
  }
  if (u.username || u.password) return 'the webhook URL must not contain credentials; the payload is signed with the secret instead';
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname)) return undefined;
  if (u.protocol === 'http:') return `the webhook URL must use https (plain http is allowed only to 127.0.0.1 or localhost, not ${u.hostname})`;
  return `the webhook URL must use https, not ${u.protocol.replace(/:$/, '')}`;
}

/** The signature header value for one attempt: `sha256=<hex>` over "<timestamp>.<body>". */
export function signatureOf(secret: string, timestamp: string | number, body: string | Buffer): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${timestamp}.`);
  mac.update(body);
  return `sha256=${mac.digest('hex')}`;
}

/**
 * Checks a received delivery: `header` is x-netdoctor-signature, `timestamp` x-netdoctor-timestamp,
 * `body` the raw request body. False when the header is malformed, the timestamp is more than
 * `toleranceSec` from `now`, or the HMAC differs (compared in constant time).
 */
export function verifySignature(
  secret: string,
  timestamp: string | number | undefined,
  body: string | Buffer,
  header: string | undefined,
  toleranceSec: number,
  now: Date = new Date(),
): boolean {
  const ts = typeof timestamp === 'number' ? String(timestamp) : timestamp;
  if (!ts || !/^\d{1,12}$/.test(ts) || !header || !/^sha256=[0-9a-f]{64}$/i.test(header)) return false;
  if (Math.abs(now.getTime() / 1000 - Number(ts)) > toleranceSec) return false;
  const expected = Buffer.from(signatureOf(secret, ts, body).slice('sha256='.length), 'hex');
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const retryable = (status: number): boolean => status === 429 || status >= 500;

/** Retry-After in ms (delta seconds or an HTTP date), or undefined when absent or unreadable. */
function retryAfterMs(value: string | null, now: Date): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/** A network error in words: fetch's "fetch failed" says little, its cause says what happened. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return `${err.message}: ${code && !cause.message.includes(code) ? `${code} ` : ''}${cause.message}`;
  }
  return err.message;
}

/** Resolves after `ms`, or rejects when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** POSTs `payload` to `target`, signed, with retries. Rejects with WebhookTargetError (nothing sent) for a refused URL or an empty secret. */
export async function deliver(target: WebhookTarget, payload: object, opts: DeliverOptions = {}): Promise<DeliveryResult> {
  const problem = webhookUrlProblem(target.url);
  if (problem) throw new WebhookTargetError(problem);
  if (!target.secret) throw new WebhookTargetError('the webhook secret is empty; a signature needs a secret');
  const attempts = Math.max(1, Math.floor(opts.attempts ?? 5));
  const baseDelayMs = opts.baseDelayMs ?? 1000;
  const maxDelayMs = opts.maxDelayMs ?? 60_000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const now = opts.now ?? ((): Date => new Date());
  const body = JSON.stringify(payload);
  const deliveryId = randomUUID();
  const started = performance.now();
  const history: AttemptRecord[] = [];
  const result = (status: DeliveryResult['status']): DeliveryResult => {
    const last = history[history.length - 1];
    const lastStatus = [...history].reverse().find((h) => h.httpStatus !== undefined)?.httpStatus;
    return {
      deliveryId,
      status,
      attempts: history.length,
      ...(lastStatus !== undefined ? { httpStatus: lastStatus } : {}),
      ...(status !== 'delivered' && last?.error ? { error: last.error } : {}),
      durationMs: Math.round(performance.now() - started),
      history,
    };
  };

  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (opts.signal?.aborted) return result('cancelled');
    const timestamp = Math.floor(now().getTime() / 1000);
    const record: AttemptRecord = { attempt, durationMs: 0 };
    history.push(record);
    const t0 = performance.now();
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let retryAfter: number | undefined;
    try {
      const res = await fetch(target.url, {
        method: 'POST',
        redirect: 'manual',
        signal,
        headers: {
          'content-type': 'application/json',
          'x-netdoctor-event': opts.event ?? 'drift',
          'x-netdoctor-delivery': deliveryId,
          'x-netdoctor-timestamp': String(timestamp),
          'x-netdoctor-signature': signatureOf(target.secret, timestamp, body),
        },
        body,
      });
      // The receiver's answer is not ours to keep; drain it so the connection can be reused.
      await res.arrayBuffer();
      record.httpStatus = res.status;
      record.durationMs = Math.round(performance.now() - t0);
      if (res.ok) return result('delivered');
      if (!retryable(res.status)) {
        record.error = `the receiver answered ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}; not retried`;
        return result('failed');
      }
      record.error = `the receiver answered ${res.status}`;
      retryAfter = res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get('retry-after'), now()) : undefined;
    } catch (err) {
      record.durationMs = Math.round(performance.now() - t0);
      if (opts.signal?.aborted) {
        record.error = 'cancelled';
        return result('cancelled');
      }
      record.error = timeout.aborted ? `no answer within ${timeoutMs} ms` : describe(err);
    }
    if (attempt === attempts) break;
    const delay = Math.min(maxDelayMs, retryAfter ?? Math.random() * baseDelayMs * 2 ** (attempt - 1));
    record.delayMs = Math.round(delay);
    try {
      await sleep(delay, opts.signal);
    } catch {
      return result('cancelled');
    }
  }
  return result('failed');
}
