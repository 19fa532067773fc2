import t from 'tap';
import type { PeeringObs, ProbeError, ProbeId, Snapshot } from '../../src/model/snapshot.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/VNET_PEERING_NOT_CONNECTED.ts';
import { rule as peMissing } from '../../src/rules/WORKSPACE_PRIVATE_ENDPOINT_MISSING.ts';
import { API_FQDN, HUB_ID, HUB_SUB, SPOKE_ID, SUB, SUBNET_ID, WS_ID, healthySnapshot, value } from '../helpers/snapshot.ts';
import { fails, forbidden, passes } from '../helpers/results.ts';
import { BICEP_API } from '../../src/rules/support-bicep.ts';

const PEERING_TYPE = `'Microsoft.Network/virtualNetworks/virtualNetworkPeerings@${BICEP_API['Microsoft.Network/virtualNetworks/virtualNetworkPeerings']}'`;

/** The snippet for one side: deployed to its VNet's resource group, the peering child of that VNet pointing at the other. */
function sideParts(sub: string, rg: string, vnetName: string, peeringName: string, remoteId: string): string[] {
  return [
    `az deployment group create --subscription ${sub} -g ${rg} -f fix.bicep`,
    `existing = {\n  name: '${vnetName}'\n}\n\nresource peering ${PEERING_TYPE} = {\n  parent: vnet\n  name: '${peeringName}'\n  properties: {\n    remoteVirtualNetwork: {\n      id: '${remoteId}'\n    }\n    allowVirtualNetworkAccess: true`,
  ];
}
const spokeSide = (peeringName: string) => sideParts(SUB, 'rg-net', 'vnet-spoke', peeringName, HUB_ID);
const hubSide = (peeringName: string) => sideParts(HUB_SUB, 'rg-hub', 'vnet-hub', peeringName, SPOKE_ID);

const SPOKE_PEERING = `${SPOKE_ID}/virtualNetworkPeerings/spoke-to-hub`;
const HUB_PEERING = `${HUB_ID}/virtualNetworkPeerings/hub-to-spoke`;
const entry = (s: Snapshot, id: string) => {
  const e = value(s.networks).vnets.find((v) => v.id === id);
  if (!e) throw new Error('fixture');
  return e;
};
const vnet = (s: Snapshot, id: string) => value(entry(s, id).observed);
const peering = (s: Snapshot, id: string): PeeringObs => {
  const p = vnet(s, id).peerings[0];
  if (!p) throw new Error('fixture');
  return p;
};

t.test('healthy snapshot: the peering is Connected both ways', async (t) => {
  const rs = rule.check(healthySnapshot());
  t.same(fails(rs), []);
  t.match(passes(rs), [{ resourceId: SPOKE_PEERING, detail: /Connected with virtual network access allowed, and so is the peering back/ }]);
});

