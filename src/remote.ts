/**
 * `aml-netdoctor diagnose --server <url>`: the diagnosis runs on an aml-netdoctor service instead of
 * here. POST /v1/diagnoses with `Prefer: respond-async`, follow the run's server-sent events (the
 * progress), then read the run for the report.
 */
import { Value } from 'typebox/value';
import type { DiagnoseRequest, ProgressEvent } from './diagnose.ts';
import type { ReportOptions } from './report/build.ts';
import { Report } from './report/schema.ts';

/** `exitCode` 2: the server rejected the request as invalid; 3: the diagnosis could not be completed. */
export class RemoteError extends Error {
  readonly exitCode: 2 | 3;
  constructor(message: string, exitCode: 2 | 3) {
    super(message);
    this.name = 'RemoteError';
    this.exitCode = exitCode;
  }
}

export interface RemoteDiagnosis {
  /** The service's base URL, e.g. http://127.0.0.1:3000 */
  server: string;
  request: DiagnoseRequest;
  options: ReportOptions;
  onProgress?: ((e: ProgressEvent) => void) | undefined;
  /** Aborting (Ctrl-C) cancels the run on the server. */
  signal: AbortSignal;
  /** Credential headers for an authenticated server (X-API-Key or Authorization: Bearer); never printed. */
  credentials?: Record<string, string>;
}

/** The credential headers the CLI sends to a server, from NETDOCTOR_SERVER_API_KEY or NETDOCTOR_SERVER_TOKEN. */
export function serverCredentials(env: Record<string, string | undefined>): Record<string, string> {
  const key = env.NETDOCTOR_SERVER_API_KEY?.trim();
  if (key) return { 'x-api-key': key };
  const token = env.NETDOCTOR_SERVER_TOKEN?.trim();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** A stream that says nothing for this long (the server sends a heartbeat every 15 s) is reopened. */
const STALL_MS = 45_000;
/** Times the event stream is reopened after it broke before the run ended. */
const RECONNECTS = 5;

interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** Splits a server-sent event stream into events (comments and retry fields are skipped). */
export async function* parseSse(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of chunks) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const e: SseEvent = { event: 'message', data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') data.push(value);
        else if (field === 'event') e.event = value;
        else if (field === 'id') e.id = value;
      }
      if (data.length === 0) continue;
      e.data = data.join('\n');
      yield e;
    }
  }
}

async function problemDetail(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const detail = (JSON.parse(text) as { detail?: unknown }).detail;
    if (typeof detail === 'string') return detail;
  } catch {
    // not a problem document
  }
  return `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
}

function unreachable(url: URL, err: unknown): RemoteError {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
  return new RemoteError(`could not reach the server at ${url.origin} (${cause})`, 3);
}

/** Follows the run's events, passing progress on, until `done`; answers the final status. */
async function follow(eventsUrl: URL, onProgress: RemoteDiagnosis['onProgress'], signal: AbortSignal, credentials: Record<string, string>): Promise<string> {
  let lastId = '';
  for (let attempt = 0; attempt <= RECONNECTS; attempt++) {
    const stalled = new AbortController();
    let timer = setTimeout(() => stalled.abort(), STALL_MS);
    try {
      const res = await fetch(eventsUrl, {
        headers: { ...credentials, accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
        signal: AbortSignal.any([signal, stalled.signal]),
      });
      if (res.status === 404) throw new RemoteError('the server no longer knows the diagnosis (it was forgotten or the server restarted)', 3);
      if (!res.ok || !res.body) throw new RemoteError(`the server's event stream failed: ${await problemDetail(res)}`, 3);
      for await (const e of parseSse(res.body)) {
        clearTimeout(timer);
        timer = setTimeout(() => stalled.abort(), STALL_MS);
        if (e.id !== undefined) lastId = e.id;
        if (e.event === 'progress') onProgress?.(JSON.parse(e.data) as ProgressEvent);
        if (e.event === 'done') return (JSON.parse(e.data) as { status: string }).status;
      }
    } catch (err) {
      if (err instanceof RemoteError || signal.aborted) throw err;
      if (attempt === RECONNECTS) throw unreachable(eventsUrl, err);
    } finally {
      clearTimeout(timer);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new RemoteError('the event stream kept ending before the diagnosis finished', 3);
}

/** Asks the server to stop the run; best effort (we are leaving anyway). */
async function cancelRun(runUrl: URL, credentials: Record<string, string>): Promise<void> {
  await fetch(runUrl, { method: 'DELETE', headers: credentials, signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
}

export async function diagnoseRemotely(d: RemoteDiagnosis): Promise<Report> {
  const credentials = d.credentials ?? {};
  const postUrl = new URL('v1/diagnoses', d.server.endsWith('/') ? d.server : `${d.server}/`);
  const body = { ...d.request, ...(d.options.minTier !== undefined ? { minTier: d.options.minTier } : {}), ...(d.options.exclude?.length ? { exclude: [...d.options.exclude] } : {}) };
  let res: Response;
  try {
    res = await fetch(postUrl, {
      method: 'POST',
      headers: { ...credentials, 'content-type': 'application/json', accept: 'application/json', prefer: 'respond-async' },
      body: JSON.stringify(body),
      signal: d.signal,
    });
  } catch (err) {
    if (d.signal.aborted) throw new RemoteError('interrupted', 3);
    throw unreachable(postUrl, err);
  }
  // A server that does not honour the preference answers the report at once.
  if (res.status === 200) return checked(await res.json());
  if (res.status === 401 || res.status === 403) {
    const hint = Object.keys(credentials).length ? 'the credential in NETDOCTOR_SERVER_API_KEY / NETDOCTOR_SERVER_TOKEN' : 'no credential (set NETDOCTOR_SERVER_API_KEY or NETDOCTOR_SERVER_TOKEN)';
    throw new RemoteError(`the server refused ${hint}: ${await problemDetail(res)}`, 2);
  }
  if (res.status !== 202) {
    const detail = await problemDetail(res);
    const invalid = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
    throw new RemoteError(`the server ${invalid ? 'rejected the request' : 'could not run the diagnosis'}: ${detail}`, invalid ? 2 : 3);
  }
  const accepted = (await res.json()) as { links?: { self?: string; events?: string } };
  const runUrl = new URL(res.headers.get('location') ?? accepted.links?.self ?? '', postUrl);
  const eventsUrl = new URL(accepted.links?.events ?? `${runUrl.pathname}/events`, postUrl);
  try {
    await follow(eventsUrl, d.onProgress, d.signal, credentials);
  } catch (err) {
    if (!d.signal.aborted) throw err;
    await cancelRun(runUrl, credentials);
    throw new RemoteError('interrupted; the diagnosis was cancelled on the server', 3);
  }
  const runRes = await fetch(runUrl, { headers: { ...credentials, accept: 'application/json' } }).catch((err: unknown) => {
    throw unreachable(runUrl, err);
  });
  if (!runRes.ok) throw new RemoteError(`could not read the diagnosis: ${await problemDetail(runRes)}`, 3);
  const run = (await runRes.json()) as { status?: string; report?: unknown; error?: string };
  if (run.status !== 'succeeded') throw new RemoteError(`the diagnosis ${run.status ?? 'ended'} on the server${run.error ? `: ${run.error}` : ''}`, 3);
  return checked(run.report);
}

function checked(report: unknown): Report {
  if (!Value.Check(Report, report)) throw new RemoteError('the server answered something that is not an aml-netdoctor report', 3);
  return report;
}
