/**
 * Pure helpers both stores share (SQLite and PostgreSQL), so they shape rows and records the same way.
 */
import type { DiagnoseRequest } from '../diagnose.ts';
import type { Report } from '../report/schema.ts';
import { StoreError, type Cadence, type FindingKey, type NotifyTarget, type ScheduleRecord } from './store.ts';

/** Lists without a limit return this many. */
export const DEFAULT_LIMIT = 100;

export function limitOf(limit: number | undefined): number {
  return limit === undefined ? DEFAULT_LIMIT : Math.max(0, Math.floor(limit));
}

/** Milliseconds since the epoch; an invalid Date is refused rather than stored as garbage. */
export function ms(d: Date): number {
  const v = d.getTime();
  if (Number.isNaN(v)) throw new StoreError('invalid date');
  return v;
}

/** The schedule columns for a cadence: exactly one of interval and cron is set. */
export function cadenceColumns(c: Cadence): { interval_seconds: number | null; cron: string | null; timezone: string } {
  return 'intervalSeconds' in c
    ? { interval_seconds: c.intervalSeconds, cron: null, timezone: 'UTC' }
    : { interval_seconds: null, cron: c.cron, timezone: c.timezone ?? 'UTC' };
}

/** Webhook targets as stored: only url and, when set, secret. */
export function notifyJson(targets: NotifyTarget[]): string {
  return JSON.stringify(targets.map((n) => (n.secret !== undefined ? { url: n.url, secret: n.secret } : { url: n.url })));
}

/** What a claimed tick's run diagnoses: the schedule's workspace, compute and subscriptions. */
export function tickRequest(s: ScheduleRecord): DiagnoseRequest {
  return { workspaceId: s.workspaceId, ...(s.computeName !== undefined ? { computeName: s.computeName } : {}), subscriptions: s.subscriptions };
}

/** The finding keys drift compares, in report order. */
export function findingKeys(report: Report): FindingKey[] {
  return report.findings.map((f) => ({ code: f.code, resourceId: f.resourceId }));
}

/** The claim's callback must move a schedule strictly past the claim time (or end it). */
export function checkNext(s: ScheduleRecord, now: Date, nextAt: Date | null): void {
  if (nextAt && !(ms(nextAt) > ms(now))) {
    throw new StoreError(`next run of schedule ${s.id} must be after ${now.toISOString()}, got ${nextAt.toISOString()}`);
  }
}
