/**
 * /v1/schedules and /v1/workspaces/{id}/health through the app with a real SQLite store: CRUD,
 * validation as problem+json naming the field, secrets never returned, and the health of a workspace
 * after a scheduled run (real diagnosis against the simulated ARM).
 */
import t from 'tap';
import Fastify from 'fastify';
import { pino } from 'pino';
import app from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { diagnose } from '../../src/diagnose.ts';
import { Scheduler } from '../../src/service/scheduler.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { startScenario } from '../helpers/reports.ts';

const run = await startScenario(t, 'zone-not-linked-hub-spoke');
const store = await openSqliteStore(':memory:');
t.teardown(() => store.close());
const fastify = Fastify();
await fastify.register(app, { config: loadConfig({ NETDOCTOR_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.invalid' }), diagnose: (req, signal, options) => diagnose(req, run.deps, signal, options), store });
t.teardown(() => fastify.close());
const SECRET = 'a-webhook-secret-of-enough-length';

t.test('create, read, list, change and delete a schedule; the secret is never returned', async (t) => {
  const created = await fastify.inject({
    method: 'POST',
    url: '/v1/schedules',
    payload: { workspaceId: run.req.workspaceId, subscriptions: run.req.subscriptions, cron: '0 6 * * 1-5', timezone: 'Europe/Berlin', notify: [{ url: 'https://hooks.example.invalid/aml', secret: SECRET }] },
  });
  t.equal(created.statusCode, 201, created.body);
  const s = created.json<{ id: string; cron: string; nextRunAt: string; notify: Array<{ url: string; hasSecret: boolean }> }>();
  t.equal(created.headers.location, `/v1/schedules/${s.id}`);
  t.equal(s.cron, '0 6 * * 1-5');
  t.match(s.nextRunAt, /T0[45]:00:00\.000Z$/, '06:00 Berlin in UTC');
  t.same(s.notify, [{ url: 'https://hooks.example.invalid/aml', hasSecret: true }]);
  t.notMatch(created.body, SECRET);

  const got = await fastify.inject({ method: 'GET', url: `/v1/schedules/${s.id}` });
  t.equal(got.statusCode, 200);
  t.notMatch(got.body, SECRET);
  const list = await fastify.inject({ method: 'GET', url: `/v1/schedules?workspaceId=${encodeURIComponent(run.req.workspaceId)}` });
  t.equal(list.json<unknown[]>().length, 1);
  t.notMatch(list.body, SECRET);

  const patched = await fastify.inject({ method: 'PATCH', url: `/v1/schedules/${s.id}`, payload: { intervalSeconds: 3600, enabled: false } });
  t.equal(patched.statusCode, 200, patched.body);
  t.match(patched.json(), { intervalSeconds: 3600, enabled: false });
  t.notOk('cron' in patched.json<Record<string, unknown>>(), 'the cadence was replaced');

  t.equal((await fastify.inject({ method: 'DELETE', url: `/v1/schedules/${s.id}` })).statusCode, 204);
  t.equal((await fastify.inject({ method: 'GET', url: `/v1/schedules/${s.id}` })).statusCode, 404);
  t.equal((await fastify.inject({ method: 'DELETE', url: `/v1/schedules/${s.id}` })).statusCode, 404);
});

const bad: Array<[string, object, string]> = [
  ['no cadence', { workspaceId: 'WS' }, '/intervalSeconds'],
  ['both cadences', { workspaceId: 'WS', intervalSeconds: 3600, cron: '0 6 * * *' }, '/cron'],
  ['a bad cron', { workspaceId: 'WS', cron: 'every monday!' }, '/cron'],
  ['a bad time zone', { workspaceId: 'WS', cron: '0 6 * * *', timezone: 'Mars/Olympus' }, '/timezone'],
  ['too frequent', { workspaceId: 'WS', intervalSeconds: 10 }, '/intervalSeconds'],
  ['a plain-http webhook', { workspaceId: 'WS', intervalSeconds: 3600, notify: [{ url: 'http://hooks.example.invalid/x', secret: SECRET }] }, '/notify/0/url'],
  ['a webhook host not on the allow-list', { workspaceId: 'WS', intervalSeconds: 3600, notify: [{ url: 'https://elsewhere.example.invalid/x', secret: SECRET }] }, '/notify/0/url'],
  ['a webhook to the metadata endpoint', { workspaceId: 'WS', intervalSeconds: 3600, notify: [{ url: 'https://169.254.169.254/metadata/identity/oauth2/token', secret: SECRET }] }, '/notify/0/url'],
  ['a short secret', { workspaceId: 'WS', intervalSeconds: 3600, notify: [{ url: 'https://hooks.example.invalid/x', secret: 'short' }] }, '/notify/0/secret'],
  ['a bad workspace id', { workspaceId: '/subscriptions/nope', intervalSeconds: 3600 }, '/workspaceId'],
];
for (const [name, body, field] of bad) {
  t.test(`${name}: 400 problem naming ${field}`, async (t) => {
    const payload = JSON.parse(JSON.stringify(body).replace('"WS"', JSON.stringify(run.req.workspaceId))) as object;
    const res = await fastify.inject({ method: 'POST', url: '/v1/schedules', payload });
    t.equal(res.statusCode, 400, res.body);
    t.match(res.headers['content-type'], /application\/problem\+json/);
    t.ok(res.json<{ errors?: Array<{ field: string }> }>().errors?.some((e) => e.field === field), res.body);
    t.notMatch(res.body, SECRET);
  });
}

t.test('workspace health: 404 before any run, then the latest report and the history', async (t) => {
  const url = `/v1/workspaces/${encodeURIComponent(run.req.workspaceId)}/health`;
  t.equal((await fastify.inject({ method: 'GET', url })).statusCode, 404);
  let clock = new Date('2026-06-01T08:00:00Z');
  const created = await fastify.inject({ method: 'POST', url: '/v1/schedules', payload: { workspaceId: run.req.workspaceId, subscriptions: run.req.subscriptions, computeName: run.req.computeName, intervalSeconds: 600 } });
  t.equal(created.statusCode, 201);
  const scheduler = new Scheduler({ store, diagnose: (req, signal) => diagnose(req, run.deps, signal), log: pino({ level: 'silent' }), owner: 'test', now: () => clock });
  clock = new Date(Date.now() + 3600_000);
  t.equal((await scheduler.tick()).length, 1);
  const res = await fastify.inject({ method: 'GET', url });
  t.equal(res.statusCode, 200, res.body);
  const h = res.json<{ latest: { status: string; report: { findings: Array<{ code: string }> } }; history: unknown[] }>();
  t.equal(h.latest.status, 'cause-found');
  t.equal(h.latest.report.findings[0]?.code, 'PRIVATE_DNS_ZONE_NOT_LINKED');
  t.equal(h.history.length, 1);
  const plain = await fastify.inject({ method: 'GET', url: `/v1/workspaces${run.req.workspaceId}/health` });
  t.equal(plain.statusCode, 200, 'the ARM id as a path works too');
  t.equal(plain.json<{ workspaceId: string }>().workspaceId.toLowerCase(), run.req.workspaceId.toLowerCase());
  t.equal((await fastify.inject({ method: 'GET', url: '/v1/workspaces/not-an-id/health' })).statusCode, 400);
  t.equal((await fastify.inject({ method: 'GET', url: `/v1/workspaces${run.req.workspaceId}/nothing` })).statusCode, 404);
});
