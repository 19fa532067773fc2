/**
 * Diagnosis runs: a diagnosis started through the API runs in the background under its own
 * AbortController. Its status, per-probe progress and outcome are kept here and every change is
 * an event for subscribers (the SSE stream). `DiagnosisRuns` is the whole interface the routes use,
 * so a stored implementation can replace the in-memory one (createLiveRuns with a RunBackend, see
 * src/service/stored-runs.ts); createMemoryRuns forgets a finished run after `retainMs` and loses
 * everything on restart.
 */
import { randomUUID } from 'node:crypto';
import { Type, type Static } from 'typebox';
import type { DiagnoseFn, DiagnoseRequest, ProgressEvent } from '../diagnose.ts';
import type { ReportOptions } from '../report/build.ts';
import { Report } from '../report/schema.ts';

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export const RunStatus = Type.Enum([...RUN_STATUSES], {
  $id: 'RunStatus',
  description: 'queued: accepted, not started; running; succeeded: the report is ready; failed: no report (see error); cancelled: stopped by DELETE or a server shutdown, no report.',
});
export type RunStatus = Static<typeof RunStatus>;
export type FinalStatus = Extract<RunStatus, 'succeeded' | 'failed' | 'cancelled'>;

export const ProbeProgress = Type.Object(
  {
    probe: Type.String({ description: 'Probe id, e.g. workspace or dns.' }),
    title: Type.String(),
    phase: Type.Enum(['start', 'done']),
    ok: Type.Optional(Type.Boolean({ description: "With done: whether the probe's observation is ok." })),
    ms: Type.Optional(Type.Integer({ minimum: 0, description: 'With done: how long the probe ran.' })),
  },
  { $id: 'ProbeProgress', additionalProperties: false, description: 'A probe of a diagnosis that started (phase start) or finished (phase done).' },
);
export type ProbeProgress = Static<typeof ProbeProgress>;

export const DiagnosisRun = Type.Object(
  {
    id: Type.String(),
    status: RunStatus,
    createdAt: Type.String({ format: 'date-time' }),
    startedAt: Type.Optional(Type.String({ format: 'date-time' })),
    finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
    progress: Type.Array(ProbeProgress, { description: 'One entry per probe started so far, in start order, at its latest phase.' }),
    report: Type.Optional(Report),
    error: Type.Optional(Type.String({ description: 'Why a failed or cancelled run has no report; never internal details (those are in the server log).' })),
  },
  { $id: 'DiagnosisRun', additionalProperties: false, description: 'A diagnosis running in the background: its status, progress and, once succeeded, its report.' },
);
export type DiagnosisRun = Static<typeof DiagnosisRun>;

/** What a run emits: a probe's start or end, then exactly one `done`. `seq` counts from 1 per run. */
export type RunEvent = { seq: number; type: 'progress'; progress: ProbeProgress } | { seq: number; type: 'done'; status: FinalStatus };

export interface RunInput {
  request: DiagnoseRequest;
  options?: ReportOptions;
}

export interface FinishedRun {
  run: DiagnosisRun;
  /** What a failed diagnosis threw; only for the process that started it (to log it with its request). */
  cause?: unknown;
}

export interface StartedRun {
  run: DiagnosisRun;
  finished: Promise<FinishedRun>;
}

export type CancelOutcome = { outcome: 'cancelled'; run: DiagnosisRun } | { outcome: 'already-finished'; run: DiagnosisRun } | { outcome: 'unknown' };

export interface DiagnosisRuns {
  /** Accepts a run; it starts in the background. Rejects with RunsClosedError after close(). */
  start(input: RunInput): Promise<StartedRun>;
  get(id: string): Promise<DiagnosisRun | undefined>;
  /** Cancels a queued or running run; `reason` becomes its error message. */
  cancel(id: string, reason: string): Promise<CancelOutcome>;
  /**
   * Delivers the run's events after `afterSeq` (what happened so far first), then new ones up to and
   * including `done` (always delivered, so a finished run's subscriber learns it is over). Answers
   * the unsubscribe function, or undefined for an unknown run.
   */
  subscribe(id: string, afterSeq: number, listener: (e: RunEvent) => void): Promise<(() => void) | undefined>;
  /**
   * Shutdown: refuses new runs, gives unfinished ones up to `graceMs` (default 0) to finish, then
   * cancels the rest with `reason`.
   */
  close(reason: string, graceMs?: number): Promise<void>;
  /**
   * With a shared backend: stops the runs this process is running that ended elsewhere (another
   * replica cancelled them through the store). Call it periodically.
   */
  sync(): Promise<void>;
}

