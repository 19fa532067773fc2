import t from 'tap';
import { rule } from '../../src/rules/NSG_BLOCKS_REQUIRED_INBOUND.ts';
import { SUBNET_ID, clone, healthySnapshot, value } from '../helpers/snapshot.ts';
import { NSG_ID, context, fails, fine, flow, hop, ok, onlyFinding, passes, securityRule, undetermineds, withNsg } from '../helpers/flows.ts';

function publicIpCompute() {
  const s = clone(healthySnapshot());
  const c = value(s.computes).computes[0];
  if (c) c.enableNodePublicIp = true;
  return s;
}

t.test('fail (engine): the default DenyAllInBound blocks 44224 from AzureMachineLearning', async (t) => {
  const s = publicIpCompute();
  withNsg(s, [securityRule('AllowSsh', 4096, { direction: 'Inbound', access: 'Allow', destinationPortRanges: ['22'] })]);
  const f = onlyFinding(rule.check(s));
  t.equal(rule.meta.code, 'NSG_BLOCKS_REQUIRED_INBOUND');
  t.equal(f.resourceId, NSG_ID);
  t.same(f.flows, ['aml-inbound']);
  t.same(f.remediation.azCli, [
    'az network nsg rule create --subscription 11111111-1111-1111-1111-111111111111 -g rg-net --nsg-name nsg-compute --name AllowAmlInboundInbound --priority 4095 --direction Inbound --access Allow --protocol Tcp --source-address-prefixes AzureMachineLearning --destination-address-prefixes VirtualNetwork --destination-port-ranges 44224',
  ]);
  t.match(f.evidence[0], { property: 'properties.defaultSecurityRules[DenyAllInBound]' });
  t.match(f.explanation, /aml-inbound \(TCP 44224 from AzureMachineLearning to the compute subnet\)/);
  t.match(f.remediation.bicep, "resource nsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' existing = {\n  name: 'nsg-compute'\n}");
  t.match(f.remediation.bicep, /resource allowAmlInboundInbound 'Microsoft\.Network\/networkSecurityGroups\/securityRules@2024-05-01' = \{\n  parent: nsg\n  name: 'AllowAmlInboundInbound'\n  properties: \{\n[^}]*sourceAddressPrefix: 'AzureMachineLearning'\n\s+sourcePortRange: '\*'\n\s+destinationAddressPrefix: 'VirtualNetwork'\n\s+destinationPortRange: '44224'\n\s+access: 'Allow'\n\s+priority: 4095\n\s+direction: 'Inbound'/);
  t.match(f.remediation.bicep, /evaluated before DenyAllInBound \(priority 65500\)/);
  t.match(f.remediation.verify, /should print 4095 AllowAmlInboundInbound Allow on lines above 65500 DenyAllInBound Deny \(flow aml-inbound must be allowed after the fix\); then run aml-netdoctor recheck <report\.json>\.$/);
});

t.test('pass: no public-IP compute, no inbound flow; pass with an allow rule', async (t) => {
  t.match(rule.check(healthySnapshot()), [{ status: 'pass', detail: /Does not apply to subnet snet-compute: none of the flows aml-inbound/ }]);
  const s = publicIpCompute();
  withNsg(s, [securityRule('AllowAml', 100, { direction: 'Inbound', access: 'Allow', sourceAddressPrefixes: ['AzureMachineLearning'], destinationAddressPrefixes: ['VirtualNetwork'], destinationPortRanges: ['44224'] })]);
  const r = rule.check(s);
  t.same(fails(r), []);
  t.match(passes(r), [{ resourceId: SUBNET_ID }]);
});

t.test('undetermined when the inbound NSG hop cannot be decided', async (t) => {
  const r = rule.check(healthySnapshot(), context([flow('aml-inbound', [ok('route'), hop('nsg', 'undetermined', 'source covers only part of the subnet', { reason: 'not-evaluable' })])]));
  t.match(undetermineds(r), [{ resourceId: SUBNET_ID, reason: /aml-inbound: nsg hop undetermined/ }]);
  t.same(passes(r), []);
  t.same(fails(rule.check(healthySnapshot(), context([fine('aml-inbound')]))), []);
});
