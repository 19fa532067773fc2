/**
 * Scheduled health checks. Every tick claims the schedules that are due, exactly once across every
 * replica sharing the store (the claim creates each tick's run, queued, in the same transaction),
 * and gets the runs executed (ScheduledRunExecutor: diagnosis, health row, drift, webhooks):
 *
 * - embedded (SQLite): this process executes the tick's runs itself, as one sweep;
 * - scale-out (PostgreSQL): the runs go to a job queue (RunQueue, pg-boss) that every replica
 *   works; a batch a replica takes is one sweep. A replica that dies mid-run stops heartbeating
 *   its job and the queue retries it on another replica, which takes the run over once the dead
 *   replica's lease in the store has ended.
 *
 * Each tick also looks for orphaned runs (queued or running, but nobody's lease is alive): handed
 * back at shutdown, or left by a process that died. Embedded, it executes them; scale-out, it
 * re-queues them (a no-op while the queue still has them) or ends them failed when the queue has
 * given up on them.
 *
 * A sweep is one DiagnoseFn from `sweep()`: resources many workspaces share (hub VNets, private DNS
 * zones, firewalls and policies, service tags) are read once within it.
 */
import type { Logger } from 'pino';
import type { DiagnoseFn } from '../diagnose.ts';
import type { ScheduleRecord, Store } from '../store/store.ts';
import type { DeliverOptions } from './webhook.ts';
import type { QueuedRun, QueuedRunResult, RunQueue } from './run-queue.ts';
import { nextRunAfter } from './schedule-time.ts';
import { pool } from './sweep.ts';
import { GAVE_UP_MESSAGE, ScheduledRunExecutor, type ExecuteResult, type TickOutcome } from './scheduled-runs.ts';

export { withoutQuery, type TickOutcome } from './scheduled-runs.ts';

export interface SchedulerOptions {
  store: Store;
  log: Logger;
  /** Identifies this replica in the tick records and the runs it holds. */
  owner: string;
  /** A fresh DiagnoseFn per sweep (shared reads within it). Default: `diagnose` for every sweep. */
  sweep?: () => DiagnoseFn;
  diagnose?: DiagnoseFn;
  /** Most schedules claimed per tick (the rest wait for the next tick). */
  batch?: number;
  /** Diagnoses run at once within a sweep. */
  concurrency?: number;
  now?: () => Date;
  /** Webhook delivery settings (attempts, backoff, timeout). */
  webhook?: Omit<DeliverOptions, 'signal' | 'now'>;
  /** How long a run is held without a heartbeat before another replica may take it over. */
  leaseMs?: number;
  /** Scale-out: runs go through this queue, worked by every replica. Absent: executed here. */
  queue?: RunQueue;
}

export interface StopOptions {
  /** How long running work may go on before it is handed back (default 10 s). */
  graceMs?: number;
}

