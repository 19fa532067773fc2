/**
 * The service's storage: diagnosis runs, schedules, claimed ticks, workspace health history and
 * webhook deliveries. Methods are async so a PostgreSQL implementation can follow the SQLite one;
 * test/store/contract.ts is the behaviour every implementation must have.
 *
 * Workspace ids are ARM ids and compared case-insensitively (idKey); the record keeps the spelling
 * it was written with. Times are Dates; JSON payloads (request, progress, report) round-trip as-is.
 */
import type { DiagnoseRequest, ProgressEvent } from '../diagnose.ts';
import type { Report, VerdictStatus } from '../report/schema.ts';

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled'];

export interface RunRecord {
  id: string;
  workspaceId: string;
  request: DiagnoseRequest;
  status: RunStatus;
  /** The latest event per probe, in the order the probes first reported. */
  progress: ProgressEvent[];
  report?: Report;
  error?: string;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  scheduleId?: string;
  /** The replica that holds the run (started or took it); cleared when it is handed back. */
  owner?: string;
  /** The holder's lease: past it, another replica may take the run over (takeRun) or end it. */
  leaseUntil?: Date;
  /** How many times a replica took the run (takeRun); 0 until then. */
  attempts: number;
}

export interface NewRun {
  /** Generated (a random uuid) when absent. */
  id?: string;
  request: DiagnoseRequest;
  scheduleId?: string;
  createdAt: Date;
  /** The replica that will run it (an on-demand run), with its lease. */
  owner?: string;
  leaseUntil?: Date;
}

/** How a run ended; only a queued or running run can end. */
export type RunOutcome =
  | { status: 'succeeded'; report: Report }
  | { status: 'failed'; error: string }
  | { status: 'cancelled'; error?: string };

export interface RunQuery {
  workspaceId?: string;
  scheduleId?: string;
  status?: RunStatus[];
  /** true: only scheduled runs (with a scheduleId); false: only on-demand runs. */
  scheduled?: boolean;
  /** Only runs whose lease is missing or ended before this time (nobody alive holds them). */
  leaseExpiredBy?: Date;
  /** Only runs created before this time. */
  createdBefore?: Date;
  /** Newest first; 100 when absent. */
  limit?: number;
}

/** The same shape as the service's cadence (src/service/schedule-time.ts); the store never parses cron. */
export type Cadence = { intervalSeconds: number } | { cron: string; timezone?: string };

export interface NotifyTarget {
  url: string;
  /** Signs the webhook (HMAC-SHA256). Kept so it can sign; never leaves through publicSchedule. */
  secret?: string;
}

export interface ScheduleRecord {
  id: string;
  workspaceId: string;
  computeName?: string;
  subscriptions: string[];
  /** A cron cadence always carries its time zone (UTC when none was given). */
  cadence: Cadence;
  notify: NotifyTarget[];
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
  /** null: the cadence never fires again (a cron that has no further occurrence). */
  nextRunAt: Date | null;
  /** When a tick of this schedule was last claimed. */
  lastRunAt?: Date;
}

export interface NewSchedule {
  /** Generated (a random uuid) when absent. */
  id?: string;
  workspaceId: string;
  computeName?: string;
  subscriptions?: string[];
  cadence: Cadence;
  notify?: NotifyTarget[];
  enabled?: boolean;
  /** Computed by the caller from the cadence (the store does not parse cron). */
  nextRunAt: Date | null;
  createdAt: Date;
}

/** Fields a schedule update may change; `computeName: null` removes it. */
export interface SchedulePatch {
  computeName?: string | null;
  subscriptions?: string[];
  cadence?: Cadence;
  notify?: NotifyTarget[];
  enabled?: boolean;
  nextRunAt?: Date | null;
}

export interface PublicNotifyTarget {
  url: string;
  hasSecret: boolean;
}

export type PublicSchedule = Omit<ScheduleRecord, 'notify'> & { notify: PublicNotifyTarget[] };

