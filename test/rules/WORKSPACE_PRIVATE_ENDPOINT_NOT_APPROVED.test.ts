import t from 'tap';
import type { ProbeError, ProbeId, Snapshot } from '../../src/model/snapshot.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/WORKSPACE_PRIVATE_ENDPOINT_NOT_APPROVED.ts';
import { API_FQDN, API_ZONE_ID, HUB_SUB, NB_ZONE_ID, PE_ID, PE_SUBNET_ID, SUB, WS_ID, healthySnapshot, value } from '../helpers/snapshot.ts';
import { fails, forbidden, passes } from '../helpers/results.ts';
import { BICEP_API } from '../../src/rules/support-bicep.ts';

const CONNECTION_ID = `${WS_ID}/privateEndpointConnections/pe-ws-demo`;

const PE_DECL = `resource pe 'Microsoft.Network/privateEndpoints@${BICEP_API['Microsoft.Network/privateEndpoints']}' = {\n  name: 'pe-ws-demo'\n  location: 'eastus'`;
const ZONE_GROUP_DECL = `resource zoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@${BICEP_API['Microsoft.Network/privateEndpoints/privateDnsZoneGroups']}' = {\n  parent: pe\n  name: 'default'`;
/** The endpoint declared again (after the delete the comment names), in the endpoint's resource group. */
const RECREATE_BICEP = [
  `az deployment group create --subscription ${HUB_SUB} -g rg-hub -f fix.bicep`,
  `//   az network private-endpoint delete --subscription ${HUB_SUB} -g rg-hub -n pe-ws-demo`,
  PE_DECL,
  `subnet: {\n      id: '${PE_SUBNET_ID}'\n    }`,
  `privateLinkServiceId: '${WS_ID}'\n          groupIds: [\n            'amlworkspace'\n          ]`,
  ZONE_GROUP_DECL,
  `privateDnsZoneId: '${API_ZONE_ID}'`,
  `privateDnsZoneId: '${NB_ZONE_ID}'`,
];
/** Approval: nothing declared, the approve command in a comment, in the workspace's resource group. */
const APPROVE_BICEP = [`az deployment group create --subscription ${SUB} -g rg-ml -f fix.bicep`, '// Nothing to deploy: approving the connection from pe-ws-demo', `//   az network private-endpoint-connection approve --id ${CONNECTION_ID}`];

const pe = (s: Snapshot) => value(value(s.privateEndpoints).endpoints[0]?.observed);
const wsConnection = (s: Snapshot) => value(s.workspace).privateEndpointConnections[0] as { status?: string };

t.test('healthy snapshot: the approved, provisioned endpoint passes', async (t) => {
  const rs = rule.check(healthySnapshot());
  t.same(fails(rs), []);
  t.match(passes(rs), [{ resourceId: PE_ID, detail: /Approved, provisioning state Succeeded/ }]);
});

const failing: Array<{
  name: string;
  mutate: (s: Snapshot) => void;
  resourceId: string;
  evidence: { resourceId: string; property: string; observed: string };
  azCli: string[];
  bicep: string[];
}> = [
  {
    name: 'workspace connection Pending',
    mutate: (s) => {
      wsConnection(s).status = 'Pending';
      (pe(s).connections[0] as { status?: string }).status = 'Pending';
    },
    resourceId: PE_ID,
    evidence: { resourceId: CONNECTION_ID, property: 'properties.privateLinkServiceConnectionState.status', observed: 'Pending' },
    azCli: [`az network private-endpoint-connection approve --id ${CONNECTION_ID} --description "Approved by aml-netdoctor remediation"`],
    bicep: APPROVE_BICEP,
  },
  {
    name: "the endpoint's own connection Rejected",
    mutate: (s) => ((pe(s).connections[0] as { status?: string }).status = 'Rejected'),
    resourceId: PE_ID,
    evidence: { resourceId: PE_ID, property: 'properties.privateLinkServiceConnections[0].properties.privateLinkServiceConnectionState.status', observed: 'Rejected' },
    azCli: [`az network private-endpoint-connection approve --id ${CONNECTION_ID}`],
    bicep: APPROVE_BICEP,
  },
  {
    name: 'endpoint provisioningState Failed',
    mutate: (s) => (pe(s).provisioningState = 'Failed'),
    resourceId: PE_ID,
    evidence: { resourceId: PE_ID, property: 'properties.provisioningState', observed: 'Failed' },
    azCli: [
      `az network private-endpoint delete --subscription ${HUB_SUB} -g rg-hub -n pe-ws-demo`,
      `az network private-endpoint create --subscription ${HUB_SUB} -g rg-hub -n pe-ws-demo -l eastus --subnet ${PE_SUBNET_ID} --private-connection-resource-id ${WS_ID} --group-id amlworkspace --connection-name pe-ws-demo`,
      `az network private-endpoint dns-zone-group create --subscription ${HUB_SUB} -g rg-hub --endpoint-name pe-ws-demo -n default --private-dns-zone ${API_ZONE_ID} --zone-name api`,
      `az network private-endpoint dns-zone-group add --subscription ${HUB_SUB} -g rg-hub --endpoint-name pe-ws-demo -n default --private-dns-zone ${NB_ZONE_ID} --zone-name notebooks`,
    ],
    bicep: [...RECREATE_BICEP, '(a Failed endpoint does not recover by itself)'],
  },
  {
    name: 'workspace connection Disconnected (removed): recreate',
    mutate: (s) => (wsConnection(s).status = 'Disconnected'),
    resourceId: PE_ID,
    evidence: { resourceId: CONNECTION_ID, property: 'properties.privateLinkServiceConnectionState.status', observed: 'Disconnected' },
    azCli: [`az network private-endpoint delete --subscription ${HUB_SUB} -g rg-hub -n pe-ws-demo`],
    bicep: [...RECREATE_BICEP, '(a Disconnected connection cannot be re-approved)'],
  },
  {
    name: 'endpoint unreadable and the workspace connection Pending: blames the connection',
    mutate: (s) => {
      wsConnection(s).status = 'Pending';
      (value(s.privateEndpoints).endpoints[0] as { observed: unknown }).observed = forbidden(PE_ID);
    },
    resourceId: CONNECTION_ID,
    evidence: { resourceId: CONNECTION_ID, property: 'properties.privateLinkServiceConnectionState.status', observed: 'Pending' },
    azCli: [`az network private-endpoint-connection approve --id ${CONNECTION_ID} --description "Approved by aml-netdoctor remediation"`],
    bicep: APPROVE_BICEP,
  },
];

