import t, { type Test } from 'tap';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import app from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import type { DiagnoseFn, DiagnoseRequest } from '../../src/diagnose.ts';
import { Report } from '../../src/report/schema.ts';
import { TOOL } from '../../src/version.ts';

const SUB = '11111111-1111-1111-1111-111111111111';
const WS_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws-demo`;
const VNET_ID = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-spoke`;

const REPORT: Report = {
  workspace: { id: WS_ID, name: 'ws-demo', location: 'eastus', computeName: 'ci-alice' },
  generatedAt: '2025-01-02T03:04:05.000Z',
  tool: { name: TOOL.name, version: TOOL.version },
  scope: { subscriptions: [] },
  verdict: { status: 'cause-found', summary: 'The workspace API name resolves to a public address from the compute subnet.', chain: [], assumptions: [], nextSteps: [] },
  findings: [
    {
      code: 'PRIVATE_DNS_ZONE_NOT_LINKED',
      tier: 1,
      severity: 'critical',
      confidence: 'medium',
      title: 'privatelink.api.azureml.ms is not linked to vnet-spoke',
      resourceId: `/subscriptions/${SUB}/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.api.azureml.ms`,
      explanation: 'The compute VNet cannot see the private zone, so it resolves the public address.',
      evidence: [{ resourceId: VNET_ID, property: 'virtualNetworkLinks', observed: 'no link to vnet-spoke', expected: 'a link to vnet-spoke' }],
      remediation: { summary: 'Link the zone to vnet-spoke.', azCli: ['az network private-dns link vnet create ...'], bicep: "resource link 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {}\n", verify: 'nslookup from the compute' },
      docs: 'docs/rules/PRIVATE_DNS_ZONE_NOT_LINKED.md',
      rank: 1,
      rankReason: 'tier 1 (auth path); read from configuration',
    },
  ],
  flows: [],
  coverage: [{ item: 'rule PRIVATE_DNS_ZONE_NOT_LINKED', status: 'ok' }],
};

interface Harness {
  fastify: FastifyInstance;
  calls: DiagnoseRequest[];
  logs: string[];
}

async function build(t: Test, diagnose?: DiagnoseFn): Promise<Harness> {
  const calls: DiagnoseRequest[] = [];
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const fastify = Fastify({ logger: { level: 'info', stream } });
  await fastify.register(app, {
    // No shutdown grace: closing cancels at once (the grace itself is tested with stored runs).
    config: loadConfig({ NETDOCTOR_SHUTDOWN_GRACE_MS: '0' }),
    diagnose: async (req, signal) => {
      calls.push(req);
      return diagnose ? diagnose(req, signal) : structuredClone(REPORT);
    },
  });
  t.teardown(() => fastify.close());
  return { fastify, calls, logs };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

function post(fastify: FastifyInstance, payload: unknown) {
  return fastify.inject({ method: 'POST', url: '/v1/diagnoses', payload: payload as object });
}

function problemOf(t: Test, res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number) {
  t.equal(res.statusCode, status, `answers ${status}`);
  t.match(String(res.headers['content-type']), /^application\/problem\+json/, 'as problem+json');
  const body = res.json() as { type: string; title: string; status: number; detail: string; instance: string; errors?: { field: string; message: string }[] };
  t.equal(body.status, status, 'status repeated in the body');
  t.type(body.title, 'string');
  t.type(body.detail, 'string');
  t.type(body.instance, 'string');
  return body;
}

t.test('the fixture is a valid report', async (t) => {
  t.ok(Value.Check(Report, REPORT));
});

t.test('GET /healthz answers ok and the version', async (t) => {
  const { fastify } = await build(t);
  const res = await fastify.inject({ method: 'GET', url: '/healthz' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: 'ok', version: TOOL.version });
});

t.test('POST /v1/diagnoses with a valid body answers the report', async (t) => {
  let seenSignal: AbortSignal | undefined;
  const { fastify, calls } = await build(t, async (_req, signal) => {
    seenSignal = signal;
    return structuredClone(REPORT);
  });
  const body = { workspaceId: WS_ID, computeName: 'ci-alice', subscriptions: ['22222222-2222-2222-2222-222222222222'] };
  const res = await post(fastify, body);
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^application\/json/);
  t.same(res.json(), REPORT);
  t.same(calls, [body], 'diagnose receives the request as sent');
  t.equal(seenSignal?.aborted, false, 'with a live abort signal');
});