/** When a schedule runs next after `after` (also used when a schedule is created or changed). */
export function nextRunOf(schedule: Pick<ScheduleRecord, 'cadence'>, after: Date): Date | null {
  return nextRunAfter(schedule.cadence, after);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export class Scheduler {
  readonly #o: Required<Pick<SchedulerOptions, 'batch' | 'now' | 'concurrency'>> & SchedulerOptions;
  readonly #executor: ScheduledRunExecutor;
  readonly #sweep: () => DiagnoseFn;
  readonly #stopping = new AbortController();
  /** Aborted when stop()'s grace has run out: hands back the runs this process executes itself. */
  readonly #handBack = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #ticking: Promise<unknown> = Promise.resolve();
  #busy = false;
  readonly #work = new Set<Promise<unknown>>();

  constructor(options: SchedulerOptions) {
    this.#o = { batch: 100, concurrency: 8, now: () => new Date(), ...options };
    const { sweep, diagnose } = options;
    if (!sweep && !diagnose) throw new Error('Scheduler needs `sweep` or `diagnose`');
    this.#sweep = sweep ?? (() => diagnose as DiagnoseFn);
    this.#executor = new ScheduledRunExecutor({
      store: options.store,
      log: options.log,
      owner: options.owner,
      now: this.#o.now,
      ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
      ...(options.webhook ? { webhook: options.webhook } : {}),
    });
  }

  get executor(): ScheduledRunExecutor {
    return this.#executor;
  }

  /**
   * Claims the due schedules and gets their runs (and any orphaned runs) executed. Embedded, it
   * resolves when they are done, with their outcomes; scale-out, once they are queued, with none.
   */
  async tick(): Promise<TickOutcome[]> {
    if (this.#stopping.signal.aborted) return [];
    const { store, owner, batch, queue } = this.#o;
    const now = this.#o.now();
    const claimed = await store.claimDueSchedules(now, owner, batch, (s, after) => nextRunOf(s, after));
    const runIds = [...new Set([...(await this.#orphans(now)), ...claimed.map((c) => c.runId)])];
    if (runIds.length === 0) return [];
    if (queue) {
      await queue.send(runIds);
      return [];
    }
    const results = await this.#executeBatch(runIds.map((runId) => ({ runId, signal: this.#handBack.signal })));
    return results.filter((r): r is TickOutcome => r.status !== 'skipped');
  }

  /** Scheduled runs nobody holds a live lease on (handed back, or left by a process that died). */
  async #orphans(now: Date): Promise<string[]> {
    const { store, queue, log } = this.#o;
    const runs = await store.listRuns({ scheduled: true, status: ['queued', 'running'], leaseExpiredBy: now, limit: this.#o.batch });
    if (!queue) return runs.map((r) => r.id);
    const resend: string[] = [];
    for (const run of runs) {
      const state = await queue.holds(run.id);
      if (state) continue;
      // Never queued (the claimer died before sending it): queue it. Queued once but the queue has
      // given up (its retries ran out): end it, so it does not wait forever.
      if (run.attempts === 0 && run.status === 'queued') resend.push(run.id);
      else if (await store.finishRun(run.id, { status: 'failed', error: GAVE_UP_MESSAGE }, now)) log.error({ runId: run.id }, 'scheduled run given up: the job queue stopped retrying it');
    }
    return resend;
  }

  /** One sweep: the runs share one DiagnoseFn (and its shared reads), at most `concurrency` at once. */
  async #executeBatch(batch: readonly QueuedRun[]): Promise<ExecuteResult[]> {
    const diagnose = this.#sweep();
    const results: ExecuteResult[] = [];
    const work = pool(batch, this.#o.concurrency, async ({ runId, signal }) => {
      results.push(await this.#executeOne(runId, diagnose, signal));
    });
    this.#work.add(work);
    try {
      await work;
    } finally {
      this.#work.delete(work);
    }
    return results;
  }

  async #executeOne(runId: string, diagnose: DiagnoseFn, handBack: AbortSignal): Promise<ExecuteResult> {
    try {
      let result = await this.#executor.execute(runId, diagnose, handBack);
      // From the queue: the previous holder died and its lease ends shortly; wait for it, once.
      if (this.#o.queue && result.status === 'skipped' && result.reason === 'held' && result.heldUntil) {
        const wait = result.heldUntil.getTime() - this.#o.now().getTime();
        if (wait <= this.#executor.leaseMs) {
          await sleep(Math.max(0, wait) + 50, AbortSignal.any([handBack, this.#stopping.signal]));
          if (!handBack.aborted && !this.#stopping.signal.aborted) result = await this.#executor.execute(runId, diagnose, handBack);
        }
      }
      return result;
    } catch (err) {
      // The store failed under us: leave the run to its lease and the next attempt.
      this.#o.log.error({ err, runId }, 'scheduled run could not be executed');
      return { runId, status: 'skipped', reason: 'held' };
    }
  }

  /** The queue worker: a batch is one sweep; a run that could not be finished here goes back. */
  async #onQueueBatch(batch: QueuedRun[]): Promise<Map<string, QueuedRunResult>> {
    const results = await this.#executeBatch(batch);
    return new Map(results.map((r) => [r.runId, r.status === 'skipped' && (r.reason === 'held' || r.reason === 'handed-back') ? 'retry' : 'done']));
  }

  /**
   * Ticks every `intervalMs` (a tick never overlaps the previous one), heartbeats the leases of
   * the runs held here, and, scale-out, starts working the queue.
   */
  async start(intervalMs: number): Promise<void> {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      this.#ticking = this.tick()
        .catch((err: unknown) => this.#o.log.error({ err }, 'scheduler tick failed'))
        .finally(() => {
          this.#busy = false;
        });
    }, intervalMs);
    this.#timer.unref();
    this.keepLeases();
    if (this.#o.queue) await this.#o.queue.work((batch) => this.#onQueueBatch(batch));
  }

  /**
   * Renews, every lease/3, the leases of the runs this replica holds (also its on-demand runs, when
   * they were created with the same owner). start() does it; call it alone when not ticking.
   */
  keepLeases(): void {
    if (this.#heartbeat) return;
    this.#heartbeat = setInterval(() => {
      this.#executor.heartbeat().catch((err: unknown) => this.#o.log.error({ err }, 'lease heartbeat failed'));
    }, Math.max(100, Math.floor(this.#executor.leaseMs / 3)));
    this.#heartbeat.unref();
  }

  /**
   * Graceful stop: no new ticks or queue batches; running work has `graceMs` to finish, then is
   * handed back (queued again, for another replica or the next start) and waited for.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#stopping.abort(new Error('scheduler stopping'));
    await this.#o.queue?.stopWorking();
    const running = Promise.all([this.#ticking, ...this.#work]);
    const grace = options.graceMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([running.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), grace)))]);
    clearTimeout(timer);
    if (timedOut) {
      this.#o.log.info({ runs: this.#executor.active }, 'handing back scheduled runs still running');
      this.#handBack.abort();
      this.#executor.handBack();
      await running;
    }
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}
