import t from 'tap';
import { rule } from '../../src/rules/ROUTE_NEXT_HOP_UNREACHABLE.ts';
import { HUB_ID, HUB_SUB, SPOKE_ID, SUB, SUBNET_ID, clone, healthySnapshot, value } from '../helpers/snapshot.ts';
import { FW_IP, PEERING_ID, POLICY_ID, RT_ID, context, fails, flow, hop, ok, onlyFinding, passes, policy, undetermineds, withFirewall, withRouteTable } from '../helpers/flows.ts';

const ROUTE_CMD = `az network route-table route update --subscription ${SUB} -g rg-net --route-table-name rt-compute -n default`;

function unowned(withFw: boolean) {
  const s = clone(healthySnapshot());
  if (withFw) {
    const fw = withFirewall(s, policy(POLICY_ID, []));
    fw.appliances.push({ ip: '10.10.0.9', owner: 'none' });
    const rt = value(s.subnetPolicies).routeTables[0];
    if (rt?.observed.ok) rt.observed.value.routes = [{ name: 'default', addressPrefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.10.0.9' }];
  } else {
    s.firewalls = { ok: true, value: { appliances: [{ ip: '10.10.0.9', owner: 'none' }], searches: [{ subscriptionId: HUB_SUB, result: { ok: true, value: { count: 0 } } }], firewalls: [], policies: [] } };
    withRouteTable(s, [{ name: 'default', addressPrefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.10.0.9' }]);
  }
  return s;
}

t.test('fail (engine): the default route points at an address nothing owns; tier by flow', async (t) => {
  const results = rule.check(unowned(false));
  const findings = fails(results);
  t.equal(rule.meta.code, 'ROUTE_NEXT_HOP_UNREACHABLE');
  t.equal(findings.length, 2);
  const auth = findings.find((f) => f.tier === 1);
  const other = findings.find((f) => f.tier === 2);
  t.equal(auth?.resourceId, RT_ID, 'blames the route table');
  t.same(auth?.flows, ['aml-service', 'entra-id', 'arm']);
  t.same(other?.flows, ['mcr', 'batch']);
  t.same(auth?.remediation.azCli, [`${ROUTE_CMD} --next-hop-type VirtualAppliance --next-hop-ip-address <firewall private IP>`]);
  t.match(auth?.explanation, /route default 0\.0\.0\.0\/0 -> VirtualAppliance 10\.10\.0\.9 \(route table rt-compute\) in route table rt-compute sends the traffic to 10\.10\.0\.9, which no Azure Firewall or network interface owns/);
  t.match(auth?.evidence[0], { resourceId: RT_ID, property: 'properties.routes[default]' });
  t.ok(auth?.subjects?.includes(`route-table:${RT_ID.toLowerCase()}`));
  t.match(auth?.remediation.bicep, "resource routeTable 'Microsoft.Network/routeTables@2024-05-01' existing = {\n  name: 'rt-compute'\n}");
  t.match(auth?.remediation.bicep, "resource default 'Microsoft.Network/routeTables/routes@2024-05-01' = {\n  parent: routeTable\n  name: 'default'\n  properties: {\n    addressPrefix: '0.0.0.0/0'\n    nextHopType: 'VirtualAppliance'\n    nextHopIpAddress: '<firewall private IP>'");
  t.match(auth?.remediation.verify, /az network route-table route show .* -n default .* should print a line 0\.0\.0\.0\/0 VirtualAppliance <firewall private IP> .*then run aml-netdoctor recheck <report\.json>\.$/);
  t.same(passes(results), []);
});

t.test('fail (engine): with a known firewall, the route is pointed at its private IP', async (t) => {
  const auth = fails(rule.check(unowned(true))).find((f) => f.tier === 1);
  t.same(auth?.remediation.azCli, [`${ROUTE_CMD} --next-hop-type VirtualAppliance --next-hop-ip-address ${FW_IP}`]);
  t.match(auth?.remediation.summary, /Azure Firewall 10\.10\.0\.4 was found/);
  t.match(auth?.remediation.bicep, /name: 'default'\n  properties: \{\n    addressPrefix: '0\.0\.0\.0\/0'\n    nextHopType: 'VirtualAppliance'\n    nextHopIpAddress: '10\.10\.0\.4'/);
});

t.test('verify reads the vantage NIC effective routes when there is one', async (t) => {
  const s = unowned(true);
  const nicId = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkInterfaces/vm-jump-nic`;
  s.vantage = { ok: true, value: { subnets: [{ subnetId: SUBNET_ID, skipped: [], vantage: { subnetId: SUBNET_ID, nicId, how: 'subnet', nextHops: [], effectiveNsgs: { ok: true, value: [] }, effectiveRoutes: { ok: true, value: [] } } }] } };
  const auth = fails(rule.check(s, context([flow('entra-id', [hop('route', 'blocked', 'unowned', { reason: 'route-unowned-appliance', resourceId: RT_ID, element: 'default 0.0.0.0/0 -> VirtualAppliance 10.10.0.9 (route table rt-compute)' })])])))[0];
  t.equal(auth?.remediation.verify, `az network nic show-effective-route-table --ids ${nicId} --query "value[?state=='Active' && contains(addressPrefix, '0.0.0.0/0')].[source, nextHopType, join(' ', nextHopIpAddress)]" -o tsv should print a line User VirtualAppliance ${FW_IP} (source, next hop type, next hop address) (flow entra-id must be allowed after the fix); then run aml-netdoctor recheck <report.json>.`);
});

t.test('fail (engine): a blackhole route (next hop None) is deleted', async (t) => {
  const s = clone(healthySnapshot());
  withRouteTable(s, [{ name: 'blackhole', addressPrefix: '0.0.0.0/0', nextHopType: 'None' }]);
  const auth = fails(rule.check(s)).find((f) => f.tier === 1);
  t.same(auth?.remediation.azCli, [`az network route-table route delete --subscription ${SUB} -g rg-net --route-table-name rt-compute -n blackhole`]);
  t.match(auth?.explanation, /drops the traffic: .*next hop None drops the traffic/);
  const bicep = auth?.remediation.bicep ?? '';
  t.match(bicep, /\/\/ Bicep cannot delete a single route/, 'says that Bicep cannot delete');
  t.match(bicep, "resource routeTable 'Microsoft.Network/routeTables@2024-05-01' = {\n  name: 'rt-compute'\n  location: 'eastus'\n  properties: {\n    routes: []\n  }\n}", 'the table declared without the route');
  t.match(auth?.remediation.verify, /--route-table-name rt-compute --query "length\(\[\?name=='blackhole'\]\)" -o tsv should print 0 .*then run aml-netdoctor recheck <report\.json>\.$/);
});

t.test('fail (engine): the firewall lies across a peering without forwarded traffic; the peering is blamed', async (t) => {
  const s = clone(healthySnapshot());
  withFirewall(s, policy(POLICY_ID, []));
  const spoke = value(s.networks).vnets.find((v) => v.id === SPOKE_ID);
  const peering = spoke?.observed.ok ? spoke.observed.value.peerings[0] : undefined;
  if (peering) peering.allowForwardedTraffic = false;
  const auth = fails(rule.check(s)).find((f) => f.tier === 1);
  t.equal(auth?.resourceId, PEERING_ID);
  t.same(auth?.remediation.azCli, [`az network vnet peering update --subscription ${SUB} -g rg-net --vnet-name vnet-spoke -n spoke-to-hub --allow-forwarded-traffic true`]);
  t.match(auth?.remediation.verify, /az network vnet peering show .* -n spoke-to-hub/);
  t.match(auth?.remediation.verify, /should print Connected, True and True .*then run aml-netdoctor recheck <report\.json>\.$/);
  t.match(auth?.remediation.bicep, "resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' existing = {\n  name: 'vnet-spoke'\n}");
  t.match(auth?.remediation.bicep, `resource peering 'Microsoft.Network/virtualNetworks/virtualNetworkPeerings@2024-05-01' = {\n  parent: vnet\n  name: 'spoke-to-hub'\n  properties: {\n    remoteVirtualNetwork: {\n      id: '${HUB_ID}'\n    }\n    allowVirtualNetworkAccess: true\n    allowForwardedTraffic: true\n    allowGatewayTransit: false\n    useRemoteGateways: false\n  }`);
  t.ok(auth?.subjects?.includes(`vnet:${SPOKE_ID.toLowerCase()}`));
  if (peering) {
    peering.peeringState = 'Disconnected';
    peering.allowVirtualNetworkAccess = false;
  }
  const again = fails(rule.check(s, context([flow('entra-id', [hop('route', 'blocked', 'across peering', { reason: 'route-appliance-across-peering', resourceId: PEERING_ID, element: `default 0.0.0.0/0 -> VirtualAppliance ${FW_IP} (route table rt-compute)` })])])));
  t.match(again[0]?.remediation.azCli, [/--allow-forwarded-traffic true --allow-vnet-access true$/]);
  t.match(again[0]?.remediation.summary, /The peering is Disconnected: bring it to Connected first/);
});

t.test('fail: a private destination no route reaches (system route None): peer the VNet that holds it', async (t) => {
  const f = onlyFinding(rule.check(healthySnapshot(), context([flow('workspace-api', [ok('dns'), hop('route', 'blocked', '10.10.1.4 takes route system 10.0.0.0/8 -> None (system route): next hop None drops the traffic.', { reason: 'route-none', element: 'system 10.0.0.0/8 -> None (system route)' })])])));
  t.equal(f.resourceId, SUBNET_ID, 'a system route: the compute subnet is blamed');
  t.same(f.remediation.azCli, [
    `az network vnet peering create --subscription ${SUB} -g rg-net --vnet-name vnet-spoke -n vnet-spoke-to-vnet-hub --remote-vnet ${HUB_ID} --allow-vnet-access true`,
    `az network vnet peering create --subscription ${HUB_SUB} -g rg-hub --vnet-name vnet-hub -n vnet-hub-to-vnet-spoke --remote-vnet ${SPOKE_ID} --allow-vnet-access true`,
  ]);
  t.match(f.remediation.summary, /lies in vnet-hub/);
  const sides = f.remediation.bicep.split(/\n(?=\/\/ Deploy to)/);
  t.equal(sides.length, 2, 'one snippet per side, each for its own resource group');
  t.match(sides[0], /^\/\/ Deploy to resource group rg-net [\s\S]*name: 'vnet-spoke-to-vnet-hub'[\s\S]*id: '\/subscriptions\/22222222-2222-2222-2222-222222222222\/resourceGroups\/rg-hub\/providers\/Microsoft\.Network\/virtualNetworks\/vnet-hub'/);
  t.match(sides[1], /^\/\/ Deploy to resource group rg-hub \(subscription 22222222-2222-2222-2222-222222222222\)[\s\S]*resource peering 'Microsoft\.Network\/virtualNetworks\/virtualNetworkPeerings@2024-05-01' = \{\n  parent: vnet\n  name: 'vnet-hub-to-vnet-spoke'/);
  t.match(f.remediation.verify, /-n vnet-spoke-to-vnet-hub --query peeringState -o tsv should print Connected .*then run aml-netdoctor recheck <report\.json>\.$/);
  t.equal(f.tier, 1);
  const g = onlyFinding(rule.check(healthySnapshot(), context([flow('notebooks', [hop('route', 'blocked', 'No route matches 10.99.0.4.', { reason: 'route-none', element: 'no route' })], { destination: 'nb (private endpoint pe 10.99.0.4)' })])));
  t.match(g.remediation.azCli, [/--remote-vnet <id of the VNet holding the destination>/]);
  t.equal(g.tier, 2);
});

t.test('pass (engine) and undetermined (a gateway route cannot be followed)', async (t) => {
  const healthy = rule.check(healthySnapshot());
  t.same(fails(healthy), []);
  t.match(passes(healthy), [{ resourceId: SUBNET_ID, detail: /every route they take delivers them/ }]);
  const s = clone(healthySnapshot());
  withRouteTable(s, [{ name: 'onprem', addressPrefix: '0.0.0.0/0', nextHopType: 'VirtualNetworkGateway' }]);
  const r = rule.check(s);
  t.same(fails(r), []);
  t.same(passes(r), []);
  t.match(undetermineds(r), [{ reason: /route hop undetermined \(not-evaluable\).*virtual network gateway/, resourceId: RT_ID }]);
});
