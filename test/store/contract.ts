/**
 * What every Store implementation must do (SQLite today, PostgreSQL later). `open` must give a
 * fresh, empty store each call; each subtest closes its own.
 */
import type { Test } from 'tap';
import type { ProgressEvent } from '../../src/diagnose.ts';
import type { Report } from '../../src/report/schema.ts';
import { publicSchedule, type NewSchedule, type NextRunFn, type Store } from '../../src/store/store.ts';

export const WS = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws-a';
export const WS_B = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws-b';
const NSG = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/nsg-compute';

export const T0 = new Date('2026-03-02T06:00:00.000Z');
export const at = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);

/** A small, schema-valid report; `codes` become its findings, all blaming the compute NSG. */
export function report(workspaceId: string, codes: string[] = []): Report {
  return {
    workspace: { id: workspaceId, name: workspaceId.split('/').at(-1) ?? 'ws' },
    generatedAt: T0.toISOString(),
    tool: { name: 'aml-netdoctor', version: '0.1.0' },
    scope: { subscriptions: [] },
    verdict: {
      status: codes.length ? 'cause-found' : 'no-cause-found',
      summary: codes.length ? `${codes[0]} blocks sign-in` : 'nothing found',
      chain: [],
      assumptions: [],
      nextSteps: [],
    },
    findings: codes.map((code, i) => ({
      code,
      tier: 1,
      severity: 'high',
      confidence: 'high',
      title: code,
      resourceId: NSG,
      explanation: 'x',
      evidence: [],
      remediation: { summary: 'fix it', azCli: [], bicep: '', verify: '' },
      docs: `docs/rules/${code}.md`,
      rank: i + 1,
      rankReason: 'tier 1',
    })),
    flows: [],
    coverage: [],
  };
}

/** Every `minutes` minutes, the first occurrence after `after` (what the scheduler would pass). */
export const everyMinutes =
  (minutes: number): NextRunFn =>
  (s, after) => {
    let t = (s.nextRunAt ?? after).getTime();
    while (t <= after.getTime()) t += minutes * 60_000;
    return new Date(t);
  };

export function schedule(overrides: Partial<NewSchedule> = {}): NewSchedule {
  return { workspaceId: WS, cadence: { intervalSeconds: 900 }, nextRunAt: at(0), createdAt: at(-60), ...overrides };
}

const progress = (probe: string, phase: 'start' | 'done', ok?: boolean): ProgressEvent =>
  ({ probe, title: `read ${probe}`, phase, ...(ok === undefined ? {} : { ok, ms: 12 }) }) as ProgressEvent;

