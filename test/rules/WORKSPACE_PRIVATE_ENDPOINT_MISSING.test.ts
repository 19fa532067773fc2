import t from 'tap';
import type { ProbeError, ProbeId, Snapshot } from '../../src/model/snapshot.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/WORKSPACE_PRIVATE_ENDPOINT_MISSING.ts';
import { API_FQDN, API_ZONE_ID, CERT_FQDN, HUB_ID, NB_ZONE_ID, PE_ID, SPOKE_ID, SUB, SUBNET_ID, WS_ID, healthySnapshot, value } from '../helpers/snapshot.ts';
import { fails, forbidden, passes } from '../helpers/results.ts';
import { BICEP_API } from '../../src/rules/support-bicep.ts';

const vnet = (s: Snapshot, id: string) => {
  const e = value(s.networks).vnets.find((v) => v.id === id);
  return value(e?.observed);
};
const pe = (s: Snapshot) => value(value(s.privateEndpoints).endpoints[0]?.observed);

/** The endpoint moved to a VNet that has no peering with the compute VNet. */
function unpeered(s: Snapshot): void {
  vnet(s, SPOKE_ID).peerings = [];
  vnet(s, HUB_ID).peerings = [];
}

t.test('healthy snapshot: no fail, the spoke passes through its peering with the hub', async (t) => {
  const rs = rule.check(healthySnapshot());
  t.same(fails(rs), []);
  t.equal(passes(rs).length, 1);
  t.match(passes(rs)[0], { resourceId: SPOKE_ID, detail: /pe-ws-demo sits in vnet-hub/ });
});

const failing: Array<{ name: string; mutate: (s: Snapshot) => void; explanation: RegExp; peerings: string }> = [
  { name: 'endpoint in a VNet that is not peered with the compute VNet', mutate: unpeered, explanation: /pe-ws-demo in vnet-hub\) sit in VNets that have no peering with vnet-spoke/, peerings: 'no peerings' },
  {
    name: 'workspace without any private endpoint',
    mutate: (s) => {
      value(s.privateEndpoints).endpoints = [];
      value(s.workspace).privateEndpointConnections = [];
    },
    explanation: /has no private endpoint at all/,
    peerings: HUB_ID,
  },
];

for (const v of failing) {
  t.test(`fails: ${v.name}`, async (t) => {
    const s = healthySnapshot();
    v.mutate(s);
    const found = fails(rule.check(s));
    t.equal(found.length, 1);
    const f = found[0] as FindingDraft;
    t.equal(f.resourceId, SPOKE_ID, 'blames the compute VNet');
    t.match(f.explanation, v.explanation);
    t.match(f.explanation, /ci-alice in vnet-spoke/);
    t.ok(f.evidence.some((e) => e.resourceId === WS_ID && e.property === 'properties.publicNetworkAccess' && e.observed === 'Disabled'), 'workspace evidence');
    t.ok(f.evidence.some((e) => e.resourceId === SPOKE_ID && e.property?.startsWith('properties.virtualNetworkPeerings') && e.observed === v.peerings), 'peering evidence');
    t.match(f.remediation.azCli[0], `az network private-endpoint create --subscription ${SUB} -g rg-net -n pe-ws-demo-vnet-spoke -l eastus --vnet-name vnet-spoke --subnet snet-compute --private-connection-resource-id ${WS_ID} --group-id amlworkspace`);
    t.ok(f.remediation.azCli.some((c) => c.includes(`dns-zone-group create --subscription ${SUB} -g rg-net --endpoint-name pe-ws-demo-vnet-spoke -n default --private-dns-zone ${API_ZONE_ID} --zone-name api`)));
    t.ok(f.remediation.azCli.some((c) => c.includes(`dns-zone-group add --subscription ${SUB} -g rg-net --endpoint-name pe-ws-demo-vnet-spoke -n default --private-dns-zone ${NB_ZONE_ID} --zone-name notebooks`)));
    t.match(f.remediation.verify, `nslookup ${API_FQDN}`);
    t.match(f.remediation.verify, /then run aml-netdoctor recheck <report\.json>/);
    const bicep = f.remediation.bicep;
    t.match(bicep, `az deployment group create --subscription ${SUB} -g rg-net -f fix.bicep`, 'deploys to the compute VNet resource group');
    t.match(bicep, `resource pe 'Microsoft.Network/privateEndpoints@${BICEP_API['Microsoft.Network/privateEndpoints']}' = {\n  name: 'pe-ws-demo-vnet-spoke'\n  location: 'eastus'`);
    t.match(bicep, `resource vnet 'Microsoft.Network/virtualNetworks@${BICEP_API['Microsoft.Network/virtualNetworks']}' existing = {\n  name: 'vnet-spoke'\n}`);
    t.match(bicep, `parent: vnet\n  name: 'snet-compute'`, 'the compute subnet');
    t.match(bicep, `privateLinkServiceId: '${WS_ID}'\n          groupIds: [\n            'amlworkspace'\n          ]`);
    t.match(bicep, `resource zoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@${BICEP_API['Microsoft.Network/privateEndpoints/privateDnsZoneGroups']}' = {\n  parent: pe`);
    t.match(bicep, `name: 'api'\n        properties: {\n          privateDnsZoneId: '${API_ZONE_ID}'`);
    t.match(bicep, `name: 'notebooks'\n        properties: {\n          privateDnsZoneId: '${NB_ZONE_ID}'`);
    t.ok(f.subjects?.includes(`name:${API_FQDN}`) && f.subjects.includes(`name:${CERT_FQDN}`), 'subjects name the workspace FQDNs');
    t.equal(f.confidence, 'medium');
  });
}

