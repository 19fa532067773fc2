/**
 * Moving from SQLite to PostgreSQL changes nothing a user can see: the same sequence of schedules,
 * claims, runs (taken, handed back, retaken, finished), health and webhook deliveries leaves the
 * same runs, health history, deliveries and schedules in both. Generated ids are replaced by their
 * order of creation (run-1, delivery-1, ...), times by ISO strings.
 * Needs NETDOCTOR_TEST_DATABASE_URL (scripts/test-postgres.sh start); skips without it (fails under CI).
 */
import t from 'tap';
import type { ProgressEvent } from '../../src/diagnose.ts';
import { openPostgresStore } from '../../src/store/postgres.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { publicSchedule, type NextRunFn, type Store } from '../../src/store/store.ts';
import { postgresUrl } from '../helpers/postgres.ts';
import { at, report, schedule, WS, WS_B } from './contract.ts';

/** Every `minutes` after the due time, skipping missed ones (what the scheduler's interval does). */
const every =
  (minutes: number): NextRunFn =>
  (s, after) => {
    let next = (s.nextRunAt ?? after).getTime();
    while (next <= after.getTime()) next += minutes * 60_000;
    return new Date(next);
  };

const progress = (probe: string, phase: 'start' | 'done'): ProgressEvent =>
  ({ probe, title: `read ${probe}`, phase, ...(phase === 'done' ? { ok: true, ms: 40 } : {}) }) as ProgressEvent;

/** Findings that come and go over the steps, so health history and drift have something to show. */
const CODES: string[][] = [['PRIVATE_DNS_ZONE_NOT_LINKED'], ['PRIVATE_DNS_ZONE_NOT_LINKED', 'NSG_BLOCKS_AAD'], ['NSG_BLOCKS_AAD'], [], ['UDR_BLACKHOLES_AAD']];

