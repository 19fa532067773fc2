import t from 'tap';
import { analyzeFlows } from '../../src/flows/analyze.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { value } from '../helpers/snapshot.ts';
import {
  FW_POLICY_ID, NAT_ID, NSG_ID, RT_ID, SPOKE_ID, SPOKE_PEERING_ID, STORAGE_ID, SUBNET_ID,
  computeSubnet, decisiveHop, dependencyOf, flowOf, networkSnapshot, nsgOf, nsgRule, policyOf, routeTableOf, vnetOf,
} from '../helpers/network-snapshot.ts';

const analyze = (mutate: (s: Snapshot) => void = () => {}) => {
  const s = networkSnapshot();
  mutate(s);
  return analyzeFlows(s);
};
const kinds = (f: { hops: Array<{ kind: string }> }) => f.hops.map((h) => h.kind);

t.test('healthy hub-spoke: every flow is allowed, hop by hop', async (t) => {
  const a = analyze();
  t.equal(a.managedNetwork, false);
  t.same(a.flows.map((f) => f.id), ['workspace-api', 'workspace-cert', 'aml-service', 'entra-id', 'arm', 'notebooks', 'storage', 'key-vault', 'container-registry', 'mcr', 'batch', 'instance-name']);
  for (const f of a.flows) {
    t.equal(f.verdict, 'allowed', `${f.id} allowed`);
    t.ok(f.hops.every((h) => h.verdict === 'allowed'), `${f.id}: every hop allowed`);
    t.equal(f.subnetId, SUBNET_ID);
    t.equal(f.source, 'computed');
  }
  t.same(a.assumptions, ['routes and NSGs computed from configuration: no readable VM in subnet snet-compute']);
  t.notOk(a.flows.some((f) => f.id === 'aml-inbound'), 'no aml-inbound: the compute has no public IP');

  const api = flowOf(a, 'workspace-api');
  t.same(kinds(api), ['dns', 'route', 'nsg', 'peering', 'destination']);
  t.match(api, { authPath: true, ports: ['TCP 443'], computes: ['ci-alice'], destination: /workspace\.eastus\.api\.azureml\.ms \(private endpoint pe-ws-demo 10\.10\.1\.4\)/ });
  t.match(api.hops[1], { element: 'system 10.10.0.0/16 -> VNetPeering (system route)' });
  t.match(api.hops[2], { resourceId: NSG_ID, element: 'defaultSecurityRules/AllowVnetOutBound (priority 65000)' });
  t.match(api.hops[3], { resourceId: SPOKE_PEERING_ID, detail: /Connected .* and so is hub-to-spoke back/ });
  t.match(api.notes, ['NIC-level NSGs of the Azure ML nodes cannot be read']);

  const entra = flowOf(a, 'entra-id');
  t.same(kinds(entra), ['route', 'nsg', 'firewall', 'peering']);
  t.match(entra, { destination: 'login.microsoftonline.com (AzureActiveDirectory)', ports: ['TCP 80', 'TCP 443'] });
  t.match(entra.hops[0], { resourceId: RT_ID, element: 'default-to-firewall 0.0.0.0/0 -> VirtualAppliance 10.10.0.4 (route table rt-compute)', detail: /Azure Firewall fw-hub/ });
  t.match(entra.hops[1], { element: 'securityRules/AllowAadOutbound (priority 100)' });
  t.match(entra.hops[2], { resourceId: FW_POLICY_ID, element: 'ruleCollectionGroups/rcg-ml/ruleCollections/app-auth/rules/entra-login' });

  t.same(kinds(flowOf(a, 'key-vault')), ['route', 'nsg', 'firewall', 'peering', 'destination']);
  t.same(flowOf(a, 'aml-service').ports, ['TCP 443', 'TCP 18881', 'UDP 5831']);
  t.match(flowOf(a, 'storage').notes, [/NIC-level/, /2 destinations traced \(blob 10\.10\.1\.6: allowed; file 10\.10\.1\.7: allowed\)/]);
  t.equal(flowOf(a, 'instance-name').hops.filter((h) => h.kind === 'dns').length, 2, 'both instance names are looked up');
});

t.test('an NSG rule denying AzureActiveDirectory blocks entra-id at the nsg hop', async (t) => {
  const a = analyze((s) => nsgOf(s).rules.unshift(nsgRule('DenyAadOutbound', 90, 'Deny', 'AzureActiveDirectory', ['*'], { protocol: '*' })));
  const entra = flowOf(a, 'entra-id');
  t.equal(entra.verdict, 'blocked');
  t.match(decisiveHop(entra), { kind: 'nsg', reason: 'nsg-deny', resourceId: NSG_ID, element: 'securityRules/DenyAadOutbound (priority 90)', detail: /TCP 80 to AzureActiveDirectory address .* denied by securityRules\/DenyAadOutbound \(priority 90\) of NSG nsg-compute/ });
  t.equal(flowOf(a, 'aml-service').verdict, 'allowed', 'other flows are untouched');
});

