/**
 * A synthetic big estate for the flow-analysis benchmark: one workspace whose compute subnet is
 * seen through a vantage VM with a very large effective route table (thousands of BGP routes
 * learned from on-premises plus service-tag user routes), two large effective NSGs (subnet and
 * NIC) and a full-size service tag list. Pure data, deterministic (seeded), no I/O.
 *
 * Every address is data only: nothing ever connects to it.
 */
import type {
  EffectiveNsgObs,
  EffectiveRouteObs,
  SecurityRuleObs,
  ServiceTagObs,
  Snapshot,
  VnetObs,
} from '../model/snapshot.ts';
import { mulberry32 } from './prng.ts';

export interface SyntheticSize {
  /** Effective routes of the vantage NIC (default 10,000). */
  routes: number;
  /** Rules per effective NSG; there are two NSGs, subnet and NIC (default 1,000). */
  nsgRules: number;
  /** IPv4 prefixes across all service tags (default 30,000). */
  tagPrefixes: number;
}

export const DEFAULT_SIZE: SyntheticSize = { routes: 10_000, nsgRules: 1_000, tagPrefixes: 30_000 };


const SUB = '5e1f0c2a-7d3b-4c9e-a1f2-93b8d4e6c701';
const REGION = 'westus3';
const WS_GUID = '0f6c2d1e-93a4-4b7c-8e5d-2a1b3c4d5e6f';
const WS_ID = `/subscriptions/${SUB}/resourceGroups/rg-bench-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-bench`;
const NET = `/subscriptions/${SUB}/resourceGroups/rg-bench-net/providers/Microsoft.Network`;
const VNET_ID = `${NET}/virtualNetworks/vnet-bench`;
const SUBNET_ID = `${VNET_ID}/subnets/snet-compute`;
const PE_SUBNET_ID = `${VNET_ID}/subnets/snet-pe`;
const PE_ID = `${NET}/privateEndpoints/pe-mlw-bench`;
const PE_NIC = `${NET}/networkInterfaces/pe-mlw-bench.nic`;
const VM_NIC = `${NET}/networkInterfaces/nic-vm-jump`;
const NAT_ID = `${NET}/natGateways/ng-bench`;
const PE_IP = '10.60.2.4';
const NB_IP = '10.60.2.5';

/** The tags the flows need, with the share of the prefix budget each gets; the rest goes to filler tags. */
const REQUIRED_TAGS: Array<[string, number]> = [
  ['AzureActiveDirectory', 0.02],
  ['AzureMachineLearning', 0.04],
  [`AzureMachineLearning.${REGION}`, 0.005],
  ['AzureResourceManager', 0.02],
  ['Storage', 0.2],
  [`Storage.${REGION}`, 0.01],
  [`AzureKeyVault.${REGION}`, 0.003],
  [`AzureContainerRegistry.${REGION}`, 0.003],
  ['MicrosoftContainerRegistry', 0.01],
  ['AzureFrontDoor.FirstParty', 0.01],
  [`BatchNodeManagement.${REGION}`, 0.003],
];

/** The n-th distinct public /24 (first octets chosen among public ranges). */
function publicSlash24(n: number): string {
  const firsts = [13, 20, 40, 51, 52, 104, 137, 138, 157, 191];
  const first = firsts[Math.floor(n / 65536) % firsts.length] as number;
  return `${first}.${(n >> 8) & 255}.${n & 255}.0/24`;
}

function serviceTags(total: number): ServiceTagObs[] {
  const tags: ServiceTagObs[] = [];
  let next = 0;
  for (const [name, share] of REQUIRED_TAGS) {
    const count = Math.max(1, Math.round(total * share));
    const prefixes: string[] = [];
    for (let i = 0; i < count; i++) prefixes.push(publicSlash24(next++));
    tags.push({ name, region: name.includes('.') ? REGION : '', addressPrefixes: prefixes });
  }
  let filler = 0;
  while (next < total) {
    const count = Math.min(250, total - next);
    const prefixes: string[] = [];
    for (let i = 0; i < count; i++) prefixes.push(publicSlash24(next++));
    tags.push({ name: `FillerService${filler}`, region: '', addressPrefixes: prefixes });
    filler++;
  }
  return tags;
}

