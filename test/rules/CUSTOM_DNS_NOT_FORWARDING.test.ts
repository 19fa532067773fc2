import t, { type Test } from 'tap';
import { rule } from '../../src/rules/CUSTOM_DNS_NOT_FORWARDING.ts';
import { BICEP_API } from '../../src/rules/support-bicep.ts';
import type { FindingDraft, RuleResult } from '../../src/rules/rule.ts';
import type { Snapshot, VnetObs } from '../../src/model/snapshot.ts';
import { API_FQDN, API_ZONE_ID, CERT_FQDN, HUB_ID, NB_ZONE_ID, PE_IP, SPOKE_ID, clone, healthySnapshot, value } from '../helpers/snapshot.ts';
import { fails, passes } from '../helpers/results.ts';

// --- breaking one thing --------------------------------------------------------------------------

function vnet(s: Snapshot, id: string): VnetObs {
  const entry = value(s.networks).vnets.find((v) => v.id === id);
  if (!entry) throw new Error(`no vnet ${id}`);
  return value(entry.observed);
}
function zone(s: Snapshot, id: string) {
  const entry = value(s.privateDnsZones).zones.find((z) => z.id === id);
  if (!entry) throw new Error(`no zone ${id}`);
  return value(entry.observed);
}
const setDns = (s: Snapshot, servers: string[]) => {
  vnet(s, SPOKE_ID).dnsServers = servers;
};
/** The api and cert names answered publicly (what an unforwarded custom DNS server returns). */
function publicAnswers(s: Snapshot, resolver?: string) {
  for (const l of value(s.dns).lookups) {
    if (l.name === API_FQDN || l.name === CERT_FQDN) {
      l.addresses = ['20.42.0.1'];
      l.cnames = [`${l.name.replace('.api.azureml.ms', '.privatelink.api.azureml.ms')}`];
      if (resolver) l.resolver = resolver;
    }
  }
}
function dropLinks(s: Snapshot, vnetId: string) {
  for (const id of [API_ZONE_ID, NB_ZONE_ID]) {
    const z = zone(s, id);
    z.links = { ok: true, value: value(z.links).filter((l) => l.virtualNetworkId !== vnetId) };
  }
}
function make(mutate: (s: Snapshot) => void, base: Snapshot = healthySnapshot()): Snapshot {
  const s = clone(base);
  mutate(s);
  return s;
}
/** The healthy estate respelled for Azure Government. */
function govSnapshot(): Snapshot {
  const json = JSON.stringify(healthySnapshot())
    .replaceAll('api.azureml.ms', 'api.ml.azure.us')
    .replaceAll('notebooks.azure.net', 'notebooks.usgovcloudapi.net')
    .replaceAll('instances.azureml.ms', 'instances.azureml.us')
    .replaceAll('instances.ml.azure.ms', 'instances.ml.azure.us')
    .replaceAll('"AzureCloud"', '"AzureUSGovernment"');
  return JSON.parse(json) as Snapshot;
}

const decl = (symbol: string, type: keyof typeof BICEP_API, existing = false) => `resource ${symbol} '${type}@${BICEP_API[type]}'${existing ? ' existing' : ''} = {`;
/** The Private Resolver side: resolver in the hub (linked to the zones), ruleset rules for every zone to its inbound endpoint, linked to the spoke. */
function expectResolverBicep(t: Test, x: FindingDraft) {
  const bicep = x.remediation.bicep;
  t.match(bicep, '-g rg-hub -f fix.bicep', 'deployed to the hub resource group');
  t.match(bicep, /configured on|Bicep cannot configure a DNS server/, 'says the forwarders are set on the DNS server itself');
  t.match(bicep, `${decl('hostVnet', 'Microsoft.Network/virtualNetworks', true)}\n  name: 'vnet-hub'`);
  t.match(bicep, `${decl('resolver', 'Microsoft.Network/dnsResolvers')}\n  name: 'dnspr-vnet-hub'`);
  t.match(bicep, decl('inbound', 'Microsoft.Network/dnsResolvers/inboundEndpoints'));
  t.match(bicep, decl('outbound', 'Microsoft.Network/dnsResolvers/outboundEndpoints'));
  t.match(bicep, `${decl('ruleset', 'Microsoft.Network/dnsForwardingRulesets')}\n  name: 'dnsrs-vnet-hub'`);
  t.match(bicep, decl('rule1', 'Microsoft.Network/dnsForwardingRulesets/forwardingRules'));
  for (const z of PUBLIC_ZONES) t.match(bicep, `domainName: '${z}.'`, `a rule for ${z}, with the trailing dot`);
  t.match(bicep, 'ipAddress: inbound.properties.ipConfigurations[0].privateIpAddress\n        port: 53');
  t.match(bicep, `${decl('rulesetLink', 'Microsoft.Network/dnsForwardingRulesets/virtualNetworkLinks')}`);
  t.match(bicep, `id: '${SPOKE_ID}'`, 'the ruleset is linked to the compute VNet');
  t.match(x.remediation.verify, /then run aml-netdoctor recheck <report\.json>\.$/);
}

