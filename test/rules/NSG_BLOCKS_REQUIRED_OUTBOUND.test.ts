import t from 'tap';
import { rule } from '../../src/rules/NSG_BLOCKS_REQUIRED_OUTBOUND.ts';
import { SPOKE_ID, SUBNET_ID, clone, healthySnapshot } from '../helpers/snapshot.ts';
import { NSG_ID, context, fails, fine, flow, hop, ok, passes, securityRule, undetermineds, withNsg } from '../helpers/flows.ts';
import type { FlowId } from '../../src/rules/rule.ts';

const SUBNET_2 = `${SPOKE_ID}/subnets/snet-train`;
const deny = (id: FlowId, element: string, subnetId = SUBNET_ID) =>
  flow(id, [ok('route'), hop('nsg', 'blocked', `${id} is denied by ${element}.`, { reason: 'nsg-deny', resourceId: NSG_ID, element })], { subnetId });

t.test('fail (engine): one finding for the DenyInternet rule listing every flow it breaks, tier 2', async (t) => {
  const s = clone(healthySnapshot());
  withNsg(s, [securityRule('DenyInternet', 4000)]);
  const findings = fails(rule.check(s));
  t.equal(findings.length, 1);
  const f = findings[0];
  t.equal(rule.meta.code, 'NSG_BLOCKS_REQUIRED_OUTBOUND');
  t.equal(rule.meta.tier, 2);
  t.equal(f?.tier, undefined, 'the meta tier applies, even for arm');
  t.equal(f?.resourceId, NSG_ID);
  t.same(f?.flows, ['arm', 'mcr', 'batch']);
  t.same(f?.remediation.azCli, [
    'az network nsg rule create --subscription 11111111-1111-1111-1111-111111111111 -g rg-net --nsg-name nsg-compute --name AllowArmOutbound --priority 3999 --direction Outbound --access Allow --protocol Tcp --destination-address-prefixes AzureResourceManager --destination-port-ranges 443',
    // Azure takes a service tag only as a rule's single destination: one rule per tag.
    'az network nsg rule create --subscription 11111111-1111-1111-1111-111111111111 -g rg-net --nsg-name nsg-compute --name AllowMcrOutboundMicrosoftContainerRegistry --priority 3998 --direction Outbound --access Allow --protocol Tcp --destination-address-prefixes MicrosoftContainerRegistry --destination-port-ranges 443',
    'az network nsg rule create --subscription 11111111-1111-1111-1111-111111111111 -g rg-net --nsg-name nsg-compute --name AllowMcrOutboundAzureFrontDoorFirstParty --priority 3997 --direction Outbound --access Allow --protocol Tcp --destination-address-prefixes AzureFrontDoor.FirstParty --destination-port-ranges 443',
    'az network nsg rule create --subscription 11111111-1111-1111-1111-111111111111 -g rg-net --nsg-name nsg-compute --name AllowBatchOutbound --priority 3996 --direction Outbound --access Allow --protocol Tcp --destination-address-prefixes BatchNodeManagement.eastus --destination-port-ranges 443',
  ]);
  const bicep = f?.remediation.bicep ?? '';
  t.match(bicep, "resource nsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' existing = {\n  name: 'nsg-compute'\n}");
  t.equal(bicep.match(/'Microsoft\.Network\/networkSecurityGroups\/securityRules@2024-05-01' = \{/g)?.length, 4, 'one securityRules child per az command');
  t.match(bicep, /name: 'AllowMcrOutboundMicrosoftContainerRegistry'[\s\S]*destinationAddressPrefix: 'MicrosoftContainerRegistry'\n[\s\S]*priority: 3998\n/);
  t.match(bicep, /name: 'AllowMcrOutboundAzureFrontDoorFirstParty'[\s\S]*destinationAddressPrefix: 'AzureFrontDoor\.FirstParty'\n[\s\S]*priority: 3997\n/);
  t.notMatch(bicep, /AddressPrefixes/, 'service tags never go into a prefix list');
  t.match(f?.remediation.verify, /should print 3996 AllowBatchOutbound Allow, 3997 AllowMcrOutboundAzureFrontDoorFirstParty Allow, 3998 AllowMcrOutboundMicrosoftContainerRegistry Allow, 3999 AllowArmOutbound Allow on lines above 4000 DenyInternet Deny \(flows arm, mcr, batch must be allowed after the fix\); then run aml-netdoctor recheck <report\.json>\.$/);
  t.match(f?.explanation, /Microsoft base images cannot be pulled/);
  t.match(f?.evidence.map((e) => e.property), ['properties.securityRules[DenyInternet]', /flow arm/, /flow mcr/, /flow batch/]);
});

t.test('fail: two blocking rules give two findings; one rule across two subnets gives one', async (t) => {
  const a = 'securityRules/DenyStorage (priority 200)';
  const b = 'securityRules/DenyInternet (priority 4000)';
  const results = rule.check(healthySnapshot(), context([deny('storage', a), deny('mcr', b), deny('mcr', b, SUBNET_2), fine('arm')]));
  const findings = fails(results);
  t.equal(findings.length, 2);
  const storage = findings.find((f) => f.flows?.includes('storage'));
  t.match(storage?.remediation.azCli, [/--name AllowStorageOutbound --priority 199 .*--destination-address-prefixes Storage\.eastus --destination-port-ranges 443 445$/]);
  const mcr = findings.find((f) => f.flows?.includes('mcr'));
  t.same(mcr?.flows, ['mcr']);
  t.equal(mcr?.remediation.azCli.length, 2, 'the same allow rules (one per service tag) serve both subnets');
  t.match(mcr?.explanation, /in subnets snet-compute and snet-train/);
  t.ok(mcr?.subjects?.includes(`subnet:${SUBNET_2.toLowerCase()}`));
  t.same(passes(results), [], 'both subnets have a finding');
});

t.test('pass and undetermined per subnet', async (t) => {
  const results = rule.check(healthySnapshot(), context([
    fine('arm'), fine('storage'),
    flow('key-vault', [ok('route'), hop('nsg', 'undetermined', 'service tag AzureKeyVault.eastus cannot be expanded', { reason: 'not-evaluable', resourceId: NSG_ID })], { subnetId: SUBNET_2 }),
  ]));
  t.match(passes(results), [{ resourceId: SUBNET_ID, detail: /arm, storage/ }]);
  t.match(undetermineds(results), [{ resourceId: NSG_ID, item: /snet-train/, reason: /key-vault: nsg hop undetermined/ }]);
});