function rule(name: string, priority: number, direction: 'Inbound' | 'Outbound', access: 'Allow' | 'Deny', dest: string[], ports: string[], protocol = 'Tcp', expanded: string[] = []): SecurityRuleObs {
  return {
    name: `securityRules/${name}`,
    priority,
    direction,
    access,
    protocol,
    sourceAddressPrefixes: ['VirtualNetwork'],
    destinationAddressPrefixes: dest,
    ...(expanded.length ? { expandedDestinationAddressPrefixes: expanded } : {}),
    sourcePortRanges: ['*'],
    destinationPortRanges: ports,
    sourceApplicationSecurityGroupIds: [],
    destinationApplicationSecurityGroupIds: [],
    isDefault: false,
  };
}

const DEFAULTS: SecurityRuleObs[] = [
  ['AllowVnetOutBound', 65000, 'Allow', 'VirtualNetwork'],
  ['AllowInternetOutBound', 65001, 'Allow', 'Internet'],
  ['DenyAllOutBound', 65500, 'Deny', '*'],
].map(([name, priority, access, dest]) => ({
  name: `defaultSecurityRules/${name as string}`,
  priority: priority as number,
  direction: 'Outbound' as const,
  access: access as 'Allow' | 'Deny',
  protocol: '*',
  sourceAddressPrefixes: ['*'],
  destinationAddressPrefixes: [dest as string],
  sourcePortRanges: ['*'],
  destinationPortRanges: ['*'],
  sourceApplicationSecurityGroupIds: [],
  destinationApplicationSecurityGroupIds: [],
  isDefault: true,
}));

/**
 * An NSG with `count` rules: many deny rules for unrelated public /24s and ports (the kind of
 * rule list that grows over years), the allow rules Azure ML needs, and the defaults.
 */
function nsg(id: string, association: EffectiveNsgObs['association'], count: number, tags: ServiceTagObs[], rand: () => number): EffectiveNsgObs {
  const rules: SecurityRuleObs[] = [];
  const required: Array<[string, string[], string]> = [
    ['AzureActiveDirectory', ['80', '443'], 'Tcp'],
    ['AzureMachineLearning', ['443', '18881'], 'Tcp'],
    ['AzureMachineLearning', ['5831'], 'Udp'],
    ['AzureResourceManager', ['443'], 'Tcp'],
    ['Storage', ['443', '445'], 'Tcp'],
    [`AzureKeyVault.${REGION}`, ['443'], 'Tcp'],
    [`AzureContainerRegistry.${REGION}`, ['443'], 'Tcp'],
    ['MicrosoftContainerRegistry', ['443'], 'Tcp'],
    ['AzureFrontDoor.FirstParty', ['443'], 'Tcp'],
    [`BatchNodeManagement.${REGION}`, ['443'], 'Tcp'],
  ];
  const byName = new Map(tags.map((t) => [t.name.toLowerCase(), t.addressPrefixes]));
  required.forEach(([tag, ports, protocol], i) => {
    rules.push(rule(`Allow-${tag}-${protocol}`, 100 + i, 'Outbound', 'Allow', [tag], ports, protocol, byName.get(tag.toLowerCase()) ?? []));
  });
  rules.push(rule('Allow-PrivateEndpoints', 200, 'Outbound', 'Allow', ['VirtualNetwork'], ['443'], 'Tcp', ['10.60.0.0/16']));
  for (let i = rules.length; i < count - 1; i++) {
    // Unrelated denies in 203.0.113.0/24-like documentation space and random other ports.
    const a = 1 + Math.floor(rand() * 250);
    const b = Math.floor(rand() * 256);
    const port = 1024 + Math.floor(rand() * 60000);
    rules.push(rule(`Deny-legacy-${i}`, 300 + i, 'Outbound', 'Deny', [`198.${a}.${b}.0/24`], [String(port)], rand() < 0.5 ? 'Tcp' : '*'));
  }
  rules.push(rule('Deny-Internet', 4090, 'Outbound', 'Deny', ['Internet'], ['*'], '*'));
  return { networkSecurityGroupId: id, association, associatedId: association === 'subnet' ? SUBNET_ID : VM_NIC, rules: [...rules, ...DEFAULTS] };
}

