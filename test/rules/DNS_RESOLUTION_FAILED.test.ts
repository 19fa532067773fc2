import t, { type Test } from 'tap';
import { rule } from '../../src/rules/DNS_RESOLUTION_FAILED.ts';
import { BICEP_API } from '../../src/rules/support-bicep.ts';
import type { FindingDraft, RuleResult } from '../../src/rules/rule.ts';
import type { DnsLookupObs, DnsStatus, Snapshot } from '../../src/model/snapshot.ts';
import { API_FQDN, API_ZONE_ID, CERT_FQDN, HUB_SUB, PE_IP, WS_GUID, WS_ID, clone, healthySnapshot, lookup, value } from '../helpers/snapshot.ts';
import { fails, passes } from '../helpers/results.ts';

function make(mutate: (s: Snapshot) => void): Snapshot {
  const s = clone(healthySnapshot());
  mutate(s);
  return s;
}
function answer(s: Snapshot, name: string, patch: Partial<DnsLookupObs>) {
  for (const l of value(s.dns).lookups) if (l.name === name) Object.assign(l, patch);
}
const failing = (status: DnsStatus) => ({ status, addresses: [] });

const decl = (symbol: string, type: keyof typeof BICEP_API, existing = false) => `resource ${symbol} '${type}@${BICEP_API[type]}'${existing ? ' existing' : ''} = {`;
/** A snippet of comments only (valid Bicep that deploys nothing). */
const commentsOnly = (bicep: string) => bicep.trim().split('\n').every((l) => l.startsWith('//'));
const apiZone = (s: Snapshot) => value(value(s.privateDnsZones).zones.find((e) => e.id === API_ZONE_ID)?.observed);

const undetermined = (r: RuleResult[]) => r.flatMap((x) => (x.status === 'undetermined' ? [x] : []));

interface Case {
  name: string;
  snapshot: Snapshot;
  expect: (t: Test, results: RuleResult[]) => void;
}

const statusCases: Case[] = (
  [
    ['nxdomain', /NXDOMAIN: the name does not exist/, /A record for this name missing/],
    ['nodata', /NODATA/, /A record for this name missing/],
    ['servfail', /SERVFAIL/, /unreachable or fails/],
    ['refused', /REFUSED/, /unreachable or fails/],
    ['timeout', /TIMEOUT: the resolver/, /cannot reach 168\.63\.129\.16/],
  ] as const
).map(([status, why, fix]) => ({
  name: `${status} for the api name`,
  snapshot: make((s) => answer(s, API_FQDN, failing(status))),
  expect: (t: Test, r: RuleResult[]) => {
    const f = fails(r);
    t.equal(f.length, 1);
    const x = f[0] as FindingDraft;
    t.equal(x.resourceId, WS_ID);
    t.equal(x.confidence, 'high');
    t.same(x.subjects, [`name:${API_FQDN}`, 'zone:privatelink.api.azureml.ms']);
    t.match(x.explanation, `${status.toUpperCase()} through 127.0.0.1:5353`);
    t.match(x.explanation, why);
    t.match(x.explanation, /device-login/);
    t.match(x.remediation.summary, fix);
    t.match(x.evidence[0], { property: `A ${API_FQDN} @ 127.0.0.1:5353`, observed: new RegExp(`^${status.toUpperCase()} \\(CNAME [^)]*privatelink\\.api\\.azureml\\.ms\\)$`), expected: `${PE_IP} (the workspace private endpoint)` });
    t.match(x.remediation.verify, /then run aml-netdoctor recheck <report\.json>\.$/);
    t.ok(commentsOnly(x.remediation.bicep), 'the record exists: nothing to declare');
    t.match(x.remediation.bicep, status === 'nxdomain' || status === 'nodata' ? /already holds/ : /not from an Azure resource Bicep declares/);
  },
}));

