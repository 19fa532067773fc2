import t from 'tap';
import { rule } from '../../src/rules/FIREWALL_FQDN_RULE_WITHOUT_DNS_PROXY.ts';
import { rule as blocks } from '../../src/rules/FIREWALL_BLOCKS_REQUIRED_DESTINATION.ts';
import type { FirewallsObs, Snapshot } from '../../src/model/snapshot.ts';
import { HUB_SUB, SUBNET_ID, WS_ID, clone, healthySnapshot, value } from '../helpers/snapshot.ts';
import { BASE_POLICY_ID, FW_ID, FW_IP, POLICY_ID, RT_ID, collection, context, fails, fine, networkRule, onlyFinding, passes, policy, undetermineds, withFirewall } from '../helpers/flows.ts';

const fqdnRule = () => networkRule('aml-fqdn', { ipProtocols: ['TCP', 'UDP'], destinationFqdns: ['eastus.api.azureml.ms', 'eastus.cert.api.azureml.ms'], destinationPorts: ['443', '18881', '5831'] });
const groupWith = (rules = [fqdnRule()]) => [{ name: 'rcg-aml', priority: 100, ruleCollections: [collection('allow-aml', 100, 'Allow', rules)] }];

function estate(extra: Partial<Parameters<typeof policy>[2]> = {}): { s: Snapshot; fw: FirewallsObs } {
  const s = clone(healthySnapshot());
  const fw = withFirewall(s, policy(POLICY_ID, groupWith(), { dnsProxyEnabled: false, ...extra }));
  return { s, fw };
}

