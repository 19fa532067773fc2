import t, { type Test } from 'tap';
import { rule } from '../../src/rules/PRIVATE_DNS_ZONE_NOT_LINKED.ts';
import { BICEP_API } from '../../src/rules/support-bicep.ts';
import type { FindingDraft, RuleResult } from '../../src/rules/rule.ts';
import type { Snapshot, VnetObs } from '../../src/model/snapshot.ts';
import {
  API_FQDN,
  API_ZONE_ID,
  HUB_ID,
  HUB_SUB,
  NB_ZONE_ID,
  SPOKE_ID,
  clone,
  healthySnapshot,
  link,
  value,
} from '../helpers/snapshot.ts';
import { fails, passes } from '../helpers/results.ts';

// --- breaking one thing --------------------------------------------------------------------------

function zone(s: Snapshot, id: string) {
  const entry = value(s.privateDnsZones).zones.find((z) => z.id === id);
  if (!entry) throw new Error(`no zone ${id}`);
  return value(entry.observed);
}
function vnet(s: Snapshot, id: string): VnetObs {
  const entry = value(s.networks).vnets.find((v) => v.id === id);
  if (!entry) throw new Error(`no vnet ${id}`);
  return value(entry.observed);
}
function dropLinks(s: Snapshot, vnetId: string) {
  for (const id of [API_ZONE_ID, NB_ZONE_ID]) {
    const z = zone(s, id);
    z.links = { ok: true, value: value(z.links).filter((l) => l.virtualNetworkId !== vnetId) };
  }
}
function setDns(s: Snapshot, servers: string[]) {
  vnet(s, SPOKE_ID).dnsServers = servers;
}
function make(mutate: (s: Snapshot) => void): Snapshot {
  const s = clone(healthySnapshot());
  mutate(s);
  return s;
}

const undetermined = (r: RuleResult[]) => r.flatMap((x) => (x.status === 'undetermined' ? [x] : []));
const text = (f: FindingDraft) => JSON.stringify(f);
const decl = (symbol: string, type: keyof typeof BICEP_API, existing = false) => `resource ${symbol} '${type}@${BICEP_API[type]}'${existing ? ' existing' : ''} = {`;
/** The Bicep of a zone link: the existing zone and its virtualNetworkLinks child to the VNet. */
function expectLinkBicep(t: Test, f: FindingDraft, zoneName: string, linkName: string, vnetId: string) {
  const bicep = f.remediation.bicep;
  t.match(bicep, `--subscription ${HUB_SUB} -g rg-dns -f fix.bicep`, 'deployed to the zone resource group');
  t.match(bicep, `${decl('zone', 'Microsoft.Network/privateDnsZones', true)}\n  name: '${zoneName}'`);
  t.match(
    bicep,
    `${decl('link', 'Microsoft.Network/privateDnsZones/virtualNetworkLinks')}\n  parent: zone\n  name: '${linkName}'\n  location: 'global'\n  properties: {\n    registrationEnabled: false\n    virtualNetwork: {\n      id: '${vnetId}'`,
  );
  t.match(f.remediation.verify, /then run aml-netdoctor recheck <report\.json>\.$/);
}

// --- cases ---------------------------------------------------------------------------------------

interface Case {
  name: string;
  snapshot: Snapshot;
  expect: (t: Test, results: RuleResult[]) => void;
}

