import t from 'tap';
import { probe, splitBypass } from '../../probes/dependencies.ts';
import { probe as workspace } from '../../probes/workspace.ts';
import type { ProbeContext } from '../../probes/probe.ts';
import type { ScenarioResource } from '../../src/sim/scenario.ts';
import type { DependenciesObs, DependencyObs } from '../../src/model/snapshot.ts';
import { exactly, gets, runProbes, snapshotWith, wire, withSim } from '../helpers/sim.ts';
import { HUB_ID, HUB_SUB, PE_SUBNET_ID, SUB, SUBNET_ID, WS_GUID, WS_ID } from '../helpers/snapshot.ts';

const ACR_SUB = '55555555-5555-5555-5555-555555555555';
const TENANT = '0e0e0e0e-0000-4000-8000-000000000001';
const ST_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.Storage/storageAccounts/stdemo`;
const KV_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.KeyVault/vaults/kv-demo`;
const ACR_ID = `/subscriptions/${ACR_SUB}/resourceGroups/rg-shared/providers/Microsoft.ContainerRegistry/registries/acrdemo`;
const HUB_NET = `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network`;
const PE_BLOB = `${HUB_NET}/privateEndpoints/pe-st-blob`;
const PE_FILE = `${HUB_NET}/privateEndpoints/pe-st-file`;
const PE_FILE_NIC = `${HUB_NET}/networkInterfaces/pe-st-file.nic`;
const PE_KV = `${HUB_NET}/privateEndpoints/pe-kv`;
const PE_ACR_GONE = `/subscriptions/${ACR_SUB}/resourceGroups/rg-shared/providers/Microsoft.Network/privateEndpoints/pe-acr-deleted`;

/** A private endpoint connection as a storage account, key vault or registry lists it. */
function connection(resourceId: string, peId: string, status = 'Approved'): Record<string, unknown> {
  return {
    id: `${resourceId}/privateEndpointConnections/${peId.split('/').pop()}.1234`,
    name: `${peId.split('/').pop()}.1234`,
    properties: { privateEndpoint: { id: peId }, privateLinkServiceConnectionState: { status, description: '', actionsRequired: 'None' }, provisioningState: 'Succeeded' },
  };
}

function estate(): ScenarioResource[] {
  return [
    wire.workspace({ workspaceId: WS_GUID, storageAccount: ST_ID, keyVault: KV_ID, containerRegistry: ACR_ID }),
    {
      id: ST_ID,
      location: 'East US',
      kind: 'StorageV2',
      sku: { name: 'Standard_LRS', tier: 'Standard' },
      properties: {
        publicNetworkAccess: 'Enabled',
        networkAcls: {
          bypass: 'Logging, Metrics,AzureServices',
          defaultAction: 'Deny',
          ipRules: [{ value: '203.0.113.0/24', action: 'Allow' }],
          virtualNetworkRules: [{ id: SUBNET_ID, action: 'Allow', state: 'Succeeded' }],
          resourceAccessRules: [{ tenantId: TENANT, resourceId: WS_ID }],
        },
        primaryEndpoints: { blob: 'https://stdemo.blob.core.windows.net/', file: 'https://stdemo.file.core.windows.net/', queue: 'https://stdemo.queue.core.windows.net/' },
        privateEndpointConnections: [connection(ST_ID, PE_BLOB), connection(ST_ID, PE_FILE, 'Pending')],
      },
    },
    wire.privateEndpoint(PE_BLOB, PE_SUBNET_ID, {
      privateLinkServiceConnections: [wire.plsConnection('pe-st-blob', ST_ID, ['blob'])],
      customDnsConfigs: [{ fqdn: 'stdemo.blob.core.windows.net', ipAddresses: ['10.10.1.6'] }],
    }),
    // DNS through a zone group only: no customDnsConfigs, the NIC has the IP.
    wire.privateEndpoint(PE_FILE, PE_SUBNET_ID, {
      manualPrivateLinkServiceConnections: [wire.plsConnection('pe-st-file', ST_ID, ['file'], 'Pending')],
      networkInterfaces: [{ id: PE_FILE_NIC }],
    }),
    wire.nic(PE_FILE_NIC, [{ ip: '10.10.1.7', fqdns: ['stdemo.file.core.windows.net'] }]),
    {
      id: KV_ID,
      location: 'eastus',
      properties: {
        tenantId: TENANT,
        sku: { family: 'A', name: 'standard' },
        vaultUri: 'https://kv-demo.vault.azure.net/',
        publicNetworkAccess: 'Disabled',
        networkAcls: { bypass: 'AzureServices', defaultAction: 'Deny', ipRules: [{ value: '198.51.100.7/32' }], virtualNetworkRules: [{ id: SUBNET_ID.toLowerCase(), ignoreMissingVnetServiceEndpoint: false }] },
        privateEndpointConnections: [{ id: `${KV_ID}/privateEndpointConnections/pe-kv`, properties: { privateEndpoint: { id: PE_KV }, privateLinkServiceConnectionState: { status: 'Approved' }, provisioningState: 'Succeeded' } }],
      },
    },
    wire.privateEndpoint(PE_KV, PE_SUBNET_ID, {
      privateLinkServiceConnections: [wire.plsConnection('pe-kv', KV_ID, ['vault'])],
      customDnsConfigs: [{ fqdn: 'kv-demo.vault.azure.net', ipAddresses: ['10.10.1.8'] }],
    }),
    {
      id: ACR_ID,
      location: 'eastus',
      sku: { name: 'Premium', tier: 'Premium' },
      properties: {
        loginServer: 'acrdemo.azurecr.io',
        publicNetworkAccess: 'Enabled',
        networkRuleSet: { defaultAction: 'Deny', ipRules: [{ action: 'Allow', value: '192.0.2.10' }] },
        networkRuleBypassOptions: 'AzureServices',
        privateEndpointConnections: [connection(ACR_ID, PE_ACR_GONE)],
      },
    },
  ];
}