t.test('a workspaceId that is not an Azure ML workspace id is rejected before diagnosing', async (t) => {
  const sub = '00000000-0000-0000-0000-000000000001';
  for (const workspaceId of [
    'not-an-id',
    VNET_ID,
    `/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w`,
    // Found by fuzzing: a dot-only segment would be normalised into another ARM path.
    `/subscriptions/${sub}/resourceGroups/../providers/Microsoft.MachineLearningServices/workspaces/w`,
    `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/..`,
  ]) {
    const { fastify, calls } = await build(t);
    const res = await post(fastify, { workspaceId });
    const problem = problemOf(t, res, 400);
    t.equal(problem.errors?.[0]?.field, '/workspaceId', `names the field for ${workspaceId}`);
    t.match(problem.detail, /workspaceId/);
    t.equal(calls.length, 0, 'diagnose is not called');
  }
});

t.test('a missing workspaceId is named', async (t) => {
  const { fastify, calls } = await build(t);
  const problem = problemOf(t, await post(fastify, { computeName: 'ci-alice' }), 400);
  t.same(problem.errors, [{ field: '/workspaceId', message: 'is required' }]);
  t.equal(calls.length, 0);
});

t.test('a body that is not JSON answers 400 problem', async (t) => {
  const { fastify, calls } = await build(t);
  const res = await fastify.inject({ method: 'POST', url: '/v1/diagnoses', headers: { 'content-type': 'application/json' }, payload: '{"workspaceId": ' });
  const problem = problemOf(t, res, 400);
  t.equal(problem.detail, 'Body is not valid JSON');
  t.equal(problem.instance, '/v1/diagnoses');
  t.equal(calls.length, 0);
});

t.test('an oversized or deeply nested body answers 413/400 problem without diagnosing', async (t) => {
  const { fastify, calls } = await build(t);
  const big = JSON.stringify({ workspaceId: WS_ID, computeName: 'x'.repeat(20 * 1024) });
  problemOf(t, await fastify.inject({ method: 'POST', url: '/v1/diagnoses', headers: { 'content-type': 'application/json' }, payload: big }), 413);
  // 16 KiB of brackets: nesting thousands deep fits the body limit and must still be refused cleanly.
  const deep = `{"workspaceId":${'['.repeat(8000)}${']'.repeat(8000)}}`;
  const res = await fastify.inject({ method: 'POST', url: '/v1/diagnoses', headers: { 'content-type': 'application/json' }, payload: deep });
  t.ok(res.statusCode === 400 || res.statusCode === 413, `answers ${res.statusCode}`);
  t.match(String(res.headers['content-type']), /^application\/problem\+json/);
  t.equal(calls.length, 0, 'no diagnosis ran');
});

t.test('a body in another content type answers 415', async (t) => {
  const { fastify, calls } = await build(t);
  for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
    const res = await fastify.inject({ method: 'POST', url: '/v1/diagnoses', headers: { 'content-type': type }, payload: `workspaceId=${WS_ID}` });
    problemOf(t, res, 415);
  }
  t.equal(calls.length, 0);
});

t.test('the caller cannot choose the ARM endpoint or DNS servers', async (t) => {
  for (const field of ['armEndpoint', 'dnsServers', 'accessToken']) {
    const { fastify, calls } = await build(t);
    const problem = problemOf(t, await post(fastify, { workspaceId: WS_ID, [field]: 'https://evil.example' }), 400);
    t.same(
      problem.errors?.map((e) => e.field),
      [`/${field}`],
      `names ${field}`,
    );
    t.match(problem.detail, field);
    t.equal(calls.length, 0);
  }
});