const failing: Array<{
  name: string;
  mutate: (s: Snapshot) => void;
  blamed: string;
  evidence: { resourceId: string; property: string; observed: string };
  azCli: string[];
  explanation: RegExp;
  bicep: string[];
}> = [
  {
    name: 'spoke side Disconnected, hub side deleted',
    mutate: (s) => {
      peering(s, SPOKE_ID).peeringState = 'Disconnected';
      vnet(s, HUB_ID).peerings = [];
    },
    blamed: SPOKE_PEERING,
    evidence: { resourceId: SPOKE_PEERING, property: 'properties.peeringState', observed: 'Disconnected' },
    azCli: [
      `az network vnet peering delete --subscription ${SUB} -g rg-net -n spoke-to-hub --vnet-name vnet-spoke`,
      `az network vnet peering create --subscription ${SUB} -g rg-net -n spoke-to-hub --vnet-name vnet-spoke --remote-vnet ${HUB_ID} --allow-vnet-access true`,
      `az network vnet peering create --subscription ${HUB_SUB} -g rg-hub -n vnet-hub-to-vnet-spoke --vnet-name vnet-hub --remote-vnet ${SPOKE_ID} --allow-vnet-access true`,
    ],
    explanation: /spoke-to-hub \(vnet-spoke -> vnet-hub\) is Disconnected and vnet-hub has no peering back to vnet-spoke/,
    bicep: [...spokeSide('spoke-to-hub'), ...hubSide('vnet-hub-to-vnet-spoke'), `It is Disconnected, which never recovers: delete it first (az network vnet peering delete --subscription ${SUB} -g rg-net -n spoke-to-hub --vnet-name vnet-spoke)`],
  },
  {
    name: 'spoke side Disconnected (hub side still listed)',
    mutate: (s) => (peering(s, SPOKE_ID).peeringState = 'Disconnected'),
    blamed: SPOKE_PEERING,
    evidence: { resourceId: SPOKE_PEERING, property: 'properties.peeringState', observed: 'Disconnected' },
    azCli: [
      `az network vnet peering delete --subscription ${SUB} -g rg-net -n spoke-to-hub --vnet-name vnet-spoke`,
      `az network vnet peering create --subscription ${SUB} -g rg-net -n spoke-to-hub --vnet-name vnet-spoke --remote-vnet ${HUB_ID} --allow-vnet-access true`,
    ],
    explanation: /spoke-to-hub \(vnet-spoke -> vnet-hub\) is Disconnected/,
    bicep: [...spokeSide('spoke-to-hub'), ...hubSide('hub-to-spoke')],
  },
  {
    name: 'hub side disallows virtual network access',
    mutate: (s) => (peering(s, HUB_ID).allowVirtualNetworkAccess = false),
    blamed: HUB_PEERING,
    evidence: { resourceId: HUB_PEERING, property: 'properties.allowVirtualNetworkAccess', observed: 'false' },
    azCli: [`az network vnet peering update --subscription ${HUB_SUB} -g rg-hub -n hub-to-spoke --vnet-name vnet-hub --allow-vnet-access true`],
    explanation: /hub-to-spoke \(vnet-hub -> vnet-spoke\) is allowVirtualNetworkAccess false/,
    // The hub side keeps its gateway transit: a redeploy that left it out would switch it off.
    bicep: [...spokeSide('spoke-to-hub'), ...hubSide('hub-to-spoke'), 'allowVirtualNetworkAccess: true\n    allowForwardedTraffic: true\n    allowGatewayTransit: true\n    useRemoteGateways: false'],
  },
  {
    name: 'spoke side Initiated, hub side never created',
    mutate: (s) => {
      peering(s, SPOKE_ID).peeringState = 'Initiated';
      vnet(s, HUB_ID).peerings = [];
    },
    blamed: SPOKE_PEERING,
    evidence: { resourceId: SPOKE_PEERING, property: 'properties.peeringState', observed: 'Initiated' },
    azCli: [`az network vnet peering create --subscription ${HUB_SUB} -g rg-hub -n vnet-hub-to-vnet-spoke --vnet-name vnet-hub --remote-vnet ${SPOKE_ID} --allow-vnet-access true`],
    explanation: /is Initiated/,
    bicep: [...spokeSide('spoke-to-hub'), ...hubSide('vnet-hub-to-vnet-spoke')],
  },
  {
    name: 'hub side Disconnected, spoke side deleted',
    mutate: (s) => {
      vnet(s, SPOKE_ID).peerings = [];
      peering(s, HUB_ID).peeringState = 'Disconnected';
    },
    blamed: HUB_PEERING,
    evidence: { resourceId: HUB_PEERING, property: 'properties.peeringState', observed: 'Disconnected' },
    azCli: [
      `az network vnet peering create --subscription ${SUB} -g rg-net -n vnet-spoke-to-vnet-hub --vnet-name vnet-spoke --remote-vnet ${HUB_ID} --allow-vnet-access true`,
      `az network vnet peering delete --subscription ${HUB_SUB} -g rg-hub -n hub-to-spoke --vnet-name vnet-hub`,
      `az network vnet peering create --subscription ${HUB_SUB} -g rg-hub -n hub-to-spoke --vnet-name vnet-hub --remote-vnet ${SPOKE_ID} --allow-vnet-access true`,
    ],
    explanation: /vnet-spoke has no peering to vnet-hub and hub-to-spoke \(vnet-hub -> vnet-spoke\) is Disconnected/,
    bicep: [...spokeSide('vnet-spoke-to-vnet-hub'), ...hubSide('hub-to-spoke'), `delete it first (az network vnet peering delete --subscription ${HUB_SUB} -g rg-hub -n hub-to-spoke --vnet-name vnet-hub)`],
  },
];

for (const v of failing) {
  t.test(`fails: ${v.name}`, async (t) => {
    const s = healthySnapshot();
    v.mutate(s);
    const rs = rule.check(s);
    const found = fails(rs);
    t.equal(found.length, 1);
    const f = found[0] as FindingDraft;
    t.equal(f.resourceId, v.blamed, 'blames the broken peering');
    t.match(f.explanation, v.explanation);
    t.match(f.explanation, /^Compute instance ci-alice sits in vnet-spoke, .* cannot reach 10\.10\.1\.4 for the workspace API and cert names/);
    t.ok(f.evidence.some((e) => e.resourceId === v.evidence.resourceId && e.property === v.evidence.property && e.observed === v.evidence.observed), 'key evidence');
    t.same(f.remediation.azCli, v.azCli);
    t.match(f.remediation.verify, /az network vnet peering show/);
    t.match(f.remediation.verify, /must each show state Connected and access true; then run aml-netdoctor recheck <report\.json>\.$/);
    for (const part of v.bicep) t.match(f.remediation.bicep, part, `bicep has: ${part.split('\n')[0]}`);
    t.equal(f.remediation.bicep.split(`resource peering ${PEERING_TYPE}`).length, 3, 'both sides declared');
    t.ok(f.subjects?.includes(`name:${API_FQDN}`));
    t.same(passes(rs), []);
    t.same(fails(peMissing.check(s)), [], 'WORKSPACE_PRIVATE_ENDPOINT_MISSING stays quiet: the peering exists');
  });
}

