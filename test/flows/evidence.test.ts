import t from 'tap';
import { analyzeFlows } from '../../src/flows/analyze.ts';
import type { ProbeError, Snapshot } from '../../src/model/snapshot.ts';
import { API_FQDN, PE_ID, value } from '../helpers/snapshot.ts';
import {
  FW_IP, NSG_ID, RT_ID, SPOKE_ID, computeSubnet, decisiveHop, flowOf, networkSnapshot, nsgRule, routeTableOf, vnetOf, withVantage,
} from '../helpers/network-snapshot.ts';

const forbidden = (what: string): { ok: false; error: ProbeError } => ({ ok: false, error: { kind: 'forbidden', message: `403 AuthorizationFailed reading ${what}` } });
const analyze = (mutate: (s: Snapshot) => void = () => {}) => {
  const s = networkSnapshot();
  mutate(s);
  return analyzeFlows(s);
};

t.test('without the subnet policies probe the route table and NSG are unknown: hops undetermined, nothing allowed', async (t) => {
  const a = analyze((s) => delete s.subnetPolicies);
  t.ok(a.flows.length > 0);
  for (const f of a.flows) t.not(f.verdict, 'allowed', `${f.id} is not allowed`);
  const entra = flowOf(a, 'entra-id');
  t.equal(entra.verdict, 'undetermined');
  t.match(entra.hops, [
    { kind: 'route', verdict: 'undetermined', reason: 'evidence-missing', resourceId: RT_ID, detail: /route table rt-compute could not be read \(the subnet policies probe did not run\)/ },
    { kind: 'nsg', verdict: 'undetermined', reason: 'evidence-missing', resourceId: NSG_ID, detail: /NSG nsg-compute could not be read/ },
  ]);

  const failedNsg = flowOf(analyze((s) => {
    const nsg = value(s.subnetPolicies).nsgs[0];
    if (nsg) nsg.observed = forbidden('nsg-compute');
  }), 'entra-id');
  t.equal(failedNsg.verdict, 'undetermined');
  t.match(decisiveHop(failedNsg), { kind: 'nsg', reason: 'evidence-missing', detail: /403 AuthorizationFailed reading nsg-compute/ });

  const api = flowOf(analyze((s) => delete s.subnetPolicies), 'workspace-api');
  t.same(api.hops.map((h) => h.kind), ['dns', 'route', 'nsg', 'peering', 'destination'], 'the rest of the path is still traced');
});

t.test('missing firewall evidence leaves the appliance route undetermined', async (t) => {
  const entra = flowOf(analyze((s) => delete s.firewalls), 'entra-id');
  t.equal(entra.verdict, 'undetermined');
  t.match(decisiveHop(entra), { kind: 'route', reason: 'evidence-missing', detail: /the firewalls probe did not run/ });
  const rules = flowOf(analyze((s) => {
    const p = value(s.firewalls).policies[0];
    if (p?.observed.ok) p.observed.value.ruleCollectionGroups = forbidden('rule collection groups');
  }), 'entra-id');
  t.equal(rules.verdict, 'undetermined');
  t.match(decisiveHop(rules), { kind: 'firewall', reason: 'evidence-missing', detail: /rule collection groups of firewall policy fwp-hub could not be read/ });
});

t.test('a vantage VM with readable effective routes and NSGs makes the source azure', async (t) => {
  const a = analyze((s) => withVantage(s));
  t.ok(a.flows.every((f) => f.source === 'azure' && f.verdict === 'allowed'));
  t.same(a.assumptions, []);
  t.match(flowOf(a, 'entra-id').hops[1], { kind: 'nsg', resourceId: NSG_ID, element: 'securityRules/AllowAadOutbound (priority 100)' });

  // The effective routes, not the configuration, decide: Azure reports no UDR (e.g. not yet applied).
  const effective = flowOf(analyze((s) => {
    const v = withVantage(s);
    if (v.effectiveRoutes.ok) v.effectiveRoutes.value = v.effectiveRoutes.value.filter((r) => r.source !== 'User').map((r) => ({ ...r, state: 'Active' }));
  }), 'entra-id');
  t.equal(effective.source, 'azure');
  t.match(decisiveHop(effective), { kind: 'route', reason: 'no-egress', element: /system 0\.0\.0\.0\/0 -> Internet/ });

  const unreadable = analyze((s) => withVantage(s, { effectiveRoutes: forbidden('effectiveRouteTable') }));
  t.ok(unreadable.flows.every((f) => f.source === 'computed'));
  t.same(unreadable.assumptions, ["routes and NSGs computed from configuration: the vantage VM's effective routes could not be read (403 AuthorizationFailed reading effectiveRouteTable)"]);
});

