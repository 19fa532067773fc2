/**
 * Shared reads against the simulated ARM with the real SDK clients: one ARM request per distinct
 * read however many callers ask (at once or later), each caller with a model of its own, the final
 * answer kept (not a throttled attempt), failures and long-running operations never kept.
 */
import t from 'tap';
import { isRestError } from '@azure/core-rest-pipeline';
import { createAzureClients, staticTokenCredential, type AzureAccessOptions } from '../../src/azure/clients.ts';
import { toProbeError } from '../../src/azure/errors.ts';
import { isCacheableStatus, serviceTagsScope, SHARED_READS_POLICY_NAME, SharedReads, sharedReadKey } from '../../src/azure/shared-reads.ts';
import { ArmThrottle } from '../../src/azure/throttle.ts';
import { startArmSimulator, type ArmSimulator } from '../../src/sim/arm-server.ts';
import type { ScenarioResource } from '../../src/sim/scenario.ts';
import { serviceTagsBody } from '../../src/sim/service-tag-data.ts';
import { wire } from '../helpers/sim.ts';

const SUB_A = '5a5a5a5a-0000-4000-8000-00000000000a';
const SUB_B = '5b5b5b5b-0000-4000-8000-00000000000b';
const NET = `/subscriptions/${SUB_A}/resourceGroups/rg-net/providers/Microsoft.Network`;
const VNET_ID = `${NET}/virtualNetworks/vnet-hub`;
const NIC_ID = `${NET}/networkInterfaces/nic-jump`;
const WS_ID = `/subscriptions/${SUB_A}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-shared`;

const resources: ScenarioResource[] = [
  wire.vnet(VNET_ID, ['10.0.0.0/16']),
  wire.subnet(VNET_ID, 'snet-a', '10.0.1.0/24'),
  wire.workspace({ workspaceId: '0f0f0f0f-1111-4222-8333-444444444444', publicNetworkAccess: 'Disabled', managedNetwork: { isolationMode: 'AllowOnlyApprovedOutbound' } }, WS_ID),
  wire.nic(NIC_ID, [{ ip: '10.0.1.4', fqdns: [] }]),
  serviceTagsBody(SUB_A, 'eastus', 'AzureCloud') as ScenarioResource,
  serviceTagsBody(SUB_B, 'eastus', 'AzureCloud') as ScenarioResource,
  serviceTagsBody(SUB_B, 'westeurope', 'AzureCloud') as ScenarioResource,
];
const operations = [{ resourceId: NIC_ID, action: 'effectiveRouteTable', result: { value: [{ source: 'Default', state: 'Active', addressPrefix: ['10.0.0.0/16'], nextHopType: 'VnetLocal', nextHopIpAddress: [] }] } }];

let sim: ArmSimulator;
t.before(async () => {
  sim = await startArmSimulator({ scenario: { resources, operations }, lroPolls: 2 });
});
t.teardown(() => sim.close());
t.beforeEach(() => {
  sim.setFaults([]);
  sim.setLatency(0);
  sim.requests.length = 0;
});

function clients(shared: SharedReads, extra: Partial<AzureAccessOptions> = {}) {
  return createAzureClients({ armEndpoint: sim.url, ca: sim.caPem, credential: staticTokenCredential('shared-reads'), retryDelayMs: 5, lroPollIntervalMs: 0, timeoutMs: 10_000, sharedReads: shared, ...extra });
}

const gets = () => sim.requests.filter((r) => r.method === 'GET');

