/**
 * Diagnosis runs kept in the Store: a run is created, started, progressed and finished in the store,
 * so GET /v1/diagnoses/{id} answers after a restart. The live parts (AbortController, SSE
 * subscribers) stay in memory for runs this process started (createLiveRuns in runs.ts); a run this
 * process does not hold (finished earlier, or a scheduled run) is read from the store.
 *
 * Not stored: the run's event sequence. Following a run the process does not hold replays its
 * stored progress (one event per probe, at its latest phase, numbered from 1) and then polls the
 * store until it ends.
 */
import type { DiagnoseFn, DiagnoseRequest } from '../diagnose.ts';
import type { RunRecord, Store } from '../store/store.ts';
import { createLiveRuns, deliver, isFinal, type CancelOutcome, type DiagnosisRun, type DiagnosisRuns, type ProbeProgress, type RunBackend, type RunEvent } from './runs.ts';

export const INTERRUPTED_MESSAGE = 'interrupted: the service (or the replica running it) stopped before the diagnosis finished';

export interface StoredRunsOptions {
  store: Store;
  diagnose: DiagnoseFn;
  /** How often a subscriber to a run another part of the service is running sees the store re-read. */
  pollMs?: number;
  /** How long a finished run stays in memory when its outcome could not be written (default 10 minutes). */
  retainMs?: number;
  /**
   * This replica: its runs are created held by it, with a lease of `leaseMs` that the replica keeps
   * renewing (Scheduler.keepLeases). A run whose lease ran out is ended by recoverInterruptedRuns.
   */
  owner?: string;
  leaseMs?: number;
}

function toProgress(e: RunRecord['progress'][number]): ProbeProgress {
  return { probe: e.probe, title: e.title, phase: e.phase, ...(e.ok !== undefined ? { ok: e.ok } : {}), ...(e.ms !== undefined ? { ms: e.ms } : {}) };
}

/** The API's view of a stored run. */
export function runFromRecord(r: RunRecord): DiagnosisRun {
  return {
    id: r.id,
    status: r.status,
    createdAt: r.createdAt.toISOString(),
    ...(r.startedAt ? { startedAt: r.startedAt.toISOString() } : {}),
    ...(r.finishedAt ? { finishedAt: r.finishedAt.toISOString() } : {}),
    progress: r.progress.map(toProgress),
    ...(r.report ? { report: r.report } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
  };
}

function sameProgress(a: ProbeProgress | undefined, b: ProbeProgress): boolean {
  return a !== undefined && a.phase === b.phase && a.ok === b.ok && a.ms === b.ms;
}

function storeBackend(store: Store, pollMs: number, holder?: { owner: string; leaseMs: number }): RunBackend {
  /** Per run, its writes in order (a finish never lands before the progress before it). */
  const chains = new Map<string, Promise<unknown>>();
  function write<T>(id: string, op: () => Promise<T>): Promise<T> {
    const next = (chains.get(id) ?? Promise.resolve()).then(op);
    const settled = next.catch(() => undefined);
    chains.set(id, settled);
    void settled.then(() => {
      if (chains.get(id) === settled) chains.delete(id);
    });
    return next;
  }

  async function read(id: string): Promise<DiagnosisRun | undefined> {
    const record = await store.getRun(id);
    return record && runFromRecord(record);
  }

  return {
    async create(input, createdAt) {
      const request: DiagnoseRequest = input.request;
      const lease = holder ? { owner: holder.owner, leaseUntil: new Date(createdAt.getTime() + holder.leaseMs) } : {};
      return (await store.createRun({ request, createdAt, ...lease })).id;
    },
    started(id, at) {
      // Progress is best effort: while the run is live, memory is what GET answers.
      write(id, () => store.startRun(id, at)).catch(() => {});
    },
    progress(id, e) {
      write(id, () => store.recordProgress(id, e)).catch(() => {});
    },
    async finished(run) {
      if (!isFinal(run.status)) throw new Error(`run ${run.id} is not finished`);
      const at = run.finishedAt ? new Date(run.finishedAt) : new Date();
      const outcome =
        run.status === 'succeeded' && run.report
          ? { status: 'succeeded' as const, report: run.report }
          : run.status === 'cancelled'
            ? { status: 'cancelled' as const, ...(run.error !== undefined ? { error: run.error } : {}) }
            : { status: 'failed' as const, error: run.error ?? 'failed' };
      await write(run.id, () => store.finishRun(run.id, outcome, at));
    },
    get: read,
    async cancel(id, reason): Promise<CancelOutcome> {
      const before = await read(id);
      if (!before) return { outcome: 'unknown' };
      if (isFinal(before.status)) return { outcome: 'already-finished', run: before };
      // Another part of the service (or process) runs it: the store's first outcome wins, and its
      // runner finds its later writes refused.
      const cancelled = await store.finishRun(id, { status: 'cancelled', error: reason }, new Date());
      const after = (await read(id)) ?? before;
      return cancelled ? { outcome: 'cancelled', run: after } : { outcome: 'already-finished', run: after };
    },
    async subscribe(id, afterSeq, listener) {
      const first = await read(id);
      if (!first) return undefined;
      let seq = 0;
      const sent = new Map<string, ProbeProgress>();
      let stopped = false;
      const replay = (run: DiagnosisRun): void => {
        for (const p of run.progress) {
          if (sameProgress(sent.get(p.probe), p)) continue;
          sent.set(p.probe, p);
          seq += 1;
          if (seq > afterSeq) deliver(listener, { seq, type: 'progress', progress: { ...p } });
        }
        if (isFinal(run.status)) {
          stopped = true;
          seq += 1;
          const done: RunEvent = { seq, type: 'done', status: run.status };
          deliver(listener, done);
        }
      };
      replay(first);
      if (stopped) return () => {};
      const timer = setInterval(() => {
        read(id).then(
          (run) => {
            if (stopped) return;
            if (run) replay(run);
            if (stopped || !run) {
              stopped = true;
              clearInterval(timer);
            }
          },
          () => {},
        );
      }, pollMs);
      timer.unref();
      return () => {
        stopped = true;
        clearInterval(timer);
      };
    },
  };
}

export function createStoredRuns(options: StoredRunsOptions): DiagnosisRuns {
  const holder = options.owner ? { owner: options.owner, leaseMs: options.leaseMs ?? 30_000 } : undefined;
  return createLiveRuns({ diagnose: options.diagnose, retainMs: options.retainMs ?? 600_000, backend: storeBackend(options.store, options.pollMs ?? 1_000, holder) });
}

/**
 * On-demand runs whose holder is gone (its lease ran out, or it never had one: a process that died,
 * or an older version) can no longer finish: their diagnosis died with it. They end failed; answers
 * how many. Call at start-up and then periodically. Scheduled runs are not touched: the scheduler
 * takes them over instead.
 */
export async function recoverInterruptedRuns(store: Store, now: Date): Promise<number> {
  let count = 0;
  for (;;) {
    const batch = await store.listRuns({ status: ['queued', 'running'], scheduled: false, leaseExpiredBy: now, limit: 100 });
    let changed = 0;
    for (const run of batch) if (await store.finishRun(run.id, { status: 'failed', error: INTERRUPTED_MESSAGE }, now)) changed += 1;
    count += changed;
    if (batch.length < 100 || changed === 0) return count;
  }
}