function routes(count: number, tags: ServiceTagObs[], rand: () => number): EffectiveRouteObs[] {
  const out: EffectiveRouteObs[] = [
    { source: 'Default', state: 'Active', addressPrefixes: ['10.60.0.0/16'], nextHopType: 'VnetLocal', nextHopIpAddresses: [] },
    { source: 'Default', state: 'Active', addressPrefixes: ['0.0.0.0/0'], nextHopType: 'Internet', nextHopIpAddresses: [] },
    ...['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'].map((p) => ({ source: 'Default', state: 'Active', addressPrefixes: [p], nextHopType: 'None', nextHopIpAddresses: [] })),
  ];
  // Service-tag routes to Internet for the Azure ML tags (as a forced-tunnel estate would have).
  for (const tag of tags.filter((t) => t.name.startsWith('AzureMachineLearning') || t.name.startsWith('BatchNodeManagement'))) {
    for (const p of tag.addressPrefixes) {
      if (out.length >= count) break;
      out.push({ name: `route-${tag.name}`, source: 'User', state: 'Active', addressPrefixes: [p], nextHopType: 'Internet', nextHopIpAddresses: [] });
    }
  }
  // The bulk: on-premises prefixes learned over BGP from the gateway.
  while (out.length < count) {
    const b = 128 + Math.floor(rand() * 127);
    const c = Math.floor(rand() * 256);
    const len = 24 + Math.floor(rand() * 5);
    const d = len === 24 ? 0 : Math.floor(rand() * 256) & (0xff << (32 - len));
    out.push({ source: 'VirtualNetworkGateway', state: 'Active', addressPrefixes: [`10.${b}.${c}.${d}/${len}`], nextHopType: 'VirtualNetworkGateway', nextHopIpAddresses: ['10.255.0.4'] });
  }
  return out;
}

