import t from 'tap';
import { mulberry32 } from '../../src/sim/prng.ts';
import type { EffectiveRouteObs, RouteTableObs, SubnetObs, VnetObs } from '../../src/model/snapshot.ts';
import { formatCidr, ipToInt, maskOf } from '../../src/net/cidr.ts';
import { BGP_NOTE, lookupLinear, RouteLookup, routesFromConfig, routesFromEffective, type RouteEntry, type RouteSource } from '../../src/net/routes.ts';
import { ServiceTagIndex } from '../../src/net/service-tags.ts';

const ip = (s: string): number => ipToInt(s) as number;
const SUB = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network';

function subnet(over: Partial<SubnetObs> = {}): SubnetObs {
  return {
    id: `${SUB}/virtualNetworks/vnet-ml/subnets/snet-ml`, name: 'snet-ml', vnetId: `${SUB}/virtualNetworks/vnet-ml`,
    addressPrefixes: ['10.0.1.0/24'], serviceEndpoints: [], delegations: [], privateEndpointIds: [], ipConfigurationIds: [], ...over,
  };
}

function vnet(over: Partial<VnetObs> = {}): VnetObs {
  return {
    id: `${SUB}/virtualNetworks/vnet-ml`, name: 'vnet-ml', subscriptionId: 's', resourceGroup: 'rg',
    addressPrefixes: ['10.0.0.0/16'], dnsServers: [], subnets: [subnet()], peerings: [], ...over,
  };
}

function table(routes: RouteTableObs['routes'], over: Partial<RouteTableObs> = {}): RouteTableObs {
  return { id: `${SUB}/routeTables/rt-ml`, name: 'rt-ml', routes, ...over };
}

const tags = new ServiceTagIndex([
  { name: 'AzureMachineLearning', region: '', addressPrefixes: ['13.66.87.135/32', '20.37.0.0/16'] },
  { name: 'Storage.westeurope', region: 'westeurope', addressPrefixes: ['20.38.108.0/23'] },
]);

function lookup(routes: RouteEntry[], address: string): RouteEntry | undefined {
  const indexed = new RouteLookup(routes).lookup(ip(address));
  if (indexed !== lookupLinear(routes, ip(address))) throw new Error(`indexed and linear lookups disagree for ${address}`);
  return indexed;
}

t.test('system routes: the VNet prefix beats the 10/8 None route, other private space goes nowhere', async (t) => {
  const { routes, notes } = routesFromConfig({ vnet: vnet(), subnet: subnet(), region: 'westeurope', tags });
  t.equal(lookup(routes, '10.0.5.4')?.nextHopType, 'VnetLocal');
  t.equal(lookup(routes, '10.1.0.4')?.nextHopType, 'None');
  t.equal(lookup(routes, '192.168.0.1')?.nextHopType, 'None');
  t.equal(lookup(routes, '100.64.0.1')?.nextHopType, 'None');
  t.equal(lookup(routes, '20.190.128.1')?.nextHopType, 'Internet');
  t.equal(lookup(routes, '20.190.128.1')?.name, 'system');
  t.same(notes, []);
});

t.test('a VNet address space equal to a reserved range replaces its None route', async (t) => {
  const { routes } = routesFromConfig({ vnet: vnet({ addressPrefixes: ['10.0.0.0/8'] }), subnet: subnet(), region: 'westeurope', tags });
  t.equal(lookup(routes, '10.200.0.1')?.nextHopType, 'VnetLocal');
});

t.test('connected peerings add VNetPeering routes; others do not', async (t) => {
  const peer = (name: string, state: string, prefix: string) => ({ id: `${SUB}/virtualNetworks/vnet-ml/virtualNetworkPeerings/${name}`, name, peeringState: state, remoteAddressPrefixes: [prefix] });
  const { routes } = routesFromConfig({
    vnet: vnet({ peerings: [peer('to-hub', 'Connected', '10.10.0.0/16'), peer('to-old', 'Disconnected', '10.20.0.0/16')] }),
    subnet: subnet(), region: 'westeurope', tags,
  });
  t.equal(lookup(routes, '10.10.0.4')?.nextHopType, 'VNetPeering');
  t.equal(lookup(routes, '10.20.0.4')?.nextHopType, 'None');
});

