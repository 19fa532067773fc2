/**
 * Asynchronous diagnoses through the REST API: real diagnoses of bundled scenarios (the simulated
 * ARM, whose latency makes a run slow enough to be over budget or cancelled).
 */
import t, { type Test } from 'tap';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import app from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createDiagnose, type DiagnoseFn } from '../../src/diagnose.ts';
import { Report } from '../../src/report/schema.ts';
import { createMemoryRuns, DiagnosisRun, FAILED_MESSAGE, type DiagnosisRuns } from '../../src/service/runs.ts';
import { parseSse } from '../../src/remote.ts';
import { probes } from '../../probes/index.ts';
import { startScenario, type ScenarioRun } from '../helpers/reports.ts';
import { finished, getRun, until } from '../helpers/runs.ts';

const SCENARIO = 'zone-not-linked-hub-spoke';
const UUID_PATH = /^\/v1\/diagnoses\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Built {
  fastify: FastifyInstance;
  run: ScenarioRun;
}

async function build(t: Test, env: Record<string, string> = {}, extra: { diagnose?: DiagnoseFn; runs?: DiagnosisRuns } = {}): Promise<Built> {
  const run = await startScenario(t, SCENARIO);
  const fastify = Fastify({ logger: false });
  await fastify.register(app, { config: loadConfig(env), diagnose: extra.diagnose ?? createDiagnose(run.deps), ...(extra.runs ? { runs: extra.runs } : {}) });
  t.teardown(() => fastify.close());
  return { fastify, run };
}

function body(run: ScenarioRun): Record<string, unknown> {
  return { ...run.req };
}

async function startAsync(fastify: FastifyInstance, run: ScenarioRun) {
  return fastify.inject({ method: 'POST', url: '/v1/diagnoses', headers: { prefer: 'respond-async' }, payload: body(run) });
}

t.test('Prefer: respond-async answers 202 at once; the run then gives progress and the report', async (t) => {
  const { fastify, run } = await build(t);
  const res = await startAsync(fastify, run);
  t.equal(res.statusCode, 202);
  t.match(res.headers.location, UUID_PATH, 'Location is the run');
  t.equal(res.headers['preference-applied'], 'respond-async');
  const accepted = res.json<{ id: string; status: string; links: { self: string; events: string } }>();
  t.equal(`/v1/diagnoses/${accepted.id}`, res.headers.location);
  t.ok(['queued', 'running'].includes(accepted.status), `not finished yet (${accepted.status})`);
  t.same(accepted.links, { self: res.headers.location, events: `${res.headers.location}/events` });

  const done = await until(fastify, accepted.id, finished);
  t.equal(done.status, 'succeeded');
  t.ok(Value.Check(Report, done.report), 'the report is a Report');
  t.equal(done.report?.workspace.id.toLowerCase(), run.req.workspaceId.toLowerCase());
  t.ok(done.report?.findings.some((f) => f.code === 'PRIVATE_DNS_ZONE_NOT_LINKED'), 'the scenario finding is reported');
  t.same(done.progress.map((p) => p.probe).sort(), probes.map((p) => p.id).sort(), 'one progress entry per probe');
  t.ok(done.progress.every((p) => p.phase === 'done' && typeof p.ms === 'number' && typeof p.ok === 'boolean'), 'every probe done, with its outcome and time');
  t.ok(done.startedAt && done.finishedAt && done.createdAt <= done.startedAt && done.startedAt <= done.finishedAt, 'created <= started <= finished');
  t.notOk('error' in done);

  const json = await fastify.inject({ method: 'GET', url: `/v1/diagnoses/${accepted.id}?format=json` });
  t.same(json.json(), done.report, '?format=json is the report itself');
  const markdown = await fastify.inject({ method: 'GET', url: `/v1/diagnoses/${accepted.id}?format=markdown` });
  t.equal(markdown.statusCode, 200);
  t.match(markdown.headers['content-type'], /^text\/markdown/);
  t.match(markdown.body, 'PRIVATE_DNS_ZONE_NOT_LINKED');
});

t.test('within the budget the answer is the report, as before', async (t) => {
  const { fastify, run } = await build(t);
  const res = await fastify.inject({ method: 'POST', url: '/v1/diagnoses?format=sarif', payload: body(run) });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^application\/sarif\+json/);
  t.equal((JSON.parse(res.body) as { version: string }).version, '2.1.0');
  t.notOk(res.headers.location);
});