t.test('hub VNet unreadable: a Disconnected spoke side still fails, and the hub side is created only if missing', async (t) => {
  const s = healthySnapshot();
  peering(s, SPOKE_ID).peeringState = 'Disconnected';
  entry(s, HUB_ID).observed = forbidden(HUB_ID);
  const f = fails(rule.check(s))[0];
  t.equal(f?.resourceId, SPOKE_PEERING);
  t.match(f?.remediation.summary, /vnet-hub side .* was not readable/);
  t.ok(f?.remediation.azCli.some((c) => c.startsWith(`az network vnet peering create --subscription ${HUB_SUB} -g rg-hub -n vnet-hub-to-vnet-spoke`)));
  for (const part of hubSide('vnet-hub-to-vnet-spoke')) t.match(f?.remediation.bicep, part);
  t.match(f?.remediation.bicep, `// The vnet-hub side could not be read (403 AuthorizationFailed reading ${HUB_ID}): deploy this only if vnet-hub has no peering to vnet-spoke yet.`);
});

const notThisRule: Array<{ name: string; mutate: (s: Snapshot) => void }> = [
  {
    name: 'no peering at all (WORKSPACE_PRIVATE_ENDPOINT_MISSING reports it)',
    mutate: (s) => {
      vnet(s, SPOKE_ID).peerings = [];
      vnet(s, HUB_ID).peerings = [];
    },
  },
  {
    name: 'the endpoint sits in the compute VNet itself',
    mutate: (s) => {
      peering(s, SPOKE_ID).peeringState = 'Disconnected';
      const pe = value(value(s.privateEndpoints).endpoints[0]?.observed);
      pe.vnetId = SPOKE_ID;
      pe.subnetId = SUBNET_ID;
    },
  },
  { name: 'public workspace', mutate: (s) => ((peering(s, SPOKE_ID).peeringState = 'Disconnected'), (value(s.workspace).publicNetworkAccess = 'Enabled')) },
];

for (const v of notThisRule) {
  t.test(`does not fail: ${v.name}`, async (t) => {
    const s = healthySnapshot();
    v.mutate(s);
    const rs = rule.check(s);
    t.same(fails(rs), []);
    t.equal(rs.length, 1);
    t.match(rs[0], { status: 'pass', detail: /Does not apply/ });
  });
}

t.test('public workspace passes on the workspace id', async (t) => {
  const s = healthySnapshot();
  value(s.workspace).publicNetworkAccess = 'Enabled';
  t.match(rule.check(s), [{ status: 'pass', resourceId: WS_ID }]);
});

const gaps: Array<{ name: string; mutate: (s: Snapshot, err: { ok: false; error: ProbeError }) => void }> = [
  { name: 'networks probe failed', mutate: (s, e) => (s.networks = e) },
  { name: 'compute VNet unreadable', mutate: (s, e) => (entry(s, SPOKE_ID).observed = e) },
  { name: 'computes unreadable', mutate: (s, e) => (s.computes = e) },
  { name: 'private endpoints unreadable', mutate: (s, e) => (s.privateEndpoints = e) },
  { name: 'workspace unreadable', mutate: (s, e) => (s.workspace = e) },
];

for (const g of gaps) {
  t.test(`undetermined: ${g.name}`, async (t) => {
    const s = healthySnapshot();
    const err = forbidden(g.name);
    g.mutate(s, err);
    const rs = rule.check(s);
    t.same(passes(rs), [], 'never a pass on missing evidence');
    t.same(fails(rs), []);
    t.ok(rs.some((r) => r.status === 'undetermined' && r.reason === err.error.message));
  });
}

/** The snapshot with only these probes' keys. */
const only = (s: Snapshot, keys: readonly ProbeId[]): Snapshot => ({ target: s.target, collectedAt: s.collectedAt, ...Object.fromEntries(keys.map((k) => [k, s[k]])) });

t.test('meta.needs: the listed probes give the same results, and each of them is read', async (t) => {
  const s = healthySnapshot();
  peering(s, SPOKE_ID).peeringState = 'Disconnected';
  const full = rule.check(s);
  t.same(rule.check(only(s, rule.meta.needs)), full);
  for (const k of rule.meta.needs) t.notSame(rule.check(only(s, rule.meta.needs.filter((n) => n !== k))), full, `${k} is read`);
});