t.test('Network Watcher disagreeing with the routes: a note, and the route hop undetermined', async (t) => {
  const nextHop = (type: string, ip?: string) => (s: Snapshot) =>
    withVantage(s, { nextHops: [{ destinationIp: '20.190.128.1', flow: 'entra-id', result: { ok: true, value: { nextHopType: type, ...(ip ? { nextHopIpAddress: ip } : {}) } } }] });
  const a = analyze(nextHop('Internet'));
  const entra = flowOf(a, 'entra-id');
  t.equal(entra.verdict, 'undetermined');
  t.match(entra.notes, [/^Network Watcher next hop for 20\.190\.128\.1 is Internet but the routes say VirtualAppliance 10\.10\.0\.4 \(default-to-firewall 0\.0\.0\.0\/0 -> VirtualAppliance 10\.10\.0\.4 \(route table rt-compute\)\): the configuration reading is suspect$/]);
  t.match(entra.hops[0], { kind: 'route', verdict: 'undetermined', reason: 'not-evaluable', detail: /Network Watcher disagrees/ });
  t.notOk(entra.hops.some((h) => h.kind === 'firewall'), 'no firewall verdict on a path that may not be taken');
  t.equal(flowOf(a, 'aml-service').verdict, 'allowed', 'only the flow the next hop was asked for is affected');

  const agrees = flowOf(analyze(nextHop('VirtualAppliance', FW_IP)), 'entra-id');
  t.equal(agrees.verdict, 'allowed');
  t.notOk(agrees.notes?.some((n) => n.includes('Network Watcher')));
});

t.test('DNS hops: wrong answers block, a missing lookup is undetermined but the path is still traced', async (t) => {
  const publicAnswer = flowOf(analyze((s) => {
    const l = value(s.dns).lookups.find((x) => x.name === API_FQDN);
    if (l) l.addresses = ['20.42.0.10'];
  }), 'workspace-api');
  t.equal(publicAnswer.verdict, 'blocked');
  t.match(decisiveHop(publicAnswer), { kind: 'dns', reason: 'dns-wrong-address', element: API_FQDN, detail: /public address 20\.42\.0\.10/ });

  const nx = flowOf(analyze((s) => {
    const l = value(s.dns).lookups.find((x) => x.name === API_FQDN);
    if (l) Object.assign(l, { status: 'nxdomain', addresses: [] });
  }), 'workspace-api');
  t.match(decisiveHop(nx), { kind: 'dns', reason: 'dns-failed' });

  const missing = flowOf(analyze((s) => {
    value(s.dns).lookups = value(s.dns).lookups.filter((x) => x.name !== API_FQDN);
  }), 'workspace-api');
  t.equal(missing.verdict, 'undetermined');
  t.match(missing.hops, [{ kind: 'dns', verdict: 'undetermined', reason: 'evidence-missing' }, { kind: 'route', verdict: 'allowed' }, { kind: 'nsg' }, { kind: 'peering' }, { kind: 'destination' }]);
});

t.test('a private endpoint connection that is not Approved blocks at the destination', async (t) => {
  const api = flowOf(analyze((s) => {
    const c = value(s.workspace).privateEndpointConnections[0];
    if (c) c.status = 'Pending';
  }), 'workspace-api');
  t.equal(api.verdict, 'blocked');
  t.match(decisiveHop(api), { kind: 'destination', reason: 'endpoint-not-approved', resourceId: PE_ID, detail: /Pending, not Approved/ });
});