const notThisRule: Array<{ name: string; mutate: (s: Snapshot) => void }> = [
  { name: 'spoke side of the peering Disconnected (VNET_PEERING_NOT_CONNECTED reports it)', mutate: (s) => ((vnet(s, SPOKE_ID).peerings[0] as { peeringState?: string }).peeringState = 'Disconnected') },
  {
    name: 'only the hub side of the peering exists, Disconnected',
    mutate: (s) => {
      vnet(s, SPOKE_ID).peerings = [];
      (vnet(s, HUB_ID).peerings[0] as { peeringState?: string }).peeringState = 'Disconnected';
    },
  },
  { name: 'hub side disallows virtual network access', mutate: (s) => ((vnet(s, HUB_ID).peerings[0] as { allowVirtualNetworkAccess?: boolean }).allowVirtualNetworkAccess = false) },
  {
    name: 'endpoint in the compute VNet itself',
    mutate: (s) => {
      unpeered(s);
      pe(s).vnetId = SPOKE_ID;
      pe(s).subnetId = SUBNET_ID;
    },
  },
];

for (const v of notThisRule) {
  t.test(`does not fail: ${v.name}`, async (t) => {
    const s = healthySnapshot();
    v.mutate(s);
    const rs = rule.check(s);
    t.same(fails(rs), []);
    t.equal(passes(rs).length, 1);
  });
}

t.test('public workspace: passes with a does-not-apply detail', async (t) => {
  const s = healthySnapshot();
  unpeered(s);
  value(s.workspace).publicNetworkAccess = 'Enabled';
  const rs = rule.check(s);
  t.equal(rs.length, 1);
  t.match(rs[0], { status: 'pass', resourceId: WS_ID, detail: /Does not apply/ });
});

const gaps: Array<{ name: string; mutate: (s: Snapshot, err: { ok: false; error: ProbeError }) => void }> = [
  { name: 'workspace unreadable', mutate: (s, e) => (s.workspace = e) },
  { name: 'computes unreadable', mutate: (s, e) => (s.computes = e) },
  { name: 'private endpoints unreadable', mutate: (s, e) => (s.privateEndpoints = e) },
  { name: 'networks unreadable', mutate: (s, e) => (s.networks = e) },
  { name: 'compute VNet unreadable', mutate: (s, e) => ((value(s.networks).vnets[0] as { observed: unknown }).observed = e) },
  {
    name: 'a second workspace endpoint unreadable while the readable one is not peered',
    mutate: (s, e) => {
      unpeered(s);
      value(s.privateEndpoints).endpoints.push({ id: `${PE_ID}-2`, observed: e });
    },
  },
];

for (const g of gaps) {
  t.test(`undetermined: ${g.name}`, async (t) => {
    const s = healthySnapshot();
    const err = forbidden(g.name);
    g.mutate(s, err);
    const rs = rule.check(s);
    t.same(passes(rs), [], 'never a pass on missing evidence');
    t.same(fails(rs), []);
    t.ok(rs.some((r) => r.status === 'undetermined' && r.reason === err.error.message), 'reason is the probe error message');
  });
}

t.test('private DNS zones unreadable: the endpoint is still declared, the zone group is left to the user with a note', async (t) => {
  const s = healthySnapshot();
  unpeered(s);
  s.privateDnsZones = forbidden('private DNS zones');
  const f = fails(rule.check(s))[0] as FindingDraft;
  t.match(f.remediation.bicep, "resource pe 'Microsoft.Network/privateEndpoints@");
  t.notMatch(f.remediation.bicep, /resource zoneGroup/);
  t.match(f.remediation.bicep, '// The private DNS zones could not be read: add privatelink.api.azureml.ms and privatelink.notebooks.azure.net to a privateDnsZoneGroups child of pe.');
});

/** The snapshot with only these probes' keys. */
const only = (s: Snapshot, keys: readonly ProbeId[]): Snapshot => ({ target: s.target, collectedAt: s.collectedAt, ...Object.fromEntries(keys.map((k) => [k, s[k]])) });

t.test('meta.needs: the listed probes give the same results, and each of them is read', async (t) => {
  const s = healthySnapshot();
  unpeered(s);
  const full = rule.check(s);
  t.same(rule.check(only(s, rule.meta.needs)), full);
  for (const k of rule.meta.needs) t.notSame(rule.check(only(s, rule.meta.needs.filter((n) => n !== k))), full, `${k} is read`);
});
