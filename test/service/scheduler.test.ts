/**
 * Scheduled health checks end to end in-process: real diagnoses (SDK clients against the simulated
 * ARM and DNS server) of one workspace whose estate is broken and then fixed, the SQLite store on a
 * temp file, and a webhook receiver on 127.0.0.1 that verifies every signature.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { diagnose, type DiagnoseFn } from '../../src/diagnose.ts';
import { Scheduler, nextRunOf } from '../../src/service/scheduler.ts';
import { verifySignature } from '../../src/service/webhook.ts';
import { loadScenario } from '../../src/sim/scenario-files.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { linkZonesToEveryVnet } from '../helpers/fixes.ts';
import { startScenario } from '../helpers/reports.ts';

const SECRET = 'test-webhook-secret-0123456789';
const broken = await loadScenario('zone-not-linked-hub-spoke');
const estates = { broken: await startScenario(t, broken), fixed: await startScenario(t, linkZonesToEveryVnet(broken)) };
let current: keyof typeof estates = 'fixed';
const diagnoseCurrent: DiagnoseFn = (req, signal, options) => diagnose(req, estates[current].deps, signal, options);

let clock = new Date('2026-06-01T08:00:00Z');
const now = () => clock;

interface Received {
  event: string | undefined;
  body: { new?: Array<{ code: string }>; resolved?: Array<{ code: string }>; reportPath?: string };
}
const received: Received[] = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    const ok = verifySignature(SECRET, String(req.headers['x-netdoctor-timestamp']), body, String(req.headers['x-netdoctor-signature']), 300, clock);
    if (!ok) {
      res.writeHead(401).end();
      return;
    }
    received.push({ event: req.headers['x-netdoctor-event'] as string | undefined, body: JSON.parse(body) as Received['body'] });
    res.writeHead(204).end();
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
t.teardown(() => receiver.close());
const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

const dir = await mkdtemp(join(tmpdir(), 'netdoctor-sched-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const dbPath = join(dir, 'netdoctor.sqlite');

const log = pino({ level: 'silent' });

t.test('one webhook when a finding appears, none while it persists, one when it resolves; every run stored', async (t) => {
  const store = await openSqliteStore(dbPath);
  t.teardown(() => store.close());
  const cadence = { intervalSeconds: 3600 };
  const schedule = await store.createSchedule({
    workspaceId: broken.target.workspaceId,
    ...(broken.target.computeName ? { computeName: broken.target.computeName } : {}),
    subscriptions: broken.target.subscriptions ?? [],
    cadence,
    notify: [{ url: hook, secret: SECRET }],
    nextRunAt: clock,
    createdAt: clock,
  });
  const scheduler = new Scheduler({ store, diagnose: diagnoseCurrent, log, owner: 'replica-a', now, webhook: { attempts: 2, baseDelayMs: 5 } });
  const step = async (estate: keyof typeof estates) => {
    current = estate;
    clock = new Date(clock.getTime() + 3600_000);
    return scheduler.tick();
  };
  current = 'fixed';
  const first = await scheduler.tick();
  t.equal(first.length, 1, 'the due schedule ran');
  t.equal(first[0]?.status, 'succeeded');
  t.equal(received.length, 0, 'a healthy first run is not a change: no webhook');
  t.same(await scheduler.tick(), [], 'not due again within the hour: nothing runs twice');

  const b = await step('broken');
  t.equal(b[0]?.drift?.changed, true);
  t.equal(received.length, 1, 'the finding appeared: one webhook');
  t.equal(received[0]?.event, 'drift');
  t.ok((received[0]?.body.new ?? []).some((f) => f.code === 'PRIVATE_DNS_ZONE_NOT_LINKED'), 'it lists the new findings');
  t.match(received[0]?.body.reportPath, /^\/v1\/diagnoses\//, 'and where the stored report is');
  await step('broken');
  t.equal(received.length, 1, 'persisting: no webhook');
  await step('fixed');
  t.equal(received.length, 2, 'resolved: one webhook');
  t.ok((received[1]?.body.resolved ?? []).some((f) => f.code === 'PRIVATE_DNS_ZONE_NOT_LINKED'), 'it lists the resolved findings');

  const history = await store.healthHistory(schedule.workspaceId, 10);
  t.same(history.map((h) => h.status), ['no-cause-found', 'cause-found', 'cause-found', 'no-cause-found'], 'every run is in the history, newest first');
  const deliveries = await store.listDeliveries({ scheduleId: schedule.id });
  t.equal(deliveries.length, 2, 'each delivery recorded');
  t.ok(deliveries.every((d) => d.status === 'delivered' && d.attempts === 1));
  t.notOk(JSON.stringify(deliveries).includes(SECRET), 'the secret is not in the delivery records');
});

t.test('the schedule survives a restart of the embedded store and runs on time', async (t) => {
  const before = await openSqliteStore(dbPath);
  const [schedule] = await before.listSchedules({ workspaceId: broken.target.workspaceId });
  t.ok(schedule, 'the schedule is still there after reopening');
  const due = schedule?.nextRunAt as Date;
  await before.close();

  const after = await openSqliteStore(dbPath);
  t.teardown(() => after.close());
  const scheduler = new Scheduler({ store: after, diagnose: diagnoseCurrent, log, owner: 'replica-b', now });
  clock = new Date(due.getTime() - 1000);
  t.same(await scheduler.tick(), [], 'one second early: nothing runs');
  clock = due;
  const ran = await scheduler.tick();
  t.equal(ran.length, 1, 'on time: it runs');
  t.equal((await after.getSchedule(schedule?.id as string))?.nextRunAt?.toISOString(), nextRunOf(schedule as NonNullable<typeof schedule>, due)?.toISOString(), 'next run moved on by the interval');
  t.equal((await after.healthHistory(broken.target.workspaceId, 100)).length, 5, 'history kept across the restart');
});
