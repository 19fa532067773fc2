import t from 'tap';
import https from 'node:https';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startArmSimulator, type ArmSimulator } from '../../src/sim/arm-server.ts';
import { loadScenario, listScenarios, SCENARIO_DIR } from '../../src/sim/scenario-files.ts';
import { createAzureClients, staticTokenCredential, ML_API_VERSION, type AzureClients } from '../../src/azure/clients.ts';
import type { ScenarioOperation, ScenarioResource } from '../../src/sim/scenario.ts';

const SUB = '3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const RG = `/subscriptions/${SUB}/resourceGroups/rg-x`;
const NET = `${RG}/providers/Microsoft.Network`;
const WS = `${RG}/providers/Microsoft.MachineLearningServices/workspaces/ws-x`;
const VNET = `${NET}/virtualNetworks/vnet-x`;
const ZONE = `${NET}/privateDnsZones/privatelink.api.azureml.ms`;
const NIC = `${NET}/networkInterfaces/nic-ci`;
const WATCHER = `/subscriptions/${SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/NetworkWatcher_westeurope`;

const resources: ScenarioResource[] = [
  { id: WS, location: 'westeurope', properties: { publicNetworkAccess: 'Disabled', workspaceId: '6c1f4e0a-1111-4222-8333-944445555666', managedNetwork: { isolationMode: 'Disabled' } } },
  ...['ci-1', 'ci-2', 'cluster-1'].map((c) => ({ id: `${WS}/computes/${c}`, properties: { computeType: c.startsWith('ci') ? 'ComputeInstance' : 'AmlCompute' } })),
  { id: VNET, location: 'westeurope', properties: { addressSpace: { addressPrefixes: ['10.20.0.0/16'] } } },
  ...['snet-a', 'snet-b', 'snet-c'].map((s, i) => ({ id: `${VNET}/subnets/${s}`, properties: { addressPrefix: `10.20.${i}.0/24` } })),
  { id: `${VNET}/virtualNetworkPeerings/peer-hub`, properties: { peeringState: 'Connected', remoteVirtualNetwork: { id: `${NET}/virtualNetworks/vnet-hub` } } },
  { id: ZONE, location: 'global', properties: {} },
  { id: `${NET}/privateDnsZones/privatelink.notebooks.azure.net`, location: 'global', properties: {} },
  { id: `/subscriptions/${SUB}/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net`, location: 'global', properties: {} },
  { id: `${ZONE}/A/6c1f4e0a-1111-4222-8333-944445555666.workspace.westeurope`, properties: { ttl: 10, aRecords: [{ ipv4Address: '10.20.1.5' }] } },
  { id: `${ZONE}/A/*.6c1f4e0a-1111-4222-8333-944445555666.inference.westeurope`, properties: { ttl: 10, aRecords: [{ ipv4Address: '10.20.1.6' }] } },
  { id: `${ZONE}/SOA/@`, properties: { ttl: 3600, soaRecord: { email: 'azureprivatedns-host.microsoft.com' } } },
  { id: `${ZONE}/virtualNetworkLinks/link-x`, location: 'global', properties: { virtualNetwork: { id: VNET }, registrationEnabled: false } },
  {
    id: `${NET}/virtualNetworks/vnet-inline`,
    properties: { subnets: [{ id: `${NET}/virtualNetworks/vnet-inline/subnets/snet-in`, name: 'snet-in', properties: { addressPrefix: '10.30.0.0/24' } }] },
  },
  { id: NIC, location: 'westeurope', properties: { ipConfigurations: [{ name: 'ipconfig1', properties: { privateIPAddress: '10.20.0.4' } }] } },
  { id: WATCHER, location: 'westeurope', properties: {} },
];

