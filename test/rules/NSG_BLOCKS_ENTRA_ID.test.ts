import t from 'tap';
import { rule } from '../../src/rules/NSG_BLOCKS_ENTRA_ID.ts';
import { SUBNET_ID, WS_ID, clone, healthySnapshot, value } from '../helpers/snapshot.ts';
import { NSG_ID, context, fails, fine, flow, hop, ok, onlyFinding, passes, securityRule, undetermineds, withNsg } from '../helpers/flows.ts';

const DENY = 'securityRules/DenyInternet (priority 4000)';
const blockedEntra = (extra = {}) =>
  flow('entra-id', [ok('route'), hop('nsg', 'blocked', `TCP 80 to AzureActiveDirectory is denied by ${DENY} of NSG nsg-compute.`, { reason: 'nsg-deny', resourceId: NSG_ID, element: DENY })], extra);

function snapshotWithDeny() {
  const s = clone(healthySnapshot());
  withNsg(s, [
    securityRule('AllowVnet', 100, { access: 'Allow', destinationAddressPrefixes: ['VirtualNetwork'] }),
    securityRule('AllowMonitor', 3999, { access: 'Allow', destinationAddressPrefixes: ['AzureMonitor'] }),
    securityRule('DenyInternet', 4000),
  ]);
  return s;
}

