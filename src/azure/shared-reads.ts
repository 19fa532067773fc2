/**
 * Reads shared by a sweep: a single-flight cache of ARM GET answers, as a pipeline policy, so that
 * what many workspaces have in common (a hub VNet, its private DNS zones and their record and link
 * listings, a firewall policy, the service tags of a region, a subscription's zone listing) is read
 * from ARM once per sweep, whichever workspace asks first.
 *
 * One SharedReads is for ONE sweep and ONE credential: it answers every caller with what the first
 * one was allowed to read. Never share one across sweeps (answers go stale) or across callers with
 * different credentials (a 403 for one would be served to another, or worse, a 200 to a caller who
 * may not read the resource): with per-caller credentials, give each caller its own.
 *
 * What it keeps, per normalised URL (see `sharedReadKey`): the final status, headers and body text
 * of 2xx (but 202), 403 and 404 answers, which do not change within a sweep. 429, 5xx, 401,
 * network errors and aborts are never kept (the next reader asks ARM again), nor is anything that
 * is not a GET (the effective-routes POSTs go through every time), nor the GETs that poll a
 * long-running operation (their answer changes from InProgress to Succeeded under the same URL).
 */
import { AbortError, type AbortSignalLike } from '@azure/abort-controller';
import { createHttpHeaders, type PipelinePolicy, type PipelineRequest, type PipelineResponse, type SendRequest } from '@azure/core-rest-pipeline';

export const SHARED_READS_POLICY_NAME = 'netdoctorSharedReads';

export interface SharedReadsStats {
  /** GETs this cache let through to ARM (each distinct read once, plus uncacheable ones such as LRO polls). */
  requests: number;
  /** GETs answered without asking ARM: from the cache, or by joining an identical read in flight. */
  hits: number;
}

/** An answer as kept: never the response object, whose `parsedBody` its consumer's deserialization sets. */
interface StoredRead {
  status: number;
  headers: Record<string, string>;
  bodyAsText: string | null | undefined;
}

type FlightResult =
  | { kind: 'answer'; read: StoredRead }
  /** A streamed body cannot be replayed: joiners ask for themselves. */
  | { kind: 'unshareable' }
  | { kind: 'failed'; error: unknown; ownerAborted: boolean };

/** The headers that name where a long-running operation is polled. */
const POLLING_HEADERS = ['azure-asyncoperation', 'operation-location', 'location'];

/** `/subscriptions/{any}/providers/Microsoft.Network/locations/{loc}/serviceTags`, any case. */
const SERVICE_TAGS_PATH = /^\/subscriptions\/[^/]+\/providers\/microsoft\.network\/locations\/([^/]+)\/servicetags\/?$/;

/**
 * Service tags are one document per cloud and location, whatever subscription asks for them: the
 * subscription-free path they are cached under (lower case), or undefined for any other path.
 */
export function serviceTagsScope(lowerPath: string): string | undefined {
  const m = SERVICE_TAGS_PATH.exec(lowerPath);
  return m ? `/providers/microsoft.network/locations/${m[1]}/servicetags` : undefined;
}

/**
 * The cache key of a GET: origin and path in lower case (ARM paths compare case-insensitively),
 * query parameters sorted by name then value (api-version included, values kept as sent), and the
 * service-tags path without its subscription.
 */
export function sharedReadKey(url: string): string {
  const u = new URL(url);
  const path = u.pathname.toLowerCase().replace(/\/+$/, '');
  const params = [...u.searchParams].sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  const query = params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return `${u.origin.toLowerCase()}${serviceTagsScope(path) ?? path}${query ? `?${query}` : ''}`;
}

/** Answers that stay the same for the length of a sweep. 202 is "still running": it never does. */
export function isCacheableStatus(status: number): boolean {
  return (status >= 200 && status < 300 && status !== 202) || status === 403 || status === 404;
}

/** Origin and lower-case path: LRO polling URLs are recognised whatever query the poller adds. */
function pathKey(url: string): string | undefined {
  try {
    const u = new URL(url);
    return `${u.origin.toLowerCase()}${u.pathname.toLowerCase().replace(/\/+$/, '')}`;
  } catch {
    return undefined;
  }
}

function stored(response: PipelineResponse): StoredRead | undefined {
  if (response.readableStreamBody || response.browserStreamBody || response.blobBody) return undefined;
  return { status: response.status, headers: response.headers.toJSON(), bodyAsText: response.bodyAsText };
}

