/**
 * Scheduled health checks: on every tick, claim the schedules that are due (exactly once across
 * every replica sharing the store), run each diagnosis, store the run and its health record, compare
 * it with the previous one (drift) and, only when something changed, notify the schedule's webhooks
 * (signed, retried) and record each delivery.
 */
import type { Logger } from 'pino';
import type { DiagnoseFn } from '../diagnose.ts';
import type { Report } from '../report/schema.ts';
import type { ClaimedTick, ScheduleRecord, Store } from '../store/store.ts';
import { driftOf, driftPayload, type Drift } from './drift.ts';
import { nextRunAfter } from './schedule-time.ts';
import { deliver, type DeliverOptions } from './webhook.ts';

export interface SchedulerOptions {
  store: Store;
  diagnose: DiagnoseFn;
  log: Logger;
  /** Identifies this replica in the tick records. */
  owner: string;
  /** Most schedules claimed per tick (the rest wait for the next tick). */
  batch?: number;
  now?: () => Date;
  /** Webhook delivery settings (attempts, backoff, timeout). */
  webhook?: Omit<DeliverOptions, 'signal' | 'now'>;
}

export interface TickOutcome {
  scheduleId: string;
  runId: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  drift?: Drift;
  deliveries: number;
}

/** When a schedule runs next after `after` (also used when a schedule is created or changed). */
export function nextRunOf(schedule: Pick<ScheduleRecord, 'cadence'>, after: Date): Date | null {
  return nextRunAfter(schedule.cadence, after);
}

/** A webhook URL as stored with its deliveries: without query or fragment (where tokens usually ride). */
export function withoutQuery(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

export class Scheduler {
  readonly #o: Required<Pick<SchedulerOptions, 'batch' | 'now'>> & SchedulerOptions;
  readonly #controller = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #busy = false;

  constructor(options: SchedulerOptions) {
    this.#o = { batch: 10, now: () => new Date(), ...options };
  }

  /** Claims the due schedules and runs them; resolves when they are done. */
  async tick(): Promise<TickOutcome[]> {
    if (this.#controller.signal.aborted) return [];
    const now = this.#o.now();
    const claimed = await this.#o.store.claimDueSchedules(now, this.#o.owner, this.#o.batch, (s, after) => nextRunOf(s, after));
    return Promise.all(claimed.map((tick) => this.#run(tick)));
  }

  /** Ticks every `intervalMs`; a tick never overlaps the previous one. */
  start(intervalMs: number): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      this.#running = this.tick()
        .catch((err: unknown) => this.#o.log.error({ err }, 'scheduler tick failed'))
        .finally(() => {
          this.#busy = false;
        });
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops ticking, cancels running diagnoses (their runs end cancelled) and waits for them. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#controller.abort(new Error('scheduler stopping'));
    await this.#running;
  }

  async #run(tick: ClaimedTick): Promise<TickOutcome> {
    const { store, log } = this.#o;
    const s = tick.schedule;
    const request = {
      workspaceId: s.workspaceId,
      ...(s.computeName ? { computeName: s.computeName } : {}),
      subscriptions: s.subscriptions,
    };
    const run = await store.createRun({ request, scheduleId: s.id, createdAt: this.#o.now() });
    const rlog = log.child({ scheduleId: s.id, runId: run.id, workspace: s.workspaceId });
    await store.startRun(run.id, this.#o.now());
    let report: Report;
    try {
      report = await this.#o.diagnose(request, this.#controller.signal);
    } catch (err) {
      const cancelled = this.#controller.signal.aborted;
      const message = err instanceof Error ? err.message : String(err);
      await store.finishRun(run.id, cancelled ? { status: 'cancelled' } : { status: 'failed', error: message }, this.#o.now());
      rlog.warn({ err: message }, cancelled ? 'scheduled diagnosis cancelled' : 'scheduled diagnosis failed');
      return { scheduleId: s.id, runId: run.id, status: cancelled ? 'cancelled' : 'failed', deliveries: 0 };
    }
    await store.finishRun(run.id, { status: 'succeeded', report }, this.#o.now());
    const previous = await store.latestHealth(s.workspaceId);
    await store.recordHealth({ scheduleId: s.id, runId: run.id, at: this.#o.now(), report, workspaceId: s.workspaceId });
    const drift = driftOf(previous?.report, report);
    let deliveries = 0;
    if (drift.changed) {
      rlog.info({ new: drift.new.length, resolved: drift.resolved.length }, 'health changed');
      const payload = driftPayload({ id: s.workspaceId, name: report.workspace.name }, drift, report, `/v1/diagnoses/${run.id}`);
      for (const target of s.notify) {
        if (!target.secret) continue;
        const result = await deliver({ url: target.url, secret: target.secret }, payload, { ...this.#o.webhook, signal: this.#controller.signal, now: this.#o.now }).catch(
          (err: unknown) => ({ status: 'failed' as const, attempts: 0, error: err instanceof Error ? err.message : String(err), httpStatus: undefined }),
        );
        if (result.status === 'cancelled') continue;
        await store.recordDelivery({
          scheduleId: s.id,
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
    }
    return { scheduleId: s.id, runId: run.id, status: 'succeeded', drift, deliveries };
  }
}
