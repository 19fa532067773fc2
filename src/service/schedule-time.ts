/**
 * When a schedule runs next: every N seconds, or a cron expression in a time zone (croner parses
 * cron; well kept, no dependencies). Pure apart from the clock passed in.
 */
import { Cron } from 'croner';

export type Cadence = { intervalSeconds: number } | { cron: string; timezone?: string };

/** The shortest interval accepted: a health check more often than this would only add ARM load. */
export const MIN_INTERVAL_SECONDS = 60;

export class CadenceError extends Error {}

/** Checks a cadence; the message says what is wrong and what is accepted. */
export function validateCadence(c: Cadence): void {
  if ('intervalSeconds' in c) {
    if (!Number.isInteger(c.intervalSeconds) || c.intervalSeconds < MIN_INTERVAL_SECONDS) {
      throw new CadenceError(`interval must be a whole number of seconds, at least ${MIN_INTERVAL_SECONDS} (got ${c.intervalSeconds})`);
    }
    return;
  }
  if (c.timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: c.timezone });
    } catch {
      throw new CadenceError(`time zone '${c.timezone}' is not an IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)`);
    }
  }
  let job: Cron;
  try {
    job = new Cron(c.cron, { paused: true, ...(c.timezone ? { timezone: c.timezone } : {}) });
  } catch (err) {
    throw new CadenceError(`cron '${c.cron}'${c.timezone ? ` in ${c.timezone}` : ''} is not valid: ${(err as Error).message} (five fields: minute hour day-of-month month day-of-week, e.g. '0 6 * * 1-5')`);
  }
  const [a, b] = job.nextRuns(2, new Date());
  job.stop();
  if (!a || !b) throw new CadenceError(`cron '${c.cron}' never runs again`);
  if ((b.getTime() - a.getTime()) / 1000 < MIN_INTERVAL_SECONDS) throw new CadenceError(`cron '${c.cron}' runs more often than every ${MIN_INTERVAL_SECONDS} seconds`);
}

/** The first run strictly after `after` (null: the cron never runs again). */
export function nextRunAfter(c: Cadence, after: Date): Date | null {
  if ('intervalSeconds' in c) return new Date(after.getTime() + c.intervalSeconds * 1000);
  const job = new Cron(c.cron, { paused: true, ...(c.timezone ? { timezone: c.timezone } : {}) });
  try {
    return job.nextRun(after);
  } finally {
    job.stop();
  }
}