t.test('fail (engine): FQDN network rules with the DNS proxy off; the flow they were meant to allow is broken', async (t) => {
  const results = rule.check(estate().s);
  const f = onlyFinding(results);
  t.equal(rule.meta.code, 'FIREWALL_FQDN_RULE_WITHOUT_DNS_PROXY');
  t.equal(rule.meta.tier, 2);
  t.equal(f.resourceId, POLICY_ID, 'blames the policy attached to the firewall');
  t.same(f.flows, ['aml-service']);
  t.same(f.remediation.azCli, [`az network firewall policy update --subscription ${HUB_SUB} -g rg-hub -n fwp-hub --enable-dns-proxy true`]);
  t.match(f.explanation, /Firewall policy fwp-hub, used by fw-hub .* aml-fqdn \(rcg-aml\/allow-aml: eastus\.api\.azureml\.ms, eastus\.cert\.api\.azureml\.ms TCP\/UDP 443, 18881, 5831\).*enableProxy false.*This breaks aml-service/);
  t.match(f.evidence, [{ property: 'properties.dnsSettings.enableProxy', observed: 'false' }, { resourceId: `${POLICY_ID}/ruleCollectionGroups/rcg-aml`, property: 'properties.ruleCollections[allow-aml].rules[aml-fqdn].destinationFqdns' }]);
  t.match(f.remediation.verify, /az network firewall policy show .* -n fwp-hub --query dnsSettings.*flow aml-service must be allowed/);
  t.equal(f.remediation.verify, `az network firewall policy show --subscription ${HUB_SUB} -g rg-hub -n fwp-hub --query dnsSettings.enableProxy -o tsv should print true (flow aml-service must be allowed after the fix); then run aml-netdoctor recheck <report.json>.`);
  const bicep = f.remediation.bicep;
  t.match(bicep, /^\/\/ Deploy to resource group rg-hub \(subscription 22222222-2222-2222-2222-222222222222\)/);
  t.match(bicep, "resource policy 'Microsoft.Network/firewallPolicies@2024-05-01' = {\n  name: 'fwp-hub'\n  location: 'eastus'\n  properties: {\n    sku: {\n      tier: 'Standard'\n    }\n    dnsSettings: {\n      enableProxy: true\n    }\n  }\n}");
  t.match(bicep, /\/\/ Then point the compute VNets' DNS at the firewall \(10\.10\.0\.4\)/, 'says the VNets must then use the firewall for DNS');
  t.match(bicep, `//   az network vnet update --subscription 11111111-1111-1111-1111-111111111111 -g rg-net -n vnet-spoke --dns-servers ${FW_IP}`);
  t.same(passes(results), []);
});

t.test('fail: the rule sits in the base policy and no traced flow needs it', async (t) => {
  const s = clone(healthySnapshot());
  const base = policy(BASE_POLICY_ID, groupWith([networkRule('ntp', { ipProtocols: ['UDP'], destinationFqdns: ['time.windows.com'], destinationPorts: ['123'] })]));
  withFirewall(s, policy(POLICY_ID, [], { basePolicyId: BASE_POLICY_ID }), [base]);
  const f = onlyFinding(rule.check(s, context([fine('arm')])));
  t.equal(f.resourceId, POLICY_ID);
  t.same(f.flows, []);
  t.match(f.explanation, /ntp \(base policy fwp-base, rcg-aml\/allow-aml: time\.windows\.com.*enableProxy not set.*No traced flow depends on them/);
  t.match(f.remediation.verify, /should print true; then run aml-netdoctor recheck <report\.json>\.$/);
  t.notMatch(f.remediation.verify, /must be allowed/, 'no flow to name');
  t.match(f.remediation.bicep, `basePolicy: {\n      id: '${BASE_POLICY_ID}'\n    }`, 'the policy keeps its base policy');
});

t.test('absorbs the firewall block of the flows its rules were meant to allow, and only those', async (t) => {
  t.same(rule.meta.absorbs, ['FIREWALL_BLOCKS_REQUIRED_DESTINATION']);
  const { s } = estate();
  const cause = onlyFinding(rule.check(s));
  const blocked = fails(blocks.check(s));
  const shared = (f: { subjects?: string[] }) => (f.subjects ?? []).some((x) => cause.subjects?.includes(x));
  t.same(blocked.filter(shared).flatMap((f) => f.flows), ['aml-service'], 'the aml-service block shares a subject: ranking folds it in');
  t.same(blocked.filter((f) => !shared(f)).flatMap((f) => f.flows), ['entra-id', 'arm', 'mcr', 'batch'], 'blocks the FQDN rules do not explain stay findings of their own');
});

t.test('pass: the DNS proxy is on (own or inherited from the base policy); no FQDN network rules', async (t) => {
  t.match(rule.check(estate({ dnsProxyEnabled: true }).s), [{ status: 'pass', resourceId: POLICY_ID, detail: /DNS proxy on, so its 1 FQDN network rule can match/ }]);
  const s = clone(healthySnapshot());
  withFirewall(s, policy(POLICY_ID, groupWith()), [policy(BASE_POLICY_ID, [], { dnsProxyEnabled: true })]);
  const attached = value(s.firewalls).policies[0];
  if (attached?.observed.ok) attached.observed.value.basePolicyId = BASE_POLICY_ID;
  t.match(rule.check(s), [{ status: 'pass', detail: /DNS proxy on/ }]);
  const plain = clone(healthySnapshot());
  withFirewall(plain, policy(POLICY_ID, groupWith([networkRule('tag', { destinationAddresses: ['AzureMachineLearning'] })])));
  t.match(rule.check(plain), [{ status: 'pass', resourceId: POLICY_ID, detail: /no network rule with destination FQDNs/ }]);
});

t.test('does not apply: no firewall on the routes; managed network', async (t) => {
  const s = clone(healthySnapshot());
  s.firewalls = { ok: true, value: { appliances: [], searches: [], firewalls: [], policies: [] } };
  t.match(rule.check(s), [{ status: 'pass', resourceId: WS_ID, detail: /no Azure Firewall is on the compute subnets' routes/ }]);
  t.match(rule.check(s, context([], { managedNetwork: true })), [{ status: 'pass', detail: /managed virtual network/ }]);
});

t.test('the firewall is found through the vantage VM effective routes and its private IP', async (t) => {
  const { s, fw } = estate();
  fw.appliances = [];
  s.subnetPolicies = { ok: true, value: { routeTables: [], nsgs: [], natGateways: [] } };
  s.vantage = {
    ok: true,
    value: {
      subnets: [{
        subnetId: SUBNET_ID, skipped: [],
        vantage: {
          subnetId: SUBNET_ID, nicId: 'nic', how: 'subnet', nextHops: [], effectiveNsgs: { ok: true, value: [] },
          effectiveRoutes: { ok: true, value: [{ source: 'User', state: 'Active', addressPrefixes: ['0.0.0.0/0'], nextHopType: 'VirtualAppliance', nextHopIpAddresses: [FW_IP] }] },
        },
      }],
    },
  };
  const f = onlyFinding(rule.check(s, context([fine('arm')])));
  t.equal(f.resourceId, POLICY_ID);
});

t.test('undetermined: firewalls probe failed, route table, firewall, policy, groups or base policy unreadable', async (t) => {
  const forbidden = (what: string) => ({ ok: false as const, error: { kind: 'forbidden' as const, message: `403 reading ${what}` } });
  const noProbe = clone(healthySnapshot());
  noProbe.firewalls = forbidden('firewalls');
  t.match(rule.check(noProbe, context([fine('arm')])), [{ status: 'undetermined', reason: '403 reading firewalls' }]);

  const rt = estate();
  const table = value(rt.s.subnetPolicies).routeTables[0];
  if (table) table.observed = forbidden('rt-compute');
  t.match(undetermineds(rule.check(rt.s, context([fine('arm')]))), [{ item: /route table rt-compute of subnet snet-compute/, reason: '403 reading rt-compute', resourceId: RT_ID }]);

  const fwDown = estate();
  const entry = fwDown.fw.firewalls[0];
  if (entry) entry.observed = forbidden('fw-hub');
  t.match(undetermineds(rule.check(fwDown.s, context([fine('arm')]))), [{ item: /Azure Firewall fw-hub/, resourceId: FW_ID }]);

  const policyDown = estate();
  const p = policyDown.fw.policies[0];
  if (p) p.observed = forbidden('fwp-hub');
  t.match(undetermineds(rule.check(policyDown.s, context([fine('arm')]))), [{ item: 'firewall policy fwp-hub', reason: '403 reading fwp-hub' }]);

  const groupsDown = estate();
  const g = groupsDown.fw.policies[0];
  if (g?.observed.ok) g.observed.value.ruleCollectionGroups = forbidden('groups');
  t.match(undetermineds(rule.check(groupsDown.s, context([fine('arm')]))), [{ item: /rule collection groups of firewall policy fwp-hub/ }]);

  const baseMissing = estate({ basePolicyId: BASE_POLICY_ID });
  const r = rule.check(baseMissing.s, context([fine('arm')]));
  t.same(fails(r), []);
  t.match(undetermineds(r), [{ item: /base policy fwp-base of firewall policy fwp-hub/, reason: 'not read' }]);
});
