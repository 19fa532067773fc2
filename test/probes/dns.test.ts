import t from 'tap';
import { pino } from 'pino';
import { probe } from '../../probes/dns.ts';
import type { DnsSettings, ProbeContext } from '../../probes/probe.ts';
import { createAzureClients, staticTokenCredential } from '../../src/azure/clients.ts';
import { CLOUDS } from '../../src/model/cloud.ts';
import type { DnsLookupObs, DnsObs, Observed, PrivateEndpointObs, Snapshot } from '../../src/model/snapshot.ts';
import { startDnsServer, type SimDnsServer } from '../../src/sim/dns-server.ts';
import type { ScenarioDnsAnswer } from '../../src/sim/scenario.ts';

const SUB = '11111111-2222-4333-8444-555555555555';
const GUID = '0d3c9a52-7e1f-4b6a-9c2d-1e2f3a4b5c6d';
const WS_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws-lab`;
const PE_ID = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe-ws-lab`;
const NIC_ID = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkInterfaces/pe-ws-lab.nic`;
const API = `${GUID}.workspace.eastus.api.azureml.ms`;
const API_PL = `${GUID}.workspace.eastus.privatelink.api.azureml.ms`;
const CERT = `${GUID}.workspace.eastus.cert.api.azureml.ms`;
const NB = `ml-ws-lab-eastus-${GUID}.eastus.notebooks.azure.net`;
const CI_OLD = 'ci-bob.eastus.instances.azureml.ms';
const CI_NEW = 'ci-bob.eastus.instances.ml.azure.ms';

/** The custom resolver in the compute VNet: api private, cert public, notebooks missing, CI broken. */
const customDns: Record<string, ScenarioDnsAnswer> = {
  [API]: { cname: [API_PL], a: ['10.1.0.5'] },
  [CERT]: { a: ['20.40.1.2'] },
  [NB]: { rcode: 'NXDOMAIN' },
  [CI_OLD]: { rcode: 'SERVFAIL' },
  [CI_NEW]: { a: ['10.1.0.5'] },
};

/** A second resolver, answering from public DNS. */
const publicDns: Record<string, ScenarioDnsAnswer> = {
  [API]: { cname: [API_PL, 'eastus.workspace.trafficmanager.example.net'], a: ['20.40.9.9'] },
  [CERT]: { a: ['20.40.9.10'] },
  [NB]: {},
  [CI_OLD]: { rcode: 'REFUSED' },
  [CI_NEW]: { cname: ['ci-bob.eastus.privatelink.example.net'] },
};

function privateEndpoint(): PrivateEndpointObs {
  return {
    id: PE_ID,
    name: 'pe-ws-lab',
    subscriptionId: SUB,
    resourceGroup: 'rg-net',
    connections: [{ name: 'pe-ws-lab', privateLinkServiceId: WS_ID, groupIds: ['amlworkspace'], status: 'Approved', manual: false }],
    customDnsConfigs: [
      { fqdn: API.toUpperCase(), ipAddresses: ['10.1.0.5'] },
      { fqdn: NB, ipAddresses: ['10.1.0.6'] },
      { fqdn: '*.eastus.inference.ml.azure.com', ipAddresses: ['10.1.0.7'] },
      { fqdn: 'wslabstorage.blob.core.windows.net', ipAddresses: ['10.1.0.8'] },
    ],
    networkInterfaceIds: [NIC_ID],
    nicIpConfigurations: { ok: true, value: [{ nicId: NIC_ID, privateIPAddress: '10.1.0.5', fqdns: [`${API}.`, CERT] }] },
    zoneGroups: { ok: true, value: [] },
  };
}

function snapshot(): Snapshot {
  return {
    target: { workspaceId: WS_ID, subscriptions: [], cloud: 'AzureCloud', dnsServers: [] },
    collectedAt: '2026-11-27T12:00:00.000Z',
    workspace: {
      ok: true,
      value: {
        id: WS_ID, name: 'ws-lab', subscriptionId: SUB, resourceGroup: 'rg-ml', location: 'eastus', workspaceGuid: GUID,
        publicNetworkAccess: 'Disabled', privateEndpointConnections: [], fqdns: { api: API, cert: CERT },
      },
    },
    computes: {
      ok: true,
      value: {
        computes: [
          { id: `${WS_ID}/computes/ci-bob`, name: 'ci-bob', computeType: 'ComputeInstance' },
          { id: `${WS_ID}/computes/cluster-1`, name: 'cluster-1', computeType: 'AmlCompute' },
        ],
      },
    },
    privateEndpoints: { ok: true, value: { endpoints: [{ id: PE_ID, observed: { ok: true, value: privateEndpoint() } }] } },
  };
}

const azure = createAzureClients({ credential: staticTokenCredential('x'), armEndpoint: 'https://127.0.0.1:9' });

function context(dns: Partial<DnsSettings>, signal = new AbortController().signal): ProbeContext {
  return {
    target: snapshot().target,
    cloud: CLOUDS.AzureCloud,
    azure,
    dns: { servers: [], timeoutMs: 1000, tries: 1, ...dns },
    log: pino({ level: 'silent' }),
    signal,
  };
}

function valueOf(o: Observed<DnsObs>): DnsObs {
  if (!o.ok) throw new Error(`expected ok, got ${o.error.kind}: ${o.error.message}`);
  return o.value;
}

function find(obs: DnsObs, name: string, resolver: string): DnsLookupObs {
  const l = obs.lookups.find((x) => x.name === name && x.resolver === resolver);
  if (!l) throw new Error(`no lookup of ${name} via ${resolver}`);
  return l;
}

let custom: SimDnsServer;
let pub: SimDnsServer;

t.before(async () => {
  custom = await startDnsServer({ answers: customDns });
  pub = await startDnsServer({ answers: publicDns });
});
t.teardown(async () => {
  await custom.close();
  await pub.close();
});

t.test('resolves workspace, private endpoint and compute instance names through one resolver', async (t) => {
  const obs = valueOf(await probe.run(context({ servers: [custom.address] }), snapshot()));
  t.same(obs.resolvers, [custom.address]);
  t.same(
    obs.lookups.map((l) => l.name),
    [API, CERT, CI_OLD, CI_NEW, NB].sort(),
    'api/cert/notebooks once each (case and trailing dot ignored), both instance names; no wildcard, no storage, no cluster',
  );

  t.match(find(obs, API, custom.address), { purpose: 'workspace-api', status: 'ok', cnames: [API_PL], addresses: ['10.1.0.5'] });
  t.match(find(obs, CERT, custom.address), { purpose: 'workspace-cert', status: 'ok', cnames: [], addresses: ['20.40.1.2'] });
  t.match(find(obs, NB, custom.address), { purpose: 'notebooks', status: 'nxdomain', cnames: [], addresses: [] });
  t.match(find(obs, CI_OLD, custom.address), { purpose: 'instance-name', computeName: 'ci-bob', status: 'servfail', addresses: [] });
  t.match(find(obs, CI_NEW, custom.address), { purpose: 'instance-name', computeName: 'ci-bob', status: 'ok', addresses: ['10.1.0.5'] });
  t.notOk('computeName' in find(obs, API, custom.address), 'workspace names carry no compute');
  t.notOk(obs.lookups.some((l) => 'message' in l), 'no error messages for plain DNS answers');
});

t.test('each resolver gets its own lookups', async (t) => {
  const obs = valueOf(await probe.run(context({ servers: [custom.address, pub.address] }), snapshot()));
  t.same(obs.resolvers, [custom.address, pub.address]);
  t.equal(obs.lookups.length, 10, '5 names x 2 resolvers');
  t.match(find(obs, API, pub.address), { status: 'ok', addresses: ['20.40.9.9'] });
  t.same(find(obs, API, pub.address).cnames, [API_PL, 'eastus.workspace.trafficmanager.example.net'], 'the whole CNAME chain');
  t.same(find(obs, API, custom.address).addresses, ['10.1.0.5']);
  t.match(find(obs, NB, pub.address), { status: 'nodata', addresses: [] }, 'the name exists without an A record');
  t.equal(find(obs, CI_OLD, pub.address).status, 'refused');
  t.match(find(obs, CI_NEW, pub.address), { status: 'nodata', cnames: ['ci-bob.eastus.privatelink.example.net'], addresses: [] }, 'a chain ending without A records');

  const order = obs.lookups.map((l) => `${l.name} ${l.resolver}`);
  t.same(order, [...order].sort(), 'sorted by name, then resolver');
});

t.test('a missing or failed workspace observation skips the probe', async (t) => {
  const failedWs = snapshot();
  failedWs.workspace = { ok: false, error: { kind: 'forbidden', message: '403 AuthorizationFailed reading ws-lab' } };
  const r1 = await probe.run(context({ servers: [custom.address] }), failedWs);
  t.equal(r1.ok, false);
  if (!r1.ok) {
    t.equal(r1.error.kind, 'skipped');
    t.match(r1.error.message, /403 AuthorizationFailed/);
  }

  const noWs = snapshot();
  delete noWs.workspace;
  const r2 = await probe.run(context({ servers: [custom.address] }), noWs);
  t.match(r2, { ok: false, error: { kind: 'skipped' } });
});

t.test('failed private endpoints still resolve the api, cert and instance names', async (t) => {
  const s = snapshot();
  s.privateEndpoints = { ok: false, error: { kind: 'forbidden', message: '403 reading pe-ws-lab' } };
  const obs = valueOf(await probe.run(context({ servers: [custom.address] }), s));
  t.same(obs.lookups.map((l) => l.name), [API, CERT, CI_OLD, CI_NEW].sort());
});

t.test('a resolver that never answers gives timeout within the configured timeout', async (t) => {
  const names = [API, CERT, NB, CI_OLD, CI_NEW];
  const silent = await startDnsServer({ answers: Object.fromEntries(names.map((n) => [n, { rcode: 'TIMEOUT' as const }])) });
  t.teardown(() => silent.close());
  const started = Date.now();
  const obs = valueOf(await probe.run(context({ servers: [silent.address], timeoutMs: 300, tries: 1 }), snapshot()));
  const elapsed = Date.now() - started;
  t.same(obs.lookups.map((l) => l.status), names.map(() => 'timeout'));
  t.ok(silent.queries.length >= names.length, 'the queries did reach the server');
  // c-ares rounds short timeouts up (300 ms takes ~600 ms); lookups run concurrently, not one after another.
  t.ok(elapsed < 2500, `finished in ${elapsed} ms`);
});

t.test('aborting cancels the lookups', async (t) => {
  const silent = await startDnsServer({ answers: { [API]: { rcode: 'TIMEOUT' }, [CERT]: { rcode: 'TIMEOUT' } } });
  t.teardown(() => silent.close());
  const s = snapshot();
  delete s.computes;
  delete s.privateEndpoints;
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const started = Date.now();
  const result = await probe.run(context({ servers: [silent.address], timeoutMs: 10_000, tries: 1 }, ac.signal), s);
  t.match(result, { ok: false, error: { kind: 'timeout' } });
  t.ok(Date.now() - started < 2000, 'returned soon after the abort');
});

t.test('no configured servers means the system resolver; no names means no queries', async (t) => {
  const s = snapshot();
  if (s.workspace?.ok) s.workspace.value.fqdns = {};
  delete s.computes;
  delete s.privateEndpoints;
  const obs = valueOf(await probe.run(context({ servers: [] }), s));
  t.same(obs, { resolvers: ['system'], lookups: [] });
});

t.test('an unusable server string is reported on each lookup', async (t) => {
  const obs = valueOf(await probe.run(context({ servers: ['not-a-dns-server', custom.address] }), snapshot()));
  const bad = obs.lookups.filter((l) => l.resolver === 'not-a-dns-server');
  t.equal(bad.length, 5);
  t.ok(bad.every((l) => l.status === 'error' && /not-a-dns-server/.test(l.message ?? '')));
  t.equal(find(obs, API, custom.address).status, 'ok', 'the other resolver still answers');
});

t.test('dependencies behind private endpoints are resolved too (purpose dependency); public ones are not', async (t) => {
  const s = snapshot();
  const REG = '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-ml/providers/Microsoft.ContainerRegistry/registries/crlab';
  const KV = '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-ml/providers/Microsoft.KeyVault/vaults/kv-lab';
  const acls = { bypass: [], virtualNetworkSubnetIds: [], ipRules: [], resourceAccessRules: [] };
  s.dependencies = {
    ok: true,
    value: {
      resources: [
        {
          id: REG,
          kind: 'container-registry',
          observed: {
            ok: true,
            value: {
              id: REG, name: 'crlab', kind: 'container-registry', network: acls, hostNames: ['crlab.azurecr.io'],
              privateEndpoints: [{ status: 'Approved', groupIds: ['registry'], endpoint: { ok: true, value: { ipAddresses: ['10.1.0.9'], fqdns: ['crlab.azurecr.io', 'crlab.eastus.data.azurecr.io'] } } }],
            },
          },
        },
        { id: KV, kind: 'key-vault', observed: { ok: true, value: { id: KV, name: 'kv-lab', kind: 'key-vault', network: acls, hostNames: ['kv-lab.vault.azure.net'], privateEndpoints: [] } } },
      ],
    },
  };
  const obs = valueOf(await probe.run(context({ servers: [custom.address] }), s));
  const deps = obs.lookups.filter((l) => l.purpose === 'dependency').map((l) => l.name);
  t.same(deps.sort(), ['crlab.azurecr.io', 'crlab.eastus.data.azurecr.io'], 'the registry names, once each; not the public key vault');
  t.equal(find(obs, 'crlab.azurecr.io', custom.address).status, 'nxdomain', 'asked of the resolver like every other name');
});