const cases: Case[] = [
  {
    name: 'healthy: every workspace name resolves',
    snapshot: healthySnapshot(),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.equal(passes(r).length, 3);
    },
  },
  ...statusCases,
  {
    name: 'NXDOMAIN and the zone lacks the record: the Bicep adds it',
    snapshot: make((s) => {
      answer(s, API_FQDN, failing('nxdomain'));
      const z = apiZone(s);
      z.aRecords = { ok: true, value: value(z.aRecords).filter((x) => x.name !== `${WS_GUID}.workspace.eastus`) };
    }),
    expect: (t, r) => {
      const x = fails(r)[0] as FindingDraft;
      const bicep = x.remediation.bicep;
      t.match(bicep, `--subscription ${HUB_SUB} -g rg-dns -f fix.bicep`);
      t.match(bicep, `${decl('zone', 'Microsoft.Network/privateDnsZones', true)}\n  name: 'privatelink.api.azureml.ms'`);
      t.match(bicep, `${decl('record', 'Microsoft.Network/privateDnsZones/A')}\n  parent: zone\n  name: '${WS_GUID}.workspace.eastus'`);
      t.match(bicep, `ipv4Address: '${PE_IP}'`);
    },
  },
  {
    name: 'NXDOMAIN and no zone of that name: a comment pointing at PRIVATE_DNS_ZONE_MISSING',
    snapshot: make((s) => {
      answer(s, API_FQDN, failing('nxdomain'));
      const zs = value(s.privateDnsZones);
      zs.zones = zs.zones.filter((e) => e.id !== API_ZONE_ID);
    }),
    expect: (t, r) => {
      const x = fails(r)[0] as FindingDraft;
      t.ok(commentsOnly(x.remediation.bicep));
      t.match(x.remediation.bicep, /No private DNS zone privatelink\.api\.azureml\.ms was found: PRIVATE_DNS_ZONE_MISSING/);
    },
  },
  {
    name: 'two resolvers disagree: evidence lists both',
    snapshot: make((s) => {
      answer(s, CERT_FQDN, failing('servfail'));
      value(s.dns).lookups.push(lookup(CERT_FQDN, 'workspace-cert', [PE_IP], { resolver: '10.10.0.4' }));
    }),
    expect: (t, r) => {
      const x = fails(r)[0] as FindingDraft;
      t.same(x.evidence.map((e) => `${e.property} = ${e.observed.split(' ')[0]}`), [`A ${CERT_FQDN} @ 10.10.0.4 = ${PE_IP}`, `A ${CERT_FQDN} @ 127.0.0.1:5353 = SERVFAIL`]);
      t.match(x.explanation, /while 10\.10\.0\.4 answered 10\.10\.1\.4/);
    },
  },
  {
    name: 'two resolvers both fail: one finding naming both',
    snapshot: make((s) => {
      answer(s, API_FQDN, failing('nxdomain'));
      value(s.dns).lookups.push(lookup(API_FQDN, 'workspace-api', [], { resolver: '10.10.0.4', status: 'timeout' }));
    }),
    expect: (t, r) => {
      const f = fails(r);
      t.equal(f.length, 1);
      t.match(f[0]?.explanation, /TIMEOUT through 10\.10\.0\.4 and NXDOMAIN through 127\.0\.0\.1:5353/);
      t.match(f[0]?.remediation.verify, /nslookup .* 10\.10\.0\.4; nslookup -port=5353/);
    },
  },
  {
    name: 'a public answer is not a resolution failure',
    snapshot: make((s) => answer(s, API_FQDN, { addresses: ['20.42.0.1'] })),
    expect: (t, r) => t.equal(fails(r).length, 0),
  },
  {
    name: 'dns probe failed: undetermined with its message',
    snapshot: make((s) => {
      s.dns = { ok: false, error: { kind: 'timeout', message: 'resolving workspace and compute names was cancelled before it finished' } };
    }),
    expect: (t, r) => t.same(r.map((x) => x.status === 'undetermined' && x.reason), ['resolving workspace and compute names was cancelled before it finished']),
  },
  {
    name: 'no lookups at all: undetermined per name, never pass',
    snapshot: make((s) => {
      value(s.dns).lookups = [];
    }),
    expect: (t, r) => {
      t.equal(passes(r).length, 0);
      t.equal(undetermined(r).length, 3);
    },
  },
  {
    name: 'public workspace: a name that does not resolve still fails',
    snapshot: make((s) => {
      value(s.workspace).publicNetworkAccess = 'Enabled';
      answer(s, API_FQDN, failing('nxdomain'));
    }),
    expect: (t, r) => t.equal(fails(r).length, 1),
  },
  {
    name: 'workspace unreadable: undetermined',
    snapshot: make((s) => {
      s.workspace = { ok: false, error: { kind: 'forbidden', message: '403 reading the workspace' } };
    }),
    expect: (t, r) => t.same(r.map((x) => x.status === 'undetermined' && x.reason), ['403 reading the workspace']),
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const before = JSON.stringify(c.snapshot);
    const results = rule.check(c.snapshot);
    t.equal(JSON.stringify(c.snapshot), before, 'check does not modify the snapshot');
    t.same(rule.check(c.snapshot), results, 'deterministic');
    c.expect(t, results);
  });
}
