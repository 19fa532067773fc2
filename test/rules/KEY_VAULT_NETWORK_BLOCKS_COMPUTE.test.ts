import t from 'tap';
import type { DependencyObs, DependencyPrivateEndpointObs, NetworkAclsObs, Snapshot } from '../../src/model/snapshot.ts';
import type { FlowAnalysis, FlowResult } from '../../src/flows/types.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/KEY_VAULT_NETWORK_BLOCKS_COMPUTE.ts';
import { BICEP_API, type BicepType } from '../../src/rules/support-bicep.ts';
import { PE_SUBNET_ID, SPOKE_ID, SUB, SUBNET_ID, healthySnapshot, value } from '../helpers/snapshot.ts';
import { NO_FLOWS, fails, forbidden, passes } from '../helpers/results.ts';

const KV_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.KeyVault/vaults/kv-demo`;
const check = (s: Snapshot, flows: FlowAnalysis = NO_FLOWS) => rule.check(s, { flows });
/** The `resource <symbol> '<type>@<api>' = {` lines of a snippet, as `<type>` (with ` existing` when so). */
const declared = (bicep: string | undefined) => [...(bicep ?? '').matchAll(/^resource \w+ '([^@']+)@([^']+)'( existing)? = \{$/gm)].map((m) => `${m[1]}${m[3] ?? ''}${m[2] === BICEP_API[m[1] as BicepType] ? '' : ` (unexpected api ${m[2]})`}`);

function pe(subnetId: string, status = 'Approved'): DependencyPrivateEndpointObs {
  return {
    privateEndpointId: `/subscriptions/${subnetId.split('/')[2]}/resourceGroups/${subnetId.split('/')[4]}/providers/Microsoft.Network/privateEndpoints/pe-kv`,
    status,
    groupIds: ['vault'],
    endpoint: { ok: true, value: { subnetId, ipAddresses: ['10.10.1.8'], fqdns: ['kv-demo.vault.azure.net'] } },
  };
}

function vault(network: Partial<NetworkAclsObs>, privateEndpoints: DependencyPrivateEndpointObs[] = []): DependencyObs {
  return {
    id: KV_ID, name: 'kv-demo', kind: 'key-vault', location: 'eastus', sku: 'standard',
    network: { publicNetworkAccess: 'Enabled', defaultAction: 'Deny', bypass: ['AzureServices'], virtualNetworkSubnetIds: [], ipRules: [], resourceAccessRules: [], ...network },
    privateEndpoints,
    hostNames: ['kv-demo.vault.azure.net'],
  };
}

function withVault(d: DependencyObs): Snapshot {
  const s = healthySnapshot();
  value(s.workspace).keyVaultId = d.id;
  s.dependencies = { ok: true, value: { resources: [{ id: d.id, kind: 'key-vault', observed: { ok: true, value: d } }] } };
  return s;
}

const subnet = (s: Snapshot) => {
  const sn = value(value(s.networks).vnets.find((v) => v.id === SPOKE_ID)?.observed).subnets[0];
  if (!sn) throw new Error('fixture');
  return sn;
};

t.test('fails: firewall denies by default and the compute has no endpoint or rule', async (t) => {
  const rs = check(withVault(vault({})));
  const f = fails(rs)[0] as FindingDraft;
  t.equal(f.resourceId, KV_ID, 'blames the key vault');
  t.match(f.explanation, /Key vault kv-demo \(rg-ml\) has network rules that deny by default/);
  t.match(f.explanation, /Nothing admits compute instance ci-alice in subnet snet-compute of vnet-spoke: no approved private endpoint for vault/);
  t.same(f.remediation.azCli, [
    `az network private-endpoint create --subscription ${SUB} -g rg-net -n pe-kv-demo-vault -l eastus --subnet ${SUBNET_ID} --private-connection-resource-id ${KV_ID} --group-id vault --connection-name pe-kv-demo-vault`,
    `az network private-endpoint dns-zone-group create --subscription ${SUB} -g rg-net --endpoint-name pe-kv-demo-vault -n default --private-dns-zone privatelink.vaultcore.azure.net --zone-name vault`,
  ]);
  t.match(f.remediation.summary, `az keyvault network-rule add --subscription ${SUB} -g rg-ml --name kv-demo --subnet ${SUBNET_ID}`);
  t.match(f.remediation.summary, '--service-endpoints Microsoft.KeyVault');
  t.match(f.remediation.verify, `az keyvault show --ids ${KV_ID}`);
  t.match(f.remediation.verify, `--query "properties.privateEndpointConnections[?ends_with(privateEndpoint.id, '/pe-kv-demo-vault')].privateLinkServiceConnectionState.status | [0]" -o tsv prints Approved; then run aml-netdoctor recheck <report.json>.`);
  t.match(f.remediation.bicep, /^\/\/ Deploy to resource group rg-net /, 'deployed to the compute VNet group');
  t.same(declared(f.remediation.bicep), ['Microsoft.Network/privateEndpoints', 'Microsoft.Network/privateDnsZones existing', 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups']);
  t.match(f.remediation.bicep, `name: 'pe-kv-demo-vault'`);
  t.match(f.remediation.bicep, `privateLinkServiceId: '${KV_ID}'`, 'names the real key vault');
  t.match(f.remediation.bicep, /groupIds: \[\n\s+'vault'\n/);
  t.match(f.remediation.bicep, `name: 'privatelink.vaultcore.azure.net'`);
  t.same(f.flows, ['key-vault']);
  t.same(passes(rs), []);
});

t.test('fails: trusted services may not bypass, so the workspace is shut out', async (t) => {
  const f = fails(check(withVault(vault({ bypass: ['None'] }, [pe(PE_SUBNET_ID)]))))[0];
  t.equal(f?.resourceId, KV_ID);
  t.match(f?.explanation, /Workspace ws-demo is shut out: trusted Azure services may not bypass the firewall \(bypass None\)/);
  t.same(f?.remediation.azCli, [`az keyvault update --subscription ${SUB} -g rg-ml --name kv-demo --bypass AzureServices`]);
  t.ok(f?.evidence.some((e) => e.property === 'properties.networkAcls.bypass' && e.observed === 'None'));
  const bicep = f?.remediation.bicep;
  t.match(bicep, /^\/\/ Deploy to resource group rg-ml /, 'deployed to the vault group');
  t.same(declared(bicep), ['Microsoft.KeyVault/vaults']);
  t.match(bicep, `name: 'kv-demo'\n  location: 'eastus'\n  properties: {\n    tenantId: subscription().tenantId\n    sku: {\n      family: 'A'\n      name: 'standard'\n    }`);
  t.match(bicep, `networkAcls: {\n      defaultAction: 'Deny'\n      bypass: 'AzureServices'`);
  t.match(bicep, /copy them in \(az keyvault show --ids \S+ --query properties\.accessPolicies\)/, 'warns about access policies');
  t.equal(f?.remediation.verify, `az keyvault show --ids ${KV_ID} --query "properties.networkAcls.bypass" -o tsv prints AzureServices; then run aml-netdoctor recheck <report.json>.`);
});

t.test('fails: the subnet has the rule but not the Microsoft.KeyVault service endpoint', async (t) => {
  const s = withVault(vault({ virtualNetworkSubnetIds: [SUBNET_ID] }));
  const f = fails(check(s))[0];
  t.same(f?.remediation.azCli, [`az network vnet subnet update --subscription ${SUB} -g rg-net --vnet-name vnet-spoke -n snet-compute --service-endpoints Microsoft.KeyVault`]);
  t.same(declared(f?.remediation.bicep), ['Microsoft.Network/virtualNetworks existing', 'Microsoft.Network/virtualNetworks/subnets']);
  t.match(f?.remediation.bicep, /serviceEndpoints: \[\n\s+\{\n\s+service: 'Microsoft.KeyVault'\n\s+\}\n\s+\]/);
  subnet(s).serviceEndpoints = ['Microsoft.KeyVault'];
  t.same(fails(check(s)), [], 'passes once the service endpoint is there');
});

t.test('fails: the subnet has the service endpoint but no virtual network rule; the vault declaration adds it', async (t) => {
  const s = withVault(vault({ ipRules: [], virtualNetworkSubnetIds: [] }));
  subnet(s).serviceEndpoints = ['Microsoft.KeyVault'];
  const f = fails(check(s))[0];
  t.same(f?.remediation.azCli, [`az keyvault network-rule add --subscription ${SUB} -g rg-ml --name kv-demo --subnet ${SUBNET_ID}`]);
  t.same(declared(f?.remediation.bicep), ['Microsoft.KeyVault/vaults']);
  t.match(f?.remediation.bicep, `virtualNetworkRules: [\n        {\n          id: '${SUBNET_ID}'\n        }\n      ]`);
  t.match(f?.remediation.verify, `properties.networkAcls.virtualNetworkRules[?ends_with(id, '/subnets/snet-compute')].id | [0]" -o tsv prints ${SUBNET_ID.toLowerCase()}`);
});

t.test('passes: approved vault endpoint in the peered hub and trusted-services bypass', async (t) => {
  const rs = check(withVault(vault({}, [pe(PE_SUBNET_ID)])));
  t.same(fails(rs), []);
  t.match(passes(rs), [{ resourceId: KV_ID, detail: /approved private endpoint pe-kv \(vault\)/ }, { resourceId: KV_ID, detail: /admits workspace ws-demo/ }]);
});

t.test('flow analysis: endpoint-not-approved at the destination fails', async (t) => {
  const flow: FlowResult = {
    id: 'key-vault', subnetId: SUBNET_ID, computes: ['ci-alice'], direction: 'outbound', destination: 'kv-demo.vault.azure.net', ports: ['TCP 443'], authPath: false, verdict: 'blocked', source: 'computed',
    hops: [{ kind: 'destination', resourceId: KV_ID, detail: 'private endpoint pe-kv connection is Pending', verdict: 'blocked', reason: 'endpoint-not-approved' }],
  };
  const f = fails(check(withVault(vault({}, [pe(SUBNET_ID, 'Pending')])), { flows: [flow], assumptions: [], managedNetwork: false }))[0];
  t.equal(f?.resourceId, KV_ID);
  t.match(f?.explanation, /private endpoint pe-kv \(Pending\) for vault is not approved/);
  t.match(f?.remediation.azCli[1], /az network private-endpoint-connection approve --subscription .* --resource-name kv-demo --type Microsoft.KeyVault\/vaults/);
});

t.test('does not apply: public vault; no key vault named', async (t) => {
  t.match(check(withVault(vault({ defaultAction: 'Allow' }))), [{ status: 'pass', detail: /Does not apply: key vault kv-demo accepts traffic from all networks/ }]);
  const s = healthySnapshot();
  s.dependencies = { ok: true, value: { resources: [] } };
  t.match(check(s), [{ status: 'pass', detail: /names no key vault/ }]);
});

t.test('undetermined: the key vault read failed', async (t) => {
  const s = withVault(vault({}));
  const err = forbidden(KV_ID);
  value(s.dependencies).resources[0] = { id: KV_ID, kind: 'key-vault', observed: err };
  const rs = check(s);
  t.same(rs, [{ status: 'undetermined', item: 'network rules of key vault kv-demo', reason: err.error.message, resourceId: KV_ID }]);
});

t.test('undetermined: the vault endpoint could not be read', async (t) => {
  const s = withVault(vault({}, [{ ...pe(PE_SUBNET_ID), endpoint: forbidden('pe-kv') }]));
  const rs = check(s);
  t.same(fails(rs), []);
  t.match(rs, [{ status: 'undetermined', reason: /403 AuthorizationFailed reading pe-kv/ }]);
  t.notOk(rs.some((r) => r.status === 'pass' && /ci-alice/.test(r.detail)));
});

t.test('undetermined: dependencies probe did not run although the workspace names a vault', async (t) => {
  const s = withVault(vault({}));
  delete s.dependencies;
  t.match(check(s), [{ status: 'undetermined', reason: /was not collected/, resourceId: KV_ID }]);
});
