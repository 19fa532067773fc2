import t from 'tap';
import type { ARecordSetObs, PrivateDnsZoneObs, ProbeError, Snapshot } from '../../src/model/snapshot.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/PRIVATE_DNS_RECORD_MISSING.ts';
import { BICEP_API } from '../../src/rules/support-bicep.ts';
import { API_FQDN, API_ZONE_ID, CERT_FQDN, HUB_SUB, NB_ZONE_ID, PE_ID, PE_IP, SPOKE_ID, SUB, WS_GUID, WS_ID, healthySnapshot, link, lookup, value } from '../helpers/snapshot.ts';
import { fails, forbidden, passes } from '../helpers/results.ts';

const API_ZONE = 'privatelink.api.azureml.ms';
const API_RECORD = `${WS_GUID}.workspace.eastus`;
const CERT_RECORD = `${WS_GUID}.workspace.eastus.cert`;
const decl = (symbol: string, type: keyof typeof BICEP_API, existing = false) => `resource ${symbol} '${type}@${BICEP_API[type]}'${existing ? ' existing' : ''} = {`;
const pe = (s: Snapshot) => value(value(s.privateEndpoints).endpoints[0]?.observed);
const zone = (s: Snapshot, id: string) => value(value(s.privateDnsZones).zones.find((z) => z.id === id)?.observed);
const records = (s: Snapshot, id: string) => value(zone(s, id).aRecords);
const dropRecord = (s: Snapshot, name: string) => {
  const z = zone(s, API_ZONE_ID);
  z.aRecords = { ok: true, value: records(s, API_ZONE_ID).filter((r) => r.name !== name) };
};

t.test('healthy snapshot: api, cert and notebooks records exist', async (t) => {
  const rs = rule.check(healthySnapshot());
  t.same(fails(rs), []);
  t.equal(passes(rs).length, 3);
});

const failing: Array<{ name: string; mutate: (s: Snapshot) => void; fqdn: string; record: string; confidence: 'high' | 'medium' }> = [
  { name: 'api record missing', mutate: (s) => dropRecord(s, API_RECORD), fqdn: API_FQDN, record: API_RECORD, confidence: 'medium' },
  {
    name: 'cert record missing, confirmed by an NXDOMAIN answer',
    mutate: (s) => {
      dropRecord(s, CERT_RECORD);
      const dns = value(s.dns);
      dns.lookups = dns.lookups.map((l) => (l.name === CERT_FQDN ? lookup(CERT_FQDN, 'workspace-cert', [], { status: 'nxdomain' }) : l));
    },
    fqdn: CERT_FQDN,
    record: CERT_RECORD,
    confidence: 'high',
  },
];

