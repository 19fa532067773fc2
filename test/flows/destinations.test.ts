import t from 'tap';
import { analyzeFlows } from '../../src/flows/analyze.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { WS_ID, value } from '../helpers/snapshot.ts';
import {
  ACR_ID, KV_ID, RT_ID, SPOKE_ID, STORAGE_ID, SUBNET_ID, decisiveHop, dependencyOf, flowOf, networkSnapshot, routeTableOf, vnetOf,
} from '../helpers/network-snapshot.ts';

const analyze = (mutate: (s: Snapshot) => void = () => {}) => {
  const s = networkSnapshot();
  mutate(s);
  return analyzeFlows(s);
};

t.test('dependencies: unreadable, IP rules, registry SKU', async (t) => {
  const unreadable = flowOf(analyze((s) => {
    const e = value(s.dependencies).resources.find((r) => r.id === KV_ID);
    if (e) e.observed = { ok: false, error: { kind: 'forbidden', message: '403 AuthorizationFailed reading kv-demo' } };
  }), 'key-vault');
  t.equal(unreadable.verdict, 'undetermined');
  t.match(unreadable.hops, [{ kind: 'destination', reason: 'evidence-missing', resourceId: KV_ID, detail: /key vault kv-demo could not be read \(403 AuthorizationFailed reading kv-demo\)/ }]);

  const ipRules = flowOf(analyze((s) => {
    const kv = dependencyOf(s, KV_ID);
    kv.network.defaultAction = 'Deny';
    kv.network.ipRules = ['203.0.113.0/24'];
  }), 'key-vault');
  t.equal(ipRules.verdict, 'undetermined', 'the egress address is unknown, so IP rules cannot be matched');
  t.match(decisiveHop(ipRules), { kind: 'destination', reason: 'not-evaluable', detail: /203\.0\.113\.0\/24/ });

  const standard = flowOf(analyze((s) => {
    const acr = dependencyOf(s, ACR_ID);
    acr.sku = 'Standard';
    acr.privateEndpoints = [];
  }), 'container-registry');
  t.equal(standard.verdict, 'blocked');
  t.match(decisiveHop(standard), { kind: 'destination', reason: 'destination-sku', resourceId: ACR_ID });

  const pending = flowOf(analyze((s) => {
    const st = dependencyOf(s, STORAGE_ID);
    for (const pe of st.privateEndpoints) pe.status = 'Pending';
  }), 'storage');
  t.match(pending.destination, /stdemo\.blob\.core\.windows\.net \(Storage\.eastus\)/);
  t.ok(pending.notes?.includes('private endpoint pe-st-blob of stdemo is Pending (not Approved): not used'));
  t.match(decisiveHop(pending), { kind: 'destination', reason: 'destination-network-rules', detail: /public network access Disabled/ });
});

t.test('a workspace without a private endpoint is reached through the AzureMachineLearning tag', async (t) => {
  const a = analyze((s) => {
    const ws = value(s.workspace);
    ws.privateEndpointConnections = [];
    ws.publicNetworkAccess = 'Enabled';
  });
  const api = flowOf(a, 'workspace-api');
  t.equal(api.verdict, 'allowed');
  t.match(api.destination, /api\.azureml\.ms \(AzureMachineLearning\)/);
  t.same(api.hops.map((h) => h.kind), ['route', 'nsg', 'firewall', 'peering', 'destination']);
  t.notOk(a.flows.some((f) => f.id === 'instance-name' || f.id === 'notebooks'), 'no endpoint names without an endpoint');

  const closed = flowOf(analyze((s) => {
    value(s.workspace).privateEndpointConnections = [];
  }), 'workspace-api');
  t.equal(closed.verdict, 'blocked');
  t.match(decisiveHop(closed), { kind: 'destination', reason: 'destination-network-rules', resourceId: WS_ID });
});

t.test('appliances that are not an Azure Firewall, and gateway routes, cannot be evaluated', async (t) => {
  const nic = flowOf(analyze((s) => {
    const a = value(s.firewalls).appliances[0];
    if (a) Object.assign(a, { owner: 'nic', ownerId: '/subscriptions/x/resourceGroups/rg-hub/providers/Microsoft.Network/networkInterfaces/nva-nic' });
  }), 'entra-id');
  t.equal(nic.verdict, 'undetermined');
  t.match(decisiveHop(nic), { kind: 'firewall', reason: 'not-evaluable', detail: /Appliance NIC nva-nic is not an Azure Firewall; its rules cannot be read/ });

  const gateway = flowOf(analyze((s) => {
    const r = routeTableOf(s).routes[0];
    if (r) Object.assign(r, { nextHopType: 'VirtualNetworkGateway', nextHopIpAddress: undefined });
  }), 'entra-id');
  t.equal(gateway.verdict, 'undetermined');
  t.match(decisiveHop(gateway), { kind: 'route', reason: 'not-evaluable', resourceId: RT_ID, detail: /on-premises/ });
});

t.test('the appliance across a peering without forwarded traffic', async (t) => {
  const entra = flowOf(analyze((s) => {
    const p = vnetOf(s, SPOKE_ID).peerings[0];
    if (p) p.allowForwardedTraffic = false;
  }), 'entra-id');
  t.equal(entra.verdict, 'blocked');
  t.match(decisiveHop(entra), { kind: 'route', reason: 'route-appliance-across-peering', detail: /does not allow forwarded traffic/ });
});

t.test('several compute subnets: subnets in id order, flows in catalogue order', async (t) => {
  const other = `${SPOKE_ID}/subnets/a-training`;
  const a = analyze((s) => {
    vnetOf(s, SPOKE_ID).subnets.push({ id: other, name: 'a-training', vnetId: SPOKE_ID, addressPrefixes: ['10.20.2.0/24'], serviceEndpoints: [], delegations: [], privateEndpointIds: [], ipConfigurationIds: [] });
    value(s.computes).computes.push({ id: `${WS_ID}/computes/cpu-cluster`, name: 'cpu-cluster', computeType: 'AmlCompute', subnetId: other, enableNodePublicIp: false });
    value(s.computes).computes.push({ id: `${WS_ID}/computes/serverless`, name: 'serverless', computeType: 'AmlCompute' });
  });
  const subnets = [...new Set(a.flows.map((f) => f.subnetId))];
  t.same(subnets, [other, SUBNET_ID]);
  const training = a.flows.filter((f) => f.subnetId === other);
  t.same(training.map((f) => f.id), ['workspace-api', 'workspace-cert', 'aml-service', 'entra-id', 'arm', 'notebooks', 'storage', 'key-vault', 'container-registry', 'mcr', 'batch']);
  t.ok(training.every((f) => f.verdict === 'allowed' && f.computes.join() === 'cpu-cluster'), 'no NSG or route table on the new subnet, NAT-free egress through default outbound access');
  t.match(flowOf({ flows: training }, 'entra-id').hops[0], { kind: 'route', detail: /default outbound access/ });
  t.ok(a.assumptions.includes('routes and NSGs computed from configuration: no readable VM in subnet a-training'));
});
