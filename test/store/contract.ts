/**
 * What every Store implementation must do (SQLite and PostgreSQL). `open` must give a fresh, empty
 * store each call; `openTwins` two stores on one fresh, empty database (as two replicas would have:
 * separate connections); each subtest closes its own.
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

export function storeContract(t: Test, open: () => Promise<Store>, openTwins: () => Promise<[Store, Store]>): void {
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
    t.notOk(run.startedAt ?? run.finishedAt ?? run.report ?? run.error ?? run.scheduleId ?? run.owner ?? run.leaseUntil, 'nothing else is set yet');
    t.equal(run.attempts, 0);

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

  t.test('times keep their milliseconds', async (t) => {
    const store = await fresh(t);
    const t1 = new Date('2026-03-02T06:00:00.123Z');
    const t2 = new Date('2026-03-02T06:00:01.999Z');
    const run = await store.createRun({ request: { workspaceId: WS }, createdAt: t1, owner: 'replica-a', leaseUntil: t2 });
    await store.takeRun(run.id, 'replica-a', t1, t2);
    await store.finishRun(run.id, { status: 'cancelled' }, t2);
    const got = await store.getRun(run.id);
    t.same([got?.createdAt, got?.startedAt, got?.leaseUntil, got?.finishedAt].map((d) => d?.toISOString()), [t1, t1, t2, t2].map((d) => d.toISOString()));
    const s = await store.createSchedule(schedule({ createdAt: t1, nextRunAt: t2 }));
    t.equal(s.nextRunAt?.toISOString(), t2.toISOString());
    const [tick] = await store.claimDueSchedules(t2, 'w', 1, () => new Date(t2.getTime() + 1));
    t.same([tick?.scheduledFor.toISOString(), tick?.schedule.nextRunAt?.toISOString()], [t2.toISOString(), '2026-03-02T06:00:02.000Z']);
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
    const s = await store.createSchedule(schedule({ notify: [{ url: 'https://hooks.example/a', secret }, { url: 'https://hooks.example/b?sig=url-credential-1234&sp=x' }] }));
    t.same(s.notify, [{ url: 'https://hooks.example/a', secret }, { url: 'https://hooks.example/b?sig=url-credential-1234&sp=x' }], 'the stored record can sign and call');
    const claimed = await store.claimDueSchedules(at(0), 'w1', 10, everyMinutes(15));
    t.equal(claimed[0]?.schedule.notify[0]?.secret, secret, 'a claimed tick carries the secret to the notifier');
    for (const rec of [s, await store.getSchedule(s.id), (await store.listSchedules())[0], claimed[0]?.schedule]) {
      if (!rec) throw new Error('schedule missing');
      const pub = publicSchedule(rec);
      t.notMatch(JSON.stringify(pub), secret);
      t.notMatch(JSON.stringify(pub), 'url-credential-1234', 'a credential in the URL query is not shown either');
      t.same(pub.notify, [{ url: 'https://hooks.example/a', hasSecret: true }, { url: 'https://hooks.example/b?sig=***&sp=***', hasSecret: false }]);
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
    const [oldTick] = await store.claimDueSchedules(at(-100), 'w', 10, everyMinutes(15)); // tick (and its run) before the cut, the run never ended
    const [newTick] = await store.claimDueSchedules(at(10), 'w', 10, everyMinutes(15)); // tick claimed after

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

    t.same(await store.prune(cut), { runs: 3, health: 1, ticks: 1, deliveries: 1 });
    t.same((await store.listRuns()).map((r) => r.id).sort(), [lateFinish.id, recent.id, newTick?.runId].sort(), 'a run that ended after the cut stays; one never ended and created before goes');
    t.equal(await store.getRun(abandoned.id), undefined);
    t.equal(oldTick && (await store.getRun(oldTick.runId)), undefined, 'an old tick run that never ran goes too');
    t.same((await store.healthHistory(WS, 10)).map((h) => h.runId), ['h-new']);
    t.same((await store.listDeliveries()).map((d) => d.runId), ['h-new'], 'a delivery exactly at the cut stays');
    t.ok(await store.getSchedule(oldSchedule.id), 'schedules are never pruned');
    t.same(await store.prune(cut), { runs: 0, health: 0, ticks: 0, deliveries: 0 }, 'pruning again finds nothing');
  });

  t.test('a claimed tick comes with its queued run, created in the same transaction as the claim', async (t) => {
    const store = await fresh(t);
    const withCompute = await store.createSchedule(schedule({ nextRunAt: at(-1), computeName: 'cpu-1', subscriptions: ['sub-hub'] }));
    const plain = await store.createSchedule(schedule({ workspaceId: WS_B, nextRunAt: at(0) }));
    const claimed = await store.claimDueSchedules(at(0), 'w1', 10, everyMinutes(15));
    t.same(claimed.map((c) => c.scheduleId), [withCompute.id, plain.id]);

    const [first, second] = await Promise.all(claimed.map((c) => store.getRun(c.runId)));
    t.match(first, { status: 'queued', workspaceId: WS, scheduleId: withCompute.id, attempts: 0 });
    t.same(first?.request, { workspaceId: WS, computeName: 'cpu-1', subscriptions: ['sub-hub'] }, 'the request comes from the schedule');
    t.equal(first?.createdAt.toISOString(), at(0).toISOString(), 'created at the claim time');
    t.same([first?.owner, first?.leaseUntil, first?.startedAt], [undefined, undefined, undefined], 'nobody holds it yet');
    t.same(second?.request, { workspaceId: WS_B, subscriptions: [] });
    t.notOk(second && 'computeName' in second.request, 'no compute name when the schedule has none');
    t.equal(second?.scheduleId, plain.id);
    t.not(claimed[0]?.runId, claimed[1]?.runId);

    await store.updateSchedule(plain.id, { nextRunAt: at(0) }, at(1));
    t.same(await store.claimDueSchedules(at(1), 'w2', 10, everyMinutes(15)), [], 'a tick taken before is skipped');
    const stuck: NextRunFn = (_s, now) => now;
    await store.updateSchedule(plain.id, { nextRunAt: at(2) }, at(2));
    await t.rejects(store.claimDueSchedules(at(2), 'w2', 10, stuck), /must be after/);
    t.same((await store.listRuns()).map((r) => r.id).sort(), claimed.map((c) => c.runId).sort(), 'neither a skipped nor a rolled-back claim leaves a run');
  });

  t.test('takeRun: a queued run becomes running under a lease; a live lease refuses others until it ends', async (t) => {
    const store = await fresh(t);
    const run = await store.createRun({ request: { workspaceId: WS }, createdAt: at(0) });
    t.same([run.attempts, run.owner, run.leaseUntil], [0, undefined, undefined], 'nobody has taken a new run');

    const taken = await store.takeRun(run.id, 'replica-a', at(1), at(3));
    t.match(taken, { id: run.id, status: 'running', owner: 'replica-a', attempts: 1 });
    t.equal(taken?.leaseUntil?.toISOString(), at(3).toISOString());
    t.equal(taken?.startedAt?.toISOString(), at(1).toISOString());
    t.same(await store.getRun(run.id), taken, 'what takeRun returns is what is stored');

    t.equal(await store.takeRun(run.id, 'replica-b', at(2), at(5)), undefined, 'refused while the lease runs');
    t.equal(await store.takeRun(run.id, 'replica-b', at(3), at(5)), undefined, 'refused at the very end of the lease');
    t.same(await store.getRun(run.id), taken, 'a refused take changes nothing');

    const over = await store.takeRun(run.id, 'replica-b', at(4), at(6));
    t.match(over, { status: 'running', owner: 'replica-b', attempts: 2 });
    t.equal(over?.leaseUntil?.toISOString(), at(6).toISOString());
    t.equal(over?.startedAt?.toISOString(), at(1).toISOString(), 'startedAt is the first start');

    t.ok(await store.finishRun(run.id, { status: 'failed', error: 'x' }, at(5)));
    t.equal(await store.takeRun(run.id, 'replica-c', at(10), at(12)), undefined, 'an ended run is never taken');
    t.equal((await store.getRun(run.id))?.status, 'failed');
    t.equal(await store.takeRun('00000000-0000-4000-8000-000000000000', 'replica-c', at(10), at(12)), undefined, 'nor a missing one');

    const started = await store.createRun({ request: { workspaceId: WS }, createdAt: at(0) });
    await store.startRun(started.id, at(1));
    t.match(await store.takeRun(started.id, 'replica-a', at(1), at(2)), { owner: 'replica-a', attempts: 1 }, 'a running run without a lease can be taken');

    const onDemand = await store.createRun({ request: { workspaceId: WS }, createdAt: at(0), owner: 'replica-a', leaseUntil: at(2) });
    t.match(onDemand, { status: 'queued', owner: 'replica-a', attempts: 0 });
    t.equal(onDemand.leaseUntil?.toISOString(), at(2).toISOString(), 'a run can be created already held');
    t.match(await store.takeRun(onDemand.id, 'replica-a', at(0), at(2)), { status: 'running', owner: 'replica-a', attempts: 1 });
  });

  t.test('releaseRun hands a run back to the queue, only by its holder', async (t) => {
    const store = await fresh(t);
    const run = await store.createRun({ request: { workspaceId: WS }, createdAt: at(0) });
    await store.takeRun(run.id, 'replica-a', at(1), at(10));
    t.equal(await store.releaseRun(run.id, 'replica-b'), false, 'another replica cannot hand it back');
    t.match(await store.getRun(run.id), { status: 'running', owner: 'replica-a' });

    t.equal(await store.releaseRun(run.id, 'replica-a'), true);
    const back = await store.getRun(run.id);
    t.same([back?.status, back?.owner, back?.leaseUntil, back?.attempts], ['queued', undefined, undefined, 1], 'queued, unheld, its attempt counted');
    t.equal(back?.startedAt?.toISOString(), at(1).toISOString());
    t.equal(await store.releaseRun(run.id, 'replica-a'), false, 'a queued run is not released again');

    const again = await store.takeRun(run.id, 'replica-b', at(2), at(4));
    t.match(again, { status: 'running', owner: 'replica-b', attempts: 2 }, 'anyone may take it again at once');
    await store.finishRun(run.id, { status: 'succeeded', report: report(WS) }, at(3));
    t.equal(await store.releaseRun(run.id, 'replica-b'), false, 'an ended run stays ended');
    t.equal((await store.getRun(run.id))?.status, 'succeeded');
    t.equal(await store.releaseRun('nope', 'replica-b'), false);
  });

  t.test('renewLeases extends every unfinished run the owner holds, and nothing else', async (t) => {
    const store = await fresh(t);
    const running = await store.createRun({ request: { workspaceId: WS }, createdAt: at(0) });
    await store.takeRun(running.id, 'replica-a', at(0), at(1));
    const queued = await store.createRun({ request: { workspaceId: WS }, createdAt: at(0), owner: 'replica-a', leaseUntil: at(1) });
    const ended = await store.createRun({ request: { workspaceId: WS }, createdAt: at(0) });
    await store.takeRun(ended.id, 'replica-a', at(0), at(1));
    await store.finishRun(ended.id, { status: 'cancelled' }, at(0));
    const other = await store.createRun({ request: { workspaceId: WS }, createdAt: at(0) });
    await store.takeRun(other.id, 'replica-b', at(0), at(1));

    t.equal(await store.renewLeases('replica-a', at(5)), 2);
    const lease = async (id: string) => (await store.getRun(id))?.leaseUntil?.toISOString();
    t.same(await Promise.all([running, queued, ended, other].map((r) => lease(r.id))), [at(5), at(5), at(1), at(1)].map((d) => d.toISOString()));
    t.equal(await store.takeRun(running.id, 'replica-b', at(2), at(3)), undefined, 'a renewed lease keeps others out');
    t.equal(await store.renewLeases('replica-z', at(5)), 0, 'an owner holding nothing renews nothing');
  });

  t.test('runs can be listed by scheduled or on-demand, by expired lease and by creation time', async (t) => {
    const store = await fresh(t);
    const onDemand = await store.createRun({ request: { workspaceId: WS }, createdAt: at(1), owner: 'replica-a', leaseUntil: at(10) });
    const scheduled = await store.createRun({ request: { workspaceId: WS }, createdAt: at(2), scheduleId: 's1' });
    const lapsed = await store.createRun({ request: { workspaceId: WS }, createdAt: at(3), scheduleId: 's1' });
    await store.takeRun(lapsed.id, 'replica-b', at(3), at(5));
    const ids = (rs: { id: string }[]) => rs.map((r) => r.id);
    t.same(ids(await store.listRuns({ scheduled: true })), [lapsed.id, scheduled.id]);
    t.same(ids(await store.listRuns({ scheduled: false })), [onDemand.id]);
    t.same(ids(await store.listRuns({ leaseExpiredBy: at(6) })), [lapsed.id, scheduled.id], 'no lease, or one that ended before');
    t.same(ids(await store.listRuns({ leaseExpiredBy: at(5) })), [scheduled.id], 'a lease ending exactly then still holds');
    t.same(ids(await store.listRuns({ leaseExpiredBy: at(11) })), [lapsed.id, scheduled.id, onDemand.id]);
    t.same(ids(await store.listRuns({ createdBefore: at(3) })), [scheduled.id, onDemand.id], 'strictly before');
    t.same(ids(await store.listRuns({ status: ['running'], scheduled: true, leaseExpiredBy: at(6), createdBefore: at(4) })), [lapsed.id], 'filters combine');
    t.same(await store.listRuns({ status: ['queued'], scheduled: false, leaseExpiredBy: at(6) }), []);
  });

  t.test('two stores on one database racing to take the same runs: exactly one wins each', async (t) => {
    const [a, b] = await openTwins();
    t.teardown(async () => {
      await a.close();
      await b.close();
    });
    const runs = [];
    for (let i = 0; i < 20; i++) runs.push(await a.createRun({ request: { workspaceId: WS }, createdAt: at(0) }));
    const results = await Promise.all(
      runs.map(async (run) => {
        const [byA, byB] = await Promise.all([a.takeRun(run.id, 'replica-a', at(1), at(5)), b.takeRun(run.id, 'replica-b', at(1), at(5))]);
        return { run: run.id, winners: [byA?.owner, byB?.owner].filter((o) => o !== undefined), stored: await b.getRun(run.id) };
      }),
    );
    for (const r of results) {
      t.equal(r.winners.length, 1, `one take of ${r.run} succeeded`);
      t.match(r.stored, { status: 'running', owner: r.winners[0], attempts: 1 }, 'the winner holds it, taken once');
    }
  });
}
