/**
 * The embedded service as a real process (`node src/server.ts`, SQLite file) running scheduled
 * health checks against the simulated ARM and DNS server on 127.0.0.1:
 * - a scheduled run in progress at SIGTERM is handed back (queued again), and the next start
 *   finishes it; its health is then served at GET /v1/workspaces/{id}/health;
 * - DELETE /v1/diagnoses/{id} on a scheduled run stops its diagnosis, not only its record.
 */
import t, { type Test } from 'tap';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startArmSimulator, type ArmSimulator } from '../../src/sim/arm-server.ts';
import { startDnsServer } from '../../src/sim/dns-server.ts';
import { loadScenario } from '../../src/sim/scenario-files.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import type { RunRecord, Store } from '../../src/store/store.ts';
import { eventually, listeningUrl, logLines, startServer, type ServerProcess } from '../helpers/server-process.ts';

const scenario = await loadScenario('zone-not-linked-hub-spoke');
const WS = scenario.target.workspaceId;
const dir = await mkdtemp(join(tmpdir(), 'netdoctor-server-sched-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

interface Estate {
  arm: ArmSimulator;
  env: Record<string, string>;
  store: Store;
}

async function estate(t: Test, name: string): Promise<Estate> {
  const arm = await startArmSimulator({ scenario });
  const dns = await startDnsServer({ answers: scenario.dns });
  const dbPath = join(dir, `${name}.sqlite`);
  const store = await openSqliteStore(dbPath);
  t.teardown(async () => {
    await store.close();
    await arm.close();
    await dns.close();
  });
  return {
    arm,
    store,
    env: {
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      NETDOCTOR_DB_PATH: dbPath,
      NETDOCTOR_ARM_ENDPOINT: arm.url,
      NODE_EXTRA_CA_CERTS: await arm.writeCaFile(join(dir, name)),
      NETDOCTOR_ACCESS_TOKEN: 'test-token-server-scheduler',
      NETDOCTOR_DNS_SERVERS: dns.address,
      NETDOCTOR_DNS_TIMEOUT_MS: '500',
      NETDOCTOR_LRO_POLL_MS: '5',
      NETDOCTOR_SCHEDULER_TICK_MS: '200',
      NETDOCTOR_RUN_LEASE_SECONDS: '3',
      NETDOCTOR_SHUTDOWN_GRACE_MS: '0',
    },
  };
}

async function server(t: Test, env: Record<string, string>): Promise<{ p: ServerProcess; url: string }> {
  const p = startServer(env);
  t.teardown(() => {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });
  return { p, url: await listeningUrl(p, 30_000) };
}

const runningRun = (store: Store, scheduleId: string) => async (): Promise<RunRecord | undefined> =>
  (await store.listRuns({ scheduleId, status: ['running'] }))[0];

t.test('SIGTERM hands a running scheduled run back; the next start finishes it on time', async (t) => {
  const { arm, env, store } = await estate(t, 'handback');
  arm.setLatency(300);
  const due = new Date();
  const schedule = await store.createSchedule({ workspaceId: WS, cadence: { intervalSeconds: 3600 }, nextRunAt: due, createdAt: due });
  const first = await server(t, env);
  const running = await eventually('the scheduled run to start', runningRun(store, schedule.id));
  const next = (await store.getSchedule(schedule.id))?.nextRunAt?.getTime() ?? 0;
  t.ok(next >= due.getTime() + 3_600_000 && next < due.getTime() + 3_630_000, 'the tick moved the schedule on by its interval');

  first.p.child.kill('SIGTERM');
  const [code] = (await once(first.p.child, 'exit')) as [number | null];
  t.equal(code, 0, 'a clean exit');
  const handedBack = await store.getRun(running.id);
  t.equal(handedBack?.status, 'queued', 'the run was handed back, not cancelled or lost');
  t.notOk(handedBack?.owner, 'nobody holds it');
  t.ok(logLines(first.p).some((l) => l.msg === 'scheduled run handed back' && l.runId === running.id), 'the hand-back is logged');

  arm.setLatency(0);
  const second = await server(t, env);
  const done = await eventually('the handed-back run to finish', async () => {
    const run = await store.getRun(running.id);
    return run?.status === 'succeeded' ? run : undefined;
  });
  t.equal(done.attempts, 2, 'finished by the second process, on its second attempt');
  t.equal((await store.listRuns({ scheduleId: schedule.id })).length, 1, 'no second run for the same tick');
  const health = await fetch(`${second.url}/v1/workspaces${WS}/health`);
  t.equal(health.status, 200);
  const body = (await health.json()) as { latest?: { runId?: string; status?: string } };
  t.equal(body.latest?.runId, running.id, 'the health endpoint serves that run');
  t.equal(body.latest?.status, 'cause-found');
  second.p.child.kill('SIGTERM');
  await once(second.p.child, 'exit');
});

t.test('DELETE /v1/diagnoses/{id} stops a scheduled diagnosis in progress', async (t) => {
  const { arm, env, store } = await estate(t, 'cancel');
  arm.setLatency(300);
  const schedule = await store.createSchedule({ workspaceId: WS, cadence: { intervalSeconds: 3600 }, nextRunAt: new Date(), createdAt: new Date() });
  const { p, url } = await server(t, env);
  const running = await eventually('the scheduled run to start', runningRun(store, schedule.id));

  const res = await fetch(`${url}/v1/diagnoses/${running.id}`, { method: 'DELETE' });
  t.equal(res.status, 202);
  t.equal(((await res.json()) as { status: string }).status, 'cancelled');
  await eventually('the scheduler to abort the diagnosis', async () => (logLines(p).some((l) => l.msg === 'scheduled diagnosis cancelled' && l.runId === running.id) ? true : undefined), 10_000);
  const requestsAfter = arm.requests.length;
  await new Promise((r) => setTimeout(r, 1_500));
  t.ok(arm.requests.length - requestsAfter <= 2, `ARM reads stopped (${arm.requests.length - requestsAfter} after the abort)`);
  const run = await store.getRun(running.id);
  t.equal(run?.status, 'cancelled', 'the run stays cancelled');
  t.notOk(run?.report, 'without a report');
  t.equal((await store.healthHistory(WS, 10)).length, 0, 'and no health record');
  p.child.kill('SIGTERM');
  await once(p.child, 'exit');
});