t.test('a firewall policy without login.microsoftonline.com blocks entra-id at the firewall hop', async (t) => {
  const a = analyze((s) => {
    const groups = value(policyOf(s).ruleCollectionGroups);
    const group = groups[0];
    if (group) group.ruleCollections = group.ruleCollections.filter((c) => c.name !== 'app-auth');
  });
  const entra = flowOf(a, 'entra-id');
  t.equal(entra.verdict, 'blocked');
  t.match(decisiveHop(entra), { kind: 'firewall', reason: 'firewall-no-matching-rule', resourceId: FW_POLICY_ID, detail: /fw-hub \(policy fwp-hub\) blocks TCP 80 to login\.microsoftonline\.com/ });
  t.equal(flowOf(a, 'aml-service').verdict, 'allowed', 'network rules for the ML tags still allow aml-service');
});

t.test('a route to an appliance address nothing owns blocks with route-unowned-appliance', async (t) => {
  const unowned = (s: Snapshot) => {
    const route = routeTableOf(s).routes[0];
    if (route) route.nextHopIpAddress = '10.10.0.9';
    value(s.firewalls).appliances.push({ ip: '10.10.0.9', owner: 'none' });
  };
  const entra = flowOf(analyze(unowned), 'entra-id');
  t.equal(entra.verdict, 'blocked');
  t.match(decisiveHop(entra), { kind: 'route', reason: 'route-unowned-appliance', resourceId: RT_ID, element: 'default-to-firewall 0.0.0.0/0 -> VirtualAppliance 10.10.0.9 (route table rt-compute)', detail: /nothing owns 10\.10\.0\.9/ });
  t.notOk(entra.hops.some((h) => h.kind === 'firewall'), 'no firewall hop behind an unowned appliance');

  const searchFailed = flowOf(analyze((s) => {
    unowned(s);
    const search = value(s.firewalls).searches[1];
    if (search) search.result = { ok: false, error: { kind: 'forbidden', message: '403 AuthorizationFailed listing azureFirewalls' } };
  }), 'entra-id');
  t.equal(searchFailed.verdict, 'undetermined', 'a failed firewall search cannot prove the address is unowned');
  t.match(decisiveHop(searchFailed), { kind: 'route', reason: 'evidence-missing' });
});

t.test('an appliance address whose subnet could not be fully checked is undetermined, never allowed or unowned', async (t) => {
  const entra = flowOf(analyze((s) => {
    const route = routeTableOf(s).routes[0];
    if (route) route.nextHopIpAddress = '10.10.0.9';
    value(s.firewalls).appliances.push({ ip: '10.10.0.9', owner: 'unknown', why: 'its subnet also holds 1 IP configuration(s) that are not plain NICs (load balancer or scale set)' });
  }), 'entra-id');
  t.equal(entra.verdict, 'undetermined');
  t.match(decisiveHop(entra), { kind: 'route', reason: 'evidence-missing', detail: /load balancer or scale set/ });
});

t.test('a route with next hop None blocks with route-none, naming the route and its table', async (t) => {
  const entra = flowOf(analyze((s) => {
    const route = routeTableOf(s).routes[0];
    if (route) {
      route.nextHopType = 'None';
      delete route.nextHopIpAddress;
    }
  }), 'entra-id');
  t.equal(entra.verdict, 'blocked');
  t.match(decisiveHop(entra), { kind: 'route', reason: 'route-none', resourceId: RT_ID, element: 'default-to-firewall 0.0.0.0/0 -> None (route table rt-compute)' });
});

const directInternet = (s: Snapshot) => {
  delete computeSubnet(s).routeTableId;
};

t.test('no NAT gateway, no public IP and no default outbound access: no-egress', async (t) => {
  const a = analyze(directInternet);
  const entra = flowOf(a, 'entra-id');
  t.equal(entra.verdict, 'blocked');
  t.match(decisiveHop(entra), { kind: 'route', reason: 'no-egress', resourceId: SUBNET_ID, detail: /subnet snet-compute has no egress/ });
  t.equal(flowOf(a, 'aml-service').verdict, 'blocked');
  t.equal(flowOf(a, 'workspace-api').verdict, 'allowed', 'the private endpoint path needs no egress');
});

t.test('egress through a NAT gateway, or default outbound access with a note', async (t) => {
  const withNat = (s: Snapshot) => {
    directInternet(s);
    computeSubnet(s).natGatewayId = NAT_ID;
    value(s.subnetPolicies).natGateways.push({ id: NAT_ID, observed: { ok: true, value: { id: NAT_ID, name: 'nat-compute', publicIpAddressIds: ['/subscriptions/x/pip'], publicIpPrefixIds: [] } } });
  };
  const entra = flowOf(analyze(withNat), 'entra-id');
  t.equal(entra.verdict, 'allowed');
  t.match(entra.hops[0], { kind: 'route', resourceId: NAT_ID, detail: /egress through NAT gateway nat-compute/ });

  const natUnreadable = flowOf(analyze((s) => {
    withNat(s);
    const nat = value(s.subnetPolicies).natGateways[0];
    if (nat) nat.observed = { ok: false, error: { kind: 'forbidden', message: '403 AuthorizationFailed reading nat-compute' } };
  }), 'entra-id');
  t.equal(natUnreadable.verdict, 'undetermined');
  t.match(decisiveHop(natUnreadable), { kind: 'route', reason: 'evidence-missing', detail: /403 AuthorizationFailed reading nat-compute/ });

  const legacy = flowOf(analyze((s) => {
    directInternet(s);
    delete computeSubnet(s).defaultOutboundAccess;
  }), 'entra-id');
  t.equal(legacy.verdict, 'allowed');
  t.match(legacy.notes, [/NIC-level/, 'subnet predates private subnets: default outbound access assumed']);
});

