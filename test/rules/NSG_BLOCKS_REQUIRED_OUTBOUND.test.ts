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
    'az network nsg rule create --subscription 11111111-1111-1111-1111-111111111111 -g rg-net --nsg-name nsg-compute --name AllowMcrOutbound --priority 3998 --direction Outbound --access Allow --protocol Tcp --destination-address-prefixes MicrosoftContainerRegistry AzureFrontDoor.FirstParty --destination-port-ranges 443',
    'az network nsg rule create --subscription 11111111-1111-1111-1111-111111111111 -g rg-net --nsg-name nsg-compute --name AllowBatchOutbound --priority 3997 --direction Outbound --access Allow --protocol Tcp --destination-address-prefixes BatchNodeManagement.eastus --destination-port-ranges 443',
  ]);
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
  t.equal(mcr?.remediation.azCli.length, 1, 'the same allow rule serves both subnets');
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