t.test('the key: case-insensitive path, sorted query, service tags by location only', async (t) => {
  const base = 'https://management.azure.com';
  t.equal(
    sharedReadKey(`${base}/subscriptions/${SUB_A}/resourceGroups/RG-Net/providers/Microsoft.Network/virtualNetworks/VNET-Hub?api-version=2024-05-01&$expand=subnets`),
    sharedReadKey(`${base}/subscriptions/${SUB_A.toUpperCase()}/resourcegroups/rg-net/providers/microsoft.network/virtualnetworks/vnet-hub?$expand=subnets&api-version=2024-05-01`),
    'path case and parameter order do not matter',
  );
  t.not(sharedReadKey(`${base}/x?api-version=2024-05-01`), sharedReadKey(`${base}/x?api-version=2025-01-01`), 'another api-version is another read');
  t.not(sharedReadKey(`${base}/x?$skiptoken=2`), sharedReadKey(`${base}/x?$skiptoken=4`), 'each page is its own read');
  t.not(sharedReadKey(`${base}/x?$filter=name eq 'A'`), sharedReadKey(`${base}/x?$filter=name eq 'a'`), 'query values keep their case');

  const tags = (sub: string, loc: string, host = base) => `${host}/subscriptions/${sub}/providers/Microsoft.Network/locations/${loc}/serviceTags?api-version=2024-05-01`;
  t.equal(sharedReadKey(tags(SUB_A, 'eastus')), sharedReadKey(tags(SUB_B, 'EastUS')), 'service tags: any subscription, one document per location');
  t.not(sharedReadKey(tags(SUB_A, 'eastus')), sharedReadKey(tags(SUB_A, 'westeurope')), 'another location is another document');
  t.not(sharedReadKey(tags(SUB_A, 'eastus')), sharedReadKey(tags(SUB_A, 'eastus', 'https://management.usgovcloudapi.net')), 'another cloud is another document');
  t.equal(serviceTagsScope(`/subscriptions/${SUB_A}/providers/microsoft.network/locations/eastus/servicetags`), '/providers/microsoft.network/locations/eastus/servicetags');
  t.equal(serviceTagsScope(`/subscriptions/${SUB_A}/providers/microsoft.network/locations/eastus/servicetagdetails`), undefined, 'only the service tags list');
  t.equal(serviceTagsScope(`/subscriptions/${SUB_A}/resourcegroups/rg/providers/microsoft.network/locations/eastus/servicetags`), undefined);

  for (const s of [200, 203, 204, 403, 404]) t.ok(isCacheableStatus(s), `${s} is kept`);
  for (const s of [202, 400, 401, 408, 409, 429, 500, 503]) t.notOk(isCacheableStatus(s), `${s} is not kept`);
});

t.test('the policy sits outside the retries and throttle, inside each client\'s deserialization', async (t) => {
  const c = clients(new SharedReads(), { throttle: new ArmThrottle(), metrics: { armResponse() {} } });
  for (const [label, pipeline] of [['classic (ML)', c.ml(SUB_A).pipeline], ['modular (network)', c.network(SUB_A).pipeline]] as const) {
    const names = pipeline.getOrderedPolicies().map((p) => p.name);
    const at = (n: string) => names.indexOf(n);
    t.ok(at(SHARED_READS_POLICY_NAME) >= 0, `${label}: installed`);
    t.ok(at(SHARED_READS_POLICY_NAME) < at('defaultRetryPolicy'), `${label}: before the retry policy (${names.join(', ')})`);
    t.ok(at(SHARED_READS_POLICY_NAME) < at('netdoctorArmThrottle') && at(SHARED_READS_POLICY_NAME) < at('netdoctorArmMetrics'), `${label}: before throttle and metrics`);
    if (at('deserializationPolicy') >= 0) t.ok(at('deserializationPolicy') < at(SHARED_READS_POLICY_NAME), `${label}: after deserialization`);
  }
});