export function storeContract(t: Test, open: () => Promise<Store>): void {
  const fresh = async (t: Test): Promise<Store> => {
    const store = await open();
    t.teardown(() => store.close());
    return store;
  };

  t.test('a run goes queued -> running -> succeeded, keeps its request, progress and report', async (t) => {
    const store = await fresh(t);
    const request = { workspaceId: WS, computeName: 'cpu-1', subscriptions: ['00000000-0000-0000-0000-00000000000f'] };
    const run = await store.createRun({ request, createdAt: at(0) });
    t.match(run.id, /^[0-9a-f-]{36}$/, 'a uuid is generated');
    t.same({ status: run.status, workspaceId: run.workspaceId, request: run.request, progress: run.progress }, { status: 'queued', workspaceId: WS, request, progress: [] });
    t.equal(run.createdAt.toISOString(), at(0).toISOString());
    t.notOk(run.startedAt ?? run.finishedAt ?? run.report ?? run.error ?? run.scheduleId, 'nothing else is set yet');

    t.equal(await store.startRun(run.id, at(1)), true);
    t.equal(await store.startRun(run.id, at(2)), false, 'a running run does not start again');
    t.ok(await store.recordProgress(run.id, progress('workspace', 'start')));
    t.ok(await store.recordProgress(run.id, progress('networks', 'start')));
    t.ok(await store.recordProgress(run.id, progress('workspace', 'done', true)));
    const mid = await store.getRun(run.id);
    t.same(mid?.progress, [progress('workspace', 'done', true), progress('networks', 'start')], 'one entry per probe, the latest event, first-seen order');
    t.equal(mid?.status, 'running');
    t.equal(mid?.startedAt?.toISOString(), at(1).toISOString());

    const rep = report(WS, ['PRIVATE_DNS_ZONE_NOT_LINKED']);
    t.equal(await store.finishRun(run.id, { status: 'succeeded', report: rep }, at(3)), true);
    t.equal(await store.finishRun(run.id, { status: 'cancelled' }, at(4)), false, 'the first outcome wins');
    t.equal(await store.recordProgress(run.id, progress('networks', 'done', true)), false, 'no progress after the end');
    const done = await store.getRun(run.id);
    t.equal(done?.status, 'succeeded');
    t.same(done?.report, rep, 'the report round-trips');
    t.equal(done?.finishedAt?.toISOString(), at(3).toISOString());
    t.equal(done?.error, undefined);
    t.equal(await store.getRun('00000000-0000-4000-8000-000000000000'), undefined);
    await t.rejects(store.createRun({ request: { workspaceId: WS }, createdAt: new Date('not a date') }), /invalid date/);
  });

  t.test('a run cancelled before it starts never starts; a failed run keeps its error', async (t) => {
    const store = await fresh(t);
    const a = await store.createRun({ request: { workspaceId: WS }, createdAt: at(0) });
    t.equal(await store.finishRun(a.id, { status: 'cancelled', error: 'cancelled by the client' }, at(1)), true);
    t.equal(await store.startRun(a.id, at(2)), false);
    t.same(await store.getRun(a.id).then((r) => [r?.status, r?.error, r?.startedAt]), ['cancelled', 'cancelled by the client', undefined]);

    const b = await store.createRun({ id: 'run-b', request: { workspaceId: WS }, createdAt: at(0), scheduleId: 'sched-1' });
    t.equal(b.id, 'run-b', 'a given id is kept');
    t.equal(b.scheduleId, 'sched-1');
    await store.startRun(b.id, at(1));
    t.ok(await store.finishRun(b.id, { status: 'failed', error: 'ARM answered 403' }, at(2)));
    const failed = await store.getRun(b.id);
    t.same([failed?.status, failed?.error, failed?.report], ['failed', 'ARM answered 403', undefined]);
    t.equal(await store.finishRun('nope', { status: 'failed', error: 'x' }, at(2)), false, 'an unknown run cannot end');
  });

  t.test('runs are listed newest first, by workspace (any case), schedule and status', async (t) => {
    const store = await fresh(t);
    const r1 = await store.createRun({ request: { workspaceId: WS }, createdAt: at(1) });
    const r2 = await store.createRun({ request: { workspaceId: WS }, createdAt: at(2), scheduleId: 's1' });
    const r3 = await store.createRun({ request: { workspaceId: WS_B }, createdAt: at(3) });
    await store.startRun(r2.id, at(2));
    const ids = (rs: { id: string }[]) => rs.map((r) => r.id);
    t.same(ids(await store.listRuns()), [r3.id, r2.id, r1.id]);
    t.same(ids(await store.listRuns({ workspaceId: WS.toUpperCase() })), [r2.id, r1.id], 'ARM ids compare case-insensitively');
    t.same(ids(await store.listRuns({ scheduleId: 's1' })), [r2.id]);
    t.same(ids(await store.listRuns({ status: ['queued'] })), [r3.id, r1.id]);
    t.same(ids(await store.listRuns({ workspaceId: WS, status: ['queued', 'running'] })), [r2.id, r1.id]);
    t.same(ids(await store.listRuns({ limit: 1 })), [r3.id]);
  });

  t.test('schedules: create with defaults, update, list by workspace, delete', async (t) => {
    const store = await fresh(t);
    const s = await store.createSchedule(schedule());
    t.match(s, { workspaceId: WS, subscriptions: [], cadence: { intervalSeconds: 900 }, notify: [], enabled: true });
    t.equal(s.nextRunAt?.toISOString(), at(0).toISOString());
    t.equal(s.updatedAt.toISOString(), s.createdAt.toISOString());
    t.equal(s.lastRunAt, undefined);
    t.equal(s.computeName, undefined);

    const cron = await store.createSchedule(schedule({ workspaceId: WS_B, cadence: { cron: '0 6 * * 1-5' }, computeName: 'cpu-1', subscriptions: ['sub-hub'], enabled: false, nextRunAt: null }));
    t.same(cron.cadence, { cron: '0 6 * * 1-5', timezone: 'UTC' }, 'a cron cadence defaults to UTC');
    t.same([cron.computeName, cron.subscriptions, cron.enabled, cron.nextRunAt], ['cpu-1', ['sub-hub'], false, null]);

    const berlin = await store.createSchedule(schedule({ cadence: { cron: '30 5 * * *', timezone: 'Europe/Berlin' } }));
    t.same(berlin.cadence, { cron: '30 5 * * *', timezone: 'Europe/Berlin' });

    const subsOnly = await store.updateSchedule(cron.id, { subscriptions: ['sub-hub', 'sub-dns'] }, at(0));
    t.same([subsOnly?.subscriptions, subsOnly?.enabled, subsOnly?.nextRunAt, subsOnly?.computeName], [['sub-hub', 'sub-dns'], false, null, 'cpu-1'], 'a disabled schedule stays disabled');

    const upd = await store.updateSchedule(cron.id, { computeName: null, cadence: { intervalSeconds: 3600 }, enabled: true, nextRunAt: at(5) }, at(1));
    t.same([upd?.computeName, upd?.cadence, upd?.enabled, upd?.nextRunAt?.toISOString(), upd?.subscriptions], [undefined, { intervalSeconds: 3600 }, true, at(5).toISOString(), ['sub-hub', 'sub-dns']]);
    t.equal(upd?.updatedAt.toISOString(), at(1).toISOString());
    t.equal(upd?.createdAt.toISOString(), cron.createdAt.toISOString(), 'createdAt never changes');
    const back = await store.updateSchedule(cron.id, { cadence: { cron: '0 7 * * *', timezone: 'Asia/Tokyo' }, computeName: 'gpu-2' }, at(2));
    t.same([back?.cadence, back?.computeName, back?.nextRunAt?.toISOString()], [{ cron: '0 7 * * *', timezone: 'Asia/Tokyo' }, 'gpu-2', at(5).toISOString()], 'fields not in the patch stay');
    t.same(back?.subscriptions, ['sub-hub', 'sub-dns']);
    t.equal(await store.updateSchedule('nope', { enabled: false }, at(1)), undefined);

    t.same((await store.listSchedules({ workspaceId: WS.toUpperCase() })).map((x) => x.id).sort(), [s.id, berlin.id].sort());
    t.equal((await store.listSchedules()).length, 3);
    t.same(await store.getSchedule(cron.id), back);
    t.equal(await store.deleteSchedule(cron.id), true);
    t.equal(await store.deleteSchedule(cron.id), false);
    t.equal(await store.getSchedule(cron.id), undefined);
  });

  t.test('webhook secrets are kept for signing but never appear in publicSchedule', async (t) => {
    const store = await fresh(t);
    const secret = 'whsec-correct-horse-battery-staple';
    const s = await store.createSchedule(schedule({ notify: [{ url: 'https://hooks.example/a', secret }, { url: 'https://hooks.example/b' }] }));
    t.same(s.notify, [{ url: 'https://hooks.example/a', secret }, { url: 'https://hooks.example/b' }], 'the stored record can sign');
    const claimed = await store.claimDueSchedules(at(0), 'w1', 10, everyMinutes(15));
    t.equal(claimed[0]?.schedule.notify[0]?.secret, secret, 'a claimed tick carries the secret to the notifier');
    for (const rec of [s, await store.getSchedule(s.id), (await store.listSchedules())[0], claimed[0]?.schedule]) {
      if (!rec) throw new Error('schedule missing');
      const pub = publicSchedule(rec);
      t.notMatch(JSON.stringify(pub), secret);
      t.same(pub.notify, [{ url: 'https://hooks.example/a', hasSecret: true }, { url: 'https://hooks.example/b', hasSecret: false }]);
    }
  });

  t.test('claiming due schedules: only enabled and due, earliest first, nextRunAt advanced, each tick once', async (t) => {
    const store = await fresh(t);
    const early = await store.createSchedule(schedule({ nextRunAt: at(-10) }));
    const onTime = await store.createSchedule(schedule({ nextRunAt: at(0) }));
    await store.createSchedule(schedule({ nextRunAt: at(1) }));
    await store.createSchedule(schedule({ nextRunAt: at(-5), enabled: false }));
    await store.createSchedule(schedule({ nextRunAt: null }));

    const first = await store.claimDueSchedules(at(0), 'worker-1', 1, everyMinutes(15));
    t.same(first.map((c) => [c.scheduleId, c.scheduledFor.toISOString(), c.owner, c.claimedAt.toISOString()]), [[early.id, at(-10).toISOString(), 'worker-1', at(0).toISOString()]], 'the limit takes the most overdue');
    t.equal(first[0]?.schedule.nextRunAt?.toISOString(), at(5).toISOString(), 'next occurrence after now, missed ones skipped');
    t.equal(first[0]?.schedule.lastRunAt?.toISOString(), at(0).toISOString());

    const rest = await store.claimDueSchedules(at(0), 'worker-2', 10, everyMinutes(15));
    t.same(rest.map((c) => c.scheduleId), [onTime.id]);
    t.same(await store.claimDueSchedules(at(0), 'worker-1', 10, everyMinutes(15)), [], 'nothing is due twice');
    t.same(await store.claimDueSchedules(at(1), 'worker-1', 0, everyMinutes(15)), [], 'limit 0 claims nothing');
    t.equal((await store.claimDueSchedules(at(1), 'worker-1', 10, everyMinutes(15))).length, 1, 'the schedule due at +1');
    t.equal((await store.getSchedule(onTime.id))?.nextRunAt?.toISOString(), at(15).toISOString());
  });

  t.test('a claim whose next time is not after now changes nothing; null next means never again', async (t) => {
    const store = await fresh(t);
    const s = await store.createSchedule(schedule({ nextRunAt: at(0) }));
    const other = await store.createSchedule(schedule({ nextRunAt: at(-1) }));
    const stuck: NextRunFn = (x, now) => (x.id === s.id ? now : new Date(now.getTime() + 60_000));
    await t.rejects(store.claimDueSchedules(at(0), 'w', 10, stuck), /must be after/);
    t.equal((await store.getSchedule(other.id))?.nextRunAt?.toISOString(), at(-1).toISOString(), 'the whole claim rolled back');
    t.equal((await store.getSchedule(other.id))?.lastRunAt, undefined);

    const claimed = await store.claimDueSchedules(at(0), 'w', 10, (x) => (x.id === s.id ? null : at(30)));
    t.same(claimed.map((c) => c.scheduledFor.toISOString()).sort(), [at(-1).toISOString(), at(0).toISOString()], 'the rolled-back ticks were never recorded');
    t.equal((await store.getSchedule(s.id))?.nextRunAt, null);
    const later = await store.claimDueSchedules(at(60), 'w', 10, everyMinutes(15));
    t.same(later.map((c) => c.scheduleId), [other.id], 'a schedule with no next run is never due again');
  });

  t.test('a tick already claimed is never claimed again, even if nextRunAt is set back to it', async (t) => {
    const store = await fresh(t);
    const s = await store.createSchedule(schedule({ nextRunAt: at(0) }));
    t.equal((await store.claimDueSchedules(at(0), 'w1', 10, everyMinutes(15))).length, 1);
    await store.updateSchedule(s.id, { nextRunAt: at(0) }, at(1));
    t.same(await store.claimDueSchedules(at(1), 'w2', 10, everyMinutes(15)), [], 'the (schedule, time) pair was taken');
    const after = await store.getSchedule(s.id);
    t.equal(after?.nextRunAt?.toISOString(), at(15).toISOString(), 'but the schedule still moves on');
    t.equal(after?.lastRunAt?.toISOString(), at(0).toISOString(), 'lastRunAt is the last real claim');
  });

  t.test('health: status and finding keys from the report, latest and history by workspace', async (t) => {
    const store = await fresh(t);
    const r1 = report(WS, ['PRIVATE_DNS_ZONE_NOT_LINKED', 'NSG_BLOCKS_AAD']);
    const h1 = await store.recordHealth({ scheduleId: 's1', runId: 'run-1', at: at(0), report: r1 });
    t.same([h1.workspaceId, h1.status, h1.findings], [WS, 'cause-found', [{ code: 'PRIVATE_DNS_ZONE_NOT_LINKED', resourceId: NSG }, { code: 'NSG_BLOCKS_AAD', resourceId: NSG }]]);
    t.same(h1.report, r1);
    await store.recordHealth({ scheduleId: 's1', runId: 'run-2', at: at(15), report: report(WS) });
    await store.recordHealth({ scheduleId: 's2', runId: 'run-3', at: at(20), report: report(WS_B, ['X']) });
    const again = await store.recordHealth({ scheduleId: 's1', runId: 'run-1', at: at(99), report: report(WS) });
    t.same([again.at.toISOString(), again.status], [at(0).toISOString(), 'cause-found'], 'a run records health once; the first row stays');

    const latest = await store.latestHealth(WS.toUpperCase());
    t.same([latest?.runId, latest?.status, latest?.findings], ['run-2', 'no-cause-found', []]);
    t.same((await store.healthHistory(WS, 10)).map((h) => h.runId), ['run-2', 'run-1'], 'newest first, this workspace only');
    t.same((await store.healthHistory(WS, 1)).map((h) => h.runId), ['run-2']);
    t.equal(await store.latestHealth('/subscriptions/x/resourceGroups/y/providers/Microsoft.MachineLearningServices/workspaces/none'), undefined);
    const explicit = await store.recordHealth({ scheduleId: 's3', runId: 'run-4', at: at(30), report: report(WS_B), workspaceId: WS });
    t.equal(explicit.workspaceId, WS, 'an explicit workspace id wins over the report');
  });

  t.test('webhook deliveries are recorded and listed by schedule and run, newest first', async (t) => {
    const store = await fresh(t);
    const ok = await store.recordDelivery({ scheduleId: 's1', runId: 'run-1', url: 'https://hooks.example/a', attempts: 1, status: 'delivered', httpStatus: 204, at: at(1) });
    t.match(ok, { scheduleId: 's1', runId: 'run-1', attempts: 1, status: 'delivered', httpStatus: 204 });
    t.equal(ok.error, undefined);
    t.type(ok.id, 'string');
    const bad = await store.recordDelivery({ scheduleId: 's1', runId: 'run-2', url: 'https://hooks.example/a', attempts: 5, status: 'failed', error: 'connect ECONNREFUSED', at: at(2) });
    t.same([bad.status, bad.attempts, bad.error, bad.httpStatus], ['failed', 5, 'connect ECONNREFUSED', undefined]);
    await store.recordDelivery({ scheduleId: 's2', runId: 'run-3', url: 'https://hooks.example/b', attempts: 2, status: 'failed', httpStatus: 500, error: 'HTTP 500', at: at(3) });
    t.same((await store.listDeliveries({ scheduleId: 's1' })).map((d) => d.runId), ['run-2', 'run-1']);
    t.same((await store.listDeliveries({ runId: 'run-3' })).map((d) => [d.httpStatus, d.error]), [[500, 'HTTP 500']]);
    t.equal((await store.listDeliveries()).length, 3);
    t.equal((await store.listDeliveries({ limit: 2 })).length, 2);
  });

  t.test('prune deletes only what is older than the cut-off, and never schedules', async (t) => {
    const store = await fresh(t);
    const cut = at(0);
    const oldSchedule = await store.createSchedule(schedule({ createdAt: at(-1000), nextRunAt: at(-100) }));
    await store.claimDueSchedules(at(-100), 'w', 10, everyMinutes(15)); // tick claimed before the cut
    await store.claimDueSchedules(at(10), 'w', 10, everyMinutes(15)); // tick claimed after

    const oldRun = await store.createRun({ request: { workspaceId: WS }, createdAt: at(-50) });
    await store.finishRun(oldRun.id, { status: 'failed', error: 'x' }, at(-40));
    const lateFinish = await store.createRun({ request: { workspaceId: WS }, createdAt: at(-50) });
    await store.finishRun(lateFinish.id, { status: 'succeeded', report: report(WS) }, at(5));
    const abandoned = await store.createRun({ request: { workspaceId: WS }, createdAt: at(-50) });
    const recent = await store.createRun({ request: { workspaceId: WS }, createdAt: at(1) });

    await store.recordHealth({ scheduleId: oldSchedule.id, runId: 'h-old', at: at(-30), report: report(WS) });
    await store.recordHealth({ scheduleId: oldSchedule.id, runId: 'h-new', at: at(1), report: report(WS) });
    await store.recordDelivery({ scheduleId: oldSchedule.id, runId: 'h-old', url: 'https://h', attempts: 1, status: 'delivered', at: at(-30) });
    await store.recordDelivery({ scheduleId: oldSchedule.id, runId: 'h-new', url: 'https://h', attempts: 1, status: 'delivered', at: at(0) });

    t.same(await store.prune(cut), { runs: 2, health: 1, ticks: 1, deliveries: 1 });
    t.same((await store.listRuns()).map((r) => r.id).sort(), [lateFinish.id, recent.id].sort(), 'a run that ended after the cut stays; one never ended and created before goes');
    t.equal(await store.getRun(abandoned.id), undefined);
    t.same((await store.healthHistory(WS, 10)).map((h) => h.runId), ['h-new']);
    t.same((await store.listDeliveries()).map((d) => d.runId), ['h-new'], 'a delivery exactly at the cut stays');
    t.ok(await store.getSchedule(oldSchedule.id), 'schedules are never pruned');
    t.same(await store.prune(cut), { runs: 0, health: 0, ticks: 0, deliveries: 0 }, 'pruning again finds nothing');
  });
}