for (const v of failing) {
  t.test(`fails: ${v.name}`, async (t) => {
    const s = healthySnapshot();
    v.mutate(s);
    const found = fails(rule.check(s));
    t.equal(found.length, 1);
    const f = found[0] as FindingDraft;
    t.equal(f.resourceId, v.resourceId);
    t.ok(f.evidence.some((e) => e.resourceId === v.evidence.resourceId && e.property === v.evidence.property && e.observed === v.evidence.observed && e.expected !== ''), 'key evidence');
    for (const cmd of v.azCli) t.ok(f.remediation.azCli.some((c) => c.startsWith(cmd)), `azCli has: ${cmd}`);
    t.match(f.explanation, /pe-ws-demo/);
    t.match(f.explanation, /ws-demo/);
    t.ok(f.remediation.verify, 'has a verify step');
    t.match(f.remediation.verify, /must print (Succeeded and )?Approved; then run aml-netdoctor recheck <report\.json>\.$/);
    for (const part of v.bicep) t.match(f.remediation.bicep, part, `bicep has: ${part.split('\n')[0]}`);
    if (v.bicep === APPROVE_BICEP) t.notMatch(f.remediation.bicep, /^resource /m, 'approval declares nothing that would recreate the endpoint');
    t.ok(f.subjects?.includes(`name:${API_FQDN}`));
  });
}

t.test('public workspace: passes with a does-not-apply detail', async (t) => {
  const s = healthySnapshot();
  wsConnection(s).status = 'Pending';
  value(s.workspace).publicNetworkAccess = 'Enabled';
  const rs = rule.check(s);
  t.match(rs, [{ status: 'pass', resourceId: WS_ID, detail: /Does not apply/ }]);
});

const gaps: Array<{ name: string; mutate: (s: Snapshot, err: { ok: false; error: ProbeError }) => void }> = [
  { name: 'workspace unreadable', mutate: (s, e) => (s.workspace = e) },
  { name: 'private endpoints probe failed (connection Approved, provisioning unknown)', mutate: (s, e) => (s.privateEndpoints = e) },
  { name: 'the endpoint unreadable (connection Approved)', mutate: (s, e) => ((value(s.privateEndpoints).endpoints[0] as { observed: unknown }).observed = e) },
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

/** The snapshot with only these probes' keys. */
const only = (s: Snapshot, keys: readonly ProbeId[]): Snapshot => ({ target: s.target, collectedAt: s.collectedAt, ...Object.fromEntries(keys.map((k) => [k, s[k]])) });

t.test('meta.needs: the listed probes give the same results, and each of them is read', async (t) => {
  const s = healthySnapshot();
  wsConnection(s).status = 'Pending';
  const full = rule.check(s);
  t.same(rule.check(only(s, rule.meta.needs)), full);
  for (const k of rule.meta.needs) t.notSame(rule.check(only(s, rule.meta.needs.filter((n) => n !== k))), full, `${k} is read`);
});