t.test('one request for many readers, each with a model of its own', async (t) => {
  const shared = new SharedReads();
  const c = clients(shared);
  // At once (single flight), with other spellings of the same path.
  const [a, b, d] = await Promise.all([
    c.network(SUB_A).virtualNetworks.get('rg-net', 'vnet-hub', c.call()),
    c.network(SUB_A).virtualNetworks.get('RG-NET', 'VNET-HUB', c.call()),
    c.network(SUB_A.toUpperCase()).virtualNetworks.get('rg-net', 'vnet-hub', c.call()),
  ]);
  // Later (kept).
  const e = await c.network(SUB_A).virtualNetworks.get('rg-net', 'vnet-hub', c.call());
  t.equal(gets().length, 1, 'one GET reached ARM');
  for (const v of [a, b, d, e]) t.same(v.subnets?.map((s) => s.name), ['snet-a'], 'each reader gets the typed model');
  t.not(a, e, 'distinct objects');
  a.subnets?.push({ name: 'added-by-a-consumer' });
  t.same(e.subnets?.map((s) => s.name), ['snet-a'], "one consumer's changes do not leak into another's model");
  t.same(shared.stats(), { requests: 1, hits: 3 });

  // The classic client deserializes in its pipeline: each call still gets its own parsed body.
  const raws: unknown[] = [];
  const opts = () => ({ ...c.call(), onResponse: (r: { bodyAsText?: string | null }) => void raws.push(JSON.parse(r.bodyAsText ?? 'null')) });
  const w1 = await c.ml(SUB_A).workspaces.get('rg-ml', 'mlw-shared', opts());
  const w2 = await c.ml(SUB_A).workspaces.get('rg-ml', 'MLW-SHARED', opts());
  t.equal(gets().length, 2, 'the workspace was read once');
  t.equal(w1.publicNetworkAccess, 'Disabled');
  t.same(w1, w2, 'the same model from the kept answer');
  t.not(w1, w2);
  t.equal(raws.length, 2, 'onResponse sees the raw body on a hit too');
  t.same(raws[0], raws[1]);
});

t.test('the kept answer is the final one: a 429 then 200 is kept as the 200, and a hit is no ARM call', async (t) => {
  sim.setFaults([{ method: 'GET', path: 'virtualNetworks/vnet-hub$', status: 429, retryAfterSeconds: 0, times: 1 }]);
  const attempts: Array<number | undefined> = [];
  // A 429 empties the subscription's bucket; it then refills at 2 tokens a second.
  const throttle = new ArmThrottle({ readsPerSecond: 2, burst: 5 });
  const c = clients(new SharedReads(), { throttle, metrics: { armResponse: (_op, status) => void attempts.push(status) } });
  const first = await c.network(SUB_A).virtualNetworks.get('rg-net', 'vnet-hub', c.call());
  t.same(sim.requests.map((r) => r.status), [429, 200], 'retried inside the shared read');
  const started = Date.now();
  for (let i = 0; i < 10; i++) t.equal((await c.network(SUB_A).virtualNetworks.get('rg-net', 'vnet-hub', c.call())).name, first.name);
  t.ok(Date.now() - started < 400, 'hits take no token (ten would need five seconds of refill)');
  t.equal(sim.requests.length, 2, 'no further request');
  t.same(attempts, [429, 200], 'hits are not counted as ARM calls');
});

t.test('403 and 404 are kept; 5xx and network failures are not', async (t) => {
  const c = clients(new SharedReads(), { maxRetries: 0 });
  const missing = () => c.network(SUB_A).virtualNetworks.get('rg-net', 'vnet-gone', c.call());
  for (let i = 0; i < 3; i++) {
    const err = await missing().then(() => undefined, (e: unknown) => e);
    t.equal(toProbeError(err, 'reading').kind, 'not-found', 'each caller gets its own 404 error');
  }
  t.equal(gets().length, 1, 'the 404 was asked once');

  sim.requests.length = 0;
  sim.setFaults([{ path: 'networkInterfaces/nic-jump$', status: 403 }]);
  for (let i = 0; i < 2; i++) {
    const err = await c.network(SUB_A).networkInterfaces.get('rg-net', 'nic-jump', c.call()).then(() => undefined, (e: unknown) => e);
    t.equal(toProbeError(err, 'reading').kind, 'forbidden');
  }
  t.equal(gets().length, 1, 'the 403 was asked once');

  sim.requests.length = 0;
  sim.setFaults([{ path: 'virtualNetworks/vnet-hub/subnets/snet-a$', status: 500, times: 1 }]);
  const failed = await c.network(SUB_A).subnets.get('rg-net', 'vnet-hub', 'snet-a', c.call()).then(() => undefined, (e: unknown) => e);
  t.ok(isRestError(failed) && failed.statusCode === 500, 'the 500 reaches its caller');
  t.equal((await c.network(SUB_A).subnets.get('rg-net', 'vnet-hub', 'snet-a', c.call())).name, 'snet-a', 'the next caller asks ARM again');
  t.same(sim.requests.map((r) => r.status), [500, 200]);
});

