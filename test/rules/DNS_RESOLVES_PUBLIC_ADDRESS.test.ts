import t, { type Test } from 'tap';
import { rule } from '../../src/rules/DNS_RESOLVES_PUBLIC_ADDRESS.ts';
import { BICEP_API } from '../../src/rules/support-bicep.ts';
import type { FindingDraft, RuleResult } from '../../src/rules/rule.ts';
import type { DnsLookupObs, Snapshot } from '../../src/model/snapshot.ts';
import { API_FQDN, API_ZONE_ID, CERT_FQDN, HUB_SUB, NB_FQDN, PE_IP, SPOKE_ID, WS_ID, clone, healthySnapshot, lookup, value } from '../helpers/snapshot.ts';
import { fails, passes } from '../helpers/results.ts';

function make(mutate: (s: Snapshot) => void): Snapshot {
  const s = clone(healthySnapshot());
  mutate(s);
  return s;
}
function answer(s: Snapshot, name: string, patch: Partial<DnsLookupObs>) {
  for (const l of value(s.dns).lookups) if (l.name === name) Object.assign(l, patch);
}
const PUBLIC = { addresses: ['20.42.0.1'], cnames: [`${API_FQDN.replace('.api.azureml.ms', '.privatelink.api.azureml.ms')}`] };

const decl = (symbol: string, type: keyof typeof BICEP_API, existing = false) => `resource ${symbol} '${type}@${BICEP_API[type]}'${existing ? ' existing' : ''} = {`;
/** A snippet of comments only (valid Bicep that deploys nothing). */
const commentsOnly = (bicep: string) => bicep.trim().split('\n').every((l) => l.startsWith('//'));

const undetermined = (r: RuleResult[]) => r.flatMap((x) => (x.status === 'undetermined' ? [x] : []));

interface Case {
  name: string;
  snapshot: Snapshot;
  expect: (t: Test, results: RuleResult[]) => void;
}

