import t from 'tap';
import { rule } from '../../src/rules/ROUTE_ASYMMETRIC_FORCED_TUNNEL.ts';
import { SUB, SUBNET_ID, clone, healthySnapshot, value } from '../helpers/snapshot.ts';
import { FW_IP, POLICY_ID, RT_ID, context, fails, flow, hop, onlyFinding, passes, policy, subnet, undetermineds, withFirewall } from '../helpers/flows.ts';

const SCOPE = `--subscription ${SUB} -g rg-net --route-table-name rt-compute`;

function forcedTunnel() {
  const s = clone(healthySnapshot());
  const c = value(s.computes).computes[0];
  if (c) delete c.enableNodePublicIp;
  withFirewall(s, policy(POLICY_ID, []));
  return s;
}

const routes = (s: ReturnType<typeof forcedTunnel>) => {
  const rt = value(s.subnetPolicies).routeTables[0];
  if (!rt?.observed.ok) throw new Error('fixture');
  return rt.observed.value.routes;
};

t.test('fail (engine): a public-IP compute behind a forced tunnel; the route table is blamed', async (t) => {
  const results = rule.check(forcedTunnel());
  const f = onlyFinding(results);
  t.equal(rule.meta.code, 'ROUTE_ASYMMETRIC_FORCED_TUNNEL');
  t.equal(rule.meta.tier, 2);
  t.equal(f.resourceId, RT_ID);
  t.same(f.flows, ['aml-inbound']);
  t.same(f.remediation.azCli, [`az network route-table route create ${SCOPE} -n AzureMLRoute --address-prefix AzureMachineLearning --next-hop-type Internet`]);
  t.match(f.remediation.summary, new RegExp(`route create ${SCOPE} -n BatchNodeManagementRoute --address-prefix BatchNodeManagement\\.eastus --next-hop-type Internet`));
  t.match(f.explanation, new RegExp(`ci-alice has a public IP.*default 0\\.0\\.0\\.0/0 -> VirtualAppliance ${FW_IP.replace(/\./g, '\\.')}.*asymmetric routing`));
  t.match(f.evidence[0], { resourceId: RT_ID, property: 'properties.routes[default]' });
  t.match(f.remediation.bicep, "resource routeTable 'Microsoft.Network/routeTables@2024-05-01' existing = {\n  name: 'rt-compute'\n}");
  t.match(f.remediation.bicep, "resource azureMLRoute 'Microsoft.Network/routeTables/routes@2024-05-01' = {\n  parent: routeTable\n  name: 'AzureMLRoute'\n  properties: {\n    addressPrefix: 'AzureMachineLearning'\n    nextHopType: 'Internet'\n  }\n}");
  t.match(f.remediation.bicep, /\/\/ .*BatchNodeManagement\.eastus with next hop Internet/);
  t.equal(f.remediation.verify, `az network route-table route show ${SCOPE} -n AzureMLRoute --query "[addressPrefix, nextHopType, nextHopIpAddress]" -o tsv should print a line AzureMachineLearning Internet (flow aml-inbound must be allowed after the fix); then run aml-netdoctor recheck <report.json>.`);
  t.same(passes(results), []);
});

t.test('fail: a route name already taken gets a suffix', async (t) => {
  const s = forcedTunnel();
  routes(s).push({ name: 'AzureMLRoute', addressPrefix: '10.50.0.0/16', nextHopType: 'VnetLocal' });
  const f = onlyFinding(rule.check(s));
  t.match(f.remediation.azCli[0], / -n AzureMLRoute2 /);
  t.match(f.remediation.bicep, /name: 'AzureMLRoute2'/);
});

t.test('pass (engine): an AzureMachineLearning -> Internet route takes the replies out', async (t) => {
  const s = forcedTunnel();
  routes(s).push({ name: 'AzureMLRoute', addressPrefix: 'AzureMachineLearning', nextHopType: 'Internet' });
  const r = rule.check(s);
  t.same(fails(r), []);
  t.match(passes(r), [{ resourceId: SUBNET_ID, detail: /aml-inbound from subnet snet-compute: the replies leave the way the traffic came/ }]);
});

t.test('does not apply without public-IP computes; undetermined when the route table is unreadable', async (t) => {
  t.match(rule.check(healthySnapshot()), [{ status: 'pass', detail: /none of the flows aml-inbound is traced/ }]);
  const s = forcedTunnel();
  const rt = value(s.subnetPolicies).routeTables[0];
  if (rt) rt.observed = { ok: false, error: { kind: 'forbidden', message: '403 AuthorizationFailed reading rt-compute' } };
  const r = rule.check(s);
  t.same(fails(r), []);
  t.same(passes(r), []);
  t.match(undetermineds(r), [{ reason: /aml-inbound: route hop undetermined \(evidence-missing\).*403 AuthorizationFailed reading rt-compute/ }]);
});

t.test('without a route table id on the hop, the subnet route table is named', async (t) => {
  const s = forcedTunnel();
  subnet(s).routeTableId = RT_ID;
  const f = onlyFinding(rule.check(s, context([flow('aml-inbound', [hop('route', 'blocked', 'replies go to the appliance', { reason: 'route-asymmetric' })])])));
  t.equal(f.resourceId, RT_ID);
});