t.test('long-running operations: the POSTs and their polls are never kept', async (t) => {
  const shared = new SharedReads();
  const c = clients(shared);
  for (let i = 0; i < 2; i++) {
    const routes = await c.network(SUB_A).networkInterfaces.getEffectiveRouteTable('rg-net', 'nic-jump', c.call());
    t.equal(routes.value?.[0]?.nextHopType, 'VnetLocal', `run ${i + 1}: the poll saw InProgress, then Succeeded (an InProgress kept would never end)`);
  }
  const posts = sim.requests.filter((r) => r.method === 'POST');
  t.equal(posts.length, 2, 'each POST went to ARM');
  const polls = gets().filter((r) => /\/operations\//i.test(r.path));
  t.ok(polls.length >= 4, `every poll went to ARM (${polls.length})`);
  t.equal(shared.stats().hits, 0);
});

t.test('service tags are read once per location, whatever the subscription', async (t) => {
  const shared = new SharedReads();
  const c = clients(shared);
  const [a, b, w] = await Promise.all([
    c.network(SUB_A).serviceTags.list('eastus', c.call()),
    c.network(SUB_B).serviceTags.list('eastus', c.call()),
    c.network(SUB_B).serviceTags.list('westeurope', c.call()),
  ]);
  await c.network(SUB_B).serviceTags.list('EastUS', c.call());
  t.same(a.values?.length, b.values?.length);
  t.ok(w.values?.some((v) => v.name === 'Storage.WestEurope'));
  t.same(
    gets().map((r) => r.path.split('/').slice(-2, -1)[0]).sort(),
    ['eastus', 'westeurope'],
    'one read per location',
  );
});

t.test('a reader that cancels does not fail the others waiting on the same read', async (t) => {
  sim.setLatency(150);
  const c = clients(new SharedReads());
  const owner = new AbortController();
  const first = c.network(SUB_A).virtualNetworks.get('rg-net', 'vnet-hub', { abortSignal: owner.signal });
  await new Promise((r) => setTimeout(r, 20));
  const second = c.network(SUB_A).virtualNetworks.get('rg-net', 'vnet-hub', c.call());
  owner.abort();
  const firstErr = await first.then(() => undefined, (e: unknown) => e);
  t.equal((firstErr as Error | undefined)?.name, 'AbortError', 'the canceller gets its abort');
  t.equal((await second).name, 'vnet-hub', 'the other reader still gets the VNet');
  t.equal(gets().length, 2, 'read again for the reader left');

  // And a waiting reader that cancels leaves as soon as it does, the read going on for the rest.
  const shared = new SharedReads();
  const c2 = clients(shared);
  const slow = c2.network(SUB_A).subnets.get('rg-net', 'vnet-hub', 'snet-a', c2.call());
  const waiter = new AbortController();
  const waiting = c2.network(SUB_A).subnets.get('rg-net', 'vnet-hub', 'snet-a', { abortSignal: waiter.signal });
  const started = Date.now();
  setTimeout(() => waiter.abort(), 20);
  const waitErr = await waiting.then(() => undefined, (e: unknown) => e);
  t.equal((waitErr as Error | undefined)?.name, 'AbortError');
  t.ok(Date.now() - started < 140, 'without waiting for the read');
  t.equal((await slow).name, 'snet-a');
});
