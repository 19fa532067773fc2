/**
 * Scale-out on PostgreSQL, with real service processes (`node src/server.ts`, DATABASE_URL set)
 * diagnosing a bundled scenario through the simulated ARM and DNS server on 127.0.0.1:
 * - two replicas run each scheduled tick exactly once, and share the work;
 * - a replica killed (SIGKILL) mid-run has its run finished by the other.
 *
 * Schedules are written straight into the store with a 2-second interval (the API's minimum is 60 s)
 * so that many ticks fit in a short test; the claiming and execution paths are the production ones.
 */
import t, { type Test } from 'tap';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startArmSimulator, type ArmSimulator } from '../../src/sim/arm-server.ts';
import { startDnsServer } from '../../src/sim/dns-server.ts';
import { loadScenario } from '../../src/sim/scenario-files.ts';
import { openPostgresStore } from '../../src/store/postgres.ts';
import type { RunRecord, Store } from '../../src/store/store.ts';
import { postgresUrl } from '../helpers/postgres.ts';
import { eventually, listeningUrl, logLines, startServer, type ServerProcess } from '../helpers/server-process.ts';

const scenario = await loadScenario('zone-not-linked-hub-spoke');
const WS = scenario.target.workspaceId;
const dir = await mkdtemp(join(tmpdir(), 'netdoctor-replicas-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

async function estate(t: Test): Promise<{ arm: ArmSimulator; env: Record<string, string> }> {
  const arm = await startArmSimulator({ scenario });
  const dns = await startDnsServer({ answers: scenario.dns });
  t.teardown(async () => {
    await arm.close();
    await dns.close();
  });
  return {
    arm,
    env: {
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      NETDOCTOR_ARM_ENDPOINT: arm.url,
      NODE_EXTRA_CA_CERTS: await arm.writeCaFile(join(dir, String(Math.random()).slice(2))),
      NETDOCTOR_ACCESS_TOKEN: 'test-token-replicas',
      NETDOCTOR_DNS_SERVERS: dns.address,
      NETDOCTOR_DNS_TIMEOUT_MS: '500',
      NETDOCTOR_LRO_POLL_MS: '5',
      NETDOCTOR_SCHEDULER_TICK_MS: '200',
      NETDOCTOR_RUN_LEASE_SECONDS: '3',
      NETDOCTOR_JOB_HEARTBEAT_SECONDS: '10',
      NETDOCTOR_QUEUE_SUPERVISE_SECONDS: '1',
      NETDOCTOR_SHUTDOWN_GRACE_MS: '2000',
    },
  };
}

async function replica(t: Test, env: Record<string, string>): Promise<ServerProcess> {
  const p = startServer(env);
  t.teardown(() => {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });
  await listeningUrl(p, 30_000);
  return p;
}

async function stop(p: ServerProcess): Promise<number | null> {
  if (p.child.exitCode !== null) return p.child.exitCode;
  p.child.kill('SIGTERM');
  const [code] = (await once(p.child, 'exit')) as [number | null];
  return code;
}

const ownerPid = (run: RunRecord): number | undefined => Number(run.owner?.split(':').at(-2));

t.test('two replicas on PostgreSQL run every tick exactly once and share the work', async (t) => {
  const url = await postgresUrl(t);
  if (!url) return;
  const { arm, env } = await estate(t);
  // A diagnosis takes about a second, and a replica takes 2 runs at a time from the queue: six
  // runs due together cannot all go to one replica while the other polls.
  arm.setLatency(100);
  const store: Store = await openPostgresStore(url);
  t.teardown(() => store.close());
  const shared = { ...env, DATABASE_URL: url, NETDOCTOR_SCHEDULER_BATCH: '2' };
  // Both replicas migrate the same empty database at the same moment.
  const [a, b] = await Promise.all([replica(t, shared), replica(t, shared)]);
  const start = new Date();
  const schedules = await Promise.all(
    [0, 1, 2, 3, 4, 5].map(() => store.createSchedule({ workspaceId: WS, cadence: { intervalSeconds: 3 }, nextRunAt: start, createdAt: start })),
  );
  await new Promise((r) => setTimeout(r, 8_000));
  // Stop claiming first, then let the runs in flight end.
  for (const s of schedules) await store.updateSchedule(s.id, { enabled: false }, new Date());
  const ended = await eventually(
    'every run to end',
    async () => {
      const runs = await store.listRuns({ scheduled: true, limit: 1000 });
      return runs.every((r) => r.status !== 'queued' && r.status !== 'running') ? runs : undefined;
    },
    30_000,
  );
  t.equal(await stop(a), 0, 'replica A exits cleanly');
  t.equal(await stop(b), 0, 'replica B exits cleanly');

  for (const s of schedules) {
    const runs = ended.filter((r) => r.scheduleId === s.id);
    // 8 s at a 3 s interval: 3 ticks (a 4th if the last claim lands just before the schedules are
    // disabled). A tick run twice would show as a run taken twice, or as 6 or more runs.
    t.ok(runs.length >= 2 && runs.length <= 4, `schedule ${s.id.slice(0, 8)}: ${runs.length} runs for ~3 ticks`);
  }
  t.ok(ended.length > 0 && ended.every((r) => r.status === 'succeeded'), 'every run succeeded');
  t.same(
    ended.filter((r) => r.attempts !== 1).map((r) => r.id),
    [],
    'every run was taken exactly once (a second execution would have taken it again)',
  );
  const history = await store.healthHistory(WS, 1000);
  t.equal(history.length, ended.length, 'one health record per run');
  t.equal(new Set(history.map((h) => h.runId)).size, ended.length, 'and never two for the same run');
  const pids = new Set(ended.map(ownerPid));
  t.comment(`runs per replica: A ${ended.filter((r) => ownerPid(r) === a.child.pid).length}, B ${ended.filter((r) => ownerPid(r) === b.child.pid).length}`);
  t.ok(pids.has(a.child.pid) && pids.has(b.child.pid), 'both replicas executed runs');
});

t.test('a replica killed mid-run: the other replica finishes the run', async (t) => {
  const url = await postgresUrl(t);
  if (!url) return;
  const { arm, env } = await estate(t);
  // Slow ARM: a diagnosis takes seconds, so the kill lands mid-run.
  arm.setLatency(300);
  const store: Store = await openPostgresStore(url);
  t.teardown(() => store.close());
  const a = await replica(t, { ...env, DATABASE_URL: url });
  const schedule = await store.createSchedule({ workspaceId: WS, cadence: { intervalSeconds: 3600 }, nextRunAt: new Date(), createdAt: new Date() });

  const running = await eventually(
    'replica A to be running the scheduled run',
    async () => (await store.listRuns({ scheduleId: schedule.id, status: ['running'] }))[0],
    30_000,
  );
  t.equal(ownerPid(running), a.child.pid, 'replica A holds the run');
  await new Promise((r) => setTimeout(r, 1_000));
  a.child.kill('SIGKILL');
  await once(a.child, 'exit');
  const killedAt = Date.now();
  const b = await replica(t, { ...env, DATABASE_URL: url });

  const finished = await eventually(
    'the run to finish on replica B',
    async () => {
      const run = await store.getRun(running.id);
      return run && run.status !== 'queued' && run.status !== 'running' ? run : undefined;
    },
    90_000,
  );
  t.equal(finished.status, 'succeeded', 'the run finished');
  t.ok(finished.report, 'with its report');
  t.equal(ownerPid(finished), b.child.pid, 'on replica B');
  t.equal(finished.attempts, 2, 'the second attempt');
  t.equal((await store.listRuns({ scheduleId: schedule.id })).length, 1, 'the same run: the tick was not claimed again');
  t.equal((await store.healthHistory(WS, 10)).length, 1, 'one health record');
  t.comment(`taken over ${Math.round((Date.now() - killedAt) / 100) / 10} s after the kill`);
  t.ok(
    logLines(b).some((l) => l.runId === running.id),
    'replica B logged the run',
  );
  t.equal(await stop(b), 0);
});
