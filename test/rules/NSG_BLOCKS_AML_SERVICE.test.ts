import t from 'tap';
import { rule } from '../../src/rules/NSG_BLOCKS_AML_SERVICE.ts';
import { SUBNET_ID, clone, healthySnapshot } from '../helpers/snapshot.ts';
import { NSG_ID, context, fails, fine, flow, hop, ok, onlyFinding, passes, securityRule, undetermineds, withNsg } from '../helpers/flows.ts';

const DENY = 'securityRules/DenyAzureCloud (priority 300)';
const blocked = flow('aml-service', [ok('route'), hop('nsg', 'blocked', `UDP 5831 to AzureMachineLearning is denied by ${DENY} of NSG nsg-compute.`, { reason: 'nsg-deny', resourceId: NSG_ID, element: DENY })]);

t.test('fail: one allow rule per protocol, each with its own free priority below the deny', async (t) => {
  const s = clone(healthySnapshot());
  withNsg(s, [securityRule('DenyAzureCloud', 300, { destinationAddressPrefixes: ['AzureCloud'] })]);
  const f = onlyFinding(rule.check(s, context([blocked])));
  t.equal(rule.meta.code, 'NSG_BLOCKS_AML_SERVICE');
  t.equal(rule.meta.tier, 1);
  t.equal(f.resourceId, NSG_ID);
  t.same(f.flows, ['aml-service']);
  t.same(f.remediation.azCli, [
    'az network nsg rule create --subscription 11111111-1111-1111-1111-111111111111 -g rg-net --nsg-name nsg-compute --name AllowAmlServiceOutboundTcp --priority 299 --direction Outbound --access Allow --protocol Tcp --destination-address-prefixes AzureMachineLearning --destination-port-ranges 443 18881',
    'az network nsg rule create --subscription 11111111-1111-1111-1111-111111111111 -g rg-net --nsg-name nsg-compute --name AllowAmlServiceOutboundUdp --priority 298 --direction Outbound --access Allow --protocol Udp --destination-address-prefixes AzureMachineLearning --destination-port-ranges 5831',
  ]);
  t.match(f.explanation, /UDP 5831 to AzureMachineLearning is denied by securityRules\/DenyAzureCloud/);
  t.match(f.explanation, /cert\.api\.azureml\.ms/);
  t.match(f.remediation.summary, /2 Allow rules .* lower than DenyAzureCloud \(300\)/);
  const bicep = f.remediation.bicep;
  t.match(bicep, "resource nsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' existing = {\n  name: 'nsg-compute'\n}");
  t.match(bicep, /resource allowAmlServiceOutboundTcp 'Microsoft\.Network\/networkSecurityGroups\/securityRules@2024-05-01' = \{\n  parent: nsg\n  name: 'AllowAmlServiceOutboundTcp'[\s\S]*destinationPortRanges: \[\n\s+'443'\n\s+'18881'\n\s+\][\s\S]*priority: 299\n/);
  t.match(bicep, /resource allowAmlServiceOutboundUdp 'Microsoft\.Network\/networkSecurityGroups\/securityRules@2024-05-01' = \{\n  parent: nsg\n  name: 'AllowAmlServiceOutboundUdp'\n  properties: \{\n[\s\S]*protocol: 'Udp'[\s\S]*destinationAddressPrefix: 'AzureMachineLearning'\n\s+destinationPortRange: '5831'[\s\S]*priority: 298\n/);
  t.match(f.remediation.verify, /should print 298 AllowAmlServiceOutboundUdp Allow, 299 AllowAmlServiceOutboundTcp Allow on lines above 300 DenyAzureCloud Deny .*then run aml-netdoctor recheck <report\.json>\.$/, 'in the order the listing prints them');
});

t.test('fail: a rule name already used in the NSG gets a suffix', async (t) => {
  const s = clone(healthySnapshot());
  withNsg(s, [securityRule('AllowAmlServiceOutboundTcp', 200, { access: 'Allow', destinationPortRanges: ['1'] }), securityRule('DenyAzureCloud', 300)]);
  const f = onlyFinding(rule.check(s, context([blocked])));
  t.match(f.remediation.azCli[0], /--name AllowAmlServiceOutboundTcp2 /);
});

t.test('fail: the NSG could not be read itself (only the hop names it): placeholders stay honest', async (t) => {
  const f = onlyFinding(rule.check(healthySnapshot(), context([blocked])));
  t.match(f.remediation.azCli[0], /--nsg-name nsg-compute .*--priority 299 /, 'priority parsed from the element text');
  t.match(f.evidence[0], { observed: DENY });
});

t.test('pass and undetermined', async (t) => {
  const r1 = rule.check(healthySnapshot(), context([fine('aml-service')]));
  t.same(fails(r1), []);
  t.equal(passes(r1).length, 1);
  const r2 = rule.check(healthySnapshot(), context([flow('aml-service', [ok('route'), hop('nsg', 'undetermined', 'rule AllowAsg uses an application security group', { reason: 'not-evaluable', resourceId: NSG_ID })])]));
  t.match(undetermineds(r2), [{ reason: /aml-service: nsg hop undetermined \(not-evaluable\): rule AllowAsg uses an application security group/, resourceId: NSG_ID }]);
  t.same(passes(r2), []);
});

t.test('a flow blocked elsewhere (route) with an allowing NSG is no NSG finding', async (t) => {
  const r = rule.check(healthySnapshot(), context([flow('aml-service', [hop('route', 'blocked', 'no egress', { reason: 'no-egress' }), ok('nsg')])]));
  t.same(fails(r), []);
  t.match(passes(r), [{ resourceId: SUBNET_ID }]);
});
