import t, { type Test } from 'tap';
import { rule } from '../../src/rules/COMPUTE_INSTANCE_NAME_UNRESOLVABLE.ts';
import type { FindingDraft, RuleResult } from '../../src/rules/rule.ts';
import type { DnsLookupObs, ProbeId, Snapshot, VnetObs } from '../../src/model/snapshot.ts';
import { COMPUTE_ID, HUB_ID, HUB_SUB, PE_IP, SPOKE_ID, SUB, clone, healthySnapshot, value } from '../helpers/snapshot.ts';
import { fails, passes } from '../helpers/results.ts';
import { BICEP_API } from '../../src/rules/support-bicep.ts';

const CI_OLD = 'ci-alice.eastus.instances.azureml.ms';
const CI_NEW = 'ci-alice.eastus.instances.ml.azure.ms';

function make(mutate: (s: Snapshot) => void): Snapshot {
  const s = clone(healthySnapshot());
  mutate(s);
  return s;
}
function answer(s: Snapshot, name: string, patch: Partial<DnsLookupObs>) {
  for (const l of value(s.dns).lookups) if (l.name === name) Object.assign(l, patch);
}
function vnet(s: Snapshot, id: string): VnetObs {
  const entry = value(s.networks).vnets.find((v) => v.id === id);
  if (!entry) throw new Error(`no vnet ${id}`);
  return value(entry.observed);
}

const undetermined = (r: RuleResult[]) => r.flatMap((x) => (x.status === 'undetermined' ? [x] : []));

interface Case {
  name: string;
  snapshot: Snapshot;
  expect: (t: Test, results: RuleResult[]) => void;
}

