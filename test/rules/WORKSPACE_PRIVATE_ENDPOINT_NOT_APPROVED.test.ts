import t from 'tap';
import type { ProbeError, Snapshot } from '../../src/model/snapshot.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/WORKSPACE_PRIVATE_ENDPOINT_NOT_APPROVED.ts';
import { API_FQDN, API_ZONE_ID, HUB_SUB, NB_ZONE_ID, PE_ID, PE_SUBNET_ID, WS_ID, healthySnapshot, value } from '../helpers/snapshot.ts';
import { fails, forbidden, passes } from '../helpers/results.ts';

const CONNECTION_ID = `${WS_ID}/privateEndpointConnections/pe-ws-demo`;
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
  },
  {
    name: "the endpoint's own connection Rejected",
    mutate: (s) => ((pe(s).connections[0] as { status?: string }).status = 'Rejected'),
    resourceId: PE_ID,
    evidence: { resourceId: PE_ID, property: 'properties.privateLinkServiceConnections[0].properties.privateLinkServiceConnectionState.status', observed: 'Rejected' },
    azCli: [`az network private-endpoint-connection approve --id ${CONNECTION_ID}`],
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
  },
  {
    name: 'workspace connection Disconnected (removed): recreate',
    mutate: (s) => (wsConnection(s).status = 'Disconnected'),
    resourceId: PE_ID,
    evidence: { resourceId: CONNECTION_ID, property: 'properties.privateLinkServiceConnectionState.status', observed: 'Disconnected' },
    azCli: [`az network private-endpoint delete --subscription ${HUB_SUB} -g rg-hub -n pe-ws-demo`],
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
