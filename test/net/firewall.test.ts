import t from 'tap';
import type { ApplicationRuleObs, NetworkRuleObs, RuleCollectionGroupObs, RuleCollectionObs } from '../../src/model/snapshot.ts';
import { ipToInt, parseCidr, type Cidr } from '../../src/net/cidr.ts';
import { evaluateFirewall, type FirewallRequest } from '../../src/net/firewall.ts';
import { ServiceTagIndex } from '../../src/net/service-tags.ts';

const ip = (s: string): number => ipToInt(s) as number;
const SUBNET = parseCidr('10.0.1.0/24') as Cidr;
const POLICY = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies';

function app(name: string, targetFqdns: string[], over: Partial<ApplicationRuleObs> = {}): ApplicationRuleObs {
  return {
    ruleType: 'ApplicationRule', name, sourceAddresses: ['10.0.0.0/16'], sourceIpGroups: [],
    protocols: [{ protocolType: 'Https', port: 443 }], targetFqdns, fqdnTags: [], webCategories: [], targetUrls: [], destinationAddresses: [], ...over,
  };
}

function net(name: string, over: Partial<NetworkRuleObs> = {}): NetworkRuleObs {
  return {
    ruleType: 'NetworkRule', name, ipProtocols: ['TCP'], sourceAddresses: ['*'], sourceIpGroups: [],
    destinationAddresses: [], destinationIpGroups: [], destinationFqdns: [], destinationPorts: ['443'], ...over,
  };
}

function collection(name: string, priority: number, action: string, rules: RuleCollectionObs['rules']): RuleCollectionObs {
  return { name, priority, action, ruleCollectionType: 'FirewallPolicyFilterRuleCollection', rules };
}

function group(name: string, priority: number, collections: RuleCollectionObs[], policy = 'fwp-spoke'): RuleCollectionGroupObs {
  return { id: `${POLICY}/${policy}/ruleCollectionGroups/${name}`, name, priority, ruleCollections: collections };
}

const tags = new ServiceTagIndex([
  { name: 'AzureActiveDirectory', region: '', addressPrefixes: ['20.190.128.0/18'] },
  { name: 'AzureMachineLearning', region: '', addressPrefixes: ['20.37.0.0/16'] },
]);

const req = (over: Partial<FirewallRequest>): FirewallRequest => ({ protocol: 'TCP', port: 443, source: SUBNET, ...over });

const amlApp = group('DefaultApplicationRuleCollectionGroup', 300, [collection('aml-required', 200, 'Allow', [app('allow-azureml', ['*.azureml.ms', 'login.microsoftonline.com'])])]);

t.test('an application rule with a wildcard allows the regional API on TCP 443, not UDP 5831', async (t) => {
  const policy = { groups: [amlApp] };
  const allowed = evaluateFirewall(policy, req({ fqdn: 'eastus.api.azureml.ms', destTag: 'AzureMachineLearning' }), tags);
  t.equal(allowed.verdict, 'allowed');
  t.equal(allowed.detail, "allowed by application rule 'allow-azureml' in collection 'aml-required' (group 'DefaultApplicationRuleCollectionGroup')");
  t.match(allowed, { ruleCollectionGroup: 'DefaultApplicationRuleCollectionGroup', ruleCollection: 'aml-required', rule: 'allow-azureml' });
  const udp = evaluateFirewall(policy, req({ protocol: 'UDP', port: 5831, fqdn: 'eastus.api.azureml.ms' }), tags);
  t.equal(udp.verdict, 'blocked');
  t.equal(udp.reason, 'firewall-no-matching-rule');
  t.equal(evaluateFirewall(policy, req({ fqdn: 'azureml.ms' }), tags).verdict, 'blocked', 'the wildcard needs a label in front');
  t.equal(evaluateFirewall(policy, req({ port: 80, fqdn: 'login.microsoftonline.com' }), tags).verdict, 'blocked', 'only Https:443 listed');
});

