/**
 * Diagnosis runs kept in the SQLite store: a real diagnosis of a bundled scenario (the simulated
 * ARM) through the REST API, read back by a new app over a reopened store, as after a restart.
 */
import t, { type Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import app from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createDiagnose } from '../../src/diagnose.ts';
import { Report } from '../../src/report/schema.ts';
import type { DiagnosisRun } from '../../src/service/runs.ts';
import { createStoredRuns, INTERRUPTED_MESSAGE, recoverInterruptedRuns } from '../../src/service/stored-runs.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/store.ts';
import { startScenario, type ScenarioRun } from '../helpers/reports.ts';
import { finished, getRun, until } from '../helpers/runs.ts';

const SCENARIO = 'zone-not-linked-hub-spoke';
const WS_ID = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws';

async function dbPath(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'netdoctor-runs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'netdoctor.db');
}

async function buildApp(store: Store, run: ScenarioRun, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const diagnose = createDiagnose(run.deps);
  const fastify = Fastify({ logger: false });
  await fastify.register(app, { config: loadConfig({ NETDOCTOR_SHUTDOWN_GRACE_MS: '0', ...env }), diagnose, runs: createStoredRuns({ store, diagnose }) });
  return fastify;
}

async function startAsync(fastify: FastifyInstance, run: ScenarioRun): Promise<string> {
  const res = await fastify.inject({ method: 'POST', url: '/v1/diagnoses', headers: { prefer: 'respond-async' }, payload: { ...run.req } });
  if (res.statusCode !== 202) throw new Error(`POST: ${res.statusCode} ${res.body}`);
  return res.json<{ id: string }>().id;
}

