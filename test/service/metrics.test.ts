/**
 * GET /metrics after real diagnoses of a bundled scenario through the app: diagnoses by outcome,
 * probe latencies, ARM requests by operation and findings by code, with label values from small
 * fixed sets and never an ARM id or resource name.
 */
import t from 'tap';
import Fastify from 'fastify';
import app from '../../src/app.ts';
import { armOperation } from '../../src/azure/arm-metrics.ts';
import { tryParseArmId } from '../../src/model/arm-id.ts';
import { createAzureClients, staticTokenCredential } from '../../src/azure/clients.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createDiagnose, diagnose, type DiagnoseDeps } from '../../src/diagnose.ts';
import type { Report } from '../../src/report/schema.ts';
import { createMetrics, statusClass } from '../../src/service/metrics.ts';
import { probes } from '../../probes/index.ts';
import { startScenario } from '../helpers/reports.ts';

const run = await startScenario(t, 'zone-not-linked-hub-spoke');
const metrics = createMetrics();
const deps: DiagnoseDeps = {
  ...run.deps,
  azure: createAzureClients({ armEndpoint: run.arm.url, ca: run.arm.caPem, credential: staticTokenCredential('test'), maxRetries: 2, retryDelayMs: 1, lroPollIntervalMs: 5, timeoutMs: 10_000, metrics }),
  metrics,
};
const fastify = Fastify();
await fastify.register(app, { config: loadConfig({}), diagnose: createDiagnose(deps), metrics });
t.teardown(() => fastify.close());

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of the Prometheus text format (comments skipped). */
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k as string] = v as string;
      return { name: m[1] as string, labels, value: Number(m[3]) };
    });
}

const value = (all: Sample[], name: string, labels: Record<string, string>) =>
  all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);

async function scrape(): Promise<{ contentType: string; all: Sample[]; text: string }> {
  const res = await fastify.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200, 'GET /metrics answers 200');
  return { contentType: String(res.headers['content-type']), all: samples(res.body), text: res.body };
}

t.test('after a diagnosis through the API, /metrics counts it, its probes, its ARM requests and its findings', async (t) => {
  const res = await fastify.inject({ method: 'POST', url: '/v1/diagnoses', payload: run.req });
  t.equal(res.statusCode, 200, res.body.slice(0, 300));
  const report = res.json<Report>();
  const { contentType, all } = await scrape();
  t.equal(contentType, 'text/plain; version=0.0.4; charset=utf-8');

  t.equal(value(all, 'netdoctor_diagnoses_total', { outcome: report.verdict.status }), 1, `one '${report.verdict.status}' diagnosis`);
  for (const outcome of ['cause-found', 'no-cause-found', 'undetermined', 'error', 'cancelled']) {
    t.ok(all.some((s) => s.name === 'netdoctor_diagnoses_total' && s.labels.outcome === outcome), `outcome '${outcome}' is exported`);
  }
  t.equal(value(all, 'netdoctor_diagnoses_total', {}), 1, 'and nothing else');

  for (const p of probes) t.equal(value(all, 'netdoctor_probe_duration_seconds_count', { probe: p.id }), 1, `probe ${p.id} observed once`);
  t.equal(value(all, 'netdoctor_probe_duration_seconds_count', { probe: 'workspace', ok: 'true' }), 1, 'the workspace probe succeeded');

  t.ok(report.findings.length > 0, 'the scenario has findings');
  for (const f of report.findings) {
    const expected = report.findings.filter((g) => g.code === f.code && g.tier === f.tier).length;
    t.equal(value(all, 'netdoctor_findings_total', { code: f.code, tier: String(f.tier) }), expected, `${f.code} tier ${f.tier}`);
  }

  t.equal(value(all, 'netdoctor_arm_requests_total', {}), run.arm.requests.length, 'every request the simulated ARM received is counted');
  const operations = new Set(all.filter((s) => s.name === 'netdoctor_arm_requests_total').map((s) => s.labels.operation));
  for (const op of ['GET Microsoft.MachineLearningServices/workspaces', 'GET Microsoft.MachineLearningServices/workspaces/computes', 'GET Microsoft.Network/privateDnsZones/virtualNetworkLinks']) {
    t.ok(operations.has(op), `operation '${op}'`);
  }
  t.ok(operations.size < run.arm.requests.length, `${run.arm.requests.length} requests, ${operations.size} operations`);
  t.equal(value(all, 'netdoctor_arm_throttled_total', {}), 0, 'no 429s in this scenario');
  t.ok(all.some((s) => s.name === 'process_cpu_user_seconds_total'), 'default process metrics');
  t.ok(all.some((s) => s.name === 'nodejs_heap_size_used_bytes'), 'default Node.js metrics');
});

