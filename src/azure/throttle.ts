/**
 * Client-side throttling of ARM requests, per subscription, so a fleet sweep stays under ARM's
 * limits instead of discovering them through 429s.
 *
 * ARM's documented limits (learn.microsoft.com/azure/azure-resource-manager/management/
 * request-limits-and-throttling, "Regional throttling and token bucket algorithm", since 2024):
 * subscription reads use a token bucket of 250 tokens refilled at 25 tokens per second, per
 * subscription, per security principal and per region (writes and deletes: 200 tokens, 10 per
 * second). A 429 carries Retry-After (seconds to wait); read responses carry
 * `x-ms-ratelimit-remaining-subscription-reads` (and `-global-reads`, `-resource-requests`,
 * `-resource-entities-read` where a provider overrides the default). Resource providers add their
 * own limits (the same page: Microsoft.Network reads 10,000 per 5 minutes); those surface as 429s.
 *
 * The policy runs once per attempt (position `perRetry`, after the SDK's retry policy): every
 * retry takes a token too, and a 429 with Retry-After pauses the subscription's whole bucket, so
 * the other requests of the sweep wait as well instead of each earning its own 429. The SDK's retry
 * policy still does the retrying: it waits Retry-After itself, and by then the pause has ended.
 */
import { AbortError, type AbortSignalLike } from '@azure/abort-controller';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

/** ARM's documented subscription read bucket: refill rate (tokens per second) and size. */
export const ARM_READS_PER_SECOND = 25;
export const ARM_READ_BURST = 250;

export interface ThrottleOptions {
  /** Tokens added per second. Default ARM_READS_PER_SECOND. */
  readsPerSecond?: number;
  /** Bucket size: requests allowed at once after a quiet period. Default ARM_READ_BURST. */
  burst?: number;
}

/** The throttling headers in the order the pipeline's retry strategy reads them, with their unit. */
export const RETRY_AFTER_HEADERS = [
  ['retry-after-ms', 1],
  ['x-ms-retry-after-ms', 1],
  ['retry-after', 1000],
] as const;

/** ARM's counts of requests left in the current window; the smallest one present wins. */
const REMAINING_HEADERS = [
  'x-ms-ratelimit-remaining-subscription-reads',
  'x-ms-ratelimit-remaining-subscription-global-reads',
  'x-ms-ratelimit-remaining-subscription-resource-requests',
  'x-ms-ratelimit-remaining-subscription-resource-entities-read',
];

interface Headers {
  get(name: string): string | undefined;
}

/**
 * The wait the retry strategy would take from these headers (first usable one wins), in ms:
 * `retry-after-ms`, `x-ms-retry-after-ms`, then `Retry-After` in seconds or as an HTTP date.
 */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  for (const [name, unit] of RETRY_AFTER_HEADERS) {
    const value = headers.get(name)?.trim();
    if (!value) continue;
    const n = Number(value);
    if (!Number.isNaN(n)) return Math.max(0, n * unit);
    if (name === 'retry-after') {
      const ms = Date.parse(value) - now;
      if (Number.isFinite(ms)) return Math.max(0, ms);
    }
  }
  return undefined;
}

/** The smallest `x-ms-ratelimit-remaining-*` count in the headers, if any. */
export function remainingRequests(headers: Headers): number | undefined {
  let least: number | undefined;
  for (const name of REMAINING_HEADERS) {
    const value = headers.get(name)?.trim();
    if (!value || !/^\d+$/.test(value)) continue;
    const n = Number(value);
    if (least === undefined || n < least) least = n;
  }
  return least;
}

