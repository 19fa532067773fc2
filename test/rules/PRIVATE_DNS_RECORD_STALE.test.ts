import t from 'tap';
import type { ProbeError, Snapshot } from '../../src/model/snapshot.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/PRIVATE_DNS_RECORD_STALE.ts';
import { BICEP_API } from '../../src/rules/support-bicep.ts';
import { API_FQDN, API_ZONE_ID, CERT_FQDN, HUB_SUB, PE_ID, PE_IP, WS_GUID, WS_ID, healthySnapshot, lookup, value } from '../helpers/snapshot.ts';
import { fails, forbidden, passes } from '../helpers/results.ts';

const API_ZONE = 'privatelink.api.azureml.ms';
const API_RECORD = `${WS_GUID}.workspace.eastus`;
const CERT_RECORD = `${WS_GUID}.workspace.eastus.cert`;
const OLD_IP = '10.10.9.9';
const pe = (s: Snapshot) => value(value(s.privateEndpoints).endpoints[0]?.observed);
const zone = (s: Snapshot, id: string) => value(value(s.privateDnsZones).zones.find((z) => z.id === id)?.observed);
const setRecord = (s: Snapshot, name: string, ips: string[]) => {
  const r = value(zone(s, API_ZONE_ID).aRecords).find((x) => x.name === name);
  if (!r) throw new Error(`fixture has no record ${name}`);
  r.ipv4Addresses = ips;
};
const answer = (s: Snapshot, fqdn: string, ips: string[]) => {
  const dns = value(s.dns);
  dns.lookups = dns.lookups.map((l) => (l.name === fqdn ? lookup(fqdn, l.purpose, ips) : l));
};
const decl = (symbol: string, type: keyof typeof BICEP_API, existing = false) => `resource ${symbol} '${type}@${BICEP_API[type]}'${existing ? ' existing' : ''} = {`;
const FLAGS = (record: string) => `--subscription ${HUB_SUB} -g rg-dns -z ${API_ZONE} -n ${record}`;

t.test('healthy snapshot: every record points to the endpoint IP', async (t) => {
  const rs = rule.check(healthySnapshot());
  t.same(fails(rs), []);
  t.equal(passes(rs).length, 3);
});

const failing: Array<{ name: string; mutate: (s: Snapshot) => void; record: string; fqdn: string; observed: string; azCli: string[]; confidence: 'high' | 'medium' }> = [
  {
    name: 'api record points to an old address',
    mutate: (s) => setRecord(s, API_RECORD, [OLD_IP]),
    record: API_RECORD,
    fqdn: API_FQDN,
    observed: OLD_IP,
    azCli: [`az network private-dns record-set a add-record ${FLAGS(API_RECORD)} -a ${PE_IP}`, `az network private-dns record-set a remove-record ${FLAGS(API_RECORD)} -a ${OLD_IP}`],
    confidence: 'medium',
  },
  {
    name: 'cert record points to an old address, and the compute resolver answers it',
    mutate: (s) => {
      setRecord(s, CERT_RECORD, [OLD_IP]);
      answer(s, CERT_FQDN, [OLD_IP]);
    },
    record: CERT_RECORD,
    fqdn: CERT_FQDN,
    observed: OLD_IP,
    azCli: [`az network private-dns record-set a add-record ${FLAGS(CERT_RECORD)} -a ${PE_IP}`, `az network private-dns record-set a remove-record ${FLAGS(CERT_RECORD)} -a ${OLD_IP}`],
    confidence: 'high',
  },
  {
    name: 'cert record holds the endpoint IP and an old one',
    mutate: (s) => setRecord(s, CERT_RECORD, [PE_IP, OLD_IP]),
    record: CERT_RECORD,
    fqdn: CERT_FQDN,
    observed: `${PE_IP}, ${OLD_IP}`,
    azCli: [`az network private-dns record-set a remove-record ${FLAGS(CERT_RECORD)} -a ${OLD_IP}`],
    confidence: 'medium',
  },
  {
    name: 'api record set without addresses',
    mutate: (s) => setRecord(s, API_RECORD, []),
    record: API_RECORD,
    fqdn: API_FQDN,
    observed: 'no address',
    azCli: [`az network private-dns record-set a add-record ${FLAGS(API_RECORD)} -a ${PE_IP}`],
    confidence: 'medium',
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
    const recordId = `${API_ZONE_ID}/A/${v.record}`;
    t.equal(f.resourceId, recordId, 'blames the record set');
    t.match(f.explanation, `pe-ws-demo serves ${v.fqdn} on ${PE_IP}, but A record ${v.record} in privatelink.api.azureml.ms (rg-dns)`);
    t.ok(f.evidence.some((e) => e.resourceId === recordId && e.property === 'properties.aRecords[*].ipv4Address' && e.observed === v.observed && e.expected === PE_IP), 'record evidence');
    t.ok(f.evidence.some((e) => e.resourceId === PE_ID && e.observed === PE_IP), 'endpoint evidence');
    t.same(f.remediation.azCli, v.azCli);
    const bicep = f.remediation.bicep;
    t.match(bicep, `-g rg-dns -f fix.bicep`, 'deployed to the zone resource group');
    t.match(bicep, `${decl('zone', 'Microsoft.Network/privateDnsZones', true)}\n  name: '${API_ZONE}'`);
    t.match(bicep, `${decl('record', 'Microsoft.Network/privateDnsZones/A')}\n  parent: zone\n  name: '${v.record}'`);
    t.match(bicep, `aRecords: [\n      {\n        ipv4Address: '${PE_IP}'\n      }\n    ]`, 'only the endpoint IP: the stale address goes');
    t.notMatch(bicep, `ipv4Address: '${OLD_IP}'`);
    t.match(f.remediation.verify, `${FLAGS(v.record)} --query "aRecords[].ipv4Address" -o tsv prints ${PE_IP}`);
    t.match(f.remediation.verify, /then run aml-netdoctor recheck <report\.json>\.$/);
    t.same(f.subjects, [`zone:${API_ZONE}`, `name:${v.fqdn}`]);
    t.equal(f.confidence, v.confidence);
    t.equal(passes(rs).length, 2, 'the other names still pass');
  });
}

