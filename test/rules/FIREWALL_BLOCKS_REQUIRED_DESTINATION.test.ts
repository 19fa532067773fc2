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
