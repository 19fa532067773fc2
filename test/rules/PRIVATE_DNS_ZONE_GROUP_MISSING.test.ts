import t from 'tap';
import type { ProbeError, Snapshot } from '../../src/model/snapshot.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/PRIVATE_DNS_ZONE_GROUP_MISSING.ts';
import { API_FQDN, API_ZONE_ID, CERT_FQDN, HUB_SUB, NB_FQDN, NB_ZONE_ID, PE_ID, SPOKE_ID, WS_ID, healthySnapshot, value } from '../helpers/snapshot.ts';
import { fails, forbidden, passes } from '../helpers/results.ts';

const NB_ZONE = 'privatelink.notebooks.azure.net';
const pe = (s: Snapshot) => value(value(s.privateEndpoints).endpoints[0]?.observed);
const SCOPE = `--subscription ${HUB_SUB} -g rg-hub --endpoint-name pe-ws-demo`;

t.test('healthy snapshot: the zone group references both zones', async (t) => {
  const rs = rule.check(healthySnapshot());
  t.same(fails(rs), []);
  t.match(passes(rs), [{ resourceId: PE_ID, detail: /zone group default references privatelink\.api\.azureml\.ms and privatelink\.notebooks\.azure\.net/ }]);
});

const failing: Array<{ name: string; mutate: (s: Snapshot) => void; observed: string; azCli: string[]; subjects: string[]; explanation: RegExp }> = [
  {
    name: 'endpoint without a zone group',
    mutate: (s) => (pe(s).zoneGroups = { ok: true, value: [] }),
    observed: 'no DNS zone group',
    azCli: [
      `az network private-endpoint dns-zone-group create ${SCOPE} -n default --private-dns-zone ${API_ZONE_ID} --zone-name api`,
      `az network private-endpoint dns-zone-group add ${SCOPE} -n default --private-dns-zone ${NB_ZONE_ID} --zone-name notebooks`,
    ],
    subjects: ['zone:privatelink.api.azureml.ms', `zone:${NB_ZONE}`, `name:${API_FQDN}`, `name:${CERT_FQDN}`, `name:${NB_FQDN}`],
    explanation: /pe-ws-demo has no DNS zone group/,
  },
  {
    name: 'zone group lacking the notebooks zone',
    mutate: (s) => {
      for (const g of value(pe(s).zoneGroups)) g.zoneConfigs = g.zoneConfigs.filter((c) => c.privateDnsZoneId !== NB_ZONE_ID);
    },
    observed: 'default: privatelink.api.azureml.ms',
    azCli: [`az network private-endpoint dns-zone-group add ${SCOPE} -n default --private-dns-zone ${NB_ZONE_ID} --zone-name notebooks`],
    subjects: [`zone:${NB_ZONE}`, `name:${NB_FQDN}`],
    explanation: /zone group default, but it references no privatelink\.notebooks\.azure\.net zone/,
  },
  {
    name: 'zone group lacking the notebooks zone, which does not exist either',
    mutate: (s) => {
      for (const g of value(pe(s).zoneGroups)) g.zoneConfigs = g.zoneConfigs.filter((c) => c.privateDnsZoneId !== NB_ZONE_ID);
      const z = value(s.privateDnsZones);
      z.zones = z.zones.filter((e) => e.id !== NB_ZONE_ID);
    },
    observed: 'default: privatelink.api.azureml.ms',
    azCli: [
      `az network private-dns zone create --subscription ${HUB_SUB} -g rg-dns -n ${NB_ZONE}`,
      `az network private-dns link vnet create --subscription ${HUB_SUB} -g rg-dns -z ${NB_ZONE} -n vnet-spoke-link -v ${SPOKE_ID} -e false`,
      `az network private-endpoint dns-zone-group add ${SCOPE} -n default --private-dns-zone /subscriptions/${HUB_SUB}/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/${NB_ZONE} --zone-name notebooks`,
    ],
    subjects: [`zone:${NB_ZONE}`, `name:${NB_FQDN}`],
    explanation: /references no privatelink\.notebooks\.azure\.net zone/,
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
    t.equal(f.resourceId, PE_ID);
    t.match(f.explanation, v.explanation);
    t.ok(f.evidence.some((e) => e.resourceId === PE_ID && e.property?.startsWith('properties.privateDnsZoneGroups') && e.observed === v.observed), 'zone group evidence');
    t.same(f.remediation.azCli, v.azCli);
    t.same(f.subjects, v.subjects);
    t.same(passes(rs), []);
  });
}

t.test('public workspace: passes with a does-not-apply detail', async (t) => {
  const s = healthySnapshot();
  pe(s).zoneGroups = { ok: true, value: [] };
  value(s.workspace).publicNetworkAccess = 'Enabled';
  t.match(rule.check(s), [{ status: 'pass', resourceId: WS_ID, detail: /Does not apply/ }]);
});

const gaps: Array<{ name: string; mutate: (s: Snapshot, err: { ok: false; error: ProbeError }) => void }> = [
  { name: 'zone groups of the endpoint unreadable', mutate: (s, e) => (pe(s).zoneGroups = e) },
  { name: 'private endpoints unreadable', mutate: (s, e) => (s.privateEndpoints = e) },
  { name: 'the endpoint itself unreadable', mutate: (s, e) => ((value(s.privateEndpoints).endpoints[0] as { observed: unknown }).observed = e) },
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