t.test('over the budget the answer is 202 and the run goes on to its report', async (t) => {
  const { fastify, run } = await build(t, { NETDOCTOR_SYNC_BUDGET_MS: '50' });
  run.arm.setLatency(100);
  const started = Date.now();
  const res = await fastify.inject({ method: 'POST', url: '/v1/diagnoses', payload: body(run) });
  t.equal(res.statusCode, 202);
  t.ok(Date.now() - started < 1_000, 'answered after the budget, not after the diagnosis');
  t.match(res.headers.location, UUID_PATH);
  t.notOk(res.headers['preference-applied'], 'the client did not ask for async');
  const id = res.json<{ id: string }>().id;
  const running = await getRun(fastify, id);
  t.notOk(running.report, 'no report yet');
  const early = await fastify.inject({ method: 'GET', url: `/v1/diagnoses/${id}?format=text` });
  t.equal(early.statusCode, 409, 'a report format is refused while the run has no report');
  const done = await until(fastify, id, finished);
  t.equal(done.status, 'succeeded');
  t.ok(Value.Check(Report, done.report));
});

t.test('Prefer: wait=0 shortens the budget', async (t) => {
  const { fastify, run } = await build(t);
  run.arm.setLatency(50);
  const res = await fastify.inject({ method: 'POST', url: '/v1/diagnoses', headers: { prefer: 'wait=0' }, payload: body(run) });
  t.equal(res.statusCode, 202);
  await until(fastify, res.json<{ id: string }>().id, finished);
});

t.test('DELETE cancels a running diagnosis: status cancelled, no report, ARM calls stop', async (t) => {
  const { fastify, run } = await build(t);
  run.arm.setLatency(300);
  const id = (await startAsync(fastify, run)).json<{ id: string }>().id;
  const running = await until(fastify, id, (r) => r.progress.length > 0);
  t.equal(running.status, 'running');

  const del = await fastify.inject({ method: 'DELETE', url: `/v1/diagnoses/${id}` });
  t.equal(del.statusCode, 202);
  const cancelled = del.json<DiagnosisRun>();
  t.equal(cancelled.status, 'cancelled');
  t.equal(cancelled.error, 'Cancelled by a DELETE request.');
  t.ok(cancelled.finishedAt);

  await new Promise((resolve) => setTimeout(resolve, 400));
  const calls = run.arm.requests.length;
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  t.equal(run.arm.requests.length, calls, 'no more ARM calls after the cancel');
  const later = await getRun(fastify, id);
  t.equal(later.status, 'cancelled', 'still cancelled once the aborted probes return');
  t.notOk(later.report, 'no report');

  const again = await fastify.inject({ method: 'DELETE', url: `/v1/diagnoses/${id}` });
  t.equal(again.statusCode, 409);
  t.match(again.headers['content-type'], /^application\/problem\+json/);
  t.match(again.json<{ detail: string }>().detail, /already was cancelled/);
});

t.test('DELETE of a finished run is 409', async (t) => {
  const { fastify, run } = await build(t);
  const id = (await startAsync(fastify, run)).json<{ id: string }>().id;
  await until(fastify, id, finished);
  const res = await fastify.inject({ method: 'DELETE', url: `/v1/diagnoses/${id}` });
  t.equal(res.statusCode, 409);
  t.match(res.json<{ detail: string }>().detail, /already succeeded/);
  t.equal((await getRun(fastify, id)).status, 'succeeded', 'the report stays');
});

t.test('an unknown id is a 404 problem on every route', async (t) => {
  const { fastify } = await build(t);
  for (const [method, url] of [
    ['GET', '/v1/diagnoses/00000000-0000-0000-0000-000000000000'],
    ['GET', '/v1/diagnoses/not-a-run?format=html'],
    ['DELETE', '/v1/diagnoses/00000000-0000-0000-0000-000000000000'],
    ['GET', '/v1/diagnoses/00000000-0000-0000-0000-000000000000/events'],
  ] as const) {
    const res = await fastify.inject({ method, url });
    t.equal(res.statusCode, 404, `${method} ${url}`);
    t.match(res.headers['content-type'], /^application\/problem\+json/);
    const problem = res.json<{ status: number; detail: string }>();
    t.equal(problem.status, 404);
    t.match(problem.detail, /No diagnosis/);
  }
});

