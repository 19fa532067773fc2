/**
 * Every route is public or declares its permission (checked by walking the registered routes), a
 * route that declares neither is refused to everyone, and the public routes are open: /healthz,
 * /readyz, and /metrics only with NETDOCTOR_METRICS_PUBLIC=on.
 */
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type RouteOptions } from 'fastify';
import app from '../../src/app.ts';
import { hashApiKey, openApiKeyFile } from '../../src/auth/api-keys.ts';
import { PERMISSIONS, routeAccess } from '../../src/auth/authorize.ts';
import { loadConfig } from '../../src/config.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/store.ts';
import { buildApp, problem, REPORT } from './idp.ts';

const dir = await mkdtemp(join(tmpdir(), 'netdoctor-routes-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const ALL = 'all-permissions-key-5e4d3c2b1a09';
const NONE = 'no-permissions-key-0a1b2c3d4e5f';
const keysPath = join(dir, 'keys.json');
await writeFile(
  keysPath,
  JSON.stringify({
    keys: [
      { id: 'all', sha256: hashApiKey(ALL), roles: [...PERMISSIONS] },
      { id: 'none', sha256: hashApiKey(NONE), roles: [] },
    ],
  }),
);
const apiKeys = await openApiKeyFile(keysPath);

async function memoryStore(t: Test): Promise<Store> {
  const store = await openSqliteStore(':memory:');
  t.teardown(() => store.close());
  return store;
}

/** What each route asks for, as the design says. HEAD routes follow their GET. */
const EXPECTED: Record<string, string> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'Reports.Read',
  'POST /v1/diagnoses': 'Diagnoses.Run',
  'GET /v1/diagnoses/:id': 'Reports.Read',
  'DELETE /v1/diagnoses/:id': 'Diagnoses.Run',
  'GET /v1/diagnoses/:id/events': 'Reports.Read',
  'POST /v1/schedules': 'Schedules.Manage',
  'GET /v1/schedules': 'Reports.Read',
  'GET /v1/schedules/:id': 'Reports.Read',
  'PATCH /v1/schedules/:id': 'Schedules.Manage',
  'DELETE /v1/schedules/:id': 'Schedules.Manage',
  'GET /v1/workspaces/*': 'Reports.Read',
};

t.test('every registered route is public or declares its permission', async (t) => {
  const routes: RouteOptions[] = [];
  const fastify = Fastify({ logger: false });
  fastify.addHook('onRoute', (route) => {
    routes.push(route);
  });
  await fastify.register(app, { config: loadConfig({}), diagnose: async () => structuredClone(REPORT), store: await memoryStore(t), auth: { apiKeys } });
  await fastify.ready();
  t.teardown(() => fastify.close());

  const seen: Record<string, string> = {};
  for (const route of routes) {
    for (const method of [route.method].flat()) {
      const access = routeAccess(route.config);
      t.ok(access, `${method} ${route.url} is public or has a permission`);
      const key = `${method === 'HEAD' ? 'GET' : method} ${route.url}`;
      if (method === 'HEAD') t.equal(access, seen[key] ?? EXPECTED[key], `HEAD ${route.url} as its GET`);
      else seen[key] = access ?? 'none';
    }
  }
  t.same(seen, EXPECTED, 'the permissions of the design, for every route of the app (with a store and metrics)');
});

t.test('a route that declares nothing is refused to everyone, even a caller holding every permission', async (t) => {
  const fastify = await buildApp(t, { auth: { apiKeys } });
  fastify.get('/v1/forgotten', async () => ({ secret: 'should not be served' }));
  const res = await fastify.inject({ method: 'GET', url: '/v1/forgotten', headers: { 'x-api-key': ALL } });
  t.match(problem(t, res, 403).detail, /declares no permission/);
  t.notMatch(res.body, 'should not be served');
  problem(t, await fastify.inject({ method: 'GET', url: '/v1/forgotten' }), 401, 'and asks for credentials first');
});

t.test('/healthz and /readyz need no credentials; other paths do', async (t) => {
  const fastify = await buildApp(t, { auth: { apiKeys }, store: await memoryStore(t) });
  t.equal((await fastify.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  const ready = await fastify.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 200);
  t.equal(ready.json<{ status: string }>().status, 'ready');
  t.equal((await fastify.inject({ method: 'HEAD', url: '/healthz' })).statusCode, 200, 'HEAD too');
  problem(t, await fastify.inject({ method: 'GET', url: '/v1/schedules' }), 401);
  problem(t, await fastify.inject({ method: 'GET', url: '/no/such/path' }), 401, 'an unknown path: 401 without credentials');
  problem(t, await fastify.inject({ method: 'GET', url: '/no/such/path', headers: { 'x-api-key': NONE } }), 404, '404 with credentials');
  t.equal((await fastify.inject({ method: 'GET', url: '/healthz', headers: { 'x-api-key': 'not-a-key-at-all-xxxxxxxx' } })).statusCode, 200, 'bad credentials do not matter on a public route');
});

t.test('/readyz answers 503 when the store does not answer', async (t) => {
  await t.test('store failing', async (t) => {
    const store = await openSqliteStore(':memory:');
    const fastify = await buildApp(t, { auth: { apiKeys }, store });
    await store.close();
    t.match(problem(t, await fastify.inject({ method: 'GET', url: '/readyz' }), 503).detail, /store does not answer/);
  });
  await t.test('store hanging', async (t) => {
    const real = await memoryStore(t);
    const hanging = Object.assign(Object.create(real) as Store, { getSchedule: () => new Promise<never>(() => undefined) });
    const fastify = await buildApp(t, { store: hanging });
    const started = Date.now();
    problem(t, await fastify.inject({ method: 'GET', url: '/readyz' }), 503);
    t.ok(Date.now() - started < 4_000, `within the probe timeout (${Date.now() - started} ms)`);
  });
  await t.test('no store: ready', async (t) => {
    const fastify = await buildApp(t, { auth: { apiKeys } });
    t.equal((await fastify.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  });
});

t.test('/metrics needs Reports.Read unless NETDOCTOR_METRICS_PUBLIC=on', async (t) => {
  const closed = await buildApp(t, { auth: { apiKeys } });
  problem(t, await closed.inject({ method: 'GET', url: '/metrics' }), 401);
  problem(t, await closed.inject({ method: 'GET', url: '/metrics', headers: { 'x-api-key': NONE } }), 403);
  const read = await closed.inject({ method: 'GET', url: '/metrics', headers: { 'x-api-key': ALL } });
  t.equal(read.statusCode, 200);
  t.match(read.body, /process_cpu/);

  const open = await buildApp(t, { auth: { apiKeys }, env: { NETDOCTOR_METRICS_PUBLIC: 'on' } });
  t.equal((await open.inject({ method: 'GET', url: '/metrics' })).statusCode, 200, 'public when configured');
  problem(t, await open.inject({ method: 'GET', url: '/v1/diagnoses/x' }), 401, 'and nothing else becomes public');
});

t.test('without auth the app stays open (tests, NETDOCTOR_AUTH=off)', async (t) => {
  const fastify = await buildApp(t);
  let caller: unknown = 'unset';
  fastify.addHook('preHandler', async (request) => {
    caller = request.caller;
  });
  t.equal((await fastify.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
  t.equal(caller, null, 'request.caller is null');
});