t.test('fail: the NSG rule that denies entra-id is blamed and an allow rule below it is proposed', async (t) => {
  const results = rule.check(snapshotWithDeny(), context([fine('workspace-api'), blockedEntra()]));
  const f = onlyFinding(results);
  t.equal(rule.meta.code, 'NSG_BLOCKS_ENTRA_ID');
  t.equal(f.resourceId, NSG_ID, 'blames the NSG');
  t.same(f.flows, ['entra-id']);
  t.equal(f.confidence, 'medium', 'computed from configuration, only the standing NIC caveat');
  t.equal(f.remediation.azCli.length, 1);
  const cmd = f.remediation.azCli[0] as string;
  t.match(cmd, /^az network nsg rule create --subscription 11111111-1111-1111-1111-111111111111 -g rg-net --nsg-name nsg-compute --name AllowEntraIdOutbound /);
  t.match(cmd, /--direction Outbound --access Allow --protocol Tcp --destination-address-prefixes AzureActiveDirectory --destination-port-ranges 80 443$/);
  const priority = Number(/--priority (\d+)/.exec(cmd)?.[1]);
  t.equal(priority, 3998, '3999 is taken by AllowMonitor: the highest free number below 4000');
  t.match(f.evidence[0], { resourceId: NSG_ID, property: 'properties.securityRules[DenyInternet]', observed: /Deny Outbound priority 4000/ });
  t.match(f.evidence[1], { resourceId: SUBNET_ID, observed: /securityRules\/DenyInternet \(priority 4000\)/ });
  t.match(f.explanation, /Compute ci-alice in subnet snet-compute needs entra-id \(TCP 80, TCP 443 to login\.microsoftonline\.com/);
  t.match(f.explanation, /device-login/);
  t.notMatch(f.explanation, /\.\./, 'no doubled periods');
  t.match(f.remediation.verify, /az network nsg rule list .* --nsg-name nsg-compute .*flow entra-id must be allowed/);
  t.match(f.remediation.verify, /should print 3998 AllowEntraIdOutbound Allow on lines above 4000 DenyInternet Deny .*; then run aml-netdoctor recheck <report\.json>\.$/);
  const bicep = f.remediation.bicep;
  t.match(bicep, /^\/\/ Deploy to resource group rg-net \(subscription 11111111-1111-1111-1111-111111111111\)/, 'deployed where the NSG lives');
  t.match(bicep, "resource nsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' existing = {\n  name: 'nsg-compute'\n}", 'the real NSG, as an existing parent');
  t.match(bicep, "resource allowEntraIdOutbound 'Microsoft.Network/networkSecurityGroups/securityRules@2024-05-01' = {\n  parent: nsg\n  name: 'AllowEntraIdOutbound'");
  t.match(bicep, /protocol: 'Tcp'\n\s+sourceAddressPrefix: '\*'\n\s+sourcePortRange: '\*'\n\s+destinationAddressPrefix: 'AzureActiveDirectory'\n\s+destinationPortRanges: \[\n\s+'80'\n\s+'443'\n\s+\]\n\s+access: 'Allow'\n\s+priority: 3998\n\s+direction: 'Outbound'/, 'the same rule as the az command');
  t.same(passes(results), [], 'no pass for the subnet that fails');
});

t.test('fail through the real flow engine (no context given)', async (t) => {
  const f = onlyFinding(rule.check(snapshotWithDeny()));
  t.equal(f.resourceId, NSG_ID);
  t.match(f.remediation.azCli[0], /--priority 3998 /);
  t.equal(f.confidence, 'low', 'service tags matched by name: an assumption note');
});

t.test('fail read through a vantage VM: effective rules are looked up, confidence high', async (t) => {
  const s = clone(healthySnapshot());
  s.vantage = {
    ok: true,
    value: {
      subnets: [{
        subnetId: SUBNET_ID, skipped: [],
        vantage: {
          subnetId: SUBNET_ID, nicId: 'nic', how: 'subnet', nextHops: [], effectiveRoutes: { ok: true, value: [] },
          effectiveNsgs: { ok: true, value: [{ networkSecurityGroupId: NSG_ID, association: 'subnet', rules: [securityRule('securityRules/DenyInternet', 4000), securityRule('securityRules/AllowX', 3999, { access: 'Allow' })] }] },
        },
      }],
    },
  };
  const f = onlyFinding(rule.check(s, context([blockedEntra({ source: 'azure', notes: [] })])));
  t.equal(f.confidence, 'high');
  t.match(f.remediation.azCli[0], /--priority 3998 /, 'the effective rule at 3999 is skipped');
  t.match(f.evidence[0], { observed: /Deny Outbound priority 4000/ });
  t.match(f.remediation.verify, /^az network nsg rule list /, 'a NIC id that is not an ARM id cannot be queried: the NSG rules are listed instead');
});

t.test('verify reads the vantage NIC effective rules when that NIC sees the NSG', async (t) => {
  const nicId = `/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-net/providers/Microsoft.Network/networkInterfaces/vm-jump-nic`;
  const s = snapshotWithDeny();
  const effective = (nsgId: string) => ({ ok: true as const, value: [{ networkSecurityGroupId: nsgId, association: 'subnet' as const, rules: [securityRule('securityRules/DenyInternet', 4000)] }] });
  const vantage = (nsgId: string) => ({ subnetId: SUBNET_ID, nicId, how: 'subnet' as const, nextHops: [], effectiveRoutes: { ok: true as const, value: [] }, effectiveNsgs: effective(nsgId) });
  s.vantage = { ok: true, value: { subnets: [{ subnetId: SUBNET_ID, skipped: [], vantage: vantage(NSG_ID) }] } };
  const f = onlyFinding(rule.check(s, context([blockedEntra()])));
  t.equal(f.remediation.verify, `az network nic list-effective-nsg --ids ${nicId} --query "value[].effectiveSecurityRules[] | [?name=='securityRules/AllowEntraIdOutbound'].[name, access]" -o tsv should print securityRules/AllowEntraIdOutbound followed by Allow (flow entra-id must be allowed after the fix); then run aml-netdoctor recheck <report.json>.`);
  s.vantage = { ok: true, value: { subnets: [{ subnetId: SUBNET_ID, skipped: [], vantage: vantage(`${NSG_ID}-other`) }] } };
  t.match(onlyFinding(rule.check(s, context([blockedEntra()]))).remediation.verify, /^az network nsg rule list /, 'a NIC that does not see this NSG cannot show the fix');
});

t.test('fail: no free priority below the blocking rule', async (t) => {
  const s = clone(healthySnapshot());
  withNsg(s, [securityRule('DenyAll', 100)]);
  const el = 'securityRules/DenyAll (priority 100)';
  const f = onlyFinding(rule.check(s, context([flow('entra-id', [ok('route'), hop('nsg', 'blocked', 'denied', { reason: 'nsg-deny', resourceId: NSG_ID, element: el })])])));
  t.match(f.remediation.azCli[0], /--priority <free priority below 100>/);
  t.match(f.remediation.summary, /first move DenyAll to a higher number/);
  t.match(f.remediation.bicep, /priority: 0 \/\/ <free priority below 100>: set a free priority before deploying\n/, 'no made-up priority');
  t.match(f.remediation.bicep, /\/\/ No free priority is left below DenyAll \(priority 100\): move it to a higher number first/);
});

t.test('pass: the NSG lets entra-id through', async (t) => {
  const results = rule.check(healthySnapshot(), context([fine('entra-id'), fine('arm')]));
  t.same(fails(results), []);
  t.match(passes(results), [{ resourceId: SUBNET_ID, detail: 'Flows entra-id from subnet snet-compute: no NSG rule denies them.' }]);
});

t.test('undetermined: the NSG hop could not be decided (never a pass)', async (t) => {
  const results = rule.check(healthySnapshot(), context([flow('entra-id', [ok('route'), hop('nsg', 'undetermined', 'The NSG rules that apply to subnet snet-compute are unknown: 403 reading nsg-compute.', { reason: 'evidence-missing', resourceId: NSG_ID })])]));
  t.same(fails(results), []);
  t.same(passes(results), []);
  t.match(undetermineds(results), [{ item: /NSG rules of flows from subnet snet-compute/, reason: /entra-id: nsg hop undetermined \(evidence-missing\): .*403 reading nsg-compute/, resourceId: NSG_ID }]);
});

t.test('undetermined: the trace never reached the NSG hop', async (t) => {
  const results = rule.check(healthySnapshot(), context([flow('entra-id', [hop('destination', 'undetermined', 'dependency could not be read', { reason: 'evidence-missing' })])]));
  t.match(undetermineds(results), [{ reason: /the trace stopped at the destination hop .* before the nsg hop was evaluated/, resourceId: SUBNET_ID }]);
  t.same(passes(results), []);
});

t.test('scope: managed network, no flows, computes unreadable', async (t) => {
  t.same(rule.check(healthySnapshot(), context([], { managedNetwork: true })), [{ status: 'pass', resourceId: WS_ID, detail: 'Not applicable: managed virtual network. The computes do not sit in a customer subnet, so its routes, NSGs and firewalls do not apply.' }]);
  const s = clone(healthySnapshot());
  value(s.computes).computes = [];
  t.match(rule.check(s, context([])), [{ status: 'pass', resourceId: WS_ID, detail: /no compute in scope sits in a customer virtual network/ }]);
  s.computes = { ok: false, error: { kind: 'forbidden', message: '403 reading computes' } };
  t.match(rule.check(s, context([])), [{ status: 'undetermined', reason: '403 reading computes' }]);
  s.workspace = { ok: false, error: { kind: 'forbidden', message: '403 reading workspace' } };
  t.match(rule.check(s, context([])), [{ status: 'undetermined', reason: '403 reading workspace' }]);
});

t.test('a subnet without the flow does not apply', async (t) => {
  t.match(rule.check(healthySnapshot(), context([fine('arm')])), [{ status: 'pass', detail: /Does not apply to subnet snet-compute: none of the flows entra-id is traced from it/ }]);
});
