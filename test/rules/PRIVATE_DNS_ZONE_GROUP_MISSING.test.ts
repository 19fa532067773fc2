import t from 'tap';
import type { ProbeError, Snapshot } from '../../src/model/snapshot.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/PRIVATE_DNS_ZONE_GROUP_MISSING.ts';
import { rule as recordRule } from '../../src/rules/PRIVATE_DNS_RECORD_MISSING.ts';
import { BICEP_API } from '../../src/rules/support-bicep.ts';
import { API_FQDN, API_ZONE_ID, CERT_FQDN, HUB_SUB, NB_FQDN, NB_ZONE_ID, PE_ID, SPOKE_ID, WS_ID, healthySnapshot, value } from '../helpers/snapshot.ts';
import { fails, forbidden, passes } from '../helpers/results.ts';

const NB_ZONE = 'privatelink.notebooks.azure.net';
const pe = (s: Snapshot) => value(value(s.privateEndpoints).endpoints[0]?.observed);
const SCOPE = `--subscription ${HUB_SUB} -g rg-hub --endpoint-name pe-ws-demo`;
const decl = (symbol: string, type: keyof typeof BICEP_API, existing = false) => `resource ${symbol} '${type}@${BICEP_API[type]}'${existing ? ' existing' : ''} = {`;

t.test('healthy snapshot: the zone group references both zones', async (t) => {
  const rs = rule.check(healthySnapshot());
  t.same(fails(rs), []);
  t.match(passes(rs), [{ resourceId: PE_ID, detail: /zone group default references privatelink\.api\.azureml\.ms and privatelink\.notebooks\.azure\.net/ }]);
});

const failing: Array<{ name: string; mutate: (s: Snapshot) => void; observed: string; azCli: string[]; subjects: string[]; explanation: RegExp; createsZone?: boolean }> = [
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
    createsZone: true,
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

    const bicep = f.remediation.bicep;
    t.match(bicep, `${decl('pe', 'Microsoft.Network/privateEndpoints', true)}\n  name: 'pe-ws-demo'`);
    t.match(bicep, `${decl('zoneGroup', 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups')}\n  parent: pe\n  name: 'default'`);
    for (const id of [API_ZONE_ID, NB_ZONE_ID]) t.match(bicep, `privateDnsZoneId: '${id}'`, `the zone group lists ${id.split('/').pop()}`);
    t.match(bicep, `-g rg-hub -f fix.bicep`, 'deployed to the endpoint resource group');
    if (v.createsZone) {
      t.match(bicep, `${decl('notebooksZone', 'Microsoft.Network/privateDnsZones')}\n  name: '${NB_ZONE}'\n  location: 'global'`, 'creates the missing zone');
      t.match(bicep, `-g rg-dns -f fix.bicep`, 'in the resource group of the other zone');
    } else {
      t.notMatch(bicep, "'Microsoft.Network/privateDnsZones@", 'creates no zone that exists');
    }
    t.match(f.remediation.verify, `--endpoint-name pe-ws-demo`);
    t.match(f.remediation.verify, /then run aml-netdoctor recheck <report\.json>\.$/);
  });
}

t.test('a record missing because the zone group lacks the zone shares a subject with this finding, so ranking folds it in', async (t) => {
  t.same(rule.meta.absorbs, ['PRIVATE_DNS_RECORD_MISSING']);
  const s = healthySnapshot();
  for (const g of value(pe(s).zoneGroups)) g.zoneConfigs = g.zoneConfigs.filter((c) => c.privateDnsZoneId !== NB_ZONE_ID);
  const nb = value(value(s.privateDnsZones).zones.find((z) => z.id === NB_ZONE_ID)?.observed);
  nb.aRecords = { ok: true, value: [] };
  const groupFinding = fails(rule.check(s))[0];
  const recordFinding = fails(recordRule.check(s))[0];
  t.ok(groupFinding && recordFinding, 'both rules fail');
  const shared = (groupFinding?.subjects ?? []).filter((x) => recordFinding?.subjects?.includes(x));
  t.same(shared, [`zone:${NB_ZONE}`, `name:${NB_FQDN}`]);
});

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
