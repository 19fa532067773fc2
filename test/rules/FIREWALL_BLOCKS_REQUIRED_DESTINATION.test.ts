import t from 'tap';
import { rule } from '../../src/rules/FIREWALL_BLOCKS_REQUIRED_DESTINATION.ts';
import type { ApplicationRuleObs } from '../../src/model/snapshot.ts';
import { HUB_SUB, SUBNET_ID, clone, healthySnapshot, value } from '../helpers/snapshot.ts';
import { BASE_POLICY_ID, FW_ID, POLICY_ID, collection, context, fails, flow, hop, networkRule, ok, onlyFinding, passes, policy, undetermineds, withFirewall } from '../helpers/flows.ts';

const ADD = `az network firewall policy rule-collection-group collection add-filter-collection --subscription ${HUB_SUB} -g rg-hub`;

function appRule(name: string, fqdns: string[]): ApplicationRuleObs {
  return { ruleType: 'ApplicationRule', name, sourceAddresses: ['*'], sourceIpGroups: [], protocols: [{ protocolType: 'Https', port: 443 }], targetFqdns: fqdns, fqdnTags: [], webCategories: [], targetUrls: [], destinationAddresses: [] };
}

const denyAll = () => collection('deny-internet', 500, 'Deny', [networkRule('deny-all', { ipProtocols: ['Any'], destinationAddresses: ['*'], destinationPorts: ['*'] })]);