t.test('no label value carries an ARM id, a subscription or a resource name', async (t) => {
  const { all } = await scrape();
  const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
  const names = new Set(
    run.scenario.resources
      .flatMap((r) => {
        const id = tryParseArmId(r.id);
        return id ? [id.resourceGroup, ...id.names] : [];
      })
      .map((n) => n.toLowerCase()),
  );
  t.ok(names.size > 10, `${names.size} resource and group names`);
  const ours = all.filter((s) => s.name.startsWith('netdoctor_'));
  t.ok(ours.length > 20, `${ours.length} samples checked`);
  const offending = ours.flatMap((s) =>
    Object.values(s.labels).filter((v) => GUID.test(v) || /subscriptions|resourcegroups/i.test(v) || v.split(/[ /]/).some((part) => names.has(part.toLowerCase()))),
  );
  t.same([...new Set(offending)], [], 'no ids or names');
  for (const s of ours.filter((x) => x.name === 'netdoctor_arm_requests_total')) {
    t.match(s.labels.operation, /^(GET|POST) [A-Za-z]+(\.[A-Za-z]+)+(\/[A-Za-z]+)*$/, `operation '${s.labels.operation}'`);
    t.match(s.labels.status_class, /^([1-5]xx|error)$/);
  }
});

t.test('a diagnosis that fails counts as error, one whose signal aborts as cancelled, without findings', async (t) => {
  const m = createMetrics();
  const mdeps = { ...run.deps, metrics: m };
  await t.rejects(diagnose({ workspaceId: 'not-a-workspace-id' }, mdeps, AbortSignal.timeout(10_000)));
  const controller = new AbortController();
  controller.abort(new Error('client went away'));
  await diagnose(run.req, mdeps, controller.signal).catch(() => undefined);
  const all = samples(await m.registry.metrics());
  t.equal(value(all, 'netdoctor_diagnoses_total', { outcome: 'error' }), 1);
  t.equal(value(all, 'netdoctor_diagnoses_total', { outcome: 'cancelled' }), 1);
  t.equal(value(all, 'netdoctor_diagnoses_total', {}), 2);
  t.equal(value(all, 'netdoctor_findings_total', {}), 0, 'a cancelled run reports no findings');
});

t.test('each app has its own registry', async (t) => {
  const other = Fastify();
  await other.register(app, { config: loadConfig({}), diagnose: createDiagnose(run.deps) });
  t.teardown(() => other.close());
  const res = await other.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200);
  const all = samples(res.body);
  t.equal(value(all, 'netdoctor_diagnoses_total', {}), 0, "the first app's diagnosis is not here");
  t.ok(all.some((s) => s.name === 'process_cpu_user_seconds_total'), 'process metrics are');
});

t.test('NETDOCTOR_METRICS=off: no /metrics; other values are refused at start-up', async (t) => {
  const off = Fastify();
  await off.register(app, { config: loadConfig({ NETDOCTOR_METRICS: 'off' }), diagnose: createDiagnose(run.deps) });
  t.teardown(() => off.close());
  const res = await off.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 404);
  t.match(res.headers['content-type'], /^application\/problem\+json/);
  t.equal(loadConfig({ NETDOCTOR_METRICS: 'on' }).NETDOCTOR_METRICS, 'on');
  const err = t.throws(() => loadConfig({ NETDOCTOR_METRICS: 'yes' })) as unknown;
  t.ok(err instanceof ConfigError && err.problems.some((p) => p.variable === 'NETDOCTOR_METRICS' && /on, off/.test(p.message)), 'names the variable and the allowed values');
});

t.test('ARM operations: method and provider type path, names stripped', async (t) => {
  const base = 'https://management.azure.com';
  const sub = '/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333';
  const cases: Array<[string, string, string]> = [
    ['GET', `${sub}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-hub?api-version=2024-05-01`, 'GET Microsoft.Network/virtualNetworks'],
    ['get', `${sub}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-hub/subnets/snet-1`, 'GET Microsoft.Network/virtualNetworks/subnets'],
    ['GET', `${sub}/providers/Microsoft.Network/privateDnsZones?$skiptoken=2`, 'GET Microsoft.Network/privateDnsZones'],
    ['GET', `${sub}/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.api.azureml.ms/A`, 'GET Microsoft.Network/privateDnsZones/A'],
    ['POST', `${sub}/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic-1/effectiveRouteTable`, 'POST Microsoft.Network/networkInterfaces/effectiveRouteTable'],
    ['GET', `${sub}/providers/Microsoft.Network/locations/westeurope/operationResults/5f0c7a`, 'GET Microsoft.Network/locations/operationResults'],
    ['GET', `${sub}/resourceGroups/rg-ml`, 'GET Microsoft.Resources/resourceGroups'],
    ['GET', `${sub}`, 'GET Microsoft.Resources/subscriptions'],
    ['GET', `${sub}/resourceGroups/providers/providers/Microsoft.Storage/storageAccounts/providers`, 'GET Microsoft.Storage/storageAccounts'],
    ['GET', `${sub}/resourceGroups/rg/providers/Micro$oft.Evil/x`, 'GET other'],
    ['BREW', '/not/arm', 'OTHER other'],
  ];
  for (const [method, path, expected] of cases) t.equal(armOperation(method, path.startsWith('/') ? `${base}${path}` : path), expected, `${method} ${path}`);
  t.equal(armOperation('GET', 'not a url'), 'GET other');
  t.same([200, 204, 301, 404, 429, 503, undefined, 42].map(statusClass), ['2xx', '2xx', '3xx', '4xx', '4xx', '5xx', 'error', 'error']);
});
