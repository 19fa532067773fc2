import t from 'tap';
import type { DependencyObs, DependencyPrivateEndpointObs, NetworkAclsObs, Snapshot } from '../../src/model/snapshot.ts';
import type { FlowAnalysis, FlowResult } from '../../src/flows/types.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/CONTAINER_REGISTRY_UNREACHABLE.ts';
import { BICEP_API, type BicepType } from '../../src/rules/support-bicep.ts';
import { PE_SUBNET_ID, SPOKE_ID, SUB, SUBNET_ID, healthySnapshot, value } from '../helpers/snapshot.ts';
import { NO_FLOWS, fails, forbidden, passes } from '../helpers/results.ts';

const ACR_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.ContainerRegistry/registries/acrdemo`;
const check = (s: Snapshot, flows: FlowAnalysis = NO_FLOWS) => rule.check(s, { flows });
/** The `resource <symbol> '<type>@<api>' = {` lines of a snippet, as `<type>` (with ` existing` when so). */
const declared = (bicep: string | undefined) => [...(bicep ?? '').matchAll(/^resource \w+ '([^@']+)@([^']+)'( existing)? = \{$/gm)].map((m) => `${m[1]}${m[3] ?? ''}${m[2] === BICEP_API[m[1] as BicepType] ? '' : ` (unexpected api ${m[2]})`}`);
const PE_TYPES = ['Microsoft.Network/privateEndpoints', 'Microsoft.Network/privateDnsZones existing', 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups'];

function pe(subnetId: string, status = 'Approved'): DependencyPrivateEndpointObs {
  return {
    privateEndpointId: `/subscriptions/${subnetId.split('/')[2]}/resourceGroups/${subnetId.split('/')[4]}/providers/Microsoft.Network/privateEndpoints/pe-acr`,
    status,
    groupIds: ['registry'],
    endpoint: { ok: true, value: { subnetId, ipAddresses: ['10.10.1.7'], fqdns: ['acrdemo.azurecr.io'] } },
  };
}

function registry(sku: string, network: Partial<NetworkAclsObs>, privateEndpoints: DependencyPrivateEndpointObs[] = []): DependencyObs {
  return {
    id: ACR_ID, name: 'acrdemo', kind: 'container-registry', location: 'eastus', sku,
    network: { publicNetworkAccess: 'Disabled', defaultAction: 'Deny', bypass: ['AzureServices'], virtualNetworkSubnetIds: [], ipRules: [], resourceAccessRules: [], ...network },
    privateEndpoints,
    hostNames: ['acrdemo.azurecr.io'],
  };
}

function withRegistry(d: DependencyObs): Snapshot {
  const s = healthySnapshot();
  value(s.workspace).containerRegistryId = d.id;
  s.dependencies = { ok: true, value: { resources: [{ id: d.id, kind: 'container-registry', observed: { ok: true, value: d } }] } };
  return s;
}

const CREATE_PE = [
  `az network private-endpoint create --subscription ${SUB} -g rg-net -n pe-acrdemo-registry -l eastus --subnet ${SUBNET_ID} --private-connection-resource-id ${ACR_ID} --group-id registry --connection-name pe-acrdemo-registry`,
  `az network private-endpoint dns-zone-group create --subscription ${SUB} -g rg-net --endpoint-name pe-acrdemo-registry -n default --private-dns-zone privatelink.azurecr.io --zone-name registry`,
];

t.test('fails: Premium registry with public access disabled and no endpoint the compute can reach', async (t) => {
  const rs = check(withRegistry(registry('Premium', {})));
  const f = fails(rs)[0] as FindingDraft;
  t.equal(f.resourceId, ACR_ID, 'blames the registry');
  t.match(f.explanation, /Container registry acrdemo \(rg-ml\) has public network access disabled and network rules that deny by default/);
  t.match(f.explanation, /no approved private endpoint for registry in vnet-spoke or a VNet peered with it/);
  t.same(f.remediation.azCli, CREATE_PE);
  t.notMatch(f.remediation.summary, /Alternatively/, 'no service-endpoint way for a registry');
  t.match(f.remediation.verify, `az acr show --ids ${ACR_ID}`);
  t.match(f.remediation.verify, /prints Approved; then run aml-netdoctor recheck <report\.json>\.$/);
  t.match(f.remediation.bicep, /^\/\/ Deploy to resource group rg-net /);
  t.same(declared(f.remediation.bicep), PE_TYPES, 'a Premium registry is not redeclared');
  t.match(f.remediation.bicep, `name: 'pe-acrdemo-registry'`);
  t.match(f.remediation.bicep, `privateLinkServiceId: '${ACR_ID}'`, 'names the real registry');
  t.match(f.remediation.bicep, /groupIds: \[\n\s+'registry'\n/);
  t.match(f.remediation.bicep, `name: 'privatelink.azurecr.io'`);
  t.same(f.flows, ['container-registry']);
  t.same(passes(rs), []);
});

t.test('fails: a network-restricted registry that is not Premium', async (t) => {
  const f = fails(check(withRegistry(registry('Standard', { publicNetworkAccess: 'Enabled' }))))[0];
  t.equal(f?.resourceId, ACR_ID);
  t.match(f?.explanation, /It is on the Standard SKU: private endpoints and network rules need Premium/);
  t.same(f?.remediation.azCli, [`az acr update --subscription ${SUB} -g rg-ml -n acrdemo --sku Premium`, ...CREATE_PE], 'upgrade first, then the endpoint');
  t.ok(f?.evidence.some((e) => e.property === 'sku.name' && e.observed === 'Standard' && e.expected === 'Premium'));
  const files = (f?.remediation.bicep ?? '').split(/^(?=\/\/ Deploy to resource group )/m);
  t.equal(files.length, 2, 'the registry and the endpoint live in different resource groups');
  t.match(files[0], /^\/\/ Deploy to resource group rg-ml [^]*File 1 of 2[^]*registry private endpoints need Premium/);
  t.same(declared(files[0]), ['Microsoft.ContainerRegistry/registries'], 'Premium first');
  t.match(files[0], `name: 'acrdemo'\n  location: 'eastus'\n  sku: {\n    name: 'Premium'\n  }`);
  t.match(files[0], `publicNetworkAccess: 'Enabled'\n    networkRuleSet: {\n      defaultAction: 'Deny'`, 'the network rules are kept');
  t.same(declared(files[1]), PE_TYPES);
  t.equal(f?.remediation.verify, `az acr show --ids ${ACR_ID} --query "[sku.name, privateEndpointConnections[?ends_with(privateEndpoint.id, '/pe-acrdemo-registry')].privateLinkServiceConnectionState.status | [0]]" -o tsv prints Premium, Approved (one per line); then run aml-netdoctor recheck <report.json>.`);
});

t.test('fails: Basic SKU even with an endpoint in the hub', async (t) => {
  const f = fails(check(withRegistry(registry('Basic', {}, [pe(PE_SUBNET_ID)]))))[0];
  t.same(f?.remediation.azCli, [`az acr update --subscription ${SUB} -g rg-ml -n acrdemo --sku Premium`]);
  t.equal(f?.flows, undefined, 'the compute path itself is fine');
  t.same(declared(f?.remediation.bicep), ['Microsoft.ContainerRegistry/registries']);
  t.match(f?.remediation.bicep, `name: 'Premium'`);
  t.match(f?.remediation.verify, `--query "sku.name" -o tsv prints Premium; then run aml-netdoctor recheck`);
});

t.test('passes: Premium registry with an approved endpoint in the peered hub VNet', async (t) => {
  const rs = check(withRegistry(registry('Premium', {}, [pe(PE_SUBNET_ID)])));
  t.same(fails(rs), []);
  t.match(passes(rs), [{ resourceId: ACR_ID, detail: /Container registry acrdemo admits compute instance ci-alice in subnet snet-compute of vnet-spoke: approved private endpoint pe-acr \(registry\) in vnet-spoke or a VNet peered with it/ }]);
});

t.test('fails: the hub endpoint stops counting once the peering is gone', async (t) => {
  const s = withRegistry(registry('Premium', {}, [pe(PE_SUBNET_ID)]));
  value(value(s.networks).vnets.find((v) => v.id === SPOKE_ID)?.observed).peerings = [];
  const f = fails(check(s))[0];
  t.match(f?.explanation, /\(pe-acr sits in vnet-hub, which vnet-spoke does not peer with\)/);
  t.same(f?.remediation.azCli, CREATE_PE);
});

t.test('flow analysis: destination-sku at the destination hop fails', async (t) => {
  const flow: FlowResult = {
    id: 'container-registry', subnetId: SUBNET_ID, computes: ['ci-alice'], direction: 'outbound', destination: 'acrdemo.azurecr.io', ports: ['TCP 443'], authPath: false, verdict: 'blocked', source: 'computed',
    hops: [{ kind: 'destination', resourceId: ACR_ID, detail: 'registry acrdemo is Standard while network-restricted', verdict: 'blocked', reason: 'destination-sku' }],
  };
  const f = fails(check(withRegistry(registry('Standard', { publicNetworkAccess: 'Enabled' })), { flows: [flow], assumptions: [], managedNetwork: false }))[0];
  t.ok(f?.evidence.some((e) => e.property === 'flow container-registry from snet-compute: destination hop' && /destination-sku/.test(e.observed)));
});

t.test('does not apply: no registry yet, or an open one', async (t) => {
  const s = healthySnapshot();
  s.dependencies = { ok: true, value: { resources: [] } };
  t.match(check(s), [{ status: 'pass', detail: /names no container registry/ }]);
  t.match(check(withRegistry(registry('Basic', { publicNetworkAccess: 'Enabled', defaultAction: 'Allow' }))), [{ status: 'pass', resourceId: ACR_ID, detail: /Does not apply/ }]);
});

t.test('undetermined: the registry endpoint could not be read', async (t) => {
  const rs = check(withRegistry(registry('Premium', {}, [{ ...pe(PE_SUBNET_ID), endpoint: forbidden('pe-acr') }])));
  t.same(fails(rs), []);
  t.same(passes(rs), []);
  t.match(rs, [{ status: 'undetermined', item: 'path from subnet snet-compute to container registry acrdemo', reason: /403 AuthorizationFailed reading pe-acr/ }]);
});

t.test('undetermined: dependencies probe failed', async (t) => {
  const s = withRegistry(registry('Premium', {}));
  const err = forbidden('dependencies');
  s.dependencies = err;
  t.match(check(s), [{ status: 'undetermined', reason: err.error.message, resourceId: ACR_ID }]);
});