t.test('a User 0.0.0.0/0 to an appliance beats the system Internet route, and names its table', async (t) => {
  const rt = table([{ name: 'default-to-fw', addressPrefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.100.0.4' }]);
  const { routes } = routesFromConfig({ vnet: vnet(), subnet: subnet(), routeTable: rt, region: 'westeurope', tags });
  const r = lookup(routes, '20.190.128.1');
  t.match(r, { name: 'default-to-fw', label: '0.0.0.0/0', source: 'User', nextHopType: 'VirtualAppliance', nextHopIp: '10.100.0.4', routeTableId: rt.id, routeTableName: 'rt-ml' });
  t.equal(lookup(routes, '10.0.2.4')?.nextHopType, 'VnetLocal', 'the more specific VNet route still wins');
});

t.test('longest prefix wins over source: a system /24 beats a User /16', async (t) => {
  const rt = table([{ name: 'vnet-to-fw', addressPrefix: '10.0.0.0/16', nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.100.0.4' }]);
  const { routes } = routesFromConfig({ vnet: vnet({ addressPrefixes: ['10.0.0.0/16', '10.0.1.0/24'] }), subnet: subnet(), routeTable: rt, region: 'westeurope', tags });
  t.equal(lookup(routes, '10.0.1.7')?.nextHopType, 'VnetLocal');
  t.equal(lookup(routes, '10.0.2.7')?.nextHopType, 'VirtualAppliance');
});

t.test('a tag route is expanded to the tag prefixes; an unknown tag is listed as unresolved', async (t) => {
  const rt = table([
    { name: 'aml-direct', addressPrefix: 'AzureMachineLearning', nextHopType: 'Internet' },
    { name: 'batch-direct', addressPrefix: 'BatchNodeManagement.westeurope', nextHopType: 'Internet' },
    { name: 'default-to-fw', addressPrefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.100.0.4' },
  ]);
  const { routes, unresolved } = routesFromConfig({ vnet: vnet(), subnet: subnet(), routeTable: rt, region: 'westeurope', tags });
  t.match(lookup(routes, '20.37.1.1'), { name: 'aml-direct', label: 'AzureMachineLearning', nextHopType: 'Internet' });
  t.match(lookup(routes, '13.66.87.135'), { name: 'aml-direct', nextHopType: 'Internet' });
  t.match(unresolved, [{ route: 'batch-direct', prefix: 'BatchNodeManagement.westeurope', nextHopType: 'Internet', routeTableId: rt.id }]);
});

t.test('service endpoints route their tag prefixes to VirtualNetworkServiceEndpoint, ahead of a forced tunnel', async (t) => {
  const rt = table([{ name: 'default-to-fw', addressPrefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.100.0.4' }]);
  const sn = subnet({ serviceEndpoints: ['Microsoft.Storage', 'Microsoft.KeyVault'] });
  const { routes, unresolved } = routesFromConfig({ vnet: vnet(), subnet: sn, routeTable: rt, region: 'West Europe', tags });
  t.match(lookup(routes, '20.38.108.9'), { nextHopType: 'VirtualNetworkServiceEndpoint', source: 'Default', label: 'Storage.westeurope' });
  t.equal(lookup(routes, '20.38.120.9')?.nextHopType, 'VirtualAppliance', 'outside the regional tag');
  t.match(unresolved, [{ prefix: 'AzureKeyVault.westeurope', nextHopType: 'VirtualNetworkServiceEndpoint' }]);
});

t.test('BGP note when a peering uses remote gateways and propagation is on', async (t) => {
  const peering = { id: `${SUB}/virtualNetworks/vnet-ml/virtualNetworkPeerings/to-hub`, name: 'to-hub', peeringState: 'Connected', useRemoteGateways: true, remoteAddressPrefixes: ['10.10.0.0/16'] };
  const withGateway = vnet({ peerings: [peering] });
  t.same(routesFromConfig({ vnet: withGateway, subnet: subnet(), region: 'westeurope', tags }).notes, [BGP_NOTE]);
  t.same(routesFromConfig({ vnet: withGateway, subnet: subnet(), routeTable: table([], { disableBgpRoutePropagation: true }), region: 'westeurope', tags }).notes, []);
});

t.test('effective routes: Invalid routes are ignored, User beats Default on the same prefix', async (t) => {
  const eff: EffectiveRouteObs[] = [
    { source: 'Default', state: 'Active', addressPrefixes: ['10.0.0.0/16'], nextHopType: 'VnetLocal', nextHopIpAddresses: [] },
    { source: 'Default', state: 'Invalid', addressPrefixes: ['0.0.0.0/0'], nextHopType: 'Internet', nextHopIpAddresses: [] },
    { name: 'default-to-fw', source: 'User', state: 'Active', addressPrefixes: ['0.0.0.0/0'], nextHopType: 'VirtualAppliance', nextHopIpAddresses: ['10.100.0.4'] },
    { name: 'stale', source: 'User', state: 'Invalid', addressPrefixes: ['20.190.128.0/18'], nextHopType: 'None', nextHopIpAddresses: [] },
    { source: 'Default', state: 'Active', addressPrefixes: ['fd00::/8'], nextHopType: 'None', nextHopIpAddresses: [] },
  ];
  const routes = routesFromEffective(eff);
  t.equal(routes.length, 2);
  t.match(lookup(routes, '20.190.128.1'), { name: 'default-to-fw', nextHopType: 'VirtualAppliance', nextHopIp: '10.100.0.4' });
  t.match(lookup(routes, '10.0.3.3'), { name: 'system', nextHopType: 'VnetLocal' });

  const bgp = routesFromEffective([
    { source: 'Default', state: 'Active', addressPrefixes: ['0.0.0.0/0'], nextHopType: 'Internet', nextHopIpAddresses: [] },
    { source: 'VirtualNetworkGateway', state: 'Active', addressPrefixes: ['0.0.0.0/0'], nextHopType: 'VirtualNetworkGateway', nextHopIpAddresses: ['10.255.0.4'] },
  ]);
  t.match(lookup(bgp, '20.190.128.1'), { source: 'VirtualNetworkGateway', name: 'BGP' });
});


t.test('RouteLookup and lookupLinear agree on thousands of random routes and addresses', async (t) => {
  const rand = mulberry32(20240611);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const bases = ['10.0.0.0', '10.1.0.0', '20.190.128.0', '52.239.0.0', '0.0.0.0', '192.168.0.0', '255.255.0.0'].map(ip);
  const randomIp = (): number => ((pick(bases) + Math.floor(rand() * 0x20000)) >>> 0);
  const sources: RouteSource[] = ['User', 'VirtualNetworkGateway', 'Default'];
  const hops = ['VnetLocal', 'Internet', 'None', 'VirtualAppliance', 'VirtualNetworkGateway'];
  let compared = 0;
  let disagreements = 0;
  for (let table = 0; table < 40; table++) {
    const routes: RouteEntry[] = [];
    const count = 1 + Math.floor(rand() * 120);
    for (let i = 0; i < count; i++) {
      const len = pick([0, 8, 12, 16, 16, 20, 24, 24, 25, 28, 32, Math.floor(rand() * 33)]);
      const prefix = { base: (randomIp() & maskOf(len)) >>> 0, len };
      routes.push({ prefix, source: pick(sources), nextHopType: pick(hops), name: `r${i}`, label: formatCidr(prefix) });
    }
    const indexed = new RouteLookup(routes);
    for (let k = 0; k < 250; k++) {
      const a = randomIp();
      compared++;
      if (indexed.lookup(a) !== lookupLinear(routes, a)) disagreements++;
    }
  }
  t.equal(compared, 10000);
  t.equal(disagreements, 0);
});