/** The synthetic snapshot: a healthy private workspace seen through a vantage with big tables. */
export function syntheticSnapshot(size: SyntheticSize = DEFAULT_SIZE, seed = 7): Snapshot {
  const rand = mulberry32(seed);
  const tags = serviceTags(size.tagPrefixes);
  const api = `${WS_GUID}.workspace.${REGION}.api.azureml.ms`;
  const cert = `${WS_GUID}.workspace.${REGION}.cert.api.azureml.ms`;
  const nb = `ml-mlw-bench-${REGION}-${WS_GUID}.${REGION}.notebooks.azure.net`;
  const vnet: VnetObs = {
    id: VNET_ID,
    name: 'vnet-bench',
    subscriptionId: SUB,
    resourceGroup: 'rg-bench-net',
    location: REGION,
    addressPrefixes: ['10.60.0.0/16'],
    dnsServers: [],
    subnets: [
      { id: SUBNET_ID, name: 'snet-compute', vnetId: VNET_ID, addressPrefixes: ['10.60.1.0/24'], natGatewayId: NAT_ID, networkSecurityGroupId: `${NET}/networkSecurityGroups/nsg-compute`, serviceEndpoints: [], delegations: [], privateEndpointIds: [], ipConfigurationIds: [`${VM_NIC}/ipConfigurations/ipconfig1`] },
      { id: PE_SUBNET_ID, name: 'snet-pe', vnetId: VNET_ID, addressPrefixes: ['10.60.2.0/24'], serviceEndpoints: [], delegations: [], privateEndpointIds: [PE_ID], ipConfigurationIds: [] },
    ],
    peerings: [],
  };
  return {
    target: { workspaceId: WS_ID, subscriptions: [], cloud: 'AzureCloud', dnsServers: [] },
    collectedAt: '2026-11-27T00:00:00.000Z',
    workspace: {
      ok: true,
      value: {
        id: WS_ID, name: 'mlw-bench', subscriptionId: SUB, resourceGroup: 'rg-bench-ml', location: REGION, workspaceGuid: WS_GUID,
        publicNetworkAccess: 'Disabled',
        privateEndpointConnections: [{ id: `${WS_ID}/privateEndpointConnections/pe`, name: 'pe', privateEndpointId: PE_ID, status: 'Approved', provisioningState: 'Succeeded' }],
        fqdns: { api, cert },
      },
    },
    computes: {
      ok: true,
      value: {
        computes: [
          { id: `${WS_ID}/computes/ci-bench`, name: 'ci-bench', computeType: 'ComputeInstance', subnetId: SUBNET_ID, enableNodePublicIp: false, enableSSO: true, vmSize: 'Standard_DS3_v2' },
          { id: `${WS_ID}/computes/cpu-cluster`, name: 'cpu-cluster', computeType: 'AmlCompute', subnetId: SUBNET_ID, enableNodePublicIp: false, vmSize: 'Standard_DS3_v2' },
        ],
      },
    },
    privateEndpoints: {
      ok: true,
      value: {
        endpoints: [
          {
            id: PE_ID,
            observed: {
              ok: true,
              value: {
                id: PE_ID, name: 'pe-mlw-bench', subscriptionId: SUB, resourceGroup: 'rg-bench-net', provisioningState: 'Succeeded', subnetId: PE_SUBNET_ID, vnetId: VNET_ID,
                connections: [{ name: 'pe', privateLinkServiceId: WS_ID, groupIds: ['amlworkspace'], status: 'Approved', manual: false }],
                customDnsConfigs: [{ fqdn: api, ipAddresses: [PE_IP] }, { fqdn: cert, ipAddresses: [PE_IP] }, { fqdn: nb, ipAddresses: [NB_IP] }],
                networkInterfaceIds: [PE_NIC],
                nicIpConfigurations: { ok: true, value: [{ nicId: PE_NIC, privateIPAddress: PE_IP, fqdns: [api, cert] }, { nicId: PE_NIC, privateIPAddress: NB_IP, fqdns: [nb] }] },
                zoneGroups: { ok: true, value: [] },
              },
            },
          },
        ],
      },
    },
    networks: { ok: true, value: { vnets: [{ id: VNET_ID, roles: ['compute', 'private-endpoint'], observed: { ok: true, value: vnet } }] } },
    dns: {
      ok: true,
      value: {
        resolvers: ['168.63.129.16'],
        lookups: [
          { name: api, purpose: 'workspace-api', resolver: '168.63.129.16', status: 'ok', cnames: [], addresses: [PE_IP] },
          { name: cert, purpose: 'workspace-cert', resolver: '168.63.129.16', status: 'ok', cnames: [], addresses: [PE_IP] },
          { name: nb, purpose: 'notebooks', resolver: '168.63.129.16', status: 'ok', cnames: [], addresses: [NB_IP] },
          { name: `ci-bench.${REGION}.instances.azureml.ms`, purpose: 'instance-name', computeName: 'ci-bench', resolver: '168.63.129.16', status: 'ok', cnames: [], addresses: [PE_IP] },
          { name: `ci-bench.${REGION}.instances.ml.azure.ms`, purpose: 'instance-name', computeName: 'ci-bench', resolver: '168.63.129.16', status: 'ok', cnames: [], addresses: [PE_IP] },
        ],
      },
    },
    serviceTags: { ok: true, value: { location: REGION, cloud: 'Public', changeNumber: '1', tags } },
    subnetPolicies: {
      ok: true,
      value: {
        routeTables: [],
        nsgs: [],
        natGateways: [{ id: NAT_ID, observed: { ok: true, value: { id: NAT_ID, name: 'ng-bench', provisioningState: 'Succeeded', publicIpAddressIds: [`${NET}/publicIPAddresses/pip-ng`], publicIpPrefixIds: [] } } }],
      },
    },
    vantage: {
      ok: true,
      value: {
        subnets: [
          {
            subnetId: SUBNET_ID,
            skipped: [],
            vantage: {
              subnetId: SUBNET_ID,
              nicId: VM_NIC,
              vmId: `/subscriptions/${SUB}/resourceGroups/rg-bench-net/providers/Microsoft.Compute/virtualMachines/vm-jump`,
              privateIp: '10.60.1.10',
              how: 'subnet',
              effectiveRoutes: { ok: true, value: routes(size.routes, tags, rand) },
              effectiveNsgs: {
                ok: true,
                value: [nsg(`${NET}/networkSecurityGroups/nsg-compute`, 'subnet', size.nsgRules, tags, rand), nsg(`${NET}/networkSecurityGroups/nsg-vm-jump`, 'network-interface', size.nsgRules, tags, rand)],
              },
              nextHops: [],
            },
          },
        ],
      },
    },
    firewalls: { ok: true, value: { appliances: [], searches: [], firewalls: [], policies: [] } },
    dependencies: { ok: true, value: { resources: [] } },
  };
}

/** Counts, so the benchmark can print what it analysed. */
export function sizeOf(snapshot: Snapshot): { routes: number; nsgRules: number[]; tagPrefixes: number } {
  const v = snapshot.vantage?.ok ? snapshot.vantage.value.subnets[0]?.vantage : undefined;
  return {
    routes: v?.effectiveRoutes.ok ? v.effectiveRoutes.value.length : 0,
    nsgRules: v?.effectiveNsgs.ok ? v.effectiveNsgs.value.map((n) => n.rules.length) : [],
    tagPrefixes: snapshot.serviceTags?.ok ? snapshot.serviceTags.value.tags.reduce((n, t) => n + t.addressPrefixes.length, 0) : 0,
  };
}