t.test('no matching rule: Azure Firewall denies by default, and says what was asked', async (t) => {
  const d = evaluateFirewall({ groups: [] }, req({ fqdn: 'login.microsoftonline.com', destTag: 'AzureActiveDirectory' }), tags);
  t.same(d, {
    verdict: 'blocked', reason: 'firewall-no-matching-rule',
    detail: 'no rule of firewall policy allows TCP 443 to login.microsoftonline.com: Azure Firewall denies by default',
  });
});

t.test('an FQDN network rule matches only with the DNS proxy on', async (t) => {
  const groups = [group('net', 100, [collection('aml-udp', 100, 'Allow', [net('aml-5831', { ipProtocols: ['UDP'], destinationPorts: ['5831'], destinationFqdns: ['eastus.api.azureml.ms'] })])])];
  const r = req({ protocol: 'UDP', port: 5831, fqdn: 'EastUS.api.azureml.ms' });
  const off = evaluateFirewall({ groups }, r, tags);
  t.equal(off.verdict, 'blocked');
  t.match(off.detail, /network rule 'aml-5831' names EastUS\.api\.azureml\.ms but FQDNs in network rules only match with the policy's DNS proxy enabled/);
  t.equal(evaluateFirewall({ groups, dnsProxyEnabled: true }, r, tags).verdict, 'allowed');
});

t.test('network rules are processed before application rules, whatever the group priority', async (t) => {
  const denyNet = group('deny-net', 500, [collection('deny-all', 100, 'Deny', [net('deny-443', { destinationAddresses: ['*'] })])]);
  const d = evaluateFirewall({ groups: [amlApp, denyNet] }, req({ fqdn: 'eastus.api.azureml.ms', destIp: ip('20.37.1.1') }), tags);
  t.equal(d.verdict, 'blocked');
  t.equal(d.reason, 'firewall-deny');
  t.equal(d.detail, "denied by network rule 'deny-443' in collection 'deny-all' (group 'deny-net')");
});

t.test('the base policy collection wins over the child policy, even with a larger priority number', async (t) => {
  const base = group('base-deny', 900, [collection('block-aml', 900, 'Deny', [app('deny-azureml', ['*.azureml.ms'])])], 'fwp-base');
  const child = group('child-allow', 100, [collection('allow-aml', 100, 'Allow', [app('allow-azureml', ['*.azureml.ms'])])]);
  const d = evaluateFirewall({ groups: [base, child] }, req({ fqdn: 'eastus.api.azureml.ms' }), tags);
  t.equal(d.verdict, 'blocked');
  t.equal(d.ruleCollectionGroup, 'base-deny');
});

t.test('within a policy, groups and then collections go by priority', async (t) => {
  const late = group('late', 400, [collection('allow', 100, 'Allow', [app('allow-all', ['*'])])]);
  const early = group('early', 200, [
    collection('allow-first', 300, 'Allow', [app('allow-ml', ['*.azureml.ms'])]),
    collection('deny-first', 250, 'Deny', [app('deny-ml', ['eastus.api.azureml.ms'])]),
  ]);
  const d = evaluateFirewall({ groups: [late, early] }, req({ fqdn: 'eastus.api.azureml.ms' }), tags);
  t.equal(d.detail, "denied by application rule 'deny-ml' in collection 'deny-first' (group 'early')");
});

t.test('network rules match service tags by name or by prefix, and IP ranges', async (t) => {
  const groups = [group('net', 100, [collection('allow', 100, 'Allow', [
    net('aml-tag', { ipProtocols: ['UDP'], destinationPorts: ['5831'], destinationAddresses: ['AzureMachineLearning'] }),
    net('entra', { ipProtocols: ['Any'], destinationPorts: ['80', '443'], destinationAddresses: ['AzureActiveDirectory'] }),
    net('high-ports', { destinationPorts: ['18000-19000'], destinationAddresses: ['20.37.0.1-20.37.0.9'] }),
  ])])];
  t.equal(evaluateFirewall({ groups }, req({ protocol: 'UDP', port: 5831, destTag: 'AzureMachineLearning' }), ServiceTagIndex.empty()).verdict, 'allowed', 'symbolic');
  t.equal(evaluateFirewall({ groups }, req({ protocol: 'UDP', port: 5831, destIp: ip('20.37.4.4') }), tags).verdict, 'allowed', 'by prefix');
  t.equal(evaluateFirewall({ groups }, req({ protocol: 'UDP', port: 5831, destIp: ip('52.1.1.1') }), tags).verdict, 'blocked');
  t.equal(evaluateFirewall({ groups }, req({ port: 80, destIp: ip('20.190.129.1') }), tags).detail, "allowed by network rule 'entra' in collection 'allow' (group 'net')");
  t.equal(evaluateFirewall({ groups }, req({ port: 18881, destIp: ip('20.37.0.5') }), tags).verdict, 'allowed');
  t.equal(evaluateFirewall({ groups }, req({ port: 18881, destIp: ip('20.37.0.10') }), tags).verdict, 'blocked');
});

t.test('undecidable rules before the deciding one make the answer undetermined', async (t) => {
  const denyAll = collection('deny-rest', 1000, 'Deny', [net('deny-any', { ipProtocols: ['Any'], destinationPorts: ['*'], destinationAddresses: ['*'] })]);
  const cases: Array<[string, NetworkRuleObs | ApplicationRuleObs, FirewallRequest, RegExp]> = [
    ['source IP group', net('ipg', { sourceAddresses: [], sourceIpGroups: ['/ipGroups/ml'], destinationAddresses: ['*'] }), req({ destIp: ip('20.37.1.1') }), /source IP groups cannot be resolved/],
    ['partial source', net('half', { sourceAddresses: ['10.0.1.0/25'], destinationAddresses: ['*'] }), req({ destIp: ip('20.37.1.1') }), /10\.0\.1\.0\/25 covers only part of 10\.0\.1\.0\/24/],
    ['destination IP group', net('dipg', { destinationIpGroups: ['/ipGroups/aml'] }), req({ destIp: ip('20.37.1.1') }), /destination IP groups cannot be resolved/],
    ['unexpanded tag', net('frontdoor', { destinationAddresses: ['AzureFrontDoor.FirstParty'] }), req({ destIp: ip('20.37.1.1') }), /service tag AzureFrontDoor\.FirstParty could not be expanded/],
  ];
  for (const [what, rule, r, why] of cases) {
    const groups = [group('g', 100, [collection('maybe-allow', 100, 'Allow', [rule]), denyAll])];
    const d = evaluateFirewall({ groups }, r, tags);
    t.equal(d.verdict, 'undetermined', what);
    t.equal(d.reason, 'not-evaluable', what);
    t.equal(d.rule, rule.name, what);
    t.match(d.detail, why, what);
    t.match(d.detail, /otherwise denied by network rule 'deny-any'/, what);
  }
  // Application rules come after every network rule, so here only the default deny follows.
  const category = app('cat', [], { webCategories: ['ComputersAndTechnology'] });
  const d = evaluateFirewall({ groups: [group('g', 100, [collection('maybe-allow', 100, 'Allow', [category])])] }, req({ fqdn: 'eastus.api.azureml.ms' }), tags);
  t.equal(d.verdict, 'undetermined');
  t.equal(d.detail, "application rule 'cat' in collection 'maybe-allow' (group 'g') may apply (web categories cannot be evaluated); otherwise no rule of firewall policy allows TCP 443 to eastus.api.azureml.ms: Azure Firewall denies by default");
});

t.test('FQDN tags never match the Azure ML flows and say so; DNAT collections are skipped', async (t) => {
  const groups = [group('g', 100, [
    { name: 'dnat', priority: 50, action: 'DNAT', ruleCollectionType: 'FirewallPolicyNatRuleCollection', rules: [{ ruleType: 'NatRule', name: 'rdp' }] },
    collection('tags', 100, 'Allow', [app('windows-update', [], { fqdnTags: ['WindowsUpdate'] })]),
  ])];
  const d = evaluateFirewall({ groups }, req({ fqdn: 'login.microsoftonline.com' }), tags);
  t.equal(d.verdict, 'blocked');
  t.match(d.detail, /application rule 'windows-update' uses FQDN tags \(WindowsUpdate\)/);
});