/**
 * A webhook URL as the API may show it: query values and user info replaced by `***`, since many
 * receivers take their credential there (a `sig=` or `token=` parameter). Unparseable: '(invalid URL)'.
 */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    const query = [...u.searchParams.keys()].map((k) => `${encodeURIComponent(k)}=***`).join('&');
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}${query ? `?${query}` : ''}`;
  } catch {
    return '(invalid URL)';
  }
}

/** A schedule as the API may show it: webhook secrets replaced by whether one is set, URLs redacted. */
export function publicSchedule(s: ScheduleRecord): PublicSchedule {
  return { ...s, notify: s.notify.map((n) => ({ url: redactedUrl(n.url), hasSecret: typeof n.secret === 'string' && n.secret.length > 0 })) };
}

/**
 * Where a claimed schedule fires next, strictly after `after` (the claim time); null: never again.
 * Called inside the claiming transaction: it must be synchronous and must not touch the store.
 */
export type NextRunFn = (schedule: ScheduleRecord, after: Date) => Date | null;

export interface ClaimedTick {
  scheduleId: string;
  /** The nextRunAt that was due: with scheduleId, the tick's identity (claimed at most once). */
  scheduledFor: Date;
  owner: string;
  claimedAt: Date;
  /**
   * The tick's run, created queued in the same transaction as the claim (request from the schedule:
   * workspaceId, computeName when set, subscriptions), so a claimed tick always has a run to execute.
   */
  runId: string;
  /** The schedule as it is after the claim (nextRunAt advanced, secrets included for signing). */
  schedule: ScheduleRecord;
}

export interface FindingKey {
  code: string;
  resourceId: string;
}

export interface HealthRecord {
  workspaceId: string;
  scheduleId: string;
  runId: string;
  at: Date;
  status: VerdictStatus;
  /** code + resourceId of every finding in the report, in report order (what drift compares). */
  findings: FindingKey[];
  report: Report;
}

/** Status and finding keys are taken from the report, so the row cannot disagree with it. */
export interface NewHealth {
  scheduleId: string;
  runId: string;
  at: Date;
  report: Report;
  /** Defaults to the report's workspace id. */
  workspaceId?: string;
}

export interface DeliveryRecord {
  id: string;
  scheduleId: string;
  runId: string;
  url: string;
  attempts: number;
  status: 'delivered' | 'failed';
  httpStatus?: number;
  error?: string;
  at: Date;
}

export type NewDelivery = Omit<DeliveryRecord, 'id'>;

export interface DeliveryQuery {
  scheduleId?: string;
  runId?: string;
  /** Newest first; 100 when absent. */
  limit?: number;
}

export interface PruneCounts {
  runs: number;
  health: number;
  ticks: number;
  deliveries: number;
}

export class StoreError extends Error {}

export interface Store {
  createRun(run: NewRun): Promise<RunRecord>;
  getRun(id: string): Promise<RunRecord | undefined>;
  listRuns(query?: RunQuery): Promise<RunRecord[]>;
  /** queued -> running. False when the run is not queued (e.g. cancelled before it started). */
  startRun(id: string, at: Date): Promise<boolean>;
  /**
   * A replica takes a run to execute it: a queued run, or a running one whose lease has ended
   * (its holder died), becomes running, held by `owner` until `leaseUntil`; attempts + 1;
   * startedAt is set the first time. Undefined (and nothing changes) when the run does not exist,
   * has ended, or is running under a lease that has not ended at `at`.
   */
  takeRun(id: string, owner: string, at: Date, leaseUntil: Date): Promise<RunRecord | undefined>;
  /** Hands a running run back: running (held by `owner`) -> queued, owner and lease cleared. */
  releaseRun(id: string, owner: string): Promise<boolean>;
  /** Extends the lease of every queued or running run `owner` holds; returns how many. */
  renewLeases(owner: string, leaseUntil: Date): Promise<number>;
  /** Replaces the run's entry for the event's probe (or appends it). False when the run has ended. */
  recordProgress(id: string, event: ProgressEvent): Promise<boolean>;
  /** Ends a queued or running run. False when it had already ended: the first outcome wins. */
  finishRun(id: string, outcome: RunOutcome, at: Date): Promise<boolean>;

  createSchedule(schedule: NewSchedule): Promise<ScheduleRecord>;
  getSchedule(id: string): Promise<ScheduleRecord | undefined>;
  listSchedules(query?: { workspaceId?: string }): Promise<ScheduleRecord[]>;
  updateSchedule(id: string, patch: SchedulePatch, at: Date): Promise<ScheduleRecord | undefined>;
  deleteSchedule(id: string): Promise<boolean>;
  /**
   * Claims, atomically and at most once across every store on the same database, up to `limit`
   * enabled schedules whose nextRunAt <= now (earliest first): records a tick per schedule and
   * moves its nextRunAt to next(schedule, now), which must be later than now, and creates the
   * tick's run (queued, no owner) in the same transaction.
   */
  claimDueSchedules(now: Date, owner: string, limit: number, next: NextRunFn): Promise<ClaimedTick[]>;

  /** One row per completed scheduled run; recording the same run again returns the first row. */
  recordHealth(health: NewHealth): Promise<HealthRecord>;
  latestHealth(workspaceId: string): Promise<HealthRecord | undefined>;
  /** Newest first. */
  healthHistory(workspaceId: string, limit: number): Promise<HealthRecord[]>;

  recordDelivery(delivery: NewDelivery): Promise<DeliveryRecord>;
  listDeliveries(query?: DeliveryQuery): Promise<DeliveryRecord[]>;

  /**
   * Retention: deletes runs that ended (or, never ended, were created) before `olderThan`, and
   * health rows, ticks and deliveries from before it. Schedules are never pruned.
   */
  prune(olderThan: Date): Promise<PruneCounts>;
  close(): Promise<void>;
}