t.test('the event stream delivers each probe start and end, then done, and ends', async (t) => {
  const { fastify, run } = await build(t);
  run.arm.setLatency(20);
  await fastify.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`;
  const accepted = await fetch(`${base}/v1/diagnoses`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async' }, body: JSON.stringify(body(run)) });
  const { links } = (await accepted.json()) as { id: string; links: { events: string } };

  const res = await fetch(`${base}${links.events}`, { signal: AbortSignal.timeout(30_000) });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/event-stream/);
  const events = [];
  for await (const e of parseSse(res.body!)) events.push(e);
  const last = events.at(-1);
  t.equal(last?.event, 'done', 'the last event is done');
  t.equal((JSON.parse(last?.data ?? '{}') as { status: string }).status, 'succeeded');
  const progress = events.slice(0, -1);
  t.ok(progress.every((e) => e.event === 'progress'), 'progress events before it');
  t.same(events.map((e) => e.id), events.map((_, i) => String(i + 1)), 'ids count up from 1');
  for (const p of probes) {
    const phases = progress.map((e) => JSON.parse(e.data) as { probe: string; phase: string }).filter((e) => e.probe === p.id).map((e) => e.phase);
    t.same(phases, ['start', 'done'], `${p.id}: start then done`);
  }

  // A client connecting after the end gets the whole story; one resuming gets only what it missed.
  const late = [];
  for await (const e of parseSse((await fetch(`${base}${links.events}`)).body!)) late.push(e);
  t.same(late, events, 'a late client gets the progress so far, then done');
  const resumed = [];
  for await (const e of parseSse((await fetch(`${base}${links.events}`, { headers: { 'last-event-id': String(events.length - 3) } })).body!)) resumed.push(e);
  t.same(resumed, events.slice(-3), 'Last-Event-ID resumes after that event');
});

t.test('a client joining a running diagnosis gets the progress so far first', async (t) => {
  const { fastify, run } = await build(t);
  run.arm.setLatency(150);
  await fastify.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`;
  const id = (await startAsync(fastify, run)).json<{ id: string }>().id;
  const before = await until(fastify, id, (r) => r.progress.some((p) => p.phase === 'done'));
  t.equal(before.status, 'running');
  const events = [];
  for await (const e of parseSse((await fetch(`${base}/v1/diagnoses/${id}/events`)).body!)) events.push(e);
  const firstDone = events.findIndex((e) => e.event === 'progress' && (JSON.parse(e.data) as { phase: string }).phase === 'done');
  t.equal(events[0]?.id, '1', 'starts from the first event');
  t.ok(firstDone >= 0, 'including the probes already done');
  t.equal(events.filter((e) => e.event === 'progress').length, probes.length * 2, 'and every later one');
  t.equal(events.at(-1)?.event, 'done');
});

t.test('closing the server cancels async runs still running after the grace period', async (t) => {
  const run = await startScenario(t, SCENARIO);
  run.arm.setLatency(300);
  const runs = createMemoryRuns({ diagnose: createDiagnose(run.deps), retainMs: 60_000 });
  const fastify = Fastify({ logger: false });
  await fastify.register(app, { config: loadConfig({ NETDOCTOR_SHUTDOWN_GRACE_MS: '200' }), diagnose: createDiagnose(run.deps), runs });
  const id = (await startAsync(fastify, run)).json<{ id: string }>().id;
  await until(fastify, id, (r) => r.status === 'running');
  await fastify.close();
  const after = await runs.get(id);
  t.equal(after?.status, 'cancelled');
  t.equal(after?.error, 'Cancelled: the server shut down.');
  t.notOk(after?.report);
  await t.rejects(runs.start({ request: run.req }), { name: 'RunsClosedError' }, 'no new run after shutdown');
});

t.test('a failed diagnosis says so without internals; the cause is logged', async (t) => {
  const run = await startScenario(t, SCENARIO);
  const lines: string[] = [];
  const fastify = Fastify({ logger: { level: 'info', stream: { write: (l: string) => void lines.push(l) } } });
  await fastify.register(app, {
    config: loadConfig({}),
    diagnose: async () => {
      throw new Error('secret detail at /internal/path');
    },
  });
  t.teardown(() => fastify.close());
  const id = (await startAsync(fastify, run)).json<{ id: string }>().id;
  const res = await fastify.inject({ method: 'GET', url: `/v1/diagnoses/${id}` });
  const failed = finished(res.json<DiagnosisRun>()) ? res.json<DiagnosisRun>() : await until(fastify, id, finished);
  t.equal(failed.status, 'failed');
  t.equal(failed.error, FAILED_MESSAGE);
  t.notOk(failed.report);
  t.notMatch(JSON.stringify(failed), 'secret detail');
  const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string; runId?: string; err?: { message: string } }).find((l) => l.level === 50);
  t.equal(logged?.err?.message, 'secret detail at /internal/path');
  t.equal(logged?.runId, id);
});
