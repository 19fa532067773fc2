import t from 'tap';
import { probe } from '../../probes/workspace.ts';
import { exactly, wire, withSim } from '../helpers/sim.ts';
import { API_FQDN, CERT_FQDN, PE_ID, SUB, WS_GUID, WS_ID } from '../helpers/snapshot.ts';

const RG = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers`;

function privateWorkspace(extra: Record<string, unknown> = {}) {
  return wire.workspace({
    workspaceId: WS_GUID,
    publicNetworkAccess: 'Disabled',
    allowPublicAccessWhenBehindVnet: false,
    storageAccount: `${RG}/Microsoft.Storage/storageAccounts/stdemo`,
    keyVault: `${RG}/Microsoft.KeyVault/vaults/kv-demo`,
    containerRegistry: `${RG}/Microsoft.ContainerRegistry/registries/crdemo`,
    applicationInsights: `${RG}/microsoft.insights/components/ai-demo`,
    imageBuildCompute: 'cpu-cluster',
    hbiWorkspace: true,
    v1LegacyMode: false,
    discoveryUrl: 'https://eastus.api.azureml.ms/discovery',
    privateEndpointConnections: [wire.wsConnection(PE_ID, 'Pending')],
    ...extra,
  });
}

t.test('maps the workspace, its private endpoint connections and derived names', async (t) => {
  const { sim, ctx } = await withSim(t, [privateWorkspace()]);
  const out = await probe.run(ctx);
  if (!out.ok) throw new Error(out.error.message);
  const ws = out.value;
  t.match(ws, {
    id: WS_ID,
    name: 'ws-demo',
    subscriptionId: SUB,
    resourceGroup: 'rg-ml',
    location: 'eastus', // 'East US' on the wire
    workspaceGuid: WS_GUID,
    publicNetworkAccess: 'Disabled',
    allowPublicAccessWhenBehindVnet: false,
    storageAccountId: `${RG}/Microsoft.Storage/storageAccounts/stdemo`,
    keyVaultId: `${RG}/Microsoft.KeyVault/vaults/kv-demo`,
    containerRegistryId: `${RG}/Microsoft.ContainerRegistry/registries/crdemo`,
    applicationInsightsId: `${RG}/microsoft.insights/components/ai-demo`,
    imageBuildCompute: 'cpu-cluster',
    hbiWorkspace: true,
    v1LegacyMode: false,
    discoveryUrl: 'https://eastus.api.azureml.ms/discovery',
  });
  t.same(ws.privateEndpointConnections, [
    { id: `${WS_ID}/privateEndpointConnections/pe-ws-demo`, name: 'pe-ws-demo', privateEndpointId: PE_ID, status: 'Pending', description: 'Auto-Approved', provisioningState: 'Succeeded' },
  ]);
  t.same(ws.fqdns, { api: API_FQDN, cert: CERT_FQDN });
  t.equal(ws.managedNetwork, undefined, 'no managed network on the wire -> undefined');
  t.equal(sim.requests[0]?.query['api-version'], '2025-09-01', 'asks for the api-version that carries managedNetwork');
});

t.test('reads the managed network from the raw body, which the SDK model drops', async (t) => {
  const managedNetwork = {
    isolationMode: 'AllowOnlyApprovedOutbound',
    status: { status: 'Inactive', sparkReady: false },
    outboundRules: {
      'storage-blob': { type: 'PrivateEndpoint', category: 'Required', status: 'Inactive', destination: { serviceResourceId: `${RG}/Microsoft.Storage/storageAccounts/stdemo`, subresourceTarget: 'blob' } },
      pypi: { type: 'FQDN', category: 'UserDefined', status: 'Active', destination: 'pypi.org' },
    },
  };
  const { ctx } = await withSim(t, [privateWorkspace({ managedNetwork })]);
  const out = await probe.run(ctx);
  if (!out.ok) throw new Error(out.error.message);
  t.same(out.value.managedNetwork, {
    isolationMode: 'AllowOnlyApprovedOutbound',
    status: 'Inactive',
    outboundRules: [
      { name: 'storage-blob', type: 'PrivateEndpoint', category: 'Required', status: 'Inactive', destination: managedNetwork.outboundRules['storage-blob'].destination },
      { name: 'pypi', type: 'FQDN', category: 'UserDefined', status: 'Active', destination: 'pypi.org' },
    ],
  });
});

t.test('without a workspace GUID no names are derived', async (t) => {
  const { ctx } = await withSim(t, [wire.workspace({ publicNetworkAccess: 'Enabled' })]);
  const out = await probe.run(ctx);
  if (!out.ok) throw new Error(out.error.message);
  t.same(out.value.fqdns, {});
  t.same(out.value.privateEndpointConnections, []);
});

t.test('a missing workspace is a not-found observation, not a throw', async (t) => {
  const { ctx } = await withSim(t, []);
  const out = await probe.run(ctx);
  t.equal(out.ok, false);
  if (out.ok) return;
  t.match(out.error, { kind: 'not-found', statusCode: 404, code: 'ResourceNotFound', resourceId: WS_ID });
  t.match(out.error.message, /reading workspace .*ws-demo/);
});

t.test('a workspace the caller may not read is a forbidden observation', async (t) => {
  const { ctx } = await withSim(t, [privateWorkspace()], { faults: [{ path: exactly(WS_ID), status: 403 }] });
  const out = await probe.run(ctx);
  t.equal(out.ok, false);
  if (out.ok) return;
  t.match(out.error, { kind: 'forbidden', statusCode: 403, code: 'AuthorizationFailed', resourceId: WS_ID });
  t.notMatch(out.error.message, /Bearer|test/, 'no token in the message');
});