async function run(ctx: ProbeContext): Promise<DependenciesObs> {
  const snapshot = await runProbes(ctx, [workspace]);
  const out = await probe.run(ctx, snapshot);
  if (!out.ok) throw new Error(out.error.message);
  return out.value;
}

function valueOf(obs: DependenciesObs, kind: DependencyObs['kind']): DependencyObs {
  const entry = obs.resources.find((r) => r.kind === kind);
  if (!entry?.observed.ok) throw new Error(`${kind} not read`);
  return entry.observed.value;
}

t.test('maps the storage account: network rules, SKU, host names, both private endpoints', async (t) => {
  const { sim, ctx } = await withSim(t, estate());
  const obs = await run(ctx);
  t.same(obs.resources.map((r) => [r.id, r.kind, r.observed.ok]), [
    [ST_ID, 'storage', true],
    [KV_ID, 'key-vault', true],
    [ACR_ID, 'container-registry', true],
  ]);
  const st = valueOf(obs, 'storage');
  t.match(st, { id: ST_ID, name: 'stdemo', kind: 'storage', location: 'eastus', sku: 'Standard_LRS', hostNames: ['stdemo.blob.core.windows.net', 'stdemo.file.core.windows.net'] });
  t.same(st.network, {
    publicNetworkAccess: 'Enabled',
    defaultAction: 'Deny',
    bypass: ['Logging', 'Metrics', 'AzureServices'],
    virtualNetworkSubnetIds: [SUBNET_ID],
    ipRules: ['203.0.113.0/24'],
    resourceAccessRules: [{ tenantId: TENANT, resourceId: WS_ID }],
  });
  t.same(st.privateEndpoints, [
    { privateEndpointId: PE_BLOB, status: 'Approved', groupIds: ['blob'], endpoint: { ok: true, value: { subnetId: PE_SUBNET_ID, vnetId: HUB_ID, ipAddresses: ['10.10.1.6'], fqdns: ['stdemo.blob.core.windows.net'] } } },
    { privateEndpointId: PE_FILE, status: 'Pending', groupIds: ['file'], endpoint: { ok: true, value: { subnetId: PE_SUBNET_ID, vnetId: HUB_ID, ipAddresses: ['10.10.1.7'], fqdns: ['stdemo.file.core.windows.net'] } } },
  ]);
  t.equal(gets(sim, /pe-st-blob\.nic$/).length, 0, 'the NIC is read only when customDnsConfigs give no IP');
  t.equal(gets(sim, /Microsoft\.Storage\/storageAccounts\/stdemo$/).length, 1);
});

