import t from 'tap';
import { probe } from '../../probes/networks.ts';
import { probe as workspace } from '../../probes/workspace.ts';
import { probe as computes } from '../../probes/computes.ts';
import { probe as privateEndpoints } from '../../probes/private-endpoints.ts';
import type { ProbeContext } from '../../probes/probe.ts';
import type { ScenarioResource } from '../../src/sim/scenario.ts';
import type { NetworksObs } from '../../src/model/snapshot.ts';
import { gets, hubAndSpoke, runProbes, snapshotWith, wire, withSim } from '../helpers/sim.ts';
import { HUB_ID, HUB_SUB, PE_ID, SPOKE_ID, SUB, SUBNET_ID } from '../helpers/snapshot.ts';

const SHARED_SUB = '33333333-3333-3333-3333-333333333333';
const SHARED_ID = `/subscriptions/${SHARED_SUB}/resourceGroups/rg-shared/providers/Microsoft.Network/virtualNetworks/vnet-shared`;
const OTHER_SPOKE_ID = `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/virtualNetworks/vnet-other-spoke`;
const NSG = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/nsg-compute`;
const UDR = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/routeTables/rt-compute`;
const NAT = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/natGateways/ngw`;

async function run(ctx: ProbeContext): Promise<NetworksObs> {
  const snapshot = await runProbes(ctx, [workspace, computes, privateEndpoints]);
  const out = await probe.run(ctx, snapshot);
  if (!out.ok) throw new Error(out.error.message);
  return out.value;
}

function vnetOf(obs: NetworksObs, id: string) {
  return obs.vnets.find((v) => v.id.toLowerCase() === id.toLowerCase());
}

/** The hub-and-spoke estate with richer spoke settings and extra peerings. */
function estate(): ScenarioResource[] {
  const spoke = wire.vnet(SPOKE_ID, ['10.20.0.0/16'], { dhcpOptions: { dnsServers: ['10.10.2.4'] } });
  const subnet = wire.subnet(SPOKE_ID, 'snet-compute', '10.20.1.0/24', {
    networkSecurityGroup: { id: NSG },
    routeTable: { id: UDR },
    natGateway: { id: NAT },
    defaultOutboundAccess: false,
    privateEndpointNetworkPolicies: 'NetworkSecurityGroupEnabled',
    serviceEndpoints: [{ service: 'Microsoft.Storage', locations: ['eastus'] }],
    delegations: [{ name: 'aci', properties: { serviceName: 'Microsoft.ContainerInstance/containerGroups' } }],
    ipConfigurations: [{ id: `${SPOKE_ID}/ipConfigurations/x` }],
  });
  return [
    ...hubAndSpoke().filter((r) => r.id !== SPOKE_ID && r.id !== SUBNET_ID),
    spoke,
    subnet,
    // The spoke also peers with a VNet in a subscription the caller cannot read.
    wire.peering(SPOKE_ID, 'spoke-to-shared', SHARED_ID, ['10.30.0.0/16'], { peeringState: 'Initiated' }),
    wire.vnet(SHARED_ID, ['10.30.0.0/16']),
    // The hub peers with another spoke: not on the compute's path, so not read.
    wire.peering(HUB_ID, 'hub-to-other', OTHER_SPOKE_ID, ['10.40.0.0/16']),
    wire.vnet(OTHER_SPOKE_ID, ['10.40.0.0/16']),
  ];
}

t.test('reads the compute VNet, the endpoint VNet and the compute VNet peers, each once', async (t) => {
  const { sim, ctx } = await withSim(t, estate(), { faults: [{ path: `^/subscriptions/${SHARED_SUB}/`, status: 403 }] });
  const obs = await run(ctx);
  t.same(
    obs.vnets.map((v) => [v.id, v.roles, v.observed.ok]),
    [
      [SPOKE_ID, ['compute'], true],
      [HUB_ID, ['private-endpoint', 'peer'], true],
      [SHARED_ID, ['peer'], false],
    ],
  );
  t.match(vnetOf(obs, SHARED_ID)?.observed, { ok: false, error: { kind: 'forbidden', code: 'AuthorizationFailed', resourceId: SHARED_ID } });
  t.equal(gets(sim, /virtualNetworks\/vnet-hub$/).length, 1, 'hub read once although it is both endpoint VNet and peer');
  t.equal(gets(sim, /vnet-other-spoke$/).length, 0, 'peers of the endpoint VNet are not followed');
  t.equal(gets(sim, /\/subnets$|\/virtualNetworkPeerings$/).length, 0, 'subnets and peerings come embedded in the VNet');
});

t.test('maps address space, custom DNS, subnets and peerings', async (t) => {
  const { ctx } = await withSim(t, estate());
  const obs = await run(ctx);
  const spoke = vnetOf(obs, SPOKE_ID)?.observed;
  if (!spoke?.ok) throw new Error('spoke not read');
  t.match(spoke.value, { id: SPOKE_ID, name: 'vnet-spoke', subscriptionId: SUB, resourceGroup: 'rg-net', location: 'eastus', addressPrefixes: ['10.20.0.0/16'], dnsServers: ['10.10.2.4'] });
  t.same(spoke.value.subnets, [
    {
      id: SUBNET_ID,
      name: 'snet-compute',
      vnetId: SPOKE_ID,
      addressPrefixes: ['10.20.1.0/24'],
      networkSecurityGroupId: NSG,
      routeTableId: UDR,
      natGatewayId: NAT,
      defaultOutboundAccess: false,
      privateEndpointNetworkPolicies: 'NetworkSecurityGroupEnabled',
      serviceEndpoints: ['Microsoft.Storage'],
      delegations: ['Microsoft.ContainerInstance/containerGroups'],
      privateEndpointIds: [],
      ipConfigurationIds: [`${SPOKE_ID}/ipConfigurations/x`],
    },
  ]);
  t.same(
    spoke.value.peerings.find((p) => p.name === 'spoke-to-hub'),
    {
      id: `${SPOKE_ID}/virtualNetworkPeerings/spoke-to-hub`,
      name: 'spoke-to-hub',
      remoteVirtualNetworkId: HUB_ID,
      peeringState: 'Connected',
      peeringSyncLevel: 'FullyInSync',
      allowVirtualNetworkAccess: true,
      allowForwardedTraffic: true,
      allowGatewayTransit: false,
      useRemoteGateways: false,
      remoteAddressPrefixes: ['10.10.0.0/16'],
    },
  );
  const hub = vnetOf(obs, HUB_ID)?.observed;
  if (!hub?.ok) throw new Error('hub not read');
  t.same(hub.value.dnsServers, [], 'Azure-provided DNS');
  t.same(hub.value.subnets[0]?.privateEndpointIds, [PE_ID]);
});

t.test('remote prefixes fall back to the remote VNet address space', async (t) => {
  const peering = wire.peering(SPOKE_ID, 'spoke-to-hub', HUB_ID, []);
  const props = peering.properties ?? {};
  delete props.remoteAddressSpace;
  props.remoteVirtualNetworkAddressSpace = { addressPrefixes: ['10.10.0.0/16', '10.11.0.0/16'] };
  const { ctx } = await withSim(t, [...hubAndSpoke().filter((r) => !r.id.endsWith('/spoke-to-hub')), peering]);
  const obs = await run(ctx);
  const spoke = vnetOf(obs, SPOKE_ID)?.observed;
  if (!spoke?.ok) throw new Error('spoke not read');
  t.same(spoke.value.peerings[0]?.remoteAddressPrefixes, ['10.10.0.0/16', '10.11.0.0/16']);
});

t.test('lists subnets and peerings when the VNet body does not embed them', async (t) => {
  const resources = hubAndSpoke().map((r) => (r.id === SPOKE_ID ? wire.vnet(SPOKE_ID, ['10.20.0.0/16'], { subnets: null, virtualNetworkPeerings: null }) : r));
  const { sim, ctx } = await withSim(t, resources);
  const obs = await run(ctx);
  const spoke = vnetOf(obs, SPOKE_ID)?.observed;
  if (!spoke?.ok) throw new Error('spoke not read');
  t.same(spoke.value.subnets.map((s) => s.id), [SUBNET_ID]);
  t.same(spoke.value.peerings.map((p) => p.remoteVirtualNetworkId), [HUB_ID]);
  t.equal(gets(sim, /vnet-spoke\/subnets$/).length, 1);
  t.equal(gets(sim, /vnet-spoke\/virtualNetworkPeerings$/).length, 1);
  t.ok(vnetOf(obs, HUB_ID), 'the peer found through the listed peerings is read');
});

t.test('the endpoint VNet is still read when the computes could not be', async (t) => {
  const { ctx } = await withSim(t, hubAndSpoke(), { faults: [{ path: '/computes$', status: 403 }] });
  const obs = await run(ctx);
  t.same(obs.vnets.map((v) => [v.id, v.roles]), [[HUB_ID, ['private-endpoint']]]);
});

t.test('is not attempted when neither computes nor endpoints were read', async (t) => {
  const { sim, ctx } = await withSim(t, []);
  const failure = { ok: false as const, error: { kind: 'forbidden' as const, message: '403' } };
  const out = await probe.run(ctx, snapshotWith(ctx, { computes: failure, privateEndpoints: failure }));
  t.match(out, { ok: false, error: { kind: 'skipped' } });
  t.equal(sim.requests.length, 0);
});