const operations: ScenarioOperation[] = [
  {
    resourceId: NIC.toUpperCase(),
    action: 'effectiveRouteTable',
    result: { value: [{ source: 'User', state: 'Active', addressPrefix: ['0.0.0.0/0'], nextHopType: 'VirtualAppliance', nextHopIpAddress: ['10.20.9.4'] }] },
  },
  { resourceId: WS, action: 'diagnose', result: { value: { dnsResolutionResults: [{ code: 'DnsResolutionFailed', level: 'Error', message: 'privatelink.api.azureml.ms is not linked' }] } } },
  { resourceId: WATCHER, action: 'nextHop', result: { nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.20.9.4', routeTableId: `${NET}/routeTables/rt-x` } },
];

let sim: ArmSimulator;
let clients: AzureClients;

t.before(async () => {
  sim = await startArmSimulator({ scenario: { resources, operations } });
  clients = createAzureClients({
    armEndpoint: sim.url,
    ca: sim.caPem,
    credential: staticTokenCredential('test-token-arm'),
    maxRetries: 0,
    retryDelayMs: 5,
    timeoutMs: 10_000,
    lroPollIntervalMs: 0,
  });
});
t.teardown(() => sim.close());
t.beforeEach(() => {
  sim.setFaults([]);
  sim.requests.length = 0;
});

async function collect<T>(iter: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iter) out.push(x);
  return out;
}

interface RawResponse {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

function raw(path: string, init: { method?: string; auth?: boolean; ca?: boolean } = {}): Promise<RawResponse> {
  const url = new URL(path, sim.url);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: init.method ?? 'GET', ...(init.ca === false ? {} : { ca: sim.caPem }), headers: init.auth === false ? {} : { authorization: 'Bearer raw-token' } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? (JSON.parse(text) as unknown) : undefined }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

t.test('workspace GET through the ML client, ids compared case-insensitively', async (t) => {
  let rawBody: { properties?: { managedNetwork?: unknown } } = {};
  const ws = await clients.ml(SUB.toUpperCase()).workspaces.get('RG-X', 'WS-X', {
    ...clients.call(),
    onResponse: (r) => (rawBody = JSON.parse(r.bodyAsText ?? '{}') as typeof rawBody),
  });
  t.equal(ws.id, WS, 'the stored id comes back as stored');
  t.equal(ws.name, 'ws-x');
  t.equal(ws.type, 'Microsoft.MachineLearningServices/workspaces', 'type derived from the id');
  t.equal(ws.publicNetworkAccess, 'Disabled');
  t.same(rawBody.properties?.managedNetwork, { isolationMode: 'Disabled' }, 'fields the SDK model drops are on the wire');
  const req = sim.requests[0];
  t.equal(req?.query['api-version'], ML_API_VERSION, 'api-version recorded');
  t.equal(req?.headers.authorization, '[redacted]', 'authorization is redacted in the record');
  t.notMatch(JSON.stringify(sim.requests), /test-token-arm/, 'the token is nowhere in the records');
});

t.test('VNet GET embeds subnets and peerings', async (t) => {
  const vnet = await clients.network(SUB).virtualNetworks.get('rg-x', 'VNET-X', clients.call());
  t.same(vnet.addressSpace?.addressPrefixes, ['10.20.0.0/16']);
  t.same(vnet.subnets?.map((s) => s.name), ['snet-a', 'snet-b', 'snet-c']);
  t.equal(vnet.subnets?.[1]?.addressPrefix, '10.20.1.0/24');
  t.equal(vnet.virtualNetworkPeerings?.[0]?.remoteVirtualNetwork?.id, `${NET}/virtualNetworks/vnet-hub`);
  t.equal(vnet.virtualNetworkPeerings?.[0]?.peeringState, 'Connected');
  const inline = await clients.network(SUB).virtualNetworks.get('rg-x', 'vnet-inline', clients.call());
  t.same(inline.subnets?.map((s) => s.name), ['snet-in'], 'subnets written inline stay as written');
  t.same(inline.virtualNetworkPeerings, [], 'no peerings');
  const snetIn = await clients.network(SUB).subnets.get('rg-x', 'vnet-inline', 'snet-in', clients.call());
  t.equal(snetIn.addressPrefix, '10.30.0.0/24', 'an inline subnet is addressable on its own');
});

t.test('paging across several pages', async (t) => {
  const zones = await collect(clients.privateDns(SUB).privateZones.list(clients.call()));
  t.same(zones.map((z) => z.name).sort(), ['privatelink.api.azureml.ms', 'privatelink.blob.core.windows.net', 'privatelink.notebooks.azure.net'], 'subscription scope spans resource groups');
  const zoneReqs = sim.requests.filter((r) => /privateDnsZones$/i.test(r.path));
  t.equal(zoneReqs.length, 2, 'two pages of two');
  t.equal(zoneReqs[1]?.query.$skiptoken, '2', 'second page requested through nextLink');

  const computes = await collect(clients.ml(SUB).computeOperations.list('rg-x', 'ws-x', clients.call()));
  t.same(computes.map((c) => c.name), ['ci-1', 'ci-2', 'cluster-1']);
  t.equal(computes[2]?.properties?.computeType, 'AmlCompute');

  const subnets = await collect(clients.network(SUB).subnets.list('rg-x', 'vnet-x', clients.call()));
  t.same(subnets.map((s) => s.name), ['snet-a', 'snet-b', 'snet-c']);

  const rgZones = await collect(clients.privateDns(SUB).privateZones.listByResourceGroup('rg-x', clients.call()));
  t.equal(rgZones.length, 2, 'resource-group scope only lists that group');
  const empty = await collect(clients.privateDns(SUB).privateZones.listByResourceGroup('rg-nothing', clients.call()));
  t.same(empty, [], 'a resource group without resources lists as empty');
});

t.test('private DNS record sets', async (t) => {
  const all = await collect(clients.privateDns(SUB).recordSets.list('rg-x', 'privatelink.api.azureml.ms', clients.call()));
  t.same(all.map((r) => r.name).sort(), ['*.6c1f4e0a-1111-4222-8333-944445555666.inference.westeurope', '6c1f4e0a-1111-4222-8333-944445555666.workspace.westeurope', '@'], 'every record set, no links');
  t.ok(sim.requests.some((r) => r.path.endsWith('/aLL')), 'privatedns 4 asks for aLL');
  const a = await collect(clients.privateDns(SUB).recordSets.listByType('rg-x', 'privatelink.api.azureml.ms', 'A', clients.call()));
  t.equal(a.length, 2);
  t.equal(a[0]?.type, 'Microsoft.Network/privateDnsZones/A');
  const one = await clients.privateDns(SUB).recordSets.get('rg-x', 'privatelink.api.azureml.ms', 'A', '6c1f4e0a-1111-4222-8333-944445555666.workspace.westeurope', clients.call());
  t.same(one.aRecords, [{ ipv4Address: '10.20.1.5' }]);
});

t.test('long-running POSTs return the scenario result', async (t) => {
  const routes = await clients.network(SUB).networkInterfaces.beginGetEffectiveRouteTableAndWait('rg-x', 'nic-ci', clients.call());
  t.equal(routes.value?.[0]?.nextHopType, 'VirtualAppliance');
  t.same(routes.value?.[0]?.nextHopIpAddress, ['10.20.9.4']);
  t.same(
    sim.requests.map((r) => `${r.method} ${r.path.split('/').at(-2)} ${r.status}`),
    ['POST nic-ci 202', 'GET operations 200', 'GET operations 200', 'GET operationResults 200'],
    'answered asynchronously: one poll in progress, then succeeded, then the result from Location',
  );

  const hop = await clients.network(SUB).networkWatchers.beginGetNextHopAndWait(
    'networkwatcherrg',
    'networkwatcher_westeurope',
    { targetResourceId: `${RG}/providers/Microsoft.Compute/virtualMachines/vm-x`, sourceIPAddress: '10.20.0.4', destinationIPAddress: '10.20.5.5' },
    clients.call(),
  );
  t.equal(hop.nextHopType, 'VirtualAppliance');
  t.equal(hop.routeTableId, `${NET}/routeTables/rt-x`);
  const hopPost = sim.requests.find((r) => r.method === 'POST' && /nextHop$/.test(r.path));
  t.match(hopPost?.body, { sourceIPAddress: '10.20.0.4', destinationIPAddress: '10.20.5.5' }, 'request body recorded');

  const diag = await clients.ml(SUB).workspaces.beginDiagnoseAndWait('rg-x', 'ws-x', clients.call());
  t.equal(diag.value?.dnsResolutionResults?.[0]?.code, 'DnsResolutionFailed', 'ML diagnose through the classic LRO engine');

  const started = await raw(`${NIC}/effectiveRouteTable?api-version=2026-01-01`, { method: 'POST' });
  t.equal(started.status, 202);
  t.equal(started.headers['retry-after'], '0');
  const location = String(started.headers.location);
  t.ok(location.startsWith(`${sim.url}/subscriptions/${SUB}/providers/Microsoft.Network/locations/westeurope/operationResults/`), 'absolute Location on the simulator');
  t.ok(String(started.headers['azure-asyncoperation']).startsWith(sim.url), 'absolute Azure-AsyncOperation');
  t.equal((await raw(location)).status, 202, 'Location: still running');
  const done = await raw(`${location}?api-version=2026-01-01`);
  t.equal(done.status, 200, 'Location: done');
  t.match(done.body, { value: [{ nextHopType: 'VirtualAppliance' }] });
  t.match((await raw(String(started.headers['azure-asyncoperation']))).body, { status: 'Succeeded' });

  await t.rejects(
    clients.network(SUB).networkInterfaces.beginListEffectiveNetworkSecurityGroupsAndWait('rg-x', 'nic-ci', clients.call()),
    { statusCode: 404, code: 'ResourceNotFound' },
    'no scenario result for the action',
  );
  await t.rejects(clients.network(SUB).networkInterfaces.beginGetEffectiveRouteTableAndWait('rg-x', 'nic-gone', clients.call()), { name: 'RestError', statusCode: 404 }, 'POST on a missing resource');
});

t.test('404 and 403 arrive as RestError with status and code', async (t) => {
  await t.rejects(clients.network(SUB).virtualNetworks.get('rg-x', 'vnet-gone', clients.call()), {
    name: 'RestError',
    statusCode: 404,
    code: 'ResourceNotFound',
    message: /Microsoft\.Network\/virtualNetworks\/vnet-gone' under resource group 'rg-x'/,
  });
  await t.rejects(clients.network(SUB).subnets.get('rg-x', 'vnet-x', 'snet-gone', clients.call()), { name: 'RestError', statusCode: 404 });
  sim.setFaults([{ path: '/virtualNetworks/vnet-x$', status: 403 }]);
  await t.rejects(clients.network(SUB).virtualNetworks.get('rg-x', 'vnet-x', clients.call()), {
    statusCode: 403,
    code: 'AuthorizationFailed',
    message: /perform action 'Microsoft\.Network\/virtualNetworks\/read' over scope '.*\/virtualNetworks\/vnet-x'/,
  });
  const subnet = await clients.network(SUB).subnets.get('rg-x', 'vnet-x', 'snet-a', clients.call());
  t.equal(subnet.name, 'snet-a', 'the fault only hits matching paths');
  sim.setFaults([{ method: 'POST', path: 'effectiveRouteTable', status: 403 }]);
  await t.rejects(clients.network(SUB).networkInterfaces.beginGetEffectiveRouteTableAndWait('rg-x', 'nic-ci', clients.call()), {
    statusCode: 403,
    message: /Microsoft\.Network\/networkInterfaces\/effectiveRouteTable\/action/,
  });
});

t.test('faults with times answer a limited number of requests', async (t) => {
  sim.setFaults([{ path: 'computes', status: 503, times: 1 }]);
  await t.rejects(clients.ml(SUB).computeOperations.get('rg-x', 'ws-x', 'ci-1', clients.call()), { name: 'RestError', statusCode: 503 });
  const ci = await clients.ml(SUB).computeOperations.get('rg-x', 'ws-x', 'ci-1', clients.call());
  t.equal(ci.name, 'ci-1');
  t.same(sim.requests.map((r) => r.status), [503, 200]);
});

t.test('a query pattern limits a fault to some pages of a listing', async (t) => {
  sim.setFaults([{ path: 'privateDnsZones$', query: '\\$skiptoken=', status: 500 }]);
  await t.rejects(collect(clients.privateDns(SUB).privateZones.list(clients.call())), { name: 'RestError', statusCode: 500 });
  t.same(
    sim.requests.map((r) => [r.query.$skiptoken ?? 'first', r.status, r.fault ?? 'none']),
    [
      ['first', 200, 'none'],
      ['2', 500, 'status'],
    ],
    'the first page answers, the second fails',
  );
});

t.test('reset closes the connection without an answer', async (t) => {
  sim.setFaults([{ path: '/virtualNetworks/vnet-x$', kind: 'reset', times: 1 }]);
  await t.rejects(clients.network(SUB).virtualNetworks.get('rg-x', 'vnet-x', clients.call()), { code: 'ECONNRESET' });
  t.match(sim.requests[0], { status: 0, fault: 'reset' }, 'recorded without a status');
  const vnet = await clients.network(SUB).virtualNetworks.get('rg-x', 'vnet-x', clients.call());
  t.equal(vnet.name, 'vnet-x', 'the next request is answered (times: 1)');
  sim.setFaults([{ path: '/virtualNetworks/vnet-x$', kind: 'reset' }]);
  await t.rejects(raw(`${VNET}?api-version=2026-01-01`), { code: 'ECONNRESET' }, 'a plain HTTPS client sees the reset too');
});

t.test('malformed-json answers 200 with a body that is not JSON', async (t) => {
  sim.setFaults([{ path: '/virtualNetworks/vnet-x$', kind: 'malformed-json' }]);
  await t.rejects(clients.network(SUB).virtualNetworks.get('rg-x', 'vnet-x', clients.call()), { name: 'RestError', statusCode: 200 }, 'the SDK cannot parse it');
  t.match(sim.requests[0], { status: 200, fault: 'malformed-json' });
  const text = await new Promise<string>((resolve, reject) => {
    https
      .get(new URL(`${VNET}?api-version=2026-01-01`, sim.url), { ca: sim.caPem, headers: { authorization: 'Bearer raw-token' } }, (res) => {
        t.equal(res.statusCode, 200);
        t.match(res.headers['content-type'], /application\/json/);
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
  t.ok(text.startsWith('{"') && text.includes(`"id":"${VNET}"`), 'starts like the real answer');
  t.throws(() => JSON.parse(text), SyntaxError, 'but is cut short');
  sim.setFaults([{ method: 'POST', path: 'effectiveRouteTable$', kind: 'malformed-json' }]);
  await t.rejects(clients.network(SUB).networkInterfaces.beginGetEffectiveRouteTableAndWait('rg-x', 'nic-ci', clients.call()), { name: 'RestError', statusCode: 200 }, 'a long-running POST too');
});

t.test('hang never answers: the client gives up, close() ends the request', async (t) => {
  sim.setFaults([{ path: '/virtualNetworks/vnet-x$', kind: 'hang' }]);
  const impatient = createAzureClients({ armEndpoint: sim.url, ca: sim.caPem, credential: staticTokenCredential('x'), maxRetries: 0, timeoutMs: 300 });
  const started = Date.now();
  await t.rejects(impatient.network(SUB).virtualNetworks.get('rg-x', 'vnet-x', impatient.call()), { name: 'AbortError' });
  t.ok(Date.now() - started >= 250, 'only the per-call timeout ended it');
  t.match(sim.requests[0], { status: 0, fault: 'hang' });

  const own = await startArmSimulator({ scenario: { resources, faults: [{ path: 'vnet-x', kind: 'hang' }] } });
  const pending = new Promise<string>((resolve) => {
    https
      .get(new URL(`${VNET}?api-version=2026-01-01`, own.url), { ca: own.caPem, headers: { authorization: 'Bearer raw-token' } }, () => resolve('answered'))
      .on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
  while (own.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
  const closing = Date.now();
  await own.close();
  t.ok(Date.now() - closing < 1000, 'close() does not wait for the hung request');
  t.equal(await pending, 'ECONNRESET', 'the hung request ends when the simulator closes');
});

t.test('an operation that never finishes keeps answering InProgress until the client gives up', async (t) => {
  const stuck = await startArmSimulator({ scenario: { resources, operations: [{ resourceId: NIC, action: 'effectiveRouteTable', result: { value: [] }, neverFinishes: true }] } });
  t.teardown(() => stuck.close());
  const c = createAzureClients({ armEndpoint: stuck.url, ca: stuck.caPem, credential: staticTokenCredential('x'), maxRetries: 0, timeoutMs: 400, lroPollIntervalMs: 10 });
  const started = Date.now();
  await t.rejects(c.network(SUB).networkInterfaces.beginGetEffectiveRouteTableAndWait('rg-x', 'nic-ci', c.call()), { name: 'AbortError' });
  t.ok(Date.now() - started >= 350, 'ended by the per-call timeout');
  const polls = stuck.requests.filter((r) => /\/locations\//i.test(r.path));
  t.ok(polls.length >= 5, `polled repeatedly (${polls.length} polls)`);
  t.ok(
    polls.every((r) => r.path.split('/').at(-2) === 'operations' && r.status === 200),
    'only the status monitor was polled (it never said Succeeded)',
  );
});

t.test('protocol edges: bearer required, unknown shapes, read-only', async (t) => {
  const noAuth = await raw(`${VNET}?api-version=2026-01-01`, { auth: false });
  t.equal(noAuth.status, 401);
  t.match(noAuth.body, { error: { code: 'AuthenticationFailed' } });
  const ok = await raw(`${VNET.toLowerCase()}?api-version=2026-01-01&foo=bar`);
  t.equal(ok.status, 200, 'lower-cased path and extra query params');
  t.equal(sim.requests[1]?.query.foo, 'bar', 'extra query params recorded');
  for (const [method, path] of [
    ['GET', '/'],
    ['GET', '/nothing/here'],
    ['PUT', VNET],
    ['DELETE', VNET],
    ['PATCH', `/subscriptions/${SUB}`],
  ] as const) {
    const r = await raw(path, { method });
    t.equal(r.status, 400, `${method} ${path}`);
    t.match(r.body, { error: { code: 'InvalidRequest' } });
  }
  const rg = await raw(`${RG}?api-version=2021-04-01`);
  t.equal(rg.status, 200, 'a resource group with resources exists');
});

t.test('TLS fails without the CA', async (t) => {
  const untrusting = createAzureClients({ armEndpoint: sim.url, credential: staticTokenCredential('x'), maxRetries: 0, timeoutMs: 5_000 });
  await t.rejects(untrusting.network(SUB).virtualNetworks.get('rg-x', 'vnet-x', untrusting.call()), {
    code: /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/,
  });
  await t.rejects(raw(VNET, { ca: false }), { code: /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/ });
});

t.test('simulator options', async (t) => {
  await t.rejects(startArmSimulator({ scenario: { resources: [] }, host: '0.0.0.0' }), /loopback/, 'refuses a non-loopback host');
  t.throws(() => sim.setFaults([{ path: '(', status: 500 }]), /Invalid fault path/);

  const dir = await mkdtemp(join(tmpdir(), 'arm-sim-test-'));
  const file = await sim.writeCaFile(dir);
  t.equal(await readFile(file, 'utf8'), sim.caPem);

  const slow = await startArmSimulator({ scenario: { resources, operations }, pageSize: 10, lroPolls: 3, latencyMs: 40 });
  t.teardown(() => slow.close());
  const c = createAzureClients({ armEndpoint: slow.url, ca: slow.caPem, credential: staticTokenCredential('x'), maxRetries: 0, lroPollIntervalMs: 0 });
  const started = Date.now();
  const subnets = await collect(c.network(SUB).subnets.list('rg-x', 'vnet-x', c.call()));
  t.equal(subnets.length, 3);
  t.equal(slow.requests.length, 1, 'one page of 10');
  t.ok(Date.now() - started >= 35, 'latency delays the response');
  await c.network(SUB).networkInterfaces.beginGetEffectiveRouteTableAndWait('rg-x', 'nic-ci', c.call());
  const polls = slow.requests.filter((r) => /\/locations\//i.test(r.path)).map((r) => r.path.split('/').at(-2));
  t.same(polls, ['operations', 'operations', 'operations', 'operations', 'operationResults'], 'three polls still running, then done, then the result');
});

t.test('scenario files', async (t) => {
  t.match(SCENARIO_DIR, /test[\\/]fixtures[\\/]scenarios$/);
  const names = await listScenarios();
  t.same(names, [...names].sort(), 'sorted');
  const dir = await mkdtemp(join(tmpdir(), 'scenario-test-'));
  await t.rejects(loadScenario(join(dir, 'missing.json')), new RegExp(`missing\\.json' does not exist`));
  await writeFile(join(dir, 'bad.json'), '{ nope');
  await t.rejects(loadScenario(join(dir, 'bad.json')), /bad\.json' is not valid JSON/);
  await writeFile(join(dir, 'half.json'), JSON.stringify({ name: 'half', title: 'x', description: 'x', target: {}, resources: [{}], dns: {}, expect: { exitCode: 0, verdict: 'cause-found' } }));
  await t.rejects(loadScenario(join(dir, 'half.json')), /half\.json' is invalid: target\.workspaceId .*; resources\[0\]\.id/);
  const good = { name: 'good', title: 't', description: 'd', target: { workspaceId: WS }, resources, operations, dns: {}, expect: { exitCode: 0, verdict: 'no-cause-found' } };
  await writeFile(join(dir, 'good.json'), JSON.stringify(good));
  const loaded = await loadScenario(join(dir, 'good.json'));
  t.equal(loaded.resources.length, resources.length);
  await t.rejects(loadScenario('no-such-scenario-name'), /no-such-scenario-name\.json' does not exist/);

  const withFaults = (faults: unknown[]) => writeFile(join(dir, 'faults.json'), JSON.stringify({ ...good, name: 'faults', faults }));
  await withFaults([{ path: 'x', kind: 'hang' }, { path: 'y', kind: 'reset', times: 2 }, { path: 'z', query: '\\$skiptoken=', status: 503 }, { path: 'w', kind: 'malformed-json' }]);
  t.equal((await loadScenario(join(dir, 'faults.json'))).faults?.length, 4, 'reset, hang and malformed-json need no status');
  await withFaults([{ path: 'x' }, { path: 'y', kind: 'explode' }, { path: 'z', query: '(', status: 500 }]);
  await t.rejects(loadScenario(join(dir, 'faults.json')), /faults\[0\]\.status must be an HTTP status code; faults\[1\]\.kind must be one of status, reset, hang, malformed-json; faults\[2\]\.query is not a valid regular expression/);
});