t.test('private endpoint subnets with network policies: their NSG is evaluated inbound', async (t) => {
  const api = flowOf(analyze((s) => {
    const pe = vnetOf(s, value(s.networks).vnets[1]?.id ?? '').subnets[0];
    if (!pe) throw new Error('fixture');
    pe.privateEndpointNetworkPolicies = 'Enabled';
    pe.networkSecurityGroupId = NSG_ID;
    value(value(s.subnetPolicies).nsgs[0]?.observed).rules.unshift(nsgRule('DenySpokeInbound', 100, 'Deny', '*', ['443'], { direction: 'Inbound', sourceAddressPrefixes: ['10.20.0.0/16'] }));
  }), 'workspace-api');
  t.equal(api.verdict, 'blocked');
  t.match(api.hops.filter((h) => h.kind === 'nsg'), [{ verdict: 'allowed' }, { verdict: 'blocked', reason: 'nsg-deny', element: 'securityRules/DenySpokeInbound (priority 100)', detail: /inbound to the private endpoint 10\.10\.1\.4/ }]);
});

t.test('without service tag prefixes, tags are matched by name and the flow says so', async (t) => {
  const a = analyze((s) => delete s.serviceTags);
  t.match(a.assumptions, [/^service tags could not be read \(the service tags probe did not run\)/, /computed from configuration/]);
  const entra = flowOf(a, 'entra-id');
  t.equal(entra.verdict, 'allowed');
  t.match(entra.notes, [/NIC-level/, /AzureActiveDirectory matched by name/]);
  const denied = flowOf(analyze((s) => {
    delete s.serviceTags;
    value(value(s.subnetPolicies).nsgs[0]?.observed).rules.unshift(nsgRule('DenyAad', 90, 'Deny', 'AzureActiveDirectory', ['*'], { protocol: '*' }));
  }), 'entra-id');
  t.match(decisiveHop(denied), { kind: 'nsg', reason: 'nsg-deny', element: 'securityRules/DenyAad (priority 90)' });
});

t.test('linear and indexed primitives give deep-equal analyses, and every verdict follows its hops', async (t) => {
  const variants: Array<[string, (s: Snapshot) => void]> = [
    ['healthy', () => {}],
    ['vantage', (s) => withVantage(s)],
    ['nsg deny', (s) => value(value(s.subnetPolicies).nsgs[0]?.observed).rules.unshift(nsgRule('DenyAad', 90, 'Deny', 'AzureActiveDirectory', ['*']))],
    ['no route table', (s) => delete computeSubnet(s).routeTableId],
    ['tag route', (s) => routeTableOf(s).routes.push({ name: 'AzureMLRoute', addressPrefix: 'AzureMachineLearning', nextHopType: 'Internet' })],
    ['no tags', (s) => delete s.serviceTags],
    ['peering down', (s) => Object.assign(vnetOf(s, SPOKE_ID).peerings[0] ?? {}, { peeringState: 'Disconnected' })],
  ];
  for (const [name, mutate] of variants) {
    const s = networkSnapshot();
    mutate(s);
    const indexed = analyzeFlows(s, { primitives: 'indexed' });
    t.same(analyzeFlows(s, { primitives: 'linear' }), indexed, name);
    for (const f of indexed.flows) {
      for (const h of f.hops.filter((x) => x.verdict !== 'allowed')) t.ok(h.reason, `${name}: ${f.id} ${h.kind} hop that is ${h.verdict} has a reason`);
      for (const h of f.hops.filter((x) => x.verdict === 'blocked')) t.ok(h.resourceId || h.element, `${name}: ${f.id} blocking ${h.kind} hop names what blocks`);
      t.equal(f.verdict, f.hops.some((h) => h.verdict === 'blocked') ? 'blocked' : f.hops.some((h) => h.verdict === 'undetermined') ? 'undetermined' : 'allowed', `${name}: ${f.id} verdict follows its hops`);
    }
  }
});

t.test('a managed-network workspace has no compute-subnet flows', async (t) => {
  const a = analyze((s) => {
    value(s.workspace).managedNetwork = { isolationMode: 'AllowOnlyApprovedOutbound', status: 'Active', outboundRules: [] };
  });
  t.same(a, { flows: [], managedNetwork: true, assumptions: ["managed virtual network: the compute runs in Azure ML's managed VNet; compute-subnet checks do not apply"] });
  const disabled = analyze((s) => {
    value(s.workspace).managedNetwork = { isolationMode: 'Disabled', outboundRules: [] };
  });
  t.equal(disabled.managedNetwork, false);
  t.ok(disabled.flows.length > 0);
});