t.test('a finished run and its report are still there after a restart', async (t) => {
  const path = await dbPath(t);
  const scenario = await startScenario(t, SCENARIO);

  const store1 = await openSqliteStore(path);
  const first = await buildApp(store1, scenario);
  const id = await startAsync(first, scenario);
  const done = await until(first, id, finished);
  t.equal(done.status, 'succeeded');
  await first.close();
  t.equal((await store1.getRun(id))?.status, 'succeeded', 'the store holds the outcome');
  await store1.close();

  const store2 = await openSqliteStore(path);
  t.teardown(() => store2.close());
  t.equal(await recoverInterruptedRuns(store2, new Date()), 0, 'a finished run is not interrupted');
  const second = await buildApp(store2, scenario);
  t.teardown(() => second.close());
  const after = await getRun(second, id);
  t.equal(after.status, 'succeeded');
  t.ok(Value.Check(Report, after.report), 'the report is a Report');
  t.ok(after.report?.findings.some((f) => f.code === 'PRIVATE_DNS_ZONE_NOT_LINKED'), 'the scenario finding is reported');
  t.same(after.report, done.report, 'the same report');
  t.same(after.progress, done.progress, 'the same per-probe progress');
  t.equal(after.createdAt, done.createdAt);
  t.equal(after.startedAt, done.startedAt);
  t.equal(after.finishedAt, done.finishedAt);

  const del = await second.inject({ method: 'DELETE', url: `/v1/diagnoses/${id}` });
  t.equal(del.statusCode, 409, 'a stored finished run cannot be cancelled');
  t.match(del.json<{ detail: string }>().detail, /already succeeded/);

  const events = await second.inject({ method: 'GET', url: `/v1/diagnoses/${id}/events` });
  t.equal(events.statusCode, 200);
  const names = [...events.body.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
  t.equal(names.length, done.progress.length + 1, 'one event per probe, then done');
  t.equal(names.at(-1), 'done', 'following a stored finished run ends with done');
});

t.test('a run left running by a previous process is failed at start-up', async (t) => {
  const path = await dbPath(t);
  const scenario = await startScenario(t, SCENARIO);
  const store = await openSqliteStore(path);
  t.teardown(() => store.close());
  const left = await store.createRun({ request: scenario.req, createdAt: new Date(Date.now() - 60_000) });
  await store.startRun(left.id, new Date(Date.now() - 59_000));
  const queued = await store.createRun({ request: scenario.req, createdAt: new Date(Date.now() - 30_000) });

  const now = new Date();
  t.equal(await recoverInterruptedRuns(store, now), 2);
  const fastify = await buildApp(store, scenario);
  t.teardown(() => fastify.close());
  for (const id of [left.id, queued.id]) {
    const run = await getRun(fastify, id);
    t.equal(run.status, 'failed');
    t.equal(run.error, INTERRUPTED_MESSAGE);
    t.equal(run.finishedAt, now.toISOString());
    t.notOk(run.report);
  }
  t.equal(await recoverInterruptedRuns(store, new Date()), 0, 'nothing left to recover');
});

t.test('a run another live replica holds is left alone until its lease runs out; scheduled runs are never failed here', async (t) => {
  const store = await openSqliteStore(':memory:');
  t.teardown(() => store.close());
  const now = new Date();
  const held = await store.createRun({ request: { workspaceId: WS_ID }, createdAt: now, owner: 'replica-b', leaseUntil: new Date(now.getTime() + 30_000) });
  await store.startRun(held.id, now);
  const scheduled = await store.createRun({ request: { workspaceId: WS_ID }, createdAt: now, scheduleId: 'sched-1' });
  t.equal(await recoverInterruptedRuns(store, now), 0, 'a live lease and a scheduled run: nothing to recover');
  t.equal(await recoverInterruptedRuns(store, new Date(now.getTime() + 31_000)), 1, 'once the lease has run out, the on-demand run is failed');
  t.equal((await store.getRun(held.id))?.status, 'failed');
  t.equal((await store.getRun(scheduled.id))?.status, 'queued', 'the scheduler takes scheduled runs over instead');
});

t.test('DELETE cancels a live run, in memory and in the store', async (t) => {
  const path = await dbPath(t);
  const scenario = await startScenario(t, SCENARIO);
  const store = await openSqliteStore(path);
  t.teardown(() => store.close());
  const fastify = await buildApp(store, scenario);
  t.teardown(() => fastify.close());
  scenario.arm.setLatency(300);
  const id = await startAsync(fastify, scenario);
  const running = await until(fastify, id, (r) => r.progress.length > 0);
  t.equal(running.status, 'running');
  t.equal((await store.getRun(id))?.status, 'running', 'the store knows it started');

  const del = await fastify.inject({ method: 'DELETE', url: `/v1/diagnoses/${id}` });
  t.equal(del.statusCode, 202);
  t.equal(del.json<DiagnosisRun>().status, 'cancelled');
  t.equal(del.json<DiagnosisRun>().error, 'Cancelled by a DELETE request.');

  const later = await until(fastify, id, () => false, 600);
  t.equal(later.status, 'cancelled', 'still cancelled once the aborted probes return');
  t.notOk(later.report);
  const stored = await store.getRun(id);
  t.equal(stored?.status, 'cancelled', 'the store has the cancel');
  t.equal(stored?.error, 'Cancelled by a DELETE request.');

  const again = await fastify.inject({ method: 'DELETE', url: `/v1/diagnoses/${id}` });
  t.equal(again.statusCode, 409);
});

t.test('a DELETE through another replica stops the diagnosis on the replica running it', async (t) => {
  const path = await dbPath(t);
  const scenario = await startScenario(t, SCENARIO);
  const storeA = await openSqliteStore(path);
  const storeB = await openSqliteStore(path);
  t.teardown(async () => {
    await storeA.close();
    await storeB.close();
  });
  const diagnose = createDiagnose(scenario.deps);
  const runsA = createStoredRuns({ store: storeA, diagnose, owner: 'replica-a', leaseMs: 30_000 });
  const a = Fastify({ logger: false });
  await a.register(app, { config: loadConfig({ NETDOCTOR_SHUTDOWN_GRACE_MS: '0' }), diagnose, runs: runsA });
  const b = await buildApp(storeB, scenario);
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  scenario.arm.setLatency(300);
  const id = await startAsync(a, scenario);
  await until(a, id, (r) => r.progress.length > 0);
  const del = await b.inject({ method: 'DELETE', url: `/v1/diagnoses/${id}` });
  t.equal(del.statusCode, 202, 'replica B cancels it in the store');
  t.equal((await getRun(a, id)).status, 'running', 'replica A has not heard yet');
  await runsA.sync();
  const after = await getRun(a, id);
  t.equal(after.status, 'cancelled', 'after a sync, replica A has stopped it');
  t.equal(after.error, 'Cancelled by a DELETE request.');
  const reads = scenario.arm.requests.length;
  await new Promise((r) => setTimeout(r, 1_000));
  t.ok(scenario.arm.requests.length - reads <= 8, `its ARM reads stop (${scenario.arm.requests.length - reads} in flight finished)`);
  t.equal((await storeA.getRun(id))?.status, 'cancelled');
});

t.test('shutdown lets a live run finish within the grace period', async (t) => {
  const path = await dbPath(t);
  const scenario = await startScenario(t, SCENARIO);
  const store = await openSqliteStore(path);
  t.teardown(() => store.close());
  const fastify = await buildApp(store, scenario, { NETDOCTOR_SHUTDOWN_GRACE_MS: '60000' });
  scenario.arm.setLatency(100);
  const id = await startAsync(fastify, scenario);
  await until(fastify, id, (r) => r.progress.length > 0);
  await fastify.close();
  const stored = await store.getRun(id);
  t.equal(stored?.status, 'succeeded', 'finished, and written, by the time close() returns');
  t.ok(stored?.report, 'with its report');
});

t.test('shutdown cancels a live run once the grace period is over, and writes it before the store closes', async (t) => {
  const path = await dbPath(t);
  const scenario = await startScenario(t, SCENARIO);
  const store = await openSqliteStore(path);
  t.teardown(() => store.close());
  const fastify = await buildApp(store, scenario);
  scenario.arm.setLatency(300);
  const id = await startAsync(fastify, scenario);
  await until(fastify, id, (r) => r.progress.length > 0);
  await fastify.close();
  const stored = await store.getRun(id);
  t.equal(stored?.status, 'cancelled', 'written by the time close() returns');
});