const undetermined = (r: RuleResult[]) => r.flatMap((x) => (x.status === 'undetermined' ? [x] : []));
const PUBLIC_ZONES = ['api.azureml.ms', 'notebooks.azure.net', 'instances.azureml.ms', 'instances.ml.azure.ms', 'aznbcontent.net', 'inference.ml.azure.com'];

// --- cases ---------------------------------------------------------------------------------------

interface Case {
  name: string;
  snapshot: Snapshot;
  expect: (t: Test, results: RuleResult[]) => void;
}

const cases: Case[] = [
  {
    name: 'healthy: Azure-provided DNS, does not apply',
    snapshot: healthySnapshot(),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.match(passes(r)[0]?.detail, /Does not apply: vnet-spoke uses Azure-provided DNS/);
    },
  },
  {
    name: 'custom DNS 192.168.50.10 (in no VNet) answers publicly',
    snapshot: make((s) => {
      setDns(s, ['192.168.50.10']);
      publicAnswers(s);
    }),
    expect: (t, r) => {
      const f = fails(r);
      t.equal(f.length, 1);
      const x = f[0] as FindingDraft;
      t.equal(x.resourceId, SPOKE_ID, 'blames the compute VNet');
      t.equal(x.confidence, 'medium', 'observed through another resolver than the VNet DNS server');
      t.match(x.explanation, /uses custom DNS server 192\.168\.50\.10; 192\.168\.50\.10 sits in no Azure VNet read/);
      t.match(x.explanation, /20\.42\.0\.1 \(public\)/);
      t.match(x.explanation, /--dns-server 192\.168\.50\.10/);
      t.match(x.explanation, /device-login/);
      t.ok(x.evidence.some((e) => e.property === 'properties.dhcpOptions.dnsServers' && /192\.168\.50\.10/.test(e.observed)));
      t.ok(x.evidence.some((e) => e.property === `A ${API_FQDN} @ 127.0.0.1:5353` && /20\.42\.0\.1/.test(e.observed) && e.expected.includes(PE_IP)));
      t.ok(x.evidence.some((e) => e.resourceId === `${API_ZONE_ID}/A/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee.workspace.eastus`), 'the correct record is shown');
      for (const z of PUBLIC_ZONES) t.match(x.remediation.summary, z, `forwards ${z}`);
      t.match(x.remediation.summary, /not to 168\.63\.129\.16/, 'on-premises note');
      t.ok(x.remediation.azCli.some((c) => c.startsWith('az dns-resolver create') && c.includes(`--id ${HUB_ID}`)), 'private resolver in the linked hub');
      t.ok(x.remediation.azCli.some((c) => c.startsWith('az dns-resolver inbound-endpoint create') && c.includes(`${HUB_ID}/subnets/snet-dns-inbound`)));
      t.same(x.subjects?.slice(0, 2), [`name:${API_FQDN}`, `name:${CERT_FQDN}`]);
      expectResolverBicep(t, x);
      t.match(x.remediation.bicep, "to the inbound endpoint's IP declared below");
      t.match(x.remediation.verify, `nslookup ${API_FQDN} 192.168.50.10`);
    },
  },
  {
    name: 'answers observed through the VNet DNS server itself: high confidence',
    snapshot: make((s) => {
      setDns(s, ['192.168.50.10']);
      publicAnswers(s, '192.168.50.10');
    }),
    expect: (t, r) => {
      t.equal(fails(r)[0]?.confidence, 'high');
      t.notMatch(fails(r)[0]?.explanation, /--dns-server/);
    },
  },
  {
    name: 'NXDOMAIN through the custom DNS server also fails',
    snapshot: make((s) => {
      setDns(s, ['192.168.50.10']);
      const l = value(s.dns).lookups.find((x) => x.name === CERT_FQDN);
      if (l) Object.assign(l, { status: 'nxdomain', addresses: [] });
    }),
    expect: (t, r) => {
      const x = fails(r)[0] as FindingDraft;
      t.match(x.explanation, /NXDOMAIN/);
      t.same(x.subjects?.[0], `name:${CERT_FQDN}`, 'only the name that failed');
    },
  },
  {
    name: 'custom DNS in the hub, hub linked, correct answers: passes',
    snapshot: make((s) => setDns(s, ['10.10.0.4'])),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.match(passes(r)[0]?.detail, /resolve to the private endpoint \(10\.10\.1\.4\)/);
    },
  },
  {
    name: 'custom DNS in the hub, hub linked, public answers: the forwarder is to blame',
    snapshot: make((s) => {
      setDns(s, ['10.10.0.4']);
      publicAnswers(s);
    }),
    expect: (t, r) => {
      const x = fails(r)[0] as FindingDraft;
      t.match(x.explanation, /10\.10\.0\.4 sits in vnet-hub\. .*is linked to vnet-hub/);
      t.match(x.remediation.summary, /On the DNS server 10\.10\.0\.4/);
      t.match(x.remediation.summary, /must forward them to 10\.10\.0\.4/);
      t.ok(x.evidence.some((e) => e.resourceId === `${API_ZONE_ID}/virtualNetworkLinks/hub`), 'the link is shown in order');
      expectResolverBicep(t, x);
      t.match(x.remediation.bicep, 'conditional forwarders for api.azureml.ms');
      t.match(x.remediation.bicep, 'to 168.63.129.16');
    },
  },
  {
    name: 'custom DNS inside the compute VNet: the resolver goes there, and the ruleset is not linked to its own VNet',
    snapshot: make((s) => {
      setDns(s, ['10.20.0.4']);
      publicAnswers(s);
    }),
    expect: (t, r) => {
      const x = fails(r)[0] as FindingDraft;
      t.match(x.remediation.bicep, '-g rg-net -f fix.bicep');
      t.match(x.remediation.bicep, `${decl('resolver', 'Microsoft.Network/dnsResolvers')}\n  name: 'dnspr-vnet-spoke'`);
      t.notMatch(x.remediation.bicep, 'rulesetLink', 'a ruleset linked to the VNet of its own inbound endpoint would loop');
    },
  },
  {
    name: 'custom DNS in the hub, hub not linked: PRIVATE_DNS_ZONE_NOT_LINKED, not this rule',
    snapshot: make((s) => {
      setDns(s, ['10.10.0.4']);
      dropLinks(s, HUB_ID);
      publicAnswers(s);
    }),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.match(passes(r)[0]?.detail, /PRIVATE_DNS_ZONE_NOT_LINKED/);
    },
  },
  {
    name: 'stale A record: the record rule explains it',
    snapshot: make((s) => {
      setDns(s, ['192.168.50.10']);
      publicAnswers(s);
      const recs = value(zone(s, API_ZONE_ID).aRecords);
      for (const rec of recs) rec.ipv4Addresses = ['10.10.1.99'];
    }),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.match(passes(r)[0]?.detail, /PRIVATE_DNS_RECORD/);
    },
  },
  {
    name: 'A records unreadable: undetermined',
    snapshot: make((s) => {
      setDns(s, ['192.168.50.10']);
      publicAnswers(s);
      zone(s, API_ZONE_ID).aRecords = { ok: false, error: { kind: 'forbidden', message: '403 listing A records' } };
    }),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.match(undetermined(r)[0]?.reason, /403 listing A records/);
    },
  },
  {
    name: 'dns probe failed: undetermined with its message',
    snapshot: make((s) => {
      setDns(s, ['192.168.50.10']);
      s.dns = { ok: false, error: { kind: 'skipped', message: 'resolving workspace and compute names skipped: reading the workspace failed' } };
    }),
    expect: (t, r) => {
      t.equal(passes(r).length, 0);
      t.equal(undetermined(r)[0]?.reason, 'resolving workspace and compute names skipped: reading the workspace failed');
    },
  },
  {
    name: 'no lookups for the workspace names: undetermined',
    snapshot: make((s) => {
      setDns(s, ['192.168.50.10']);
      value(s.dns).lookups = [];
    }),
    expect: (t, r) => {
      t.equal(passes(r).length, 0);
      t.equal(undetermined(r).length, 1);
    },
  },
  {
    name: 'Azure Government: forwarders use the sovereign spellings',
    snapshot: make((s) => {
      setDns(s, ['192.168.50.10']);
      for (const l of value(s.dns).lookups) if (l.purpose === 'workspace-api' || l.purpose === 'workspace-cert') l.addresses = ['52.1.1.1'];
    }, govSnapshot()),
    expect: (t, r) => {
      const x = fails(r)[0] as FindingDraft;
      for (const z of ['api.ml.azure.us', 'notebooks.usgovcloudapi.net', 'instances.ml.azure.us', 'aznbcontent.net', 'inference.ml.azure.us']) t.match(x.remediation.summary, z);
      t.notMatch(x.remediation.summary, /azureml\.ms|azure\.net\b|ml\.azure\.com/);
    },
  },
  {
    name: 'public workspace: does not apply',
    snapshot: make((s) => {
      value(s.workspace).publicNetworkAccess = 'Enabled';
      setDns(s, ['192.168.50.10']);
      publicAnswers(s);
    }),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.match(passes(r)[0]?.detail, /Does not apply/);
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