t.test('public-IP compute behind a forced tunnel: aml-inbound needs an AzureMachineLearning Internet route', async (t) => {
  const publicIp = (s: Snapshot) => {
    const c = value(s.computes).computes[0];
    if (c) c.enableNodePublicIp = true;
  };
  const inbound = flowOf(analyze(publicIp), 'aml-inbound');
  t.match(inbound, { direction: 'inbound', ports: ['TCP 44224'], authPath: false, verdict: 'blocked' });
  t.match(decisiveHop(inbound), { kind: 'route', reason: 'route-asymmetric', resourceId: RT_ID, element: 'default-to-firewall 0.0.0.0/0 -> VirtualAppliance 10.10.0.4 (route table rt-compute)', detail: /asymmetric/ });

  const fixed = flowOf(analyze((s) => {
    publicIp(s);
    routeTableOf(s).routes.push({ name: 'AzureMLRoute', addressPrefix: 'AzureMachineLearning', nextHopType: 'Internet' });
  }), 'aml-inbound');
  t.equal(fixed.verdict, 'allowed');
  t.same(kinds(fixed), ['route', 'nsg']);
  t.match(fixed.hops[0], { element: 'AzureMLRoute AzureMachineLearning -> Internet (route table rt-compute)' });
  t.match(fixed.hops[1], { element: 'securityRules/AllowAmlInbound (priority 200)' });
});

t.test('a Disconnected peering blocks the private endpoint at the peering hop', async (t) => {
  const a = analyze((s) => {
    const p = vnetOf(s, SPOKE_ID).peerings[0];
    if (p) p.peeringState = 'Disconnected';
  });
  const api = flowOf(a, 'workspace-api');
  t.equal(api.verdict, 'blocked');
  t.match(decisiveHop(api), { kind: 'peering', reason: 'peering-not-connected', resourceId: SPOKE_PEERING_ID, detail: /spoke-to-hub of vnet-spoke is Disconnected/ });
  t.match(decisiveHop(flowOf(a, 'entra-id')), { kind: 'route', reason: 'route-appliance-across-peering', resourceId: SPOKE_PEERING_ID });
});

t.test('storage that denies by default, with no service endpoint or private endpoint, blocks at the destination', async (t) => {
  const publicStorage = (s: Snapshot) => {
    const st = dependencyOf(s, STORAGE_ID);
    st.privateEndpoints = [];
    st.network.publicNetworkAccess = 'Enabled';
    st.network.defaultAction = 'Deny';
  };
  const storage = flowOf(analyze(publicStorage), 'storage');
  t.equal(storage.verdict, 'blocked');
  t.match(storage.destination, /stdemo\.blob\.core\.windows\.net \(Storage\.eastus\)/);
  t.match(decisiveHop(storage), { kind: 'destination', reason: 'destination-network-rules', resourceId: STORAGE_ID, detail: /no virtual network rule for subnet snet-compute/ });

  const viaServiceEndpoint = flowOf(analyze((s) => {
    publicStorage(s);
    computeSubnet(s).serviceEndpoints = ['Microsoft.Storage'];
    dependencyOf(s, STORAGE_ID).network.virtualNetworkSubnetIds = [SUBNET_ID];
  }), 'storage');
  t.equal(viaServiceEndpoint.verdict, 'allowed');
  t.match(viaServiceEndpoint.hops[0], { kind: 'route', detail: /VirtualNetworkServiceEndpoint/ });
  t.match(viaServiceEndpoint.hops.at(-1), { kind: 'destination', detail: /admits subnet snet-compute, which has the Microsoft\.Storage service endpoint/ });
});

t.test('a private endpoint in a VNet that is not peered at all: no-path at the route hop, no NSG or peering hops as extra causes', async (t) => {
  const a = analyze((s) => {
    vnetOf(s, SPOKE_ID).peerings = [];
  });
  for (const id of ['workspace-api', 'workspace-cert', 'notebooks', 'instance-name']) {
    const f = flowOf(a, id);
    t.equal(f.verdict, 'blocked', `${id} blocked`);
    const hop = decisiveHop(f);
    t.equal(hop?.kind, 'route');
    t.equal(hop?.reason, 'no-path');
    t.match(hop?.detail, /is neither in VNet vnet-spoke nor in a VNet peered with it/);
    t.same([...new Set(kinds(f))], ['dns', 'route', 'destination'], `${id}: the trace stops at the missing path`);
  }
});