const cases: Case[] = [
  {
    name: 'healthy: every workspace name answers privately',
    snapshot: healthySnapshot(),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.equal(passes(r).length, 3, 'api, cert and notebooks names');
    },
  },
  {
    name: 'public answer for the api name',
    snapshot: make((s) => answer(s, API_FQDN, PUBLIC)),
    expect: (t, r) => {
      const f = fails(r);
      t.equal(f.length, 1);
      const x = f[0] as FindingDraft;
      t.equal(x.resourceId, WS_ID, 'blames the workspace');
      t.equal(x.confidence, 'high');
      t.same(x.subjects, [`name:${API_FQDN}`, 'zone:privatelink.api.azureml.ms']);
      t.match(x.explanation, /20\.42\.0\.1 through 127\.0\.0\.1:5353/);
      t.match(x.explanation, /privatelink CNAME/);
      t.match(x.explanation, /device-login/);
      t.same(x.evidence, [{ property: `A ${API_FQDN} @ 127.0.0.1:5353`, observed: `20.42.0.1 (public) (CNAME ${PUBLIC.cnames[0]})`, expected: `${PE_IP} (the workspace private endpoint)` }]);
      t.ok(x.remediation.azCli.some((c) => c.startsWith('az network private-dns link vnet list') && c.includes('-g rg-dns -z privatelink.api.azureml.ms')));
      t.ok(x.remediation.azCli.some((c) => c.includes('record-set a show') && c.includes(`-n aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee.workspace.eastus`)));
      t.match(x.remediation.verify, `nslookup -port=5353 ${API_FQDN} 127.0.0.1`);
      t.match(x.remediation.verify, /then run aml-netdoctor recheck <report\.json>\.$/);
      t.ok(commentsOnly(x.remediation.bicep), 'the zone is linked to the spoke: nothing to declare');
      t.match(x.remediation.bicep, /CUSTOM_DNS_NOT_FORWARDING carries that fix \(conditional forwarders are configured on the DNS server itself\)/);
    },
  },
  {
    name: 'public answer through the privatelink CNAME, zone not linked to the spoke: the Bicep links it',
    snapshot: make((s) => {
      answer(s, API_FQDN, PUBLIC);
      const z = value(value(s.privateDnsZones).zones.find((e) => e.id === API_ZONE_ID)?.observed);
      z.links = { ok: true, value: value(z.links).filter((l) => l.virtualNetworkId !== SPOKE_ID) };
    }),
    expect: (t, r) => {
      const x = fails(r)[0] as FindingDraft;
      const bicep = x.remediation.bicep;
      t.match(bicep, `--subscription ${HUB_SUB} -g rg-dns -f fix.bicep`);
      t.match(bicep, `${decl('zone', 'Microsoft.Network/privateDnsZones', true)}\n  name: 'privatelink.api.azureml.ms'`);
      t.match(bicep, `${decl('link1', 'Microsoft.Network/privateDnsZones/virtualNetworkLinks')}\n  parent: zone\n  name: 'link-vnet-spoke'\n  location: 'global'`);
      t.match(bicep, `id: '${SPOKE_ID}'`);
      t.match(bicep, /PRIVATE_DNS_ZONE_NOT_LINKED carries the same fix/);
    },
  },
  {
    name: 'two resolvers disagree: evidence lists both',
    snapshot: make((s) => {
      answer(s, API_FQDN, PUBLIC);
      value(s.dns).lookups.push(lookup(API_FQDN, 'workspace-api', [PE_IP], { resolver: '10.10.0.4' }));
    }),
    expect: (t, r) => {
      const x = fails(r)[0] as FindingDraft;
      t.same(x.evidence.map((e) => e.property), [`A ${API_FQDN} @ 10.10.0.4`, `A ${API_FQDN} @ 127.0.0.1:5353`]);
      t.match(x.explanation, /through 127\.0\.0\.1:5353, while 10\.10\.0\.4 answered 10\.10\.1\.4/);
    },
  },
  {
    name: 'two resolvers both public: one finding naming both',
    snapshot: make((s) => {
      answer(s, CERT_FQDN, { addresses: ['20.42.0.1'], cnames: [] });
      value(s.dns).lookups.push(lookup(CERT_FQDN, 'workspace-cert', ['20.42.0.1'], { resolver: 'system' }));
    }),
    expect: (t, r) => {
      const f = fails(r);
      t.equal(f.length, 1);
      t.match(f[0]?.explanation, /through 127\.0\.0\.1:5353 and system/);
      t.match(f[0]?.explanation, /did not go through a privatelink name/);
      t.match(f[0]?.remediation.verify, `nslookup -port=5353 ${CERT_FQDN} 127.0.0.1; nslookup ${CERT_FQDN} answers`);
      t.ok(commentsOnly(f[0]?.remediation.bicep ?? 'x'), 'no privatelink CNAME: nothing Azure-side to declare');
      t.match(f[0]?.remediation.bicep, /hosts file/);
    },
  },
  {
    name: 'public notebooks answer: names notebooks, not the prompt',
    snapshot: make((s) => answer(s, NB_FQDN, { addresses: ['40.1.2.3'] })),
    expect: (t, r) => {
      const x = fails(r)[0] as FindingDraft;
      t.same(x.subjects, [`name:${NB_FQDN}`, 'zone:privatelink.notebooks.azure.net']);
      t.match(x.explanation, /Notebooks and file browsing/);
    },
  },
  {
    name: 'NXDOMAIN is not a public answer (DNS_RESOLUTION_FAILED covers it)',
    snapshot: make((s) => answer(s, API_FQDN, { status: 'nxdomain', addresses: [] })),
    expect: (t, r) => t.equal(fails(r).length, 0),
  },
  {
    name: 'dns probe failed: undetermined with its message',
    snapshot: make((s) => {
      s.dns = { ok: false, error: { kind: 'skipped', message: 'resolving workspace and compute names skipped: reading the workspace failed' } };
    }),
    expect: (t, r) => {
      t.equal(r.length, 1);
      t.equal(undetermined(r)[0]?.reason, 'resolving workspace and compute names skipped: reading the workspace failed');
    },
  },
  {
    name: 'dns probe did not run: undetermined',
    snapshot: make((s) => {
      delete s.dns;
    }),
    expect: (t, r) => t.equal(undetermined(r).length, 1),
  },
  {
    name: 'a name the probe did not resolve: undetermined for it, never pass',
    snapshot: make((s) => {
      value(s.dns).lookups = value(s.dns).lookups.filter((l) => l.name !== CERT_FQDN);
    }),
    expect: (t, r) => {
      t.equal(undetermined(r).length, 1);
      t.match(undetermined(r)[0]?.item, CERT_FQDN);
      t.equal(passes(r).length, 2);
    },
  },
  {
    name: 'a lookup that errored in the probe: undetermined with the message',
    snapshot: make((s) => answer(s, API_FQDN, { status: 'error', addresses: [], message: "invalid DNS server '10.0.0.300'" })),
    expect: (t, r) => t.match(undetermined(r)[0]?.reason, /invalid DNS server/),
  },
  {
    name: 'public workspace: does not apply',
    snapshot: make((s) => {
      value(s.workspace).publicNetworkAccess = 'Enabled';
      answer(s, API_FQDN, PUBLIC);
    }),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.match(passes(r)[0]?.detail, /Does not apply.*a public answer is expected/);
    },
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