/** Drives one store through the history and returns everything observable, ids normalised. */
async function history(store: Store): Promise<unknown> {
  const ids = new Map<string, string>();
  const counters = new Map<string, number>();
  const name = (kind: string, id: string): void => {
    if (ids.has(id)) return;
    const n = (counters.get(kind) ?? 0) + 1;
    counters.set(kind, n);
    ids.set(id, `${kind}-${n}`);
  };
  const seen: unknown[] = [];

  await store.createSchedule(schedule({ id: 'sched-a', computeName: 'cpu-1', subscriptions: ['sub-hub'], notify: [{ url: 'https://hooks.example/a', secret: 'whsec-1' }] }));
  await store.createSchedule(schedule({ id: 'sched-b', workspaceId: WS_B.toUpperCase(), cadence: { cron: '*/30 * * * *', timezone: 'Europe/Berlin' }, nextRunAt: at(5) }));
  await store.createSchedule(schedule({ id: 'sched-off', enabled: false }));
  const onDemand = await store.createRun({ request: { workspaceId: WS, subscriptions: [] }, createdAt: at(1), owner: 'replica-1', leaseUntil: at(3) });
  name('run', onDemand.id);

  for (let step = 0; step < 8; step++) {
    const now = at(step * 15);
    const cadence = (s: { id: string }) => (s.id === 'sched-b' ? 30 : 15);
    const claimed = await store.claimDueSchedules(now, `replica-${step % 2}`, 10, (s, after) => every(cadence(s))(s, after));
    for (const c of claimed) name('run', c.runId);
    seen.push(claimed.map((c) => ({ ...c, schedule: publicSchedule(c.schedule) })));
    for (const [i, c] of claimed.entries()) {
      const owner = `replica-${(step + i) % 2}`;
      const lease = new Date(now.getTime() + 5 * 60_000);
      const taken = await store.takeRun(c.runId, owner, now, lease);
      if (!taken) throw new Error(`the claimed run ${c.runId} could not be taken`);
      if (step === 2) {
        // This replica hands the run back (shutting down); the other takes it.
        seen.push(await store.releaseRun(c.runId, owner));
        seen.push(await store.takeRun(c.runId, `replica-${(step + i + 1) % 2}`, now, lease));
      }
      await store.recordProgress(c.runId, progress('workspace', 'start'));
      await store.recordProgress(c.runId, progress('networks', 'start'));
      await store.recordProgress(c.runId, progress('workspace', 'done'));
      const done = new Date(now.getTime() + 60_000);
      if (step === 4 && c.scheduleId === 'sched-a') {
        await store.finishRun(c.runId, { status: 'failed', error: 'ARM answered 429 too often' }, done);
        continue;
      }
      const rep = report(c.schedule.workspaceId, CODES[step % CODES.length]);
      await store.finishRun(c.runId, { status: 'succeeded', report: rep }, done);
      seen.push(await store.finishRun(c.runId, { status: 'cancelled' }, done)); // the first outcome wins
      seen.push(await store.recordHealth({ scheduleId: c.scheduleId, runId: c.runId, at: done, report: rep }));
      for (const target of c.schedule.notify) {
        const d = await store.recordDelivery({
          scheduleId: c.scheduleId,
          runId: c.runId,
          url: target.url,
          ...(step % 3 === 0 ? { attempts: 3, status: 'failed', httpStatus: 502, error: 'HTTP 502' } : { attempts: 1, status: 'delivered', httpStatus: 204 }),
          at: done,
        });
        name('delivery', d.id);
      }
    }
    if (step === 3) seen.push(await store.updateSchedule('sched-b', { enabled: false, notify: [{ url: 'https://hooks.example/b' }] }, now));
    if (step === 5) seen.push(await store.updateSchedule('sched-b', { enabled: true, computeName: 'gpu-2' }, now));
    seen.push(await store.renewLeases('replica-1', new Date(now.getTime() + 10 * 60_000)));
  }
  seen.push(await store.finishRun(onDemand.id, { status: 'cancelled', error: 'cancelled by the client' }, at(2)));

  const observed = {
    seen,
    runs: await store.listRuns({ limit: 1000 }),
    scheduledRuns: await store.listRuns({ scheduled: true, status: ['failed'] }),
    health: [await store.healthHistory(WS, 100), await store.healthHistory(WS_B, 100)],
    latest: [await store.latestHealth(WS.toUpperCase()), await store.latestHealth(WS_B)],
    deliveries: await store.listDeliveries({ limit: 1000 }),
    deliveriesOfA: await store.listDeliveries({ scheduleId: 'sched-a', limit: 3 }),
    schedules: (await store.listSchedules()).map(publicSchedule),
    pruned: await store.prune(at(60)),
    afterPrune: { runs: await store.listRuns({ limit: 1000 }), health: await store.healthHistory(WS, 100) },
  };
  return normalise(observed, ids);
}

/** Generated ids become their names, Dates ISO strings; everything else is kept as it is. */
function normalise(value: unknown, ids: Map<string, string>): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return ids.get(value) ?? value;
  if (Array.isArray(value)) return value.map((v) => normalise(v, ids));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v, ids)]));
  return value;
}

const url = await postgresUrl(t);
if (url) {
  const db = url;
  t.test('the same history is stored by SQLite and by PostgreSQL', async (t) => {
    const sqlite = await openSqliteStore(':memory:');
    const postgres = await openPostgresStore(db, { schema: 'history', poolSize: 2 });
    t.teardown(async () => {
      await sqlite.close();
      await postgres.close();
    });
    const fromSqlite = await history(sqlite);
    const fromPostgres = await history(postgres);
    t.strictSame(fromPostgres, fromSqlite);

    // The comparison is only worth something if the history has substance.
    const h = fromSqlite as { runs: unknown[]; health: unknown[][]; deliveries: unknown[]; scheduledRuns: unknown[]; pruned: Record<string, number> };
    t.ok(h.runs.length >= 10, `${h.runs.length} runs`);
    t.ok((h.health[0]?.length ?? 0) >= 6 && (h.health[1]?.length ?? 0) >= 2, 'health for both workspaces');
    t.ok(h.deliveries.length >= 6, 'deliveries');
    t.equal(h.scheduledRuns.length, 1, 'the failed scheduled run');
    t.ok(Object.values(h.pruned).every((n) => n > 0), 'prune removed something of every kind');
  });
}