/** A fresh response for this consumer: its own request, its own headers object, nothing parsed yet. */
function replay(read: StoredRead, request: PipelineRequest): PipelineResponse {
  return { request, status: read.status, headers: createHttpHeaders(read.headers), bodyAsText: read.bodyAsText };
}

/** `promise`, or an AbortError as soon as `signal` aborts (the read it waits on goes on for the others). */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignalLike | undefined): Promise<T> {
  if (!signal) return promise;
  const aborted = () => new AbortError('The operation was aborted while waiting for a shared ARM read.');
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort);
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** What `attach` needs of an SDK client's pipeline. */
export interface SharedReadsTarget {
  addPolicy(policy: PipelinePolicy, options?: { afterPhase?: 'Deserialize' }): void;
}

export class SharedReads {
  /** Reads in flight and kept answers, by `sharedReadKey`. A settled entry holds a cacheable answer. */
  readonly #reads = new Map<string, Promise<FlightResult>>();
  /** `pathKey`s of URLs a response named for polling a long-running operation. */
  readonly #polling = new Set<string>();
  #requests = 0;
  #hits = 0;

  stats(): SharedReadsStats {
    return { requests: this.#requests, hits: this.#hits };
  }

  /**
   * Adds the policy to an SDK client's pipeline, right after the Deserialize phase. Pipeline order
   * is Serialize, (no phase), Deserialize, Retry, Sign; perRetry policies (the throttle, the ARM
   * metrics, the Retry-After cap) run after Sign. So here:
   * - the retry policy, the per-subscription throttle and the metrics run INSIDE this policy: the
   *   answer kept is the final one (a 429 then 200 is kept as the 200), and a hit neither waits on
   *   the throttle nor counts as an ARM call;
   * - each client's deserialization runs OUTSIDE it, on a response object of its own: the classic
   *   clients' deserialization policy sets `parsedBody` on the response it gets, and the modular
   *   clients parse `bodyAsText` after the pipeline; neither ever sees another consumer's object.
   * (A perCall policy would sit outside deserialization, a perRetry one inside the retries.)
   */
  attach(pipeline: SharedReadsTarget): void {
    pipeline.addPolicy(this.policy(), { afterPhase: 'Deserialize' });
  }

  policy(): PipelinePolicy {
    return { name: SHARED_READS_POLICY_NAME, sendRequest: (request, next) => this.#send(request, next) };
  }

  async #send(request: PipelineRequest, next: SendRequest): Promise<PipelineResponse> {
    const path = pathKey(request.url);
    if (request.method !== 'GET' || path === undefined || this.#polling.has(path)) {
      if (request.method === 'GET') this.#requests++;
      const response = await next(request);
      this.#notePolling(response);
      return response;
    }
    const key = sharedReadKey(request.url);
    for (;;) {
      const inFlightOrKept = this.#reads.get(key);
      if (!inFlightOrKept) return this.#fly(key, request, next);
      const result = await unlessAborted(inFlightOrKept, request.abortSignal);
      if (result.kind === 'answer') {
        this.#hits++;
        return replay(result.read, request);
      }
      // A read that failed for everyone fails for this joiner too; one its owner cancelled does not.
      if (result.kind === 'failed' && !result.ownerAborted) throw result.error;
    }
  }

  /** Sends the read for everyone asking the same thing meanwhile, and keeps a cacheable answer. */
  async #fly(key: string, request: PipelineRequest, next: SendRequest): Promise<PipelineResponse> {
    let settle: (r: FlightResult) => void = () => {};
    this.#reads.set(key, new Promise<FlightResult>((resolve) => (settle = resolve)));
    this.#requests++;
    let response: PipelineResponse;
    try {
      response = await next(request);
    } catch (error) {
      this.#reads.delete(key);
      settle({ kind: 'failed', error, ownerAborted: request.abortSignal?.aborted === true });
      throw error;
    }
    this.#notePolling(response);
    const read = stored(response);
    if (!read || !isCacheableStatus(read.status)) this.#reads.delete(key);
    // Joiners get the final answer even when it is not kept: they asked at the same time.
    settle(read ? { kind: 'answer', read } : { kind: 'unshareable' });
    return response;
  }

  #notePolling(response: PipelineResponse): void {
    for (const name of POLLING_HEADERS) {
      const value = response.headers.get(name);
      if (!value) continue;
      let absolute: string;
      try {
        absolute = new URL(value, response.request.url).href;
      } catch {
        continue;
      }
      const path = pathKey(absolute);
      if (path) this.#polling.add(path);
    }
  }
}