t.test('fails: the record is missing and the zone group lacks the zone: the Bicep also rewrites the zone group', async (t) => {
  const s = healthySnapshot();
  dropRecord(s, API_RECORD);
  for (const g of value(pe(s).zoneGroups)) g.zoneConfigs = g.zoneConfigs.filter((c) => c.privateDnsZoneId !== API_ZONE_ID);
  const f = fails(rule.check(s))[0];
  const bicep = f?.remediation.bicep ?? '';
  const [zoneFile, groupFile] = bicep.split(/\n(?=\/\/ Deploy to )/);
  t.match(zoneFile, decl('record', 'Microsoft.Network/privateDnsZones/A'));
  t.match(groupFile, `-g rg-hub -f fix.bicep`);
  t.match(groupFile, `${decl('pe', 'Microsoft.Network/privateEndpoints', true)}\n  name: 'pe-ws-demo'`);
  t.match(groupFile, decl('zoneGroup', 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups'));
  t.match(groupFile, `privateDnsZoneId: '${NB_ZONE_ID}'`, 'keeps the notebooks zone');
  t.match(groupFile, `privateDnsZoneId: '${API_ZONE_ID}'`, 'adds the api zone');
});

for (const v of failing) {
  t.test(`fails: ${v.name}`, async (t) => {
    const s = healthySnapshot();
    v.mutate(s);
    const rs = rule.check(s);
    const found = fails(rs);
    t.equal(found.length, 1);
    const f = found[0] as FindingDraft;
    t.equal(f.resourceId, API_ZONE_ID, 'blames the zone');
    t.match(f.explanation, `pe-ws-demo serves ${v.fqdn} on ${PE_IP}`);
    t.match(f.explanation, `privatelink.api.azureml.ms (rg-dns), referenced by the zone group of pe-ws-demo, has no A record ${v.record}`);
    t.match(f.explanation, /ci-alice/);
    t.ok(f.evidence.some((e) => e.resourceId === API_ZONE_ID && e.observed.startsWith(`no record ${v.record}`) && e.expected === `A ${v.record} -> ${PE_IP}`), 'zone evidence');
    t.ok(f.evidence.some((e) => e.resourceId === PE_ID && e.property?.startsWith('properties.customDnsConfigs[')), 'endpoint evidence');
    t.same(f.remediation.azCli, [`az network private-dns record-set a add-record --subscription ${HUB_SUB} -g rg-dns -z ${API_ZONE} -n ${v.record} -a ${PE_IP}`]);
    t.match(f.remediation.verify, `nslookup ${v.fqdn}`);
    t.match(f.remediation.verify, `-n ${v.record} --query "aRecords[].ipv4Address" -o tsv prints ${PE_IP}`);
    t.match(f.remediation.verify, /then run aml-netdoctor recheck <report\.json>\.$/);
    const bicep = f.remediation.bicep;
    t.match(bicep, `-g rg-dns -f fix.bicep`, 'deployed to the zone resource group');
    t.match(bicep, `${decl('zone', 'Microsoft.Network/privateDnsZones', true)}\n  name: '${API_ZONE}'`);
    t.match(bicep, `${decl('record', 'Microsoft.Network/privateDnsZones/A')}\n  parent: zone\n  name: '${v.record}'`);
    t.match(bicep, `ttl: 10\n    aRecords: [\n      {\n        ipv4Address: '${PE_IP}'`);
    t.notMatch(bicep, 'privateDnsZoneGroups', 'the zone group already references the zone');
    t.same(f.subjects, [`zone:${API_ZONE}`, `name:${v.fqdn}`]);
    t.equal(f.confidence, v.confidence);
    t.equal(passes(rs).length, 2, 'the other names still pass');
  });
}

/** A second api zone in the workspace subscription, linked to the spoke, without records; the zone group references none. */
function secondApiZone(s: Snapshot, records: ARecordSetObs[]): string {
  const id = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/privateDnsZones/${API_ZONE}`;
  const z: PrivateDnsZoneObs = { id, name: API_ZONE, subscriptionId: SUB, resourceGroup: 'rg-net', aRecords: { ok: true, value: records }, links: { ok: true, value: [link(id, SPOKE_ID, 'spoke')] } };
  value(s.privateDnsZones).zones.push({ id, name: API_ZONE, foundBy: ['subscription-list'], observed: { ok: true, value: z } });
  // The hub zone is no longer linked to the spoke (a VNet links to one zone of a name).
  zone(s, API_ZONE_ID).links = { ok: true, value: value(zone(s, API_ZONE_ID).links).filter((l) => l.virtualNetworkId !== SPOKE_ID) };
  return id;
}

t.test('the zone referenced by the zone group is the one judged, not another zone of that name', async (t) => {
  const s = healthySnapshot();
  secondApiZone(s, []);
  const rs = rule.check(s);
  t.same(fails(rs), []);
  t.ok(passes(rs).some((p) => p.resourceId.startsWith(`${API_ZONE_ID}/A/`)));
});

t.test('without a zone-group reference, the zone linked to the compute VNet is judged', async (t) => {
  const s = healthySnapshot();
  const id = secondApiZone(s, []);
  for (const g of value(pe(s).zoneGroups)) g.zoneConfigs = g.zoneConfigs.filter((c) => c.privateDnsZoneId !== API_ZONE_ID);
  const found = fails(rule.check(s));
  t.same(found.map((f) => f.resourceId), [id, id], 'api and cert records are missing from the linked zone');
  t.match(found[0]?.explanation, /linked to vnet-spoke/);
  t.ok(found[0]?.remediation.azCli.some((c) => c === `az network private-dns record-set a add-record --subscription ${SUB} -g rg-net -z ${API_ZONE} -n ${API_RECORD} -a ${PE_IP}`));
  t.ok(found[0]?.remediation.azCli.some((c) => c.startsWith(`az network private-endpoint dns-zone-group add --subscription ${HUB_SUB} -g rg-hub --endpoint-name pe-ws-demo -n default --private-dns-zone ${id}`)), 'suggests referencing the zone from the zone group');
});

t.test('no zone of that name: not this rule (passes with a does-not-apply detail)', async (t) => {
  const s = healthySnapshot();
  const z = value(s.privateDnsZones);
  z.zones = z.zones.filter((e) => e.id !== API_ZONE_ID);
  const rs = rule.check(s);
  t.same(fails(rs), []);
  t.ok(passes(rs).some((p) => /Does not apply to .*no private DNS zone privatelink\.api\.azureml\.ms exists/.test(p.detail)));
});

t.test('public workspace: passes with a does-not-apply detail', async (t) => {
  const s = healthySnapshot();
  dropRecord(s, API_RECORD);
  value(s.workspace).publicNetworkAccess = 'Enabled';
  t.match(rule.check(s), [{ status: 'pass', resourceId: WS_ID, detail: /Does not apply/ }]);
});

t.test('undetermined: the api zone records are unreadable (the notebooks name still passes)', async (t) => {
  const s = healthySnapshot();
  const err = forbidden(`${API_ZONE_ID}/A`);
  zone(s, API_ZONE_ID).aRecords = err;
  const rs = rule.check(s);
  t.same(fails(rs), []);
  const und = rs.filter((r) => r.status === 'undetermined');
  t.equal(und.length, 2, 'api and cert names');
  t.ok(und.every((r) => r.status === 'undetermined' && r.reason === err.error.message));
  t.same(passes(rs).map((p) => p.resourceId), [`${NB_ZONE_ID}/A/ml-ws-demo-eastus-${WS_GUID}.eastus`], 'no pass for the api zone names');
});

const gaps: Array<{ name: string; mutate: (s: Snapshot, err: { ok: false; error: ProbeError }) => void }> = [
  { name: 'private DNS zones probe failed', mutate: (s, e) => (s.privateDnsZones = e) },
  { name: 'private endpoints unreadable', mutate: (s, e) => (s.privateEndpoints = e) },
  { name: 'the endpoint itself unreadable', mutate: (s, e) => ((value(s.privateEndpoints).endpoints[0] as { observed: unknown }).observed = e) },
  {
    name: 'endpoint reports no customDnsConfigs and its NIC is unreadable',
    mutate: (s, e) => {
      pe(s).customDnsConfigs = [];
      pe(s).nicIpConfigurations = e;
    },
  },
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
