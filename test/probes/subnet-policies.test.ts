import t from 'tap';
import type { Test } from 'tap';
import { probe } from '../../probes/subnet-policies.ts';
import { probe as workspace } from '../../probes/workspace.ts';
import { probe as computes } from '../../probes/computes.ts';
import { probe as privateEndpoints } from '../../probes/private-endpoints.ts';
import { probe as networks } from '../../probes/networks.ts';
import type { ProbeContext } from '../../probes/probe.ts';
import type { ScenarioFault, ScenarioResource } from '../../src/sim/scenario.ts';
import type { SubnetPoliciesObs } from '../../src/model/snapshot.ts';
import { exactly, gets, hubAndSpoke, runProbes, snapshotWith, wire, withSim } from '../helpers/sim.ts';
import { HUB_ID, HUB_SUB, PE_SUBNET_ID, SPOKE_ID, SUB, SUBNET_ID } from '../helpers/snapshot.ts';

const NET = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network`;
const NSG = `${NET}/networkSecurityGroups/nsg-compute`;
const RT = `${NET}/routeTables/rt-compute`;
const NAT = `${NET}/natGateways/ngw-compute`;
const ASG = `${NET}/applicationSecurityGroups/asg-builders`;
const NSG_OTHER = `${NET}/networkSecurityGroups/nsg-other`;
const RT_OTHER = `${NET}/routeTables/rt-other`;
// The endpoint subnet's NSG lives in another subscription and resource group than its VNet.
const NSG_PE = `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub-security/providers/Microsoft.Network/networkSecurityGroups/nsg-pe`;
const TRAIN_SUBNET = `${SPOKE_ID}/subnets/snet-train`;

function rule(nsgId: string, name: string, props: Record<string, unknown>, kind = 'securityRules'): Record<string, unknown> {
  return { id: `${nsgId}/${kind}/${name}`, name, properties: { provisioningState: 'Succeeded', sourcePortRange: '*', ...props } };
}

/** Azure's six defaults, as ARM lists them in `defaultSecurityRules` (NetworkSecurityGroupGet.json). */
function defaults(nsgId: string): Array<Record<string, unknown>> {
  const d = (name: string, direction: string, access: string, priority: number, source: string, destination: string) =>
    rule(nsgId, name, { protocol: '*', access, direction, priority, sourceAddressPrefix: source, destinationAddressPrefix: destination, destinationPortRange: '*' }, 'defaultSecurityRules');
  return [
    d('AllowVnetInBound', 'Inbound', 'Allow', 65000, 'VirtualNetwork', 'VirtualNetwork'),
    d('AllowAzureLoadBalancerInBound', 'Inbound', 'Allow', 65001, 'AzureLoadBalancer', '*'),
    d('DenyAllInBound', 'Inbound', 'Deny', 65500, '*', '*'),
    d('AllowVnetOutBound', 'Outbound', 'Allow', 65000, 'VirtualNetwork', 'VirtualNetwork'),
    d('AllowInternetOutBound', 'Outbound', 'Allow', 65001, '*', 'Internet'),
    d('DenyAllOutBound', 'Outbound', 'Deny', 65500, '*', '*'),
  ];
}

function nsg(id: string, securityRules: Array<Record<string, unknown>>, withDefaults = true): ScenarioResource {
  return { id, location: 'eastus', properties: { provisioningState: 'Succeeded', securityRules, ...(withDefaults ? { defaultSecurityRules: defaults(id) } : {}) } };
}

/**
 * Two compute subnets (ci-alice, cpu-cluster) sharing one route table, NSG and NAT gateway; an
 * unused subnet with its own NSG and route table; the endpoint subnet in the hub with an NSG.
 */
function estate(): ScenarioResource[] {
  const attached = { networkSecurityGroup: { id: NSG }, routeTable: { id: RT }, natGateway: { id: NAT } };
  return [
    ...hubAndSpoke().filter((r) => r.id !== SUBNET_ID && r.id !== PE_SUBNET_ID),
    wire.compute('cpu-cluster', 'AmlCompute', { vmSize: 'STANDARD_DS3_V2', subnet: { id: TRAIN_SUBNET }, enableNodePublicIp: false, allocationState: 'Steady' }),
    wire.subnet(SPOKE_ID, 'snet-compute', '10.20.1.0/24', attached),
    wire.subnet(SPOKE_ID, 'snet-train', '10.20.2.0/24', attached),
    wire.subnet(SPOKE_ID, 'snet-other', '10.20.3.0/24', { networkSecurityGroup: { id: NSG_OTHER }, routeTable: { id: RT_OTHER } }),
    wire.subnet(HUB_ID, 'snet-pe', '10.10.1.0/24', { privateEndpoints: [{ id: `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/privateEndpoints/pe-ws-demo` }], networkSecurityGroup: { id: NSG_PE }, privateEndpointNetworkPolicies: 'Enabled' }),
    {
      id: RT,
      location: 'East US',
      properties: {
        disableBgpRoutePropagation: true,
        provisioningState: 'Succeeded',
        routes: [
          { id: `${RT}/routes/default-to-fw`, name: 'default-to-fw', properties: { addressPrefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.10.3.4', provisioningState: 'Succeeded' } },
          { id: `${RT}/routes/aml-direct`, name: 'aml-direct', properties: { addressPrefix: 'AzureMachineLearning', nextHopType: 'Internet', provisioningState: 'Succeeded' } },
        ],
      },
    },
    nsg(NSG, [
      rule(NSG, 'AllowAmlOut', {
        protocol: 'Tcp',
        access: 'Allow',
        direction: 'Outbound',
        priority: 100,
        sourceAddressPrefix: 'VirtualNetwork',
        destinationAddressPrefixes: ['AzureMachineLearning', 'AzureActiveDirectory'],
        destinationPortRanges: ['443', '18881'],
      }),
      rule(NSG, 'DenyBuildersInternet', {
        protocol: '*',
        access: 'Deny',
        direction: 'Outbound',
        priority: 4000,
        sourceApplicationSecurityGroups: [{ id: ASG }],
        destinationAddressPrefix: 'Internet',
        destinationPortRange: '*',
      }),
    ]),
    { id: NAT, location: 'eastus', sku: { name: 'Standard' }, properties: { provisioningState: 'Succeeded', idleTimeoutInMinutes: 4, publicIpAddresses: [{ id: `${NET}/publicIPAddresses/pip-nat` }], publicIpPrefixes: [{ id: `${NET}/publicIPPrefixes/ippre-nat` }] } },
    nsg(NSG_OTHER, []),
    { id: RT_OTHER, location: 'eastus', properties: { routes: [] } },
    // ARM always lists the defaults; this one omits them to show the probe does not invent any.
    nsg(NSG_PE, [rule(NSG_PE, 'AllowSpokeHttps', { protocol: 'Tcp', access: 'Allow', direction: 'Inbound', priority: 200, sourceAddressPrefixes: ['10.20.1.0/24', '10.20.2.0/24'], destinationAddressPrefix: '*', destinationPortRange: '443' })], false),
  ];
}

async function run(ctx: ProbeContext): Promise<SubnetPoliciesObs> {
  const snapshot = await runProbes(ctx, [workspace, computes, privateEndpoints, networks]);
  const out = await probe.run(ctx, snapshot);
  if (!out.ok) throw new Error(out.error.message);
  return out.value;
}

async function runWith(t: Test, faults: ScenarioFault[] = []) {
  const { sim, ctx } = await withSim(t, estate(), { faults });
  return { sim, obs: await run(ctx) };
}

t.test('reads each route table, NSG and NAT gateway of the compute and endpoint subnets once', async (t) => {
  const { sim, obs } = await runWith(t);
  t.same(obs.routeTables.map((r) => [r.id, r.observed.ok]), [[RT, true]]);
  t.same(obs.nsgs.map((r) => [r.id, r.observed.ok]), [[NSG, true], [NSG_PE, true]]);
  t.same(obs.natGateways.map((r) => [r.id, r.observed.ok]), [[NAT, true]]);
  t.equal(gets(sim, /\/routeTables\/rt-compute$/).length, 1, 'route table shared by two subnets read once');
  t.equal(gets(sim, /\/networkSecurityGroups\/nsg-compute$/).length, 1, 'NSG shared by two subnets read once');
  t.equal(gets(sim, /\/natGateways\/ngw-compute$/).length, 1, 'NAT gateway shared by two subnets read once');
  t.equal(gets(sim, /nsg-other$|rt-other$/).length, 0, 'a subnet no compute uses is not read');
  t.equal(gets(sim, /nsg-pe$/)[0]?.path, NSG_PE, 'the endpoint NSG is read in its own subscription and resource group');
});

t.test('maps routes, NAT public addresses and NSG rules (custom first, plural fields merged)', async (t) => {
  const { obs } = await runWith(t);
  const rt = obs.routeTables[0]?.observed;
  if (!rt?.ok) throw new Error('route table not read');
  t.same(rt.value, {
    id: RT,
    name: 'rt-compute',
    location: 'eastus',
    disableBgpRoutePropagation: true,
    routes: [
      { name: 'default-to-fw', addressPrefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.10.3.4' },
      { name: 'aml-direct', addressPrefix: 'AzureMachineLearning', nextHopType: 'Internet' },
    ],
  });
  const nat = obs.natGateways[0]?.observed;
  if (!nat?.ok) throw new Error('NAT gateway not read');
  t.same(nat.value, { id: NAT, name: 'ngw-compute', provisioningState: 'Succeeded', publicIpAddressIds: [`${NET}/publicIPAddresses/pip-nat`], publicIpPrefixIds: [`${NET}/publicIPPrefixes/ippre-nat`] });

  const compute = obs.nsgs.find((n) => n.id === NSG)?.observed;
  if (!compute?.ok) throw new Error('NSG not read');
  t.same(
    compute.value.rules.map((r) => [r.name, r.isDefault]),
    [
      ['AllowAmlOut', false],
      ['DenyBuildersInternet', false],
      ['AllowVnetInBound', true],
      ['AllowAzureLoadBalancerInBound', true],
      ['DenyAllInBound', true],
      ['AllowVnetOutBound', true],
      ['AllowInternetOutBound', true],
      ['DenyAllOutBound', true],
    ],
  );
  t.same(compute.value.rules[0], {
    name: 'AllowAmlOut',
    priority: 100,
    direction: 'Outbound',
    access: 'Allow',
    protocol: 'Tcp',
    sourceAddressPrefixes: ['VirtualNetwork'],
    destinationAddressPrefixes: ['AzureMachineLearning', 'AzureActiveDirectory'],
    sourcePortRanges: ['*'],
    destinationPortRanges: ['443', '18881'],
    sourceApplicationSecurityGroupIds: [],
    destinationApplicationSecurityGroupIds: [],
    isDefault: false,
  });
  t.match(compute.value.rules[1], { protocol: '*', access: 'Deny', sourceAddressPrefixes: [], sourceApplicationSecurityGroupIds: [ASG], destinationAddressPrefixes: ['Internet'], destinationPortRanges: ['*'] });
  t.match(compute.value.rules[7], { name: 'DenyAllOutBound', priority: 65500, direction: 'Outbound', access: 'Deny', protocol: '*', isDefault: true });

  const pe = obs.nsgs.find((n) => n.id === NSG_PE)?.observed;
  if (!pe?.ok) throw new Error('endpoint NSG not read');
  t.same(
    pe.value.rules.map((r) => [r.name, r.sourceAddressPrefixes]),
    [['AllowSpokeHttps', ['10.20.1.0/24', '10.20.2.0/24']]],
    'no default rules invented when ARM gave none',
  );
});

t.test('a 403 on one NSG fails only that NSG', async (t) => {
  const { obs } = await runWith(t, [{ path: exactly(NSG_PE), status: 403 }]);
  t.match(obs.nsgs.find((n) => n.id === NSG_PE)?.observed, { ok: false, error: { kind: 'forbidden', code: 'AuthorizationFailed', resourceId: NSG_PE } });
  t.equal(obs.nsgs.find((n) => n.id === NSG)?.observed.ok, true);
  t.equal(obs.routeTables[0]?.observed.ok, true);
  t.equal(obs.natGateways[0]?.observed.ok, true);
});

t.test('is not attempted when the virtual networks could not be read', async (t) => {
  const { sim, ctx } = await withSim(t, estate());
  const out = await probe.run(ctx, snapshotWith(ctx, { networks: { ok: false, error: { kind: 'skipped', message: 'x' } } }));
  t.match(out, { ok: false, error: { kind: 'skipped' } });
  t.equal(sim.requests.length, 0);
});