t.test('maps the key vault and the registry network rules', async (t) => {
  const { sim, ctx } = await withSim(t, estate());
  const obs = await run(ctx);
  const kv = valueOf(obs, 'key-vault');
  t.match(kv, { name: 'kv-demo', location: 'eastus', sku: 'standard', hostNames: ['kv-demo.vault.azure.net'] });
  t.same(kv.network, { publicNetworkAccess: 'Disabled', defaultAction: 'Deny', bypass: ['AzureServices'], virtualNetworkSubnetIds: [SUBNET_ID.toLowerCase()], ipRules: ['198.51.100.7/32'], resourceAccessRules: [] });
  t.match(kv.privateEndpoints, [{ privateEndpointId: PE_KV, status: 'Approved', groupIds: ['vault'], endpoint: { ok: true, value: { ipAddresses: ['10.10.1.8'] } } }]);

  const acr = valueOf(obs, 'container-registry');
  t.match(acr, { name: 'acrdemo', sku: 'Premium', hostNames: ['acrdemo.azurecr.io'] });
  t.same(acr.network, { publicNetworkAccess: 'Enabled', defaultAction: 'Deny', bypass: ['AzureServices'], virtualNetworkSubnetIds: [], ipRules: ['192.0.2.10'], resourceAccessRules: [] });
  t.equal(gets(sim, new RegExp(`^/subscriptions/${ACR_SUB}/.*/registries/acrdemo$`)).length, 1, 'read in its own subscription');
  // The registry's endpoint was deleted: that endpoint fails, the registry does not.
  t.match(acr.privateEndpoints, [{ privateEndpointId: PE_ACR_GONE, status: 'Approved', groupIds: [], endpoint: { ok: false, error: { kind: 'not-found', resourceId: PE_ACR_GONE } } }]);
});

t.test('a key vault the caller may not read fails only the key vault', async (t) => {
  const { ctx } = await withSim(t, estate(), { faults: [{ path: exactly(KV_ID), status: 403 }] });
  const obs = await run(ctx);
  t.same(obs.resources.map((r) => [r.kind, r.observed.ok]), [['storage', true], ['key-vault', false], ['container-registry', true]]);
  t.match(obs.resources[1]?.observed, { ok: false, error: { kind: 'forbidden', code: 'AuthorizationFailed', resourceId: KV_ID } });
  t.match(obs.resources[1]?.observed, { error: { message: /key vault/ } });
});

t.test('absent network rules stay undefined; a workspace without dependencies has none', async (t) => {
  const bare: ScenarioResource[] = [
    wire.workspace({ workspaceId: WS_GUID, keyVault: KV_ID }),
    { id: KV_ID, location: 'eastus', properties: { tenantId: TENANT, sku: { family: 'A', name: 'premium' }, vaultUri: 'https://kv-demo.vault.azure.net/' } },
  ];
  const { ctx } = await withSim(t, bare);
  const obs = await run(ctx);
  t.equal(obs.resources.length, 1);
  t.same(valueOf(obs, 'key-vault').network, { bypass: [], virtualNetworkSubnetIds: [], ipRules: [], resourceAccessRules: [] });
  t.same(valueOf(obs, 'key-vault').privateEndpoints, []);

  const { ctx: ctx2 } = await withSim(t, [wire.workspace({ workspaceId: WS_GUID })]);
  t.same((await run(ctx2)).resources, []);
});

t.test('is not attempted when the workspace could not be read', async (t) => {
  const { sim, ctx } = await withSim(t, []);
  const out = await probe.run(ctx, snapshotWith(ctx, { workspace: { ok: false, error: { kind: 'forbidden', message: '403' } } }));
  t.match(out, { ok: false, error: { kind: 'skipped', resourceId: WS_ID } });
  t.equal(sim.requests.length, 0);
});

t.test('bypass lists are split on commas and trimmed', async (t) => {
  t.same(splitBypass('Logging, Metrics'), ['Logging', 'Metrics']);
  t.same(splitBypass('None'), ['None']);
  t.same(splitBypass(undefined), []);
});