const cases: Case[] = [
  {
    name: 'healthy: both instance names answer the workspace API IP',
    snapshot: healthySnapshot(),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.equal(passes(r).length, 1);
      t.equal(passes(r)[0]?.resourceId, COMPUTE_ID);
    },
  },
  {
    name: 'instances.azureml.ms name NXDOMAIN',
    snapshot: make((s) => answer(s, CI_OLD, { status: 'nxdomain', addresses: [] })),
    expect: (t, r) => {
      const f = fails(r);
      t.equal(f.length, 1);
      const x = f[0] as FindingDraft;
      t.equal(x.resourceId, COMPUTE_ID, 'blames the compute');
      t.equal(x.confidence, 'high');
      t.match(x.explanation, `${CI_OLD} gave NXDOMAIN through 127.0.0.1:5353`);
      t.match(x.explanation, /browser/);
      t.match(x.explanation, /not what makes the compute print the device-login prompt/);
      t.same(x.evidence.map((e) => e.property), [`A ${CI_OLD} @ 127.0.0.1:5353`, `A ${CI_NEW} @ 127.0.0.1:5353`], 'both names judged');
      t.same(x.remediation.azCli.slice(0, 3), [
        `az network private-dns zone create --subscription ${HUB_SUB} -g rg-dns -n ${CI_OLD}`,
        `az network private-dns record-set a add-record --subscription ${HUB_SUB} -g rg-dns -z ${CI_OLD} -n @ -a ${PE_IP}`,
        `az network private-dns link vnet create --subscription ${HUB_SUB} -g rg-dns -z ${CI_OLD} -n link-vnet-spoke -v ${SPOKE_ID} -e false`,
      ]);
      t.equal(x.remediation.azCli.length, 6, 'a zone for each instance name');
      t.match(x.remediation.summary, `${PE_IP} ${CI_OLD} ${CI_NEW}`, 'hosts-file fallback');
      t.same(x.subjects, [`name:${CI_OLD}`, `name:${CI_NEW}`, `compute:${COMPUTE_ID.toLowerCase()}`]);
      const bicep = x.remediation.bicep;
      t.match(bicep, `az deployment group create --subscription ${HUB_SUB} -g rg-dns -f fix.bicep`, 'deploys beside the privatelink API zone');
      t.match(bicep, `resource zone1 'Microsoft.Network/privateDnsZones@${BICEP_API['Microsoft.Network/privateDnsZones']}' = {\n  name: '${CI_OLD}'\n  location: 'global'\n}`);
      t.match(bicep, `resource zone1Apex 'Microsoft.Network/privateDnsZones/A@${BICEP_API['Microsoft.Network/privateDnsZones/A']}' = {\n  parent: zone1\n  name: '@'`);
      t.match(bicep, `ipv4Address: '${PE_IP}'`);
      t.match(bicep, `resource zone1Link 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@${BICEP_API['Microsoft.Network/privateDnsZones/virtualNetworkLinks']}' = {\n  parent: zone1\n  name: 'link-vnet-spoke'\n  location: 'global'\n  properties: {\n    registrationEnabled: false\n    virtualNetwork: {\n      id: '${SPOKE_ID}'`);
      t.match(bicep, `resource zone2 'Microsoft.Network/privateDnsZones@${BICEP_API['Microsoft.Network/privateDnsZones']}' = {\n  name: '${CI_NEW}'`);
      t.match(bicep, '// No privatelink zone exists for compute instance names');
      t.match(x.remediation.verify, `nslookup -port=5353 ${CI_OLD} 127.0.0.1`);
      t.match(x.remediation.verify, /must each answer 10\.10\.1\.4; then run aml-netdoctor recheck <report\.json>\.$/);
    },
  },
  {
    name: 'instances.ml.azure.ms name points at another IP',
    snapshot: make((s) => answer(s, CI_NEW, { addresses: ['10.20.1.7'] })),
    expect: (t, r) => {
      const x = fails(r)[0] as FindingDraft;
      t.match(x.explanation, `${CI_NEW} gave 10.20.1.7 through 127.0.0.1:5353`);
      t.match(x.explanation, /not the instance's own IP/);
    },
  },
  {
    name: 'custom DNS in the hub: zones linked to the hub, forwarders named',
    snapshot: make((s) => {
      vnet(s, SPOKE_ID).dnsServers = ['10.10.0.4'];
      answer(s, CI_OLD, { status: 'nxdomain', addresses: [] });
    }),
    expect: (t, r) => {
      const x = fails(r)[0] as FindingDraft;
      t.ok(x.remediation.azCli.every((c) => !c.includes('link vnet create') || c.endsWith(`-n link-vnet-hub -v ${HUB_ID} -e false`)));
      t.match(x.remediation.summary, /10\.10\.0\.4 must forward instances\.azureml\.ms and instances\.ml\.azure\.ms to 168\.63\.129\.16/);
      t.match(x.remediation.bicep, `name: 'link-vnet-hub'\n  location: 'global'\n  properties: {\n    registrationEnabled: false\n    virtualNetwork: {\n      id: '${HUB_ID}'`);
      t.notMatch(x.remediation.bicep, SPOKE_ID, 'not linked to the spoke, whose DNS server lives in the hub');
      t.match(x.remediation.bicep, '// The DNS server 10.10.0.4 must forward instances.azureml.ms and instances.ml.azure.ms to 168.63.129.16');
    },
  },
  {
    name: 'custom DNS outside Azure: records on that server, no zone commands',
    snapshot: make((s) => {
      vnet(s, SPOKE_ID).dnsServers = ['192.168.50.10'];
      answer(s, CI_OLD, { addresses: ['52.1.1.1'] });
    }),
    expect: (t, r) => {
      const x = fails(r)[0] as FindingDraft;
      t.same(x.remediation.azCli, []);
      t.match(x.remediation.summary, `on that DNS server create A records ${CI_OLD} -> ${PE_IP}`);
      t.match(x.remediation.bicep, `az deployment group create --subscription ${SUB} -g rg-ml -f fix.bicep`);
      t.match(x.remediation.bicep, '// Nothing to deploy: clients in vnet-spoke resolve through custom DNS 192.168.50.10 outside Azure');
      t.match(x.remediation.bicep, `// On that DNS server create A records ${CI_OLD} -> ${PE_IP}, ${CI_NEW} -> ${PE_IP}`);
      t.notMatch(x.remediation.bicep, /^resource /m, 'no zone declared: the server outside Azure would not ask it');
      t.match(x.remediation.verify, /then run aml-netdoctor recheck <report\.json>/);
    },
  },
  {
    name: 'dns probe failed: undetermined with its message',
    snapshot: make((s) => {
      s.dns = { ok: false, error: { kind: 'skipped', message: 'resolving workspace and compute names skipped: reading the workspace failed' } };
    }),
    expect: (t, r) => t.same(r.map((x) => x.status === 'undetermined' && x.reason), ['resolving workspace and compute names skipped: reading the workspace failed']),
  },
  {
    name: 'one instance name not resolved by the probe: undetermined, never pass',
    snapshot: make((s) => {
      value(s.dns).lookups = value(s.dns).lookups.filter((l) => l.name !== CI_NEW);
    }),
    expect: (t, r) => {
      t.equal(passes(r).length, 0);
      t.match(undetermined(r)[0]?.item, CI_NEW);
    },
  },
  {
    name: 'no compute instance in scope',
    snapshot: make((s) => {
      for (const c of value(s.computes).computes) c.computeType = 'AmlCompute';
    }),
    expect: (t, r) => t.match(passes(r)[0]?.detail, /no compute instance/),
  },
  {
    name: 'no workspace private endpoint: does not apply yet',
    snapshot: make((s) => {
      value(s.privateEndpoints).endpoints = [];
    }),
    expect: (t, r) => t.match(passes(r)[0]?.detail, /WORKSPACE_PRIVATE_ENDPOINT_MISSING/),
  },
  {
    name: 'public workspace: does not apply',
    snapshot: make((s) => {
      value(s.workspace).publicNetworkAccess = 'Enabled';
      answer(s, CI_OLD, { status: 'nxdomain', addresses: [] });
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

/** The snapshot with only these probes' keys. */
const only = (s: Snapshot, keys: readonly ProbeId[]): Snapshot => ({ target: s.target, collectedAt: s.collectedAt, ...Object.fromEntries(keys.map((k) => [k, s[k]])) });

t.test('meta.needs: the listed probes give the same results, and each of them is read', async (t) => {
  const s = make((x) => answer(x, CI_OLD, { status: 'nxdomain', addresses: [] }));
  const full = rule.check(s);
  t.same(rule.check(only(s, rule.meta.needs)), full);
  for (const k of rule.meta.needs) t.notSame(rule.check(only(s, rule.meta.needs.filter((n) => n !== k))), full, `${k} is read`);
});