/** The subscription id in an ARM request URL (lower case), or '' when it names none. */
export function subscriptionOf(url: string): string {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return '';
  }
  const m = /\/subscriptions\/([^/]+)/i.exec(path);
  if (!m) return '';
  try {
    return decodeURIComponent(m[1] as string).toLowerCase();
  } catch {
    return (m[1] as string).toLowerCase();
  }
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * A token bucket whose takers wait in order (first come, first served). `pauseUntil` empties it
 * and stops refilling until then, so after a pause requests resume at the refill rate, not in a
 * burst.
 */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  #tokens: number;
  #updatedAt: number;
  #pausedUntil = 0;
  #queue: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(ratePerSecond: number, burst: number) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new RangeError(`ratePerSecond must be a positive number (got ${ratePerSecond})`);
    if (!(burst >= 1) || !Number.isFinite(burst)) throw new RangeError(`burst must be at least 1 (got ${burst})`);
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#tokens = burst;
    this.#updatedAt = Date.now();
  }

  /** Tokens available now (fractional while refilling). */
  get available(): number {
    this.#refill(Date.now());
    return this.#tokens;
  }

  /** When the bucket is paused until (ms since the epoch), or 0. */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /** Resolves when a token is taken; rejects with an AbortError when `signal` aborts first. */
  take(signal?: AbortSignalLike): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortError('The operation was aborted while waiting for ARM throttling.'));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.#queue.indexOf(waiter);
        if (i !== -1) this.#queue.splice(i, 1);
        if (this.#queue.length === 0) this.#stopTimer();
        reject(new AbortError('The operation was aborted while waiting for ARM throttling.'));
      };
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject,
      };
      signal?.addEventListener('abort', onAbort);
      this.#queue.push(waiter);
      this.#pump();
    });
  }

  /** No token is handed out before `at` (ms since the epoch); the bucket restarts empty then. */
  pauseUntil(at: number): void {
    if (at <= this.#pausedUntil) return;
    this.#pausedUntil = at;
    this.#tokens = 0;
    this.#updatedAt = Math.max(at, this.#updatedAt);
    this.#stopTimer();
    this.#pump();
  }

  /** ARM says only `remaining` requests are left: hold no more tokens than that. */
  limitTo(remaining: number): void {
    this.#refill(Date.now());
    this.#tokens = Math.min(this.#tokens, Math.max(0, remaining));
  }

  #refill(now: number): void {
    if (now <= this.#updatedAt) return;
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#updatedAt) * this.ratePerSecond) / 1000);
    this.#updatedAt = now;
  }

  #pump(): void {
    const now = Date.now();
    this.#refill(now);
    while (this.#queue.length > 0 && now >= this.#pausedUntil && this.#tokens >= 1) {
      this.#tokens -= 1;
      this.#queue.shift()?.resolve();
    }
    if (this.#queue.length === 0 || this.#timer) return;
    const wait = now < this.#pausedUntil ? this.#pausedUntil - now : ((1 - this.#tokens) * 1000) / this.ratePerSecond;
    // Not unref'd: a CLI run waiting only for a token must not exit.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, Math.max(1, Math.ceil(wait)));
  }

  #stopTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** One token bucket per subscription, shared by every SDK client of one createAzureClients(). */
export class ArmThrottle {
  readonly readsPerSecond: number;
  readonly burst: number;
  #buckets = new Map<string, TokenBucket>();

  constructor(options: ThrottleOptions = {}) {
    this.readsPerSecond = options.readsPerSecond ?? ARM_READS_PER_SECOND;
    this.burst = options.burst ?? ARM_READ_BURST;
    // Validates the numbers now rather than at the first request.
    new TokenBucket(this.readsPerSecond, this.burst);
  }

  /** The bucket of a subscription id (any case); '' is the bucket of requests naming none. */
  bucket(subscription: string): TokenBucket {
    const key = subscription.toLowerCase();
    let b = this.#buckets.get(key);
    if (!b) {
      b = new TokenBucket(this.readsPerSecond, this.burst);
      this.#buckets.set(key, b);
    }
    return b;
  }

  /** The pipeline policy: add it with position `perRetry`. */
  policy(): PipelinePolicy {
    return {
      name: 'netdoctorArmThrottle',
      sendRequest: async (request, next) => {
        const bucket = this.bucket(subscriptionOf(request.url));
        await bucket.take(request.abortSignal);
        const response = await next(request);
        if (response.status === 429) {
          // ARM's bucket is empty: so is ours, and with Retry-After nothing goes out before then.
          const ms = retryAfterMs(response.headers);
          if (ms !== undefined) bucket.pauseUntil(Date.now() + ms);
          else bucket.limitTo(0);
        } else {
          const remaining = remainingRequests(response.headers);
          if (remaining !== undefined) bucket.limitTo(remaining);
        }
        return response;
      },
    };
  }
}
