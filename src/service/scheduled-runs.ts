/**
 * Executes one scheduled run, on whichever replica got it: take the run (a lease in the store, so
 * two replicas never run it at once and a dead replica's run can be taken over), diagnose, record
 * the health row, end the run, then, only when the health changed, notify the schedule's webhooks.
 *
 * While it runs, `heartbeat()` (called every lease/3 by the scheduler) extends the lease and aborts
 * runs that were cancelled elsewhere (DELETE /v1/diagnoses/{id} on any replica ends the run in the
 * store). `handBack()` aborts every run held here and puts it back to queued, for another replica
 * or the next start: graceful shutdown hands work back instead of losing it.
 *
 * The order (health, then run end, then webhooks) makes a retry after a crash safe: recording the
 * same run's health again returns the first row, and a run that has ended is never executed again,
 * so its webhooks never go out twice. A crash after the run ended and before its webhooks went out
 * loses that notification.
 */
import type { Logger } from 'pino';
import type { DiagnoseFn } from '../diagnose.ts';
import type { Report } from '../report/schema.ts';
import { TERMINAL_RUN_STATUSES, type HealthRecord, type RunRecord, type Store } from '../store/store.ts';
import { driftOf, driftPayload, type Drift } from './drift.ts';
import { deliver, type DeliverOptions } from './webhook.ts';

/** A run taken this many times without ending is given up (it kills or hangs every replica). */
export const MAX_RUN_ATTEMPTS = 3;
export const GAVE_UP_MESSAGE = `gave up: the run was started ${MAX_RUN_ATTEMPTS} times and never finished`;

export interface ExecutorOptions {
  store: Store;
  log: Logger;
  /** Identifies this replica in the runs it holds. */
  owner: string;
  /** How long a taken run is held without a heartbeat before another replica may take it. */
  leaseMs?: number;
  now?: () => Date;
  webhook?: Omit<DeliverOptions, 'signal' | 'now'>;
}

export interface TickOutcome {
  scheduleId: string;
  runId: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  drift?: Drift;
  deliveries: number;
}

/** Why a run was not executed here. */
export interface Skipped {
  runId: string;
  status: 'skipped';
  reason: 'missing' | 'ended' | 'held' | 'handed-back';
  /** With `held`: when the holder's lease ends (it may then be taken over). */
  heldUntil?: Date;
}

export type ExecuteResult = TickOutcome | Skipped;

const HAND_BACK = Symbol('hand back');