t.test('a missing record is not stale (PRIVATE_DNS_RECORD_MISSING reports it)', async (t) => {
  const s = healthySnapshot();
  const z = zone(s, API_ZONE_ID);
  z.aRecords = { ok: true, value: value(z.aRecords).filter((r) => r.name !== API_RECORD) };
  const rs = rule.check(s);
  t.same(fails(rs), []);
  t.ok(passes(rs).some((p) => p.detail.includes('Does not apply') && p.detail.includes(API_RECORD)));
});

t.test('the expected IP comes from the endpoint NIC when customDnsConfigs is empty', async (t) => {
  const s = healthySnapshot();
  pe(s).customDnsConfigs = [];
  setRecord(s, API_RECORD, [OLD_IP]);
  const found = fails(rule.check(s));
  t.equal(found.length, 1);
  t.ok(found[0]?.evidence.some((e) => e.resourceId === PE_ID && e.property?.includes('privateIPAddress') && e.observed === PE_IP));
});

t.test('public workspace: passes with a does-not-apply detail', async (t) => {
  const s = healthySnapshot();
  setRecord(s, API_RECORD, [OLD_IP]);
  value(s.workspace).publicNetworkAccess = 'Enabled';
  t.match(rule.check(s), [{ status: 'pass', resourceId: WS_ID, detail: /Does not apply/ }]);
});

t.test('undetermined: api zone records unreadable (no pass for its names)', async (t) => {
  const s = healthySnapshot();
  const err = forbidden(`${API_ZONE_ID}/A`);
  zone(s, API_ZONE_ID).aRecords = err;
  const rs = rule.check(s);
  t.same(fails(rs), []);
  t.equal(rs.filter((r) => r.status === 'undetermined' && r.reason === err.error.message).length, 2);
  t.notOk(passes(rs).some((p) => p.resourceId.startsWith(API_ZONE_ID)));
});

const gaps: Array<{ name: string; mutate: (s: Snapshot, err: { ok: false; error: ProbeError }) => void }> = [
  { name: 'private DNS zones probe failed', mutate: (s, e) => (s.privateDnsZones = e) },
  { name: 'private endpoints unreadable', mutate: (s, e) => (s.privateEndpoints = e) },
  {
    name: 'no customDnsConfigs and the endpoint NIC unreadable',
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