export class RunsClosedError extends Error {
  override name = 'RunsClosedError';
}

/** The error message of a failed run: the cause may carry internals, so it goes to the log only. */
export const FAILED_MESSAGE = 'The diagnosis failed; the cause is in the server log.';

export function isFinal(status: RunStatus): status is FinalStatus {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled';
}

export interface MemoryRunsOptions {
  diagnose: DiagnoseFn;
  /** How long a finished run stays readable. */
  retainMs: number;
}

/**
 * Where a registry keeps runs beyond the live ones (src/service/stored-runs.ts). The live part
 * (status, events, subscribers, AbortController) stays in memory for runs started by this process;
 * the backend records every change and answers for runs this process does not hold.
 */
export interface RunBackend {
  /** Records a new queued run; answers its id. */
  create(input: RunInput, createdAt: Date): Promise<string>;
  /** Called in order for each run: started, progress…, finished (only the first outcome). */
  started(id: string, at: Date): void;
  progress(id: string, e: ProgressEvent): void;
  /** Records the outcome. Once it resolves the live run is forgotten (read from the backend); if it rejects, kept for retainMs. */
  finished(run: DiagnosisRun): Promise<void>;
  get(id: string): Promise<DiagnosisRun | undefined>;
  cancel(id: string, reason: string): Promise<CancelOutcome>;
  subscribe(id: string, afterSeq: number, listener: (e: RunEvent) => void): Promise<(() => void) | undefined>;
}

export interface LiveRunsOptions extends MemoryRunsOptions {
  backend?: RunBackend;
}

interface Entry {
  run: DiagnosisRun;
  /** Index into run.progress by probe id. */
  probes: Map<string, number>;
  controller: AbortController;
  events: RunEvent[];
  listeners: Set<(e: RunEvent) => void>;
  settle: (f: FinishedRun) => void;
  finished: Promise<FinishedRun>;
}

/** A copy callers may keep: later progress does not change it. */
function view(run: DiagnosisRun): DiagnosisRun {
  return { ...run, progress: run.progress.map((p) => ({ ...p })) };
}

export function deliver(listener: (e: RunEvent) => void, e: RunEvent): void {
  try {
    listener(e);
  } catch {
    // A subscriber's failure (e.g. a closed socket) must not stop the run or the other subscribers.
  }
}

export function createMemoryRuns(options: MemoryRunsOptions): DiagnosisRuns {
  return createLiveRuns(options);
}

