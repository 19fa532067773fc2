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
 * else is refused before any connection is made. With a WebhookPolicy (the service always passes
 * one) a target must also be on the allow-list of host names, and every address its name resolves
 * to is checked when the connection is made (not before, so DNS rebinding cannot slip through): no
 * private, loopback, link-local (the cloud metadata endpoint), shared or multicast address, unless
 * the policy allows loopback receivers.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** Where webhooks may go (the service's configuration; never the API caller's choice). */
export interface WebhookPolicy {
  /** Host names webhooks may be sent to: exact (`hooks.example.com`) or a subdomain wildcard (`*.example.com`). Empty: none. */
  allowedHosts: readonly string[];
  /** Plain http to 127.0.0.1/localhost, and loopback addresses, for local receivers and tests. */
  allowLoopback?: boolean;
}

/** Addresses a webhook must never reach: RFC 1918, loopback, link-local (169.254.169.254), CGNAT, multicast, reserved, ULA. */
const FORBIDDEN = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  FORBIDDEN.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  FORBIDDEN.addSubnet(net, prefix, 'ipv6');

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Why a webhook may not connect to `address`, or undefined when it may. */
export function forbiddenAddress(address: string, allowLoopback = false): string | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const ip = mapped ? (mapped[1] as string) : address;
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  if (allowLoopback && LOOPBACK.check(ip, family)) return undefined;
  return FORBIDDEN.check(ip, family) ? `the webhook host resolves to ${ip}, a private, loopback, link-local or reserved address` : undefined;
}

function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return allowed.some((pattern) => {
    const p = pattern.trim().toLowerCase().replace(/\.$/, '');
    return p.startsWith('*.') ? h.endsWith(p.slice(1)) && h.length > p.length - 1 : h === p;
  });
}

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
  /** Allow-list and address checks (the service always passes one). */
  policy?: WebhookPolicy;
}

interface PostAnswer {
  status: number;
  retryAfter: string | undefined;
}

/**
 * One POST with node:http(s): no redirects followed, the answer drained and dropped, and with a
 * policy, every address the host resolves to checked as the connection is made.
 */
function post(url: string, headers: Record<string, string>, body: string, signal: AbortSignal, policy: WebhookPolicy | undefined): Promise<PostAnswer> {
  const u = new URL(url);
  const guarded: LookupFunction | undefined = policy
    ? (hostname, options, callback) => {
        dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
          if (err) return callback(err, '', 0);
          const bad = addresses.map((a) => forbiddenAddress(a.address, policy.allowLoopback === true)).find((why) => why !== undefined);
          if (bad) return callback(new WebhookTargetError(bad), '', 0);
          if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
          const first = addresses[0];
          if (!first) return callback(new WebhookTargetError('the webhook host has no address'), '', 0);
          callback(null, first.address, first.family);
        });
      }
    : undefined;
  return new Promise((resolve, reject) => {
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(u, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, signal, ...(guarded ? { lookup: guarded } : {}) }, (res: IncomingMessage) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : undefined }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
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
export function webhookUrlProblem(url: string, policy?: WebhookPolicy): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'the webhook URL is not a valid absolute URL';
  }
  if (u.username || u.password) return 'the webhook URL must not contain credentials; the payload is signed with the secret instead';
  if (policy) {
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const loopback = policy.allowLoopback === true && (LOOPBACK_HOSTS.has(host) || (isIP(host) !== 0 && forbiddenAddress(host, true) === undefined && forbiddenAddress(host) !== undefined));
    if (loopback && (u.protocol === 'http:' || u.protocol === 'https:')) return undefined;
    if (u.protocol !== 'https:') return `the webhook URL must use https, not ${u.protocol.replace(/:$/, '')}`;
    if (isIP(host) !== 0 && forbiddenAddress(host)) return forbiddenAddress(host);
    if (policy.allowedHosts.length === 0) return 'webhooks are not enabled on this service (its operator sets NETDOCTOR_WEBHOOK_ALLOWED_HOSTS)';
    if (!hostAllowed(host, policy.allowedHosts)) return `the webhook host ${host} is not on the service's allow-list (NETDOCTOR_WEBHOOK_ALLOWED_HOSTS)`;
    return undefined;
  }
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
  const problem = webhookUrlProblem(target.url, opts.policy);
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
      const res = await post(
        target.url,
        {
          'content-type': 'application/json',
          'x-netdoctor-event': opts.event ?? 'drift',
          'x-netdoctor-delivery': deliveryId,
          'x-netdoctor-timestamp': String(timestamp),
          'x-netdoctor-signature': signatureOf(target.secret, timestamp, body),
        },
        body,
        signal,
        opts.policy,
      );
      record.httpStatus = res.status;
      record.durationMs = Math.round(performance.now() - t0);
      if (res.status >= 200 && res.status < 300) return result('delivered');
      if (!retryable(res.status)) {
        record.error = `the receiver answered ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}; not retried`;
        return result('failed');
      }
      record.error = `the receiver answered ${res.status}`;
      retryAfter = res.status === 429 || res.status === 503 ? retryAfterMs(res.retryAfter ?? null, now()) : undefined;
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
