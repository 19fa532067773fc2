/**
 * The scheduled-run executor and the scheduler's recovery of orphaned runs, on the SQLite store
 * with canned diagnoses (the diagnoses themselves are tested end to end elsewhere): retries after
 * a crash neither record health twice nor notify twice; a run that never finishes is given up;
 * handed-back and never-queued runs are picked up; a run the queue gave up on ends failed.
 */
import t, { type Test } from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { DiagnoseFn } from '../../src/diagnose.ts';
import type { RunQueue } from '../../src/service/run-queue.ts';
import { GAVE_UP_MESSAGE, MAX_RUN_ATTEMPTS, ScheduledRunExecutor } from '../../src/service/scheduled-runs.ts';
import { Scheduler } from '../../src/service/scheduler.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/store.ts';
import { report, WS } from '../store/contract.ts';

const log = pino({ level: 'silent' });
const broken: DiagnoseFn = async () => report(WS, ['PRIVATE_DNS_ZONE_NOT_LINKED']);

async function fresh(t: Test): Promise<Store> {
  const store = await openSqliteStore(':memory:');
  t.teardown(() => store.close());
  return store;
}

/** A schedule due now, claimed: its run is queued. */
async function claimedRun(store: Store, notify: Array<{ url: string; secret: string }> = []): Promise<string> {
  const now = new Date();
  await store.createSchedule({ workspaceId: WS, cadence: { intervalSeconds: 3600 }, nextRunAt: now, createdAt: now, notify });
  const [tick] = await store.claimDueSchedules(now, 'claimer', 1, (_s, after) => new Date(after.getTime() + 3_600_000));
  if (!tick) throw new Error('nothing claimed');
  return tick.runId;
}

t.test('a run retried after a crash records its health once and does not notify twice', async (t) => {
  const store = await fresh(t);
  let hooks = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hooks++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  t.teardown(() => receiver.close());
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const runId = await claimedRun(store, [{ url, secret: 'test-secret-0123456789' }]);

  const first = new ScheduledRunExecutor({ store, log, owner: 'replica-a', leaseMs: 1_000 });
  const done = await first.execute(runId, broken);
  t.match(done, { status: 'succeeded', deliveries: 1 });
  t.equal(hooks, 1, 'the new finding is notified');

  // As if replica A had died after its webhook and before the queue heard of it: the queue
  // retries the job on replica B.
  const again = await new ScheduledRunExecutor({ store, log, owner: 'replica-b' }).execute(runId, broken);
  t.match(again, { status: 'skipped', reason: 'ended' }, 'the retry sees it ended and does nothing');
  t.equal((await store.healthHistory(WS, 10)).length, 1, 'one health record');
  t.equal(hooks, 1, 'no second notification');
});

t.test('a run interrupted between its health record and its end is finished by the retry without a second record', async (t) => {
  const store = await fresh(t);
  const runId = await claimedRun(store);
  const now = new Date();
  // Replica A took it, recorded health, then died before ending the run.
  const taken = await store.takeRun(runId, 'replica-a', now, new Date(now.getTime() + 10));
  t.ok(taken);
  await store.recordHealth({ scheduleId: taken?.scheduleId ?? '', runId, at: now, report: report(WS, ['PRIVATE_DNS_ZONE_NOT_LINKED']) });
  await new Promise((r) => setTimeout(r, 20));
  const result = await new ScheduledRunExecutor({ store, log, owner: 'replica-b' }).execute(runId, broken);
  t.match(result, { status: 'succeeded' });
  t.equal((await store.getRun(runId))?.attempts, 2);
  t.equal((await store.healthHistory(WS, 10)).length, 1, 'still one health record');
  t.match(result, { drift: { changed: true } }, 'compared with the health before this run (none), not with its own record');
});

t.test(`a run taken ${MAX_RUN_ATTEMPTS} times without ending is given up`, async (t) => {
  const store = await fresh(t);
  const runId = await claimedRun(store);
  for (let i = 0; i < MAX_RUN_ATTEMPTS; i++) {
    const at = new Date(Date.now() + i * 10);
    t.ok(await store.takeRun(runId, `replica-${i}`, at, new Date(at.getTime() + 5)), `attempt ${i + 1} taken (and its replica dies)`);
  }
  await new Promise((r) => setTimeout(r, 50));
  let diagnosed = 0;
  const result = await new ScheduledRunExecutor({ store, log, owner: 'replica-last' }).execute(runId, async (req, signal) => {
    diagnosed++;
    return broken(req, signal);
  });
  t.match(result, { status: 'failed' });
  t.equal(diagnosed, 0, 'not diagnosed again');
  t.match(await store.getRun(runId), { status: 'failed', error: GAVE_UP_MESSAGE });
});

t.test('embedded: a tick executes runs nobody holds (handed back, or left by a dead process)', async (t) => {
  const store = await fresh(t);
  const handedBack = await claimedRun(store);
  const now = new Date();
  await store.takeRun(handedBack, 'old-process', now, new Date(now.getTime() + 60_000));
  t.ok(await store.releaseRun(handedBack, 'old-process'), 'handed back at shutdown');
  const scheduler = new Scheduler({ store, log, owner: 'new-process', diagnose: broken });
  const outcomes = await scheduler.tick();
  t.same(outcomes.map((o) => [o.runId, o.status]), [[handedBack, 'succeeded']]);
  t.match(await store.getRun(handedBack), { status: 'succeeded', attempts: 2, owner: 'new-process' });
});

t.test('scale-out: a tick queues claimed and never-queued runs, and ends runs the queue gave up on', async (t) => {
  const store = await fresh(t);
  const sent: string[] = [];
  const held = new Set<string>();
  const queue: RunQueue = {
    async send(ids) {
      sent.push(...ids);
    },
    async work() {},
    async holds(id) {
      return held.has(id);
    },
    async stopWorking() {},
    async close() {},
  };
  // A run whose claimer died before queueing it, and one the queue retried until it gave up.
  const neverQueued = await claimedRun(store);
  const givenUp = await claimedRun(store);
  const now = new Date();
  await store.takeRun(givenUp, 'dead-replica', now, new Date(now.getTime() + 5));
  await new Promise((r) => setTimeout(r, 20));
  const due = new Date();
  const fresh2 = await store.createSchedule({ workspaceId: WS, cadence: { intervalSeconds: 3600 }, nextRunAt: due, createdAt: due });
  const scheduler = new Scheduler({ store, log, owner: 'replica-b', diagnose: broken, queue });
  t.same(await scheduler.tick(), [], 'scale-out: nothing is executed by the tick itself');
  const claimed = (await store.listRuns({ scheduleId: fresh2.id }))[0]?.id;
  t.same(sent.sort(), [neverQueued, claimed].sort(), 'the new tick and the never-queued run are queued');
  t.match(await store.getRun(givenUp), { status: 'failed', error: GAVE_UP_MESSAGE });

  sent.length = 0;
  held.add(neverQueued);
  if (claimed) held.add(claimed);
  t.same(await scheduler.tick(), []);
  t.same(sent, [], 'runs the queue still holds are not queued again');
});