/** The registry of runs started by this process; without a backend, that is all there is. */
export function createLiveRuns(options: LiveRunsOptions): DiagnosisRuns {
  const { backend } = options;
  const runs = new Map<string, Entry>();
  /** Outcomes still being written to the backend; close() waits for them. */
  const writing = new Set<Promise<void>>();
  let closed = false;
  let closeReason = '';

  function emit(entry: Entry, event: RunEvent): void {
    entry.events.push(event);
    for (const l of entry.listeners) deliver(l, event);
  }

  function onProgress(entry: Entry, e: ProgressEvent): void {
    if (isFinal(entry.run.status)) return;
    const progress: ProbeProgress = { probe: e.probe, title: e.title, phase: e.phase, ...(e.ok !== undefined ? { ok: e.ok } : {}), ...(e.ms !== undefined ? { ms: e.ms } : {}) };
    const at = entry.probes.get(e.probe);
    if (at === undefined) {
      entry.probes.set(e.probe, entry.run.progress.length);
      entry.run.progress.push(progress);
    } else {
      entry.run.progress[at] = progress;
    }
    backend?.progress(entry.run.id, e);
    emit(entry, { seq: entry.events.length + 1, type: 'progress', progress: { ...progress } });
  }

  function forgetAfter(id: string, ms: number): void {
    setTimeout(() => runs.delete(id), ms).unref();
  }

  /** Records the outcome once; whatever the diagnosis does after a cancel is ignored. */
  function finish(entry: Entry, status: FinalStatus, outcome: { report?: Report; error?: string; cause?: unknown }): void {
    if (isFinal(entry.run.status)) return;
    entry.run.status = status;
    entry.run.finishedAt = new Date().toISOString();
    if (outcome.report) entry.run.report = outcome.report;
    if (outcome.error) entry.run.error = outcome.error;
    emit(entry, { seq: entry.events.length + 1, type: 'done', status });
    entry.listeners.clear();
    const finished: FinishedRun = { run: view(entry.run), ...(outcome.cause !== undefined ? { cause: outcome.cause } : {}) };
    if (!backend) {
      entry.settle(finished);
      forgetAfter(entry.run.id, options.retainMs);
      return;
    }
    // Settled once written, so whoever waits for the run can read it back from the backend.
    const written = backend.finished(view(entry.run)).then(
      () => void runs.delete(entry.run.id),
      () => forgetAfter(entry.run.id, options.retainMs),
    );
    writing.add(written);
    void written.then(() => {
      writing.delete(written);
      entry.settle(finished);
    });
  }

  function begin(entry: Entry, input: RunInput): void {
    if (entry.run.status !== 'queued') return;
    entry.run.status = 'running';
    const startedAt = new Date();
    entry.run.startedAt = startedAt.toISOString();
    backend?.started(entry.run.id, startedAt);
    Promise.resolve()
      .then(() => options.diagnose(input.request, entry.controller.signal, input.options ?? {}, (e) => onProgress(entry, e)))
      .then(
        (report) => finish(entry, 'succeeded', { report }),
        (cause: unknown) => finish(entry, 'failed', { error: FAILED_MESSAGE, cause }),
      );
  }

  function cancelEntry(entry: Entry, reason: string): void {
    finish(entry, 'cancelled', { error: reason });
    entry.controller.abort(new Error(reason));
  }

  return {
    async start(input) {
      if (closed) throw new RunsClosedError('no new diagnoses are accepted: the server is shutting down');
      const createdAt = new Date();
      const id = backend ? await backend.create(input, createdAt) : randomUUID();
      const run: DiagnosisRun = { id, status: 'queued', createdAt: createdAt.toISOString(), progress: [] };
      let settle!: (f: FinishedRun) => void;
      const finished = new Promise<FinishedRun>((resolve) => (settle = resolve));
      const entry: Entry = { run, probes: new Map(), controller: new AbortController(), events: [], listeners: new Set(), settle, finished };
      runs.set(run.id, entry);
      // Closed while the backend was recording it: it ends as every other unfinished run did.
      if (closed) {
        cancelEntry(entry, closeReason);
        return { run: view(run), finished };
      }
      // Started on the next turn so the caller sees it queued and may subscribe before the first probe.
      setImmediate(() => begin(entry, input));
      return { run: view(run), finished };
    },
    async get(id) {
      const entry = runs.get(id);
      if (entry) return view(entry.run);
      return backend?.get(id);
    },
    async cancel(id, reason) {
      const entry = runs.get(id);
      if (!entry) return backend ? backend.cancel(id, reason) : { outcome: 'unknown' };
      if (isFinal(entry.run.status)) return { outcome: 'already-finished', run: view(entry.run) };
      cancelEntry(entry, reason);
      return { outcome: 'cancelled', run: view(entry.run) };
    },
    async subscribe(id, afterSeq, listener) {
      const entry = runs.get(id);
      if (!entry) return backend?.subscribe(id, afterSeq, listener);
      for (const e of entry.events) if (e.seq > afterSeq || e.type === 'done') deliver(listener, e);
      if (isFinal(entry.run.status)) return () => {};
      entry.listeners.add(listener);
      return () => entry.listeners.delete(listener);
    },
    async sync() {
      if (!backend) return;
      for (const entry of runs.values()) {
        if (isFinal(entry.run.status) || entry.run.status === 'queued') continue;
        const stored = await backend.get(entry.run.id).catch(() => undefined);
        if (stored && isFinal(stored.status) && !isFinal(entry.run.status)) cancelEntry(entry, stored.error ?? 'Cancelled.');
      }
    },
    async close(reason, graceMs = 0) {
      closed = true;
      closeReason = reason;
      const unfinished = [...runs.values()].filter((e) => !isFinal(e.run.status));
      if (graceMs > 0 && unfinished.length > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.all(unfinished.map((e) => e.finished)), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
        clearTimeout(timer);
      }
      for (const entry of runs.values()) if (!isFinal(entry.run.status)) cancelEntry(entry, reason);
      await Promise.all([...writing]);
    },
  };
}