t.test('subscriptions must be GUIDs, at most 20', async (t) => {
  const { fastify, calls } = await build(t);
  const bad = problemOf(t, await post(fastify, { workspaceId: WS_ID, subscriptions: ['my-subscription'] }), 400);
  t.same(bad.errors, [{ field: '/subscriptions/0', message: 'must be a GUID' }]);
  const many = Array.from({ length: 21 }, (_, i) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`);
  const tooMany = problemOf(t, await post(fastify, { workspaceId: WS_ID, subscriptions: many }), 400);
  t.same(tooMany.errors?.map((e) => e.field), ['/subscriptions']);
  const single = problemOf(t, await post(fastify, { workspaceId: WS_ID, subscriptions: SUB }), 400);
  t.same(single.errors?.map((e) => e.field), ['/subscriptions'], 'a bare string is not coerced into a list');
  t.equal(calls.length, 0);
});

t.test('vantageVmId must name a VM or a NIC', async (t) => {
  const { fastify, calls } = await build(t);
  const vnet = '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v';
  const problem = problemOf(t, await post(fastify, { workspaceId: WS_ID, vantageVmId: vnet }), 400);
  t.same(problem.errors?.map((e) => e.field), ['/vantageVmId']);
  t.equal(calls.length, 0, 'no diagnosis ran');
  const vm = '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-jump';
  t.equal((await post(fastify, { workspaceId: WS_ID, vantageVmId: vm })).statusCode, 200);
  t.equal(calls.at(-1)?.vantageVmId, vm, 'passed to the diagnosis');
});

t.test('computeName follows the Azure ML naming rule', async (t) => {
  const { fastify, calls } = await build(t);
  for (const computeName of ['1ci', 'c', 'ci_alice', 'a'.repeat(25)]) {
    const problem = problemOf(t, await post(fastify, { workspaceId: WS_ID, computeName }), 400);
    t.same(problem.errors?.map((e) => e.field), ['/computeName'], `rejects '${computeName}'`);
  }
  t.equal(calls.length, 0);
  t.equal((await post(fastify, { workspaceId: WS_ID, computeName: 'ci-Alice-01' })).statusCode, 200);
});

t.test('unknown routes answer 404 problem', async (t) => {
  const { fastify } = await build(t);
  const problem = problemOf(t, await fastify.inject({ method: 'GET', url: '/v1/nothing?token=abc123' }), 404);
  t.equal(problem.instance, '/v1/nothing', 'the query string is not echoed');
  t.notMatch(JSON.stringify(problem), 'abc123');
  problemOf(t, await fastify.inject({ method: 'GET', url: '/v1/diagnoses' }), 404);
});

t.test('a failing diagnosis answers a generic 500 and logs the cause', async (t) => {
  const { fastify, logs } = await build(t, async () => {
    throw new Error('secret detail');
  });
  const res = await post(fastify, { workspaceId: WS_ID });
  const problem = problemOf(t, res, 500);
  t.notMatch(res.body, 'secret detail');
  t.notMatch(res.body, /\bat .*\.ts:\d+/, 'no stack trace');
  t.same(Object.keys(problem).sort(), ['detail', 'instance', 'status', 'title', 'type']);
  const logged = logs.map((l) => JSON.parse(l) as { level: number; err?: { message: string }; req?: { url: string } }).find((l) => l.level === 50);
  t.equal(logged?.err?.message, 'secret detail', 'the cause is in the error log');
  t.equal(logged?.req?.url, '/v1/diagnoses', 'with the request');
});

t.test('closing the server cancels in-flight diagnoses with 503', async (t) => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const { fastify } = await build(t, (_req, signal) => {
    started();
    return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
  });
  const pending = post(fastify, { workspaceId: WS_ID });
  await running;
  await fastify.close();
  problemOf(t, await pending, 503);
});

t.test('a client that disconnects aborts its diagnosis', async (t) => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  let aborted!: (reason: unknown) => void;
  const abortSeen = new Promise<unknown>((resolve) => (aborted = resolve));
  const { fastify, logs } = await build(t, (_req, signal) => {
    started();
    return new Promise((_resolve, reject) =>
      signal.addEventListener('abort', () => {
        aborted(signal.reason);
        reject(signal.reason);
      }),
    );
  });
  await fastify.listen({ host: '127.0.0.1', port: 0 });
  const { port } = fastify.server.address() as AddressInfo;
  const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/diagnoses', headers: { 'content-type': 'application/json' } });
  req.on('error', () => {}); // the socket is destroyed on purpose
  req.end(JSON.stringify({ workspaceId: WS_ID }));
  await running;
  req.destroy();
  const reason = await Promise.race([abortSeen, new Promise((resolve) => setTimeout(() => resolve('timeout'), 5000))]);
  t.not(reason, 'timeout', 'the diagnose signal is aborted');
  await until(() => logs.some((l) => l.includes('"status":499')));
  const entries = logs.map((l) => JSON.parse(l) as { level: number; status?: number });
  t.ok(entries.some((e) => e.level === 30 && e.status === 499), 'the cancellation is logged at info');
  t.notOk(entries.some((e) => e.level >= 50), 'a disconnect is not logged as a server error');
});
