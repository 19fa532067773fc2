import t from 'tap';
import { rule } from '../../src/rules/NSG_BLOCKS_PRIVATE_ENDPOINT.ts';
import { PE_SUBNET_ID, SUBNET_ID, clone, healthySnapshot } from '../helpers/snapshot.ts';
import { NSG_ID, PE_NSG_ID, context, fails, fine, flow, hop, ok, onlyFinding, passes, securityRule, subnet, undetermineds, withNsg } from '../helpers/flows.ts';

t.test('fail (engine): the endpoint subnet NSG denies the compute inbound; the fix goes on that NSG', async (t) => {
  const s = clone(healthySnapshot());
  subnet(s, PE_SUBNET_ID).privateEndpointNetworkPolicies = 'Enabled';
  withNsg(s, [securityRule('DenySpokeInbound', 200, { direction: 'Inbound', sourceAddressPrefixes: ['10.20.0.0/16'], destinationAddressPrefixes: ['*'] })], PE_NSG_ID, PE_SUBNET_ID);
  const results = rule.check(s);
  const f = onlyFinding(results);
  t.equal(rule.meta.code, 'NSG_BLOCKS_PRIVATE_ENDPOINT');
  t.equal(f.resourceId, PE_NSG_ID, 'blames the endpoint subnet NSG');
  t.same(f.flows, ['workspace-api', 'workspace-cert', 'notebooks', 'instance-name']);
  t.equal(f.tier, 1, 'the auth-path flows are broken');
  t.same(f.remediation.azCli, [
    'az network nsg rule create --subscription 22222222-2222-2222-2222-222222222222 -g rg-hub --nsg-name nsg-pe --name AllowWorkspaceApiInbound --priority 199 --direction Inbound --access Allow --protocol Tcp --source-address-prefixes 10.20.1.0/24 --destination-address-prefixes 10.10.1.4 --destination-port-ranges 443',
    'az network nsg rule create --subscription 22222222-2222-2222-2222-222222222222 -g rg-hub --nsg-name nsg-pe --name AllowNotebooksInbound --priority 198 --direction Inbound --access Allow --protocol Tcp --source-address-prefixes 10.20.1.0/24 --destination-address-prefixes 10.10.1.5 --destination-port-ranges 443',
  ]);
  t.match(f.explanation, /NSG nsg-pe on the destination side/);
  const bicep = f.remediation.bicep;
  t.match(bicep, /^\/\/ Deploy to resource group rg-hub \(subscription 22222222-2222-2222-2222-222222222222\)/, 'deployed where the endpoint NSG lives');
  t.match(bicep, "resource nsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' existing = {\n  name: 'nsg-pe'\n}");
  t.match(bicep, /resource allowWorkspaceApiInbound 'Microsoft\.Network\/networkSecurityGroups\/securityRules@2024-05-01' = \{\n  parent: nsg\n  name: 'AllowWorkspaceApiInbound'\n  properties: \{\n    description: 'Allows workspace-api, workspace-cert, instance-name for Azure Machine Learning \(aml-netdoctor\)'\n    protocol: 'Tcp'\n    sourceAddressPrefix: '10\.20\.1\.0\/24'\n    sourcePortRange: '\*'\n    destinationAddressPrefix: '10\.10\.1\.4'\n    destinationPortRange: '443'\n    access: 'Allow'\n    priority: 199\n    direction: 'Inbound'/);
  t.match(bicep, /name: 'AllowNotebooksInbound'[\s\S]*destinationAddressPrefix: '10\.10\.1\.5'[\s\S]*priority: 198/);
  t.match(f.remediation.verify, /az network nsg rule list --subscription 22222222-2222-2222-2222-222222222222 -g rg-hub --nsg-name nsg-pe .*direction=='Inbound'.*should print 198 AllowNotebooksInbound Allow, 199 AllowWorkspaceApiInbound Allow on lines above 200 DenySpokeInbound Deny .*then run aml-netdoctor recheck <report\.json>\.$/);
  t.match(f.explanation, /device-login/);
  t.same(passes(results), []);
});

t.test('fail: outbound deny on the compute subnet to the endpoint address', async (t) => {
  const s = clone(healthySnapshot());
  withNsg(s, [securityRule('DenyVnetOut', 1000, { destinationAddressPrefixes: ['VirtualNetwork'] })]);
  const el = 'securityRules/DenyVnetOut (priority 1000)';
  const f = onlyFinding(rule.check(s, context([flow('workspace-cert', [ok('dns'), ok('route'), hop('nsg', 'blocked', `TCP 443 to 10.10.1.4 is denied by ${el}.`, { reason: 'nsg-deny', resourceId: NSG_ID, element: el })])])));
  t.equal(f.resourceId, NSG_ID);
  t.same(f.remediation.azCli, ['az network nsg rule create --subscription 11111111-1111-1111-1111-111111111111 -g rg-net --nsg-name nsg-compute --name AllowWorkspaceCertOutbound --priority 999 --direction Outbound --access Allow --protocol Tcp --destination-address-prefixes 10.10.1.4 --destination-port-ranges 443']);
  t.equal(f.tier, 1);
});

t.test('tier 2 when only notebooks and instance names are blocked', async (t) => {
  const el = 'securityRules/DenyNb (priority 500)';
  const blocked = (id: 'notebooks' | 'instance-name') => flow(id, [ok('route'), hop('nsg', 'blocked', 'denied', { reason: 'nsg-deny', resourceId: NSG_ID, element: el })]);
  const f = onlyFinding(rule.check(healthySnapshot(), context([fine('workspace-api'), blocked('notebooks'), blocked('instance-name')])));
  t.equal(f.tier, 2);
  t.same(f.flows, ['notebooks', 'instance-name']);
  t.match(f.explanation, /notebooks, file browsing and terminal access fail/);
});

t.test('pass on the healthy estate (engine), undetermined when the endpoint NSG is unreadable', async (t) => {
  const healthy = rule.check(healthySnapshot());
  t.same(fails(healthy), []);
  t.match(passes(healthy), [{ resourceId: SUBNET_ID, detail: /workspace-api, workspace-cert, notebooks, instance-name/ }]);
  const s = clone(healthySnapshot());
  subnet(s, PE_SUBNET_ID).privateEndpointNetworkPolicies = 'NetworkSecurityGroupEnabled';
  subnet(s, PE_SUBNET_ID).networkSecurityGroupId = PE_NSG_ID;
  s.subnetPolicies = { ok: true, value: { routeTables: [], natGateways: [], nsgs: [{ id: PE_NSG_ID, observed: { ok: false, error: { kind: 'forbidden', message: '403 AuthorizationFailed reading nsg-pe' } } }] } };
  const r = rule.check(s);
  t.same(fails(r), []);
  t.same(passes(r), []);
  t.match(undetermineds(r), [{ reason: /403 AuthorizationFailed reading nsg-pe/ }]);
});