t.test('fail (engine): no rule allows the auth flows (tier 1) nor batch (tier 2); priorities never collide', async (t) => {
  const s = clone(healthySnapshot());
  withFirewall(s, policy(POLICY_ID, [{ name: 'rcg-main', priority: 200, ruleCollections: [collection('allow-mcr', 100, 'Allow', [appRule('mcr', ['mcr.microsoft.com'])])] }]));
  const results = rule.check(s);
  const findings = fails(results);
  t.equal(rule.meta.code, 'FIREWALL_BLOCKS_REQUIRED_DESTINATION');
  t.equal(findings.length, 2);
  const auth = findings.find((f) => f.tier === 1);
  const other = findings.find((f) => f.tier === 2);
  t.equal(auth?.resourceId, POLICY_ID, 'blames the firewall policy');
  t.same(auth?.flows, ['aml-service', 'entra-id', 'arm']);
  t.same(other?.flows, ['batch']);
  t.same(auth?.remediation.azCli, [
    `${ADD} --policy-name fwp-hub --rule-collection-group-name rcg-main --name allow-aml-service-app --collection-priority 101 --action Allow --rule-name allow-aml-service --rule-type ApplicationRule --source-addresses 10.20.1.0/24 --protocols Https=443 --target-fqdns eastus.api.azureml.ms eastus.cert.api.azureml.ms`,
    `${ADD} --policy-name fwp-hub --rule-collection-group-name rcg-main --name allow-aml-service-tcp --collection-priority 102 --action Allow --rule-name allow-aml-service-tcp --rule-type NetworkRule --source-addresses 10.20.1.0/24 --ip-protocols TCP --destination-addresses AzureMachineLearning --destination-ports 18881`,
    `${ADD} --policy-name fwp-hub --rule-collection-group-name rcg-main --name allow-aml-service-udp --collection-priority 103 --action Allow --rule-name allow-aml-service-udp --rule-type NetworkRule --source-addresses 10.20.1.0/24 --ip-protocols UDP --destination-addresses AzureMachineLearning --destination-ports 5831`,
    `${ADD} --policy-name fwp-hub --rule-collection-group-name rcg-main --name allow-entra-id-app --collection-priority 104 --action Allow --rule-name allow-entra-id --rule-type ApplicationRule --source-addresses 10.20.1.0/24 --protocols Http=80 Https=443 --target-fqdns login.microsoftonline.com`,
    `${ADD} --policy-name fwp-hub --rule-collection-group-name rcg-main --name allow-arm-app --collection-priority 105 --action Allow --rule-name allow-arm --rule-type ApplicationRule --source-addresses 10.20.1.0/24 --protocols Https=443 --target-fqdns management.azure.com`,
  ]);
  t.match(other?.remediation.azCli, [/--name allow-batch-app --collection-priority 106 .*--target-fqdns eastus\.batch\.azure\.com$/]);
  t.match(auth?.explanation, /no network or application rule allows it, so the firewall denies it by default/);
  t.match(auth?.explanation, /device-login/);
  t.match(other?.explanation, /Sign-in is not affected/);
  // Bicep: a new rule collection group (a group is deployed as a whole), one per finding.
  const bicep = auth?.remediation.bicep ?? '';
  t.match(bicep, /^\/\/ Deploy to resource group rg-hub \(subscription 22222222-2222-2222-2222-222222222222\)/);
  t.match(bicep, "resource policy 'Microsoft.Network/firewallPolicies@2024-05-01' existing = {\n  name: 'fwp-hub'\n}");
  t.match(bicep, "resource allowGroup 'Microsoft.Network/firewallPolicies/ruleCollectionGroups@2024-05-01' = {\n  parent: policy\n  name: 'aml-netdoctor-allow'\n  properties: {\n    priority: 100\n");
  t.equal(bicep.match(/ruleCollectionType: 'FirewallPolicyFilterRuleCollection'/g)?.length, 5, 'one collection per az command');
  t.match(bicep, /name: 'allow-entra-id-app'\n\s+priority: \d+\n\s+action: \{\n\s+type: 'Allow'\n\s+\}\n\s+rules: \[\n\s+\{\n\s+ruleType: 'ApplicationRule'\n\s+name: 'allow-entra-id'\n\s+sourceAddresses: \[\n\s+'10\.20\.1\.0\/24'\n\s+\]\n\s+protocols: \[\n\s+\{\n\s+protocolType: 'Http'\n\s+port: 80\n\s+\}\n\s+\{\n\s+protocolType: 'Https'\n\s+port: 443\n\s+\}\n\s+\]\n\s+targetFqdns: \[\n\s+'login\.microsoftonline\.com'/);
  t.match(bicep, /ruleType: 'NetworkRule'\n\s+name: 'allow-aml-service-udp'[\s\S]*ipProtocols: \[\n\s+'UDP'\n\s+\]\n\s+destinationAddresses: \[\n\s+'AzureMachineLearning'\n\s+\]\n\s+destinationPorts: \[\n\s+'5831'/);
  t.match(other?.remediation.bicep, /name: 'aml-netdoctor-allow-2'\n  properties: \{\n    priority: 101\n/, 'the second finding gets its own group and priority');
  t.match(auth?.remediation.verify, /az network firewall policy rule-collection-group list --subscription 22222222-2222-2222-2222-222222222222 -g rg-hub --policy-name fwp-hub --query "\[\]\.ruleCollections\[\]\.name" -o tsv should print allow-aml-service-app, .*allow-arm-app among the collection names \(flows aml-service, entra-id, arm must be allowed after the fix\); then run aml-netdoctor recheck <report\.json>\.$/);
  t.same(passes(results), []);
});

t.test('fail (engine): a network Deny collection matches first; the allows are network rules below it', async (t) => {
  const s = clone(healthySnapshot());
  withFirewall(s, policy(POLICY_ID, [{ name: 'rcg-main', priority: 100, ruleCollections: [collection('allow-ssh', 499, 'Allow', [networkRule('ssh', { destinationAddresses: ['*'], destinationPorts: ['22'] })]), denyAll()] }]));
  const auth = fails(rule.check(s)).find((f) => f.tier === 1);
  t.match(auth?.remediation.azCli, [
    /--name allow-aml-service-tcp --collection-priority 498 .*--rule-type NetworkRule .*--ip-protocols TCP --destination-addresses AzureMachineLearning --destination-ports 443 18881$/,
    /--name allow-aml-service-udp --collection-priority 497 .*--ip-protocols UDP .*--destination-ports 5831$/,
    /--name allow-entra-id-tcp --collection-priority 496 .*--destination-addresses AzureActiveDirectory --destination-ports 80 443$/,
    /--name allow-arm-tcp --collection-priority 495 /,
  ]);
  t.match(auth?.evidence[0], { resourceId: `${POLICY_ID}/ruleCollectionGroups/rcg-main`, property: 'properties.ruleCollections[deny-internet]', observed: /Deny collection, priority 500/ });
  t.match(auth?.remediation.summary, /processes all network rules before any application rule/);
  t.match(auth?.explanation, /rule collection deny-internet \(priority 500, Deny\) in group rcg-main matches first/);
  t.match(auth?.remediation.bicep, /priority: 0 \/\/ no free priority: see the comment at the top\n/, 'group rcg-main has priority 100: nothing is free below it');
  t.match(auth?.remediation.bicep, /no lower group priority is free: .*az network firewall policy rule-collection-group update --subscription 22222222-2222-2222-2222-222222222222 -g rg-hub --policy-name fwp-hub -n rcg-main --priority <higher free number>/);
});

t.test('fail (engine): the Bicep group is evaluated before the group holding the Deny', async (t) => {
  const s = clone(healthySnapshot());
  withFirewall(s, policy(POLICY_ID, [{ name: 'rcg-platform', priority: 299, ruleCollections: [] }, { name: 'rcg-main', priority: 300, ruleCollections: [denyAll()] }]));
  const auth = fails(rule.check(s)).find((f) => f.tier === 1);
  t.match(auth?.remediation.bicep, /name: 'aml-netdoctor-allow'\n  properties: \{\n    priority: 298\n/, '299 is taken');
  t.match(auth?.remediation.bicep, /\/\/ Group aml-netdoctor-allow \(priority 298\) is evaluated before group rcg-main \(priority 300\), which holds the Deny collection deny-internet\./);
  t.notMatch(auth?.remediation.bicep, /ruleType: 'ApplicationRule'/, 'network rules are processed before application rules: the allows are network rules');
});

t.test('fail (engine): the deny sits in the base policy, which is blamed', async (t) => {
  const s = clone(healthySnapshot());
  const base = policy(BASE_POLICY_ID, [{ name: 'rcg-base', priority: 100, ruleCollections: [denyAll()] }]);
  withFirewall(s, policy(POLICY_ID, [{ name: 'rcg-child', priority: 100, ruleCollections: [] }], { basePolicyId: BASE_POLICY_ID }), [base]);
  const auth = fails(rule.check(s)).find((f) => f.tier === 1);
  t.equal(auth?.resourceId, BASE_POLICY_ID);
  t.match(auth?.remediation.azCli[0], /--policy-name fwp-base --rule-collection-group-name rcg-base .*--collection-priority 499 /);
  t.match(auth?.explanation, /of base policy fwp-base/);
  t.ok(auth?.subjects?.includes(`firewall:${POLICY_ID.toLowerCase()}`));
});

t.test('fail (engine): a firewall without a policy gets one created and attached', async (t) => {
  const s = clone(healthySnapshot());
  const fw = withFirewall(s, policy(POLICY_ID, []));
  const entry = fw.firewalls[0];
  if (entry?.observed.ok) delete entry.observed.value.firewallPolicyId;
  const auth = fails(rule.check(s)).find((f) => f.tier === 1);
  t.equal(auth?.resourceId, FW_ID);
  t.match(auth?.remediation.azCli, [
    `az network firewall policy create --subscription ${HUB_SUB} -g rg-hub -n fw-hub-policy`,
    `az network firewall policy rule-collection-group create --subscription ${HUB_SUB} -g rg-hub --policy-name fw-hub-policy -n aml-required --priority 100`,
    `az network firewall update --subscription ${HUB_SUB} -g rg-hub -n fw-hub --firewall-policy fw-hub-policy`,
    /--policy-name fw-hub-policy --rule-collection-group-name aml-required --name allow-aml-service-app --collection-priority 100 /,
  ]);
  t.match(auth?.remediation.summary, /has no policy and so no rules/);
  t.match(auth?.remediation.bicep, "resource policy 'Microsoft.Network/firewallPolicies@2024-05-01' = {\n  name: 'fw-hub-policy'\n  location: 'eastus'\n  properties: {\n    sku: {\n      tier: 'Standard'\n    }\n  }\n}", 'a new policy, in the region of the workspace when the firewall region is unknown');
  t.match(auth?.remediation.bicep, /parent: policy\n  name: 'aml-required'\n  properties: \{\n    priority: 100\n/);
  t.match(auth?.remediation.bicep, /\/\/ Then attach it: az network firewall update --subscription 22222222-2222-2222-2222-222222222222 -g rg-hub -n fw-hub --firewall-policy fw-hub-policy/);
});

t.test('fail (engine): flows a dead FQDN network rule was meant to allow get their own finding, tied to that rule', async (t) => {
  const s = clone(healthySnapshot());
  const allowed = networkRule('rest', { ipProtocols: ['Any'], destinationAddresses: ['AzureMachineLearning', 'AzureActiveDirectory', 'AzureResourceManager'], destinationPorts: ['*'] });
  const fqdn = networkRule('mcr-fqdn', { destinationFqdns: ['mcr.microsoft.com'] });
  withFirewall(s, policy(POLICY_ID, [{ name: 'rcg', priority: 100, ruleCollections: [collection('allow', 100, 'Allow', [fqdn, allowed])] }], { dnsProxyEnabled: false }));
  const findings = fails(rule.check(s));
  t.same(findings.map((f) => f.flows), [['batch'], ['mcr']], 'batch (no rule at all) and mcr (a rule that never matches) are separate findings');
  const key = `firewall-fqdn:${POLICY_ID.toLowerCase()}`;
  t.notOk(findings[0]?.subjects?.includes(key), 'enabling the DNS proxy would not fix batch');
  t.ok(findings[1]?.subjects?.includes(key));
  t.ok(findings[1]?.subjects?.includes(`firewall:${POLICY_ID.toLowerCase()}`));
  const proxyOn = clone(healthySnapshot());
  withFirewall(proxyOn, policy(POLICY_ID, [{ name: 'rcg', priority: 100, ruleCollections: [collection('allow', 100, 'Allow', [allowed])] }], { dnsProxyEnabled: false }));
  t.same(fails(rule.check(proxyOn)).map((f) => f.flows), [['mcr', 'batch']], 'without the FQDN rule, one finding as before');
});

t.test('a private endpoint destination through the firewall gets an application rule for its name', async (t) => {
  const el = 'ruleCollectionGroups/unknown/ruleCollections/x/rules/y';
  const f = onlyFinding(rule.check(healthySnapshot(), context([flow('workspace-api', [ok('dns'), ok('route'), ok('nsg'), hop('firewall', 'blocked', 'denied.', { reason: 'firewall-deny', resourceId: POLICY_ID, element: el })])])));
  t.match(f.remediation.azCli, [/--rule-collection-group-name <rule-collection-group> .*--collection-priority 100 .*--target-fqdns aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\.workspace\.eastus\.api\.azureml\.ms$/]);
  t.match(f.explanation, /a Deny rule matches first \(ruleCollectionGroups\/unknown/);
  t.equal(f.tier, 1);
  t.equal(f.confidence, 'medium');
});

t.test('pass (engine): the firewall allows everything; pass without any firewall', async (t) => {
  const s = clone(healthySnapshot());
  withFirewall(s, policy(POLICY_ID, [{ name: 'rcg', priority: 100, ruleCollections: [collection('allow-all', 100, 'Allow', [networkRule('all', { ipProtocols: ['Any'], destinationAddresses: ['*'], destinationPorts: ['*'] })])] }]));
  const r = rule.check(s);
  t.same(fails(r), []);
  t.match(passes(r), [{ resourceId: SUBNET_ID, detail: /no firewall on their route denies them/ }]);
  t.same(fails(rule.check(healthySnapshot())), []);
});

t.test('undetermined (engine): the policy groups cannot be read; a classic firewall', async (t) => {
  const s = clone(healthySnapshot());
  const fw = withFirewall(s, { ...policy(POLICY_ID, []), ruleCollectionGroups: { ok: false, error: { kind: 'forbidden', message: '403 reading rule collection groups of fwp-hub' } } });
  let r = rule.check(s);
  t.same(fails(r), []);
  t.same(passes(r), []);
  t.match(undetermineds(r), [{ reason: /firewall hop undetermined \(evidence-missing\).*403 reading rule collection groups/, resourceId: POLICY_ID }]);
  const entry = fw.firewalls[0];
  if (entry?.observed.ok) {
    delete entry.observed.value.firewallPolicyId;
    entry.observed.value.hasClassicRules = true;
  }
  r = rule.check(s);
  t.match(undetermineds(r), [{ reason: /classic rules/ }]);
  t.ok(value(s.firewalls));
});

t.test('fail and undetermined in one subnet (engine): a rule that may match hides the verdict of some flows', async (t) => {
  const s = clone(healthySnapshot());
  withFirewall(s, policy(POLICY_ID, [{ name: 'rcg-main', priority: 100, ruleCollections: [collection('allow-x', 499, 'Allow', [networkRule('x', { destinationAddresses: ['1.2.3.4'] })]), denyAll()] }]));
  const r = rule.check(s);
  t.same(fails(r).flatMap((f) => f.flows), ['aml-service', 'entra-id'], 'UDP 5831 / TCP 80 cannot match rule x: denied');
  t.match(undetermineds(r), [{ reason: /arm: firewall hop undetermined \(not-evaluable\).*may apply.*mcr: .*batch: / }]);
  t.same(passes(r), []);
});