const cases: Case[] = [
  {
    name: 'healthy hub-and-spoke: both zones linked to the spoke',
    snapshot: healthySnapshot(),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.equal(passes(r).length, 2, 'one pass per required zone');
      t.match(passes(r)[0]?.detail, /linked to vnet-spoke/);
    },
  },
  {
    name: 'zones linked to the hub only, compute in the peered spoke (Azure DNS)',
    snapshot: make((s) => dropLinks(s, SPOKE_ID)),
    expect: (t, r) => {
      const f = fails(r);
      t.same(f.map((x) => x.resourceId), [API_ZONE_ID, NB_ZONE_ID], 'blames each zone');
      const api = f[0] as FindingDraft;
      t.match(api.explanation, /vnet-spoke/);
      t.match(api.explanation, /linked to vnet-hub, not to vnet-spoke/);
      t.match(api.explanation, /peering does not carry private DNS zone links/);
      t.match(api.explanation, /device-login/);
      t.ok(api.evidence.some((e) => e.resourceId === `${SPOKE_ID}/virtualNetworkPeerings/spoke-to-hub` && /peering does not carry/.test(e.expected)), 'peering evidence');
      t.ok(api.evidence.some((e) => e.resourceId === API_ZONE_ID && /vnet-hub \(Completed\)/.test(e.observed)), 'the hub link is shown');
      t.same(api.remediation.azCli, [`az network private-dns link vnet create --subscription ${HUB_SUB} -g rg-dns -z privatelink.api.azureml.ms -n link-vnet-spoke -v ${SPOKE_ID} -e false`]);
      t.ok(api.subjects?.includes('zone:privatelink.api.azureml.ms'));
      t.ok(api.subjects?.includes(`name:${API_FQDN}`));
      t.equal(api.confidence, 'medium', 'no DNS answer confirms it');
      expectLinkBicep(t, api, 'privatelink.api.azureml.ms', 'link-vnet-spoke', SPOKE_ID);
      t.match(api.remediation.verify, /shows a Completed link to vnet-spoke/);
      expectLinkBicep(t, f[1] as FindingDraft, 'privatelink.notebooks.azure.net', 'link-vnet-spoke', SPOKE_ID);
    },
  },
  {
    name: 'a public answer for the api name confirms the missing link',
    snapshot: make((s) => {
      dropLinks(s, SPOKE_ID);
      const l = value(s.dns).lookups.find((x) => x.name === API_FQDN);
      if (l) l.addresses = ['20.42.0.1'];
    }),
    expect: (t, r) => {
      const api = fails(r)[0] as FindingDraft;
      t.equal(api.confidence, 'high');
      t.ok(api.evidence.some((e) => e.property === `A ${API_FQDN} @ 127.0.0.1:5353` && /20\.42\.0\.1 \(public\)/.test(e.observed)));
    },
  },
  {
    name: 'custom DNS 10.10.0.4 inside the hub, hub links removed: the hub is the resolver VNet',
    snapshot: make((s) => {
      setDns(s, ['10.10.0.4']);
      dropLinks(s, HUB_ID);
    }),
    expect: (t, r) => {
      const f = fails(r);
      t.equal(f.length, 2, 'both zones, although the spoke itself is linked');
      const api = f[0] as FindingDraft;
      t.equal(api.resourceId, API_ZONE_ID);
      t.match(api.explanation, /custom DNS server 10\.10\.0\.4, which sits in vnet-hub/);
      t.match(api.explanation, /linked to vnet-spoke, not to vnet-hub/);
      t.ok(api.evidence.some((e) => e.resourceId === HUB_ID && /10\.10\.0\.4/.test(e.observed)), 'evidence names the VNet holding the DNS server');
      t.match(api.remediation.azCli[0], new RegExp(`-n link-vnet-hub -v ${HUB_ID} -e false$`));
      expectLinkBicep(t, api, 'privatelink.api.azureml.ms', 'link-vnet-hub', HUB_ID);
    },
  },
  {
    name: 'custom DNS in the hub, hub linked: passes',
    snapshot: make((s) => setDns(s, ['10.10.0.4'])),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.equal(passes(r).length, 2);
      t.match(passes(r)[0]?.detail, /linked to vnet-hub/);
    },
  },
  {
    name: 'custom DNS 192.168.50.10 in no VNet: not this rule',
    snapshot: make((s) => setDns(s, ['192.168.50.10'])),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.equal(undetermined(r).length, 0);
      t.match(passes(r)[0]?.detail, /CUSTOM_DNS_NOT_FORWARDING/);
    },
  },
  {
    name: 'custom DNS in no VNet read, and a VNet could not be read: undetermined',
    snapshot: make((s) => {
      setDns(s, ['192.168.50.10']);
      const hub = value(s.networks).vnets.find((v) => v.id === HUB_ID);
      if (hub) hub.observed = { ok: false, error: { kind: 'forbidden', message: '403 AuthorizationFailed reading vnet-hub' } };
    }),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.equal(passes(r).length, 0);
      t.match(undetermined(r)[0]?.reason, /403 AuthorizationFailed/);
    },
  },
  {
    name: 'link to the spoke still InProgress',
    snapshot: make((s) => {
      const l = value(zone(s, API_ZONE_ID).links).find((x) => x.virtualNetworkId === SPOKE_ID);
      if (l) {
        l.virtualNetworkLinkState = 'InProgress';
        l.provisioningState = 'Updating';
      }
    }),
    expect: (t, r) => {
      const f = fails(r);
      t.equal(f.length, 1, 'only the api zone');
      const api = f[0] as FindingDraft;
      t.equal(api.resourceId, API_ZONE_ID);
      t.match(api.explanation, /InProgress/);
      t.match(api.remediation.summary, /Wait/);
      t.ok(api.evidence.some((e) => e.resourceId === `${API_ZONE_ID}/virtualNetworkLinks/spoke` && /InProgress/.test(e.observed)));
      t.ok(api.remediation.azCli.some((c) => c.startsWith('az network private-dns link vnet delete') && c.includes('-n spoke')));
      expectLinkBicep(t, api, 'privatelink.api.azureml.ms', 'spoke', SPOKE_ID);
      t.match(api.remediation.bicep, /Bicep cannot delete: if the link stays InProgress, delete it with the az command first/);
    },
  },
  {
    name: 'a link without a state counts when provisioning Succeeded',
    snapshot: make((s) => {
      for (const l of value(zone(s, API_ZONE_ID).links)) delete l.virtualNetworkLinkState;
    }),
    expect: (t, r) => t.equal(fails(r).length, 0),
  },
  {
    name: 'links of a zone unreadable: undetermined, never pass',
    snapshot: make((s) => {
      zone(s, API_ZONE_ID).links = { ok: false, error: { kind: 'forbidden', message: '403 AuthorizationFailed listing virtualNetworkLinks of privatelink.api.azureml.ms' } };
    }),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      const u = undetermined(r);
      t.equal(u.length, 1);
      t.equal(u[0]?.reason, '403 AuthorizationFailed listing virtualNetworkLinks of privatelink.api.azureml.ms');
      t.equal(passes(r).length, 1, 'the notebooks zone still passes');
    },
  },
  {
    name: 'zone missing entirely: nothing to judge here',
    snapshot: make((s) => {
      const z = value(s.privateDnsZones);
      z.zones = z.zones.filter((x) => x.id !== NB_ZONE_ID);
    }),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.ok(passes(r).some((p) => /no zone to judge/.test(p.detail)));
    },
  },
  {
    name: 'a second zone of the same name linked to the spoke counts',
    snapshot: make((s) => {
      dropLinks(s, SPOKE_ID);
      const otherId = `/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/rg-spoke-dns/providers/Microsoft.Network/privateDnsZones/privatelink.api.azureml.ms`;
      const other = { ...clone(zone(s, API_ZONE_ID)), id: otherId, links: { ok: true as const, value: [link(otherId, SPOKE_ID, 'spoke')] } };
      value(s.privateDnsZones).zones.push({ id: otherId, name: 'privatelink.api.azureml.ms', foundBy: ['subscription-list'], observed: { ok: true, value: other } });
    }),
    expect: (t, r) => t.same(fails(r).map((f) => f.resourceId), [NB_ZONE_ID], 'only notebooks fails'),
  },
  {
    name: 'several zones of the name, none linked: blames the one the zone group references',
    snapshot: make((s) => {
      dropLinks(s, SPOKE_ID);
      const otherId = `/subscriptions/00000000-3333-3333-3333-333333333333/resourceGroups/rg-a/providers/Microsoft.Network/privateDnsZones/privatelink.api.azureml.ms`;
      value(s.privateDnsZones).zones.push({ id: otherId, name: 'privatelink.api.azureml.ms', foundBy: ['subscription-list'], observed: { ok: true, value: { ...clone(zone(s, API_ZONE_ID)), id: otherId, links: { ok: true, value: [] } } } });
    }),
    expect: (t, r) => t.equal(fails(r)[0]?.resourceId, API_ZONE_ID),
  },
  {
    name: 'public workspace: does not apply',
    snapshot: make((s) => {
      value(s.workspace).publicNetworkAccess = 'Enabled';
      dropLinks(s, SPOKE_ID);
    }),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.match(passes(r)[0]?.detail, /Does not apply/);
    },
  },
  {
    name: 'private DNS zone probe failed: undetermined with its message',
    snapshot: make((s) => {
      s.privateDnsZones = { ok: false, error: { kind: 'timeout', message: 'listing private DNS zones timed out after 30s' } };
    }),
    expect: (t, r) => t.same(r.map((x) => x.status === 'undetermined' && x.reason), ['listing private DNS zones timed out after 30s']),
  },
  {
    name: 'compute VNet unreadable: undetermined',
    snapshot: make((s) => {
      const spoke = value(s.networks).vnets.find((v) => v.id === SPOKE_ID);
      if (spoke) spoke.observed = { ok: false, error: { kind: 'forbidden', message: '403 reading vnet-spoke' } };
    }),
    expect: (t, r) => {
      t.equal(fails(r).length, 0);
      t.equal(undetermined(r)[0]?.reason, '403 reading vnet-spoke');
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
