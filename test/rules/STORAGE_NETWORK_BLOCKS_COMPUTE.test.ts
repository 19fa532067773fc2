import t from 'tap';
import type { DependencyObs, DependencyPrivateEndpointObs, NetworkAclsObs, ProbeError, Snapshot } from '../../src/model/snapshot.ts';
import type { FlowAnalysis, FlowResult } from '../../src/flows/types.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/STORAGE_NETWORK_BLOCKS_COMPUTE.ts';
import { BICEP_API, type BicepType } from '../../src/rules/support-bicep.ts';
import { HUB_SUB, PE_SUBNET_ID, SPOKE_ID, SUB, SUBNET_ID, WS_ID, ZONE_RG, healthySnapshot, link, value } from '../helpers/snapshot.ts';
import { NO_FLOWS, fails, forbidden, passes } from '../helpers/results.ts';

const ST_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.Storage/storageAccounts/stdemo`;
const OTHER_VNET = `/subscriptions/${SUB}/resourceGroups/rg-other/providers/Microsoft.Network/virtualNetworks/vnet-other`;
const check = (s: Snapshot, flows: FlowAnalysis = NO_FLOWS) => rule.check(s, { flows });
/** The `resource <symbol> '<type>@<api>' = {` lines of a snippet, as `<type>` (with ` existing` when so). */
const declared = (bicep: string | undefined) => [...(bicep ?? '').matchAll(/^resource \w+ '([^@']+)@([^']+)'( existing)? = \{$/gm)].map((m) => `${m[1]}${m[3] ?? ''}${m[2] === BICEP_API[m[1] as BicepType] ? '' : ` (unexpected api ${m[2]})`}`);

function pe(group: string, subnetId: string, status = 'Approved'): DependencyPrivateEndpointObs {
  const rg = subnetId.split('/')[4] ?? 'rg';
  const sub = subnetId.split('/')[2] ?? SUB;
  return {
    privateEndpointId: `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network/privateEndpoints/pe-st-${group}`,
    status,
    groupIds: [group],
    endpoint: { ok: true, value: { subnetId, vnetId: subnetId.split('/').slice(0, -2).join('/'), ipAddresses: ['10.10.1.9'], fqdns: [`stdemo.${group}.core.windows.net`] } },
  };
}

function storage(network: Partial<NetworkAclsObs>, privateEndpoints: DependencyPrivateEndpointObs[] = []): DependencyObs {
  return {
    id: ST_ID, name: 'stdemo', kind: 'storage', location: 'eastus', sku: 'Standard_LRS',
    network: { publicNetworkAccess: 'Enabled', defaultAction: 'Deny', bypass: ['AzureServices'], virtualNetworkSubnetIds: [], ipRules: [], resourceAccessRules: [], ...network },
    privateEndpoints,
    hostNames: ['stdemo.blob.core.windows.net', 'stdemo.file.core.windows.net'],
  };
}

function withStorage(d: DependencyObs, s: Snapshot = healthySnapshot()): Snapshot {
  value(s.workspace).storageAccountId = d.id;
  s.dependencies = { ok: true, value: { resources: [{ id: d.id, kind: 'storage', observed: { ok: true, value: d } }] } };
  return s;
}

const subnet = (s: Snapshot) => {
  const sn = value(value(s.networks).vnets.find((v) => v.id === SPOKE_ID)?.observed).subnets[0];
  if (!sn) throw new Error('fixture');
  return sn;
};

/** A storage flow from the compute subnet whose destination hop is as given. */
function storageFlow(hop: FlowResult['hops'][number]): FlowAnalysis {
  const flow: FlowResult = {
    id: 'storage', subnetId: SUBNET_ID, computes: ['ci-alice'], direction: 'outbound', destination: 'stdemo.blob.core.windows.net (Storage.eastus)', ports: ['TCP 443', 'TCP 445'],
    authPath: false, verdict: hop.verdict, source: 'computed',
    hops: [{ kind: 'route', detail: 'system route', verdict: 'allowed' }, { kind: 'nsg', detail: 'no NSG on subnet snet-compute', verdict: 'allowed' }, hop],
  };
  return { flows: [flow], assumptions: [], managedNetwork: false };
}

t.test('fails: Deny with nothing for the compute, even though a resource instance rule admits the workspace', async (t) => {
  const s = withStorage(storage({ bypass: ['None'], resourceAccessRules: [{ tenantId: 'tid', resourceId: WS_ID }] }));
  const rs = check(s);
  const found = fails(rs);
  t.equal(found.length, 1);
  const f = found[0] as FindingDraft;
  t.equal(f.resourceId, ST_ID, 'blames the storage account');
  t.equal(f.confidence, 'medium');
  t.match(f.explanation, /Storage account stdemo \(rg-ml\) has network rules that deny by default/);
  t.match(f.explanation, /Nothing admits compute instance ci-alice in subnet snet-compute of vnet-spoke: no approved private endpoint for blob and file in vnet-spoke or a VNet peered with it and no virtual network rule for snet-compute/);
  t.notMatch(f.explanation, /shut out/, 'the workspace is admitted');
  t.same(f.remediation.azCli, [
    `az network private-endpoint create --subscription ${SUB} -g rg-net -n pe-stdemo-blob -l eastus --subnet ${SUBNET_ID} --private-connection-resource-id ${ST_ID} --group-id blob --connection-name pe-stdemo-blob`,
    `az network private-endpoint dns-zone-group create --subscription ${SUB} -g rg-net --endpoint-name pe-stdemo-blob -n default --private-dns-zone privatelink.blob.core.windows.net --zone-name blob`,
    `az network private-endpoint create --subscription ${SUB} -g rg-net -n pe-stdemo-file -l eastus --subnet ${SUBNET_ID} --private-connection-resource-id ${ST_ID} --group-id file --connection-name pe-stdemo-file`,
    `az network private-endpoint dns-zone-group create --subscription ${SUB} -g rg-net --endpoint-name pe-stdemo-file -n default --private-dns-zone privatelink.file.core.windows.net --zone-name file`,
  ]);
  t.match(f.remediation.summary, `az storage account network-rule add --subscription ${SUB} -g rg-ml --account-name stdemo --subnet ${SUBNET_ID}`, 'offers the service-endpoint way');
  t.match(f.remediation.summary, '--service-endpoints Microsoft.Storage');
  t.match(f.remediation.verify, `az storage account show --ids ${ST_ID}`);
  t.match(f.remediation.verify, `privateEndpointConnections[?ends_with(privateEndpoint.id, '/pe-stdemo-blob')].privateLinkServiceConnectionState.status | [0]`);
  t.match(f.remediation.verify, /prints Approved, Approved \(one per line\); then run aml-netdoctor recheck <report\.json>\.$/);
  const bicep = f.remediation.bicep;
  t.match(bicep, /^\/\/ Deploy to resource group rg-net \(subscription 1{8}-/, 'deployed where the endpoints go: the compute VNet group');
  t.same(declared(bicep), [
    'Microsoft.Network/privateEndpoints', 'Microsoft.Network/privateDnsZones existing', 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups',
    'Microsoft.Network/privateEndpoints', 'Microsoft.Network/privateDnsZones existing', 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups',
  ], 'blob and file endpoints with zone groups; the account itself is unchanged');
  t.match(bicep, `name: 'pe-stdemo-blob'`);
  t.match(bicep, `privateLinkServiceId: '${ST_ID}'`, 'names the real storage account');
  t.match(bicep, `id: '${SUBNET_ID}'`);
  t.match(bicep, /groupIds: \[\n\s+'file'\n/);
  t.match(bicep, `name: 'privatelink.file.core.windows.net'`);
  t.match(bicep, 'privateDnsZoneId: pe_stdemo_blob_zone.id');
  t.match(bicep, /privatelink\.blob\.core\.windows\.net was not found/, 'says the zone is assumed');
  t.same(f.flows, ['storage']);
  t.ok(f.subjects?.includes(`subnet:${SUBNET_ID.toLowerCase()}`));
  t.ok(f.evidence.some((e) => e.property === 'properties.networkAcls.defaultAction' && e.observed === 'Deny'));
  t.same(passes(rs), []);
});

t.test('fails: the workspace is shut out (no resource instance rule, no trusted-services bypass)', async (t) => {
  const s = withStorage(storage({ bypass: ['Logging'] }, [pe('blob', PE_SUBNET_ID), pe('file', PE_SUBNET_ID)]));
  const f = fails(check(s))[0];
  t.equal(f?.resourceId, ST_ID);
  t.match(f?.explanation, /Workspace ws-demo is shut out: no resource instance rule names workspace ws-demo and trusted Azure services may not bypass the rules \(bypass Logging\)/);
  t.same(f?.remediation.azCli, [`az storage account network-rule add --subscription ${SUB} -g rg-ml --account-name stdemo --resource-id ${WS_ID} --tenant-id $(az account show --subscription ${SUB} --query tenantId -o tsv)`]);
  t.match(f?.remediation.summary, `--bypass Logging AzureServices`, 'keeps the existing bypass values');
  t.equal(f?.flows, undefined, 'no compute flow is broken');
  const bicep = f?.remediation.bicep;
  t.match(bicep, /^\/\/ Deploy to resource group rg-ml /, 'deployed to the storage account group');
  t.same(declared(bicep), ['Microsoft.Storage/storageAccounts']);
  t.match(bicep, `name: 'stdemo'`);
  t.match(bicep, `sku: {\n    name: 'Standard_LRS'\n  }\n  kind: 'StorageV2'`, 'sku from the snapshot, kind assumed');
  t.match(bicep, /kind is not read, StorageV2 is assumed/);
  t.match(bicep, `location: 'eastus'`);
  t.match(bicep, `bypass: 'Logging'`, 'the bypass is kept as it is');
  t.match(bicep, `defaultAction: 'Deny'`);
  t.match(bicep, `resourceAccessRules: [\n        {\n          tenantId: subscription().tenantId\n          resourceId: '${WS_ID}'\n        }\n      ]`);
  t.equal(f?.remediation.verify, `az storage account show --ids ${ST_ID} --query "networkRuleSet.resourceAccessRules[?ends_with(resourceId, '/workspaces/ws-demo')].resourceId | [0]" -o tsv prints ${WS_ID}; then run aml-netdoctor recheck <report.json>.`);
});

t.test('passes: approved blob and file endpoints in the peered hub, trusted services bypass', async (t) => {
  const rs = check(withStorage(storage({}, [pe('blob', PE_SUBNET_ID), pe('file', PE_SUBNET_ID)])));
  t.same(fails(rs), []);
  t.match(passes(rs), [
    { resourceId: ST_ID, detail: /admits compute instance ci-alice in subnet snet-compute of vnet-spoke: approved private endpoints pe-st-blob \(blob\) and pe-st-file \(file\)/ },
    { resourceId: ST_ID, detail: /admits workspace ws-demo: trusted Azure services/ },
  ]);
});

t.test('passes: a wildcard resource instance rule admits the workspace, a service endpoint admits the compute', async (t) => {
  const s = withStorage(storage({ bypass: [], virtualNetworkSubnetIds: [SUBNET_ID.toUpperCase()], resourceAccessRules: [{ resourceId: `/subscriptions/${SUB}/resourceGroups/*/providers/Microsoft.MachineLearningServices/workspaces/*` }] }));
  subnet(s).serviceEndpoints = ['Microsoft.Storage'];
  const rs = check(s);
  t.same(fails(rs), []);
  t.match(passes(rs), [{ detail: /a virtual network rule for snet-compute, which has the Microsoft.Storage service endpoint/ }, { detail: /resource instance rule/ }]);
});

t.test('fails with the smallest fix', async (t) => {
  t.test('virtual network rule without the service endpoint on the subnet', async (t) => {
    const s = withStorage(storage({ virtualNetworkSubnetIds: [SUBNET_ID] }));
    subnet(s).serviceEndpoints = ['Microsoft.KeyVault'];
    const f = fails(check(s))[0];
    t.match(f?.explanation, /the virtual network rule for snet-compute does not take effect: the subnet lacks the Microsoft.Storage service endpoint/);
    t.same(f?.remediation.azCli, [`az network vnet subnet update --subscription ${SUB} -g rg-net --vnet-name vnet-spoke -n snet-compute --service-endpoints Microsoft.KeyVault Microsoft.Storage`]);
    t.same(declared(f?.remediation.bicep), ['Microsoft.Network/virtualNetworks existing', 'Microsoft.Network/virtualNetworks/subnets']);
    t.match(f?.remediation.bicep, /^\/\/ Deploy to resource group rg-net /);
    t.match(f?.remediation.bicep, `parent: vnet_vnet_spoke\n  name: 'snet-compute'\n  properties: {\n    addressPrefix: '10.20.1.0/24'`, 'the subnet keeps its prefix');
    t.match(f?.remediation.bicep, /serviceEndpoints: \[\n\s+\{\n\s+service: 'Microsoft.KeyVault'\n\s+\}\n\s+\{\n\s+service: 'Microsoft.Storage'/, 'keeps the other service endpoints');
    t.match(f?.remediation.verify, `az network vnet subnet show --ids ${SUBNET_ID} --query "serviceEndpoints[?service=='Microsoft.Storage'].provisioningState | [0]" -o tsv prints Succeeded; then run aml-netdoctor recheck`);
  });
  t.test('service endpoint on the subnet without the virtual network rule', async (t) => {
    const s = withStorage(storage({}));
    subnet(s).serviceEndpoints = ['Microsoft.Storage'];
    const f = fails(check(s))[0];
    t.same(f?.remediation.azCli, [`az storage account network-rule add --subscription ${SUB} -g rg-ml --account-name stdemo --subnet ${SUBNET_ID}`]);
    t.same(declared(f?.remediation.bicep), ['Microsoft.Storage/storageAccounts']);
    t.match(f?.remediation.bicep, `virtualNetworkRules: [\n        {\n          id: '${SUBNET_ID}'\n          action: 'Allow'\n        }\n      ]`);
    t.match(f?.remediation.bicep, 'resourceAccessRules: []', 'no resource instance rule when the workspace is admitted');
    t.match(f?.remediation.verify, `networkRuleSet.virtualNetworkRules[?ends_with(virtualNetworkResourceId, '/subnets/snet-compute')].state | [0]" -o tsv prints Succeeded`);
  });
  t.test('a pending file endpoint in the compute VNet is approved, not recreated', async (t) => {
    const s = withStorage(storage({}, [pe('blob', PE_SUBNET_ID), pe('file', SUBNET_ID, 'Pending')]));
    const f = fails(check(s))[0];
    t.match(f?.explanation, /private endpoint pe-st-file \(Pending\) for file is not approved/);
    t.same(f?.remediation.azCli, [
      `az network private-endpoint-connection list --id ${ST_ID} --query "[?contains(properties.privateEndpoint.id, 'pe-st-file')].name" -o tsv`,
      `az network private-endpoint-connection approve --subscription ${SUB} -g rg-ml --resource-name stdemo --type Microsoft.Storage/storageAccounts -n <connection name from the list command> --description "Approved for Azure ML compute"`,
    ]);
    t.same(declared(f?.remediation.bicep), [], 'an approval has no declaration');
    t.match(f?.remediation.bicep, /^\/\/ Deploy to resource group rg-ml [^]*Approving the connection of private endpoint pe-st-file on storage account stdemo cannot be expressed in Bicep/);
    t.match(f?.remediation.verify, `'/pe-st-file')].privateLinkServiceConnectionState.status | [0]" -o tsv prints Approved`);
  });
});

t.test('bicep: a zone found in another resource group is referenced there; storage and endpoints get a file each', async (t) => {
  const s = withStorage(storage({ bypass: [] }));
  const zoneId = `${ZONE_RG}/privatelink.blob.core.windows.net`;
  value(s.privateDnsZones).zones.push({ id: zoneId, name: 'privatelink.blob.core.windows.net', foundBy: ['subscription-list'], observed: { ok: true, value: { id: zoneId, name: 'privatelink.blob.core.windows.net', subscriptionId: HUB_SUB, resourceGroup: 'rg-dns', aRecords: { ok: true, value: [] }, links: { ok: true, value: [link(zoneId, SPOKE_ID, 'spoke')] } } } });
  const bicep = fails(check(s))[0]?.remediation.bicep ?? '';
  t.match(bicep, `resource pe_stdemo_blob_zone 'Microsoft.Network/privateDnsZones@${BICEP_API['Microsoft.Network/privateDnsZones']}' existing = {\n  scope: resourceGroup('${HUB_SUB}', 'rg-dns')\n  name: 'privatelink.blob.core.windows.net'\n}`);
  t.notMatch(bicep, /privatelink\.blob\.core\.windows\.net was not found/);
  t.match(bicep, /privatelink\.file\.core\.windows\.net was not found/, 'the file zone is still missing');
  const files = bicep.split(/^(?=\/\/ Deploy to resource group )/m);
  t.equal(files.length, 2);
  t.match(files[0], /^\/\/ Deploy to resource group rg-ml [^]*File 1 of 2[^]*resource account 'Microsoft.Storage\/storageAccounts@/, 'the account (shut out workspace) first');
  t.match(files[1], /^\/\/ Deploy to resource group rg-net [^]*File 2 of 2[^]*resource pe_stdemo_blob /);
  t.match(fails(check(s))[0]?.remediation.verify, /prints Approved, Approved, \/subscriptions\/.*\/workspaces\/ws-demo \(one per line\); then run aml-netdoctor recheck/);
});

t.test('fails: public access disabled ignores the virtual network rule; an endpoint in an unpeered VNet does not count', async (t) => {
  const s = withStorage(storage({ publicNetworkAccess: 'Disabled', defaultAction: 'Allow', virtualNetworkSubnetIds: [SUBNET_ID] }, [pe('blob', `${OTHER_VNET}/subnets/snet-pe`), pe('file', `${OTHER_VNET}/subnets/snet-pe`)]));
  subnet(s).serviceEndpoints = ['Microsoft.Storage'];
  const f = fails(check(s))[0];
  t.equal(f?.resourceId, ST_ID);
  t.match(f?.explanation, /has public network access disabled\./);
  t.match(f?.explanation, /\(pe-st-blob and pe-st-file sit in vnet-other, which vnet-spoke does not peer with\)/);
  t.match(f?.explanation, /public network access is Disabled, so virtual network rules do not apply/);
  t.notMatch(f?.remediation.summary, /Alternatively/, 'no service-endpoint way with public access disabled');
  t.ok(f?.remediation.azCli.some((c) => c.includes('--group-id file')));
});

t.test('flow analysis', async (t) => {
  t.test('a blocked destination hop decides, even where the configuration looked open', async (t) => {
    const s = withStorage(storage({ virtualNetworkSubnetIds: [SUBNET_ID] }));
    subnet(s).serviceEndpoints = ['Microsoft.Storage'];
    const hopDetail = 'storage account stdemo denies the compute subnet (defaultAction Deny)';
    const f = fails(check(s, storageFlow({ kind: 'destination', resourceId: ST_ID, detail: hopDetail, verdict: 'blocked', reason: 'destination-network-rules' })))[0];
    t.equal(f?.resourceId, ST_ID);
    t.match(f?.explanation, hopDetail);
    t.ok(f?.evidence.some((e) => e.property === 'flow storage from snet-compute: destination hop' && e.observed.includes('destination-network-rules')));
    t.ok(f?.remediation.azCli.some((c) => c.includes('--group-id blob')), 'falls back to private endpoints');
  });
  t.test('an allowed destination hop passes', async (t) => {
    const s = withStorage(storage({}));
    const rs = check(s, storageFlow({ kind: 'destination', resourceId: ST_ID, detail: 'service endpoint rule admits snet-compute', verdict: 'allowed' }));
    t.same(fails(rs), []);
    t.match(passes(rs), [{ detail: /the flow analysis lets storage through at the destination: service endpoint rule admits snet-compute/ }]);
  });
  t.test('an allowed destination behind a blocked route does not open a path', async (t) => {
    const s = withStorage(storage({}, [pe('blob', `${OTHER_VNET}/subnets/snet-pe`), pe('file', `${OTHER_VNET}/subnets/snet-pe`)]));
    const analysis = storageFlow({ kind: 'destination', resourceId: ST_ID, detail: 'Private endpoint pe-st-blob (10.10.1.9) of stdemo is Approved.', verdict: 'allowed' });
    const flow = analysis.flows[0] as FlowResult;
    flow.hops[0] = { kind: 'route', detail: 'system None 10.0.0.0/8 -> None', verdict: 'blocked', reason: 'route-none' };
    flow.verdict = 'blocked';
    const f = fails(check(s, analysis))[0];
    t.equal(f?.resourceId, ST_ID);
    t.match(f?.explanation, /sit in vnet-other, which vnet-spoke does not peer with/);
  });
  t.test('a hop blocked for another reason leaves the decision to the configuration', async (t) => {
    const s = withStorage(storage({}, [pe('blob', PE_SUBNET_ID), pe('file', PE_SUBNET_ID)]));
    const rs = check(s, storageFlow({ kind: 'destination', detail: 'x', verdict: 'blocked', reason: 'nsg-deny' }));
    t.same(fails(rs), []);
  });
});

t.test('does not apply', async (t) => {
  t.match(check(withStorage(storage({ defaultAction: 'Allow' }))), [{ status: 'pass', resourceId: ST_ID, detail: /Does not apply: storage account stdemo accepts traffic from all networks/ }]);
  const managed = withStorage(storage({}));
  value(managed.workspace).managedNetwork = { isolationMode: 'AllowOnlyApprovedOutbound', status: 'Active', outboundRules: [] };
  const rs = rule.check(managed, { flows: { flows: [], assumptions: [], managedNetwork: true } });
  t.same(fails(rs), []);
  t.match(passes(rs), [{ detail: /admits workspace ws-demo/ }, { detail: /managed virtual network/ }]);
});

const gaps: Array<{ name: string; mutate: (s: Snapshot, e: { ok: false; error: ProbeError }) => void; reason?: RegExp }> = [
  { name: 'dependencies probe failed', mutate: (s, e) => (s.dependencies = e) },
  { name: 'storage account unreadable', mutate: (s, e) => (value(s.dependencies).resources[0] = { id: ST_ID, kind: 'storage', observed: e }) },
  { name: 'workspace unreadable', mutate: (s, e) => (s.workspace = e) },
  { name: 'computes unreadable', mutate: (s, e) => (s.computes = e) },
];

for (const g of gaps) {
  t.test(`undetermined: ${g.name}`, async (t) => {
    const s = withStorage(storage({}, [pe('blob', PE_SUBNET_ID), pe('file', PE_SUBNET_ID)]));
    const err = forbidden(g.name);
    g.mutate(s, err);
    const rs = check(s);
    t.same(fails(rs), []);
    t.ok(rs.some((r) => r.status === 'undetermined' && r.reason === err.error.message));
    t.notOk(rs.some((r) => r.status === 'pass' && /ci-alice/.test(r.detail)), 'never a compute pass on missing evidence');
  });
}

t.test('undetermined: the compute VNet is unreadable, so a hub endpoint may or may not be reachable', async (t) => {
  const s = withStorage(storage({}, [pe('blob', PE_SUBNET_ID), pe('file', PE_SUBNET_ID)]));
  const e = value(s.networks).vnets.find((v) => v.id === SPOKE_ID);
  if (e) e.observed = forbidden(SPOKE_ID);
  const rs = check(s);
  t.same(fails(rs), []);
  t.match(rs.filter((r) => r.status === 'undetermined'), [{ item: 'path from subnet snet-compute to storage account stdemo', reason: /whether vnet-spoke peers with vnet-hub is unknown: 403 AuthorizationFailed/ }]);
  t.notOk(rs.some((r) => r.status === 'pass' && /ci-alice/.test(r.detail)));
});

t.test('undetermined: IP rules might admit the compute egress address', async (t) => {
  const rs = check(withStorage(storage({ ipRules: ['203.0.113.0/24'] })));
  t.same(fails(rs), []);
  t.match(rs, [{ status: 'undetermined', reason: /IP rules \(203\.0\.113\.0\/24\)/ }]);
});

t.test('the hub being a peer is what makes its endpoint count', async (t) => {
  const s = withStorage(storage({}, [pe('blob', PE_SUBNET_ID), pe('file', PE_SUBNET_ID)]));
  value(value(s.networks).vnets.find((v) => v.id === SPOKE_ID)?.observed).peerings = [];
  const f = fails(check(s))[0];
  t.match(f?.explanation, /sit in vnet-hub, which vnet-spoke does not peer with/);
});

t.test('without a context the rule runs the flow analysis itself', async (t) => {
  const rs = rule.check(withStorage(storage({})));
  t.equal(fails(rs)[0]?.resourceId, ST_ID);
  t.ok(fails(rs)[0]?.evidence.some((e) => e.property === 'flow storage from snet-compute: destination hop'), 'the analysed storage flow is cited');
});