/** A webhook URL as stored with its deliveries: without query or fragment (where tokens usually ride). */
export function withoutQuery(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

export class ScheduledRunExecutor {
  readonly #o: Required<Pick<ExecutorOptions, 'leaseMs' | 'now'>> & ExecutorOptions;
  readonly #active = new Map<string, AbortController>();

  constructor(options: ExecutorOptions) {
    this.#o = { leaseMs: 30_000, now: () => new Date(), ...options };
  }

  get owner(): string {
    return this.#o.owner;
  }

  get leaseMs(): number {
    return this.#o.leaseMs;
  }

  /** Runs held here right now. */
  get active(): number {
    return this.#active.size;
  }

  #leaseFrom(at: Date): Date {
    return new Date(at.getTime() + this.#o.leaseMs);
  }

  /**
   * Extends the lease of every run this replica holds (scheduled ones executed here, and on-demand
   * ones created with the same owner); aborts scheduled runs that ended elsewhere (cancelled).
   */
  async heartbeat(): Promise<void> {
    const { store, owner } = this.#o;
    await store.renewLeases(owner, this.#leaseFrom(this.#o.now()));
    for (const [id, controller] of this.#active) {
      const run = await store.getRun(id);
      if (!run || TERMINAL_RUN_STATUSES.includes(run.status)) controller.abort(new Error('the run was cancelled'));
    }
  }

  /** Aborts every run held here; each goes back to queued for another replica or the next start. */
  handBack(): void {
    for (const controller of this.#active.values()) controller.abort(HAND_BACK);
  }

  /**
   * Executes a scheduled run if it can be taken. `handBack` aborting (the queue no longer holds the
   * job for this replica) hands the run back instead of ending it. Cancellation comes through the
   * store (see heartbeat).
   */
  async execute(runId: string, diagnose: DiagnoseFn, handBack?: AbortSignal): Promise<ExecuteResult> {
    const { store, owner } = this.#o;
    const at = this.#o.now();
    const run = await store.takeRun(runId, owner, at, this.#leaseFrom(at));
    if (!run) return this.#whyNot(runId);
    const controller = new AbortController();
    const onAbort = () => controller.abort(HAND_BACK);
    if (handBack?.aborted) onAbort();
    handBack?.addEventListener('abort', onAbort, { once: true });
    this.#active.set(runId, controller);
    try {
      return await this.#execute(run, diagnose, controller.signal);
    } finally {
      this.#active.delete(runId);
      handBack?.removeEventListener('abort', onAbort);
    }
  }

  async #whyNot(runId: string): Promise<Skipped> {
    const run = await this.#o.store.getRun(runId);
    if (!run) return { runId, status: 'skipped', reason: 'missing' };
    if (TERMINAL_RUN_STATUSES.includes(run.status)) return { runId, status: 'skipped', reason: 'ended' };
    return { runId, status: 'skipped', reason: 'held', ...(run.leaseUntil ? { heldUntil: run.leaseUntil } : {}) };
  }

  async #execute(run: RunRecord, diagnose: DiagnoseFn, signal: AbortSignal): Promise<ExecuteResult> {
    const { store, log, owner } = this.#o;
    const scheduleId = run.scheduleId ?? '';
    const rlog = log.child({ scheduleId, runId: run.id, workspace: run.workspaceId, attempt: run.attempts });
    if (run.attempts > MAX_RUN_ATTEMPTS) {
      await store.finishRun(run.id, { status: 'failed', error: GAVE_UP_MESSAGE }, this.#o.now());
      rlog.error('scheduled run given up after repeated attempts');
      return { scheduleId, runId: run.id, status: 'failed', deliveries: 0 };
    }
    let report: Report | undefined;
    let error: string | undefined;
    try {
      report = await diagnose(run.request, signal);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    // Probes turn an abort into failed observations, so an aborted diagnosis may still return a report.
    if (signal.aborted) {
      if (signal.reason === HAND_BACK) {
        await store.releaseRun(run.id, owner);
        rlog.info('scheduled run handed back');
        return { runId: run.id, status: 'skipped', reason: 'handed-back' };
      }
      await store.finishRun(run.id, { status: 'cancelled' }, this.#o.now());
      rlog.warn('scheduled diagnosis cancelled');
      return { scheduleId, runId: run.id, status: 'cancelled', deliveries: 0 };
    }
    if (!report) {
      const message = error ?? 'the diagnosis returned no report';
      await store.finishRun(run.id, { status: 'failed', error: message }, this.#o.now());
      rlog.warn({ err: message }, 'scheduled diagnosis failed');
      return { scheduleId, runId: run.id, status: 'failed', deliveries: 0 };
    }
    const previous = await this.#previousHealth(run);
    if (scheduleId) await store.recordHealth({ scheduleId, runId: run.id, at: this.#o.now(), report, workspaceId: run.workspaceId });
    if (!(await store.finishRun(run.id, { status: 'succeeded', report }, this.#o.now()))) {
      // Cancelled (through the API) while the last writes were under way: no notification.
      return { scheduleId, runId: run.id, status: 'cancelled', deliveries: 0 };
    }
    const drift = driftOf(previous?.report, report);
    rlog.info({ verdict: report.verdict.status, findings: report.findings.length, changed: drift.changed }, 'scheduled run finished');
    const deliveries = drift.changed ? await this.#notify(run, report, drift, signal, rlog) : 0;
    return { scheduleId, runId: run.id, status: 'succeeded', drift, deliveries };
  }

  /** The workspace's health before this run (a retried run must not compare with itself). */
  async #previousHealth(run: RunRecord): Promise<HealthRecord | undefined> {
    const history = await this.#o.store.healthHistory(run.workspaceId, 2);
    return history.find((h) => h.runId !== run.id);
  }

  async #notify(run: RunRecord, report: Report, drift: Drift, signal: AbortSignal, rlog: Logger): Promise<number> {
    const { store } = this.#o;
    const schedule = run.scheduleId ? await store.getSchedule(run.scheduleId) : undefined;
    if (!schedule) return 0;
    rlog.info({ new: drift.new.length, resolved: drift.resolved.length }, 'health changed');
    const payload = driftPayload({ id: run.workspaceId, name: report.workspace.name }, drift, report, `/v1/diagnoses/${run.id}`);
    let deliveries = 0;
    for (const target of schedule.notify) {
      if (!target.secret) continue;
      const result = await deliver({ url: target.url, secret: target.secret }, payload, { ...this.#o.webhook, signal, now: this.#o.now }).catch((err: unknown) => ({
        status: 'failed' as const,
        attempts: 0,
        error: err instanceof Error ? err.message : String(err),
        httpStatus: undefined,
      }));
      if (result.status === 'cancelled') continue;
      await store.recordDelivery({
        scheduleId: schedule.id,
        runId: run.id,
        url: withoutQuery(target.url),
        attempts: result.attempts,
        status: result.status,
        ...(result.httpStatus !== undefined ? { httpStatus: result.httpStatus } : {}),
        ...(result.error ? { error: result.error } : {}),
        at: this.#o.now(),
      });
      deliveries++;
    }
    return deliveries;
  }
}
