/**
 * A fleet estate, generated (never committed): many private Azure ML workspaces across several
 * subscriptions, sharing a few connectivity hubs, as one scenario the simulated ARM and DNS serve.
 * The fleet test and the fleet benchmark both call `fleetScenario` with their sizes.
 *
 * The pattern is the usual hub-and-spoke landing zone (as in the healthy-hub-firewall-no-public-ip
 * scenario, with the private endpoints in the spokes):
 * - hub h, in its own connectivity subscription and region: a hub VNet 10.<h>.0.0/16 with an Azure
 *   Firewall (10.<h>.3.4) and its policy (DNS proxy on, the rules Azure ML needs for 10.64.0.0/10),
 *   and the two workspace private DNS zones, linked to the hub and to every spoke of the hub
 *   (the spokes use Azure DNS, and zone links do not carry over peerings);
 * - workspace i, in subscription i mod S and behind hub (i div S) mod H (so a subscription has
 *   workspaces behind every hub, as a business unit spanning regions would): its own spoke VNet
 *   10.<64 + i div 256>.<i mod 256>.0/24 (compute subnet .0/26, private endpoint subnet .64/27)
 *   peered both ways with its hub, the
 *   compute subnet's NSG (the recommended rules) and route table (0.0.0.0/0 to the hub firewall),
 *   the workspace private endpoint (api/cert .68, notebooks .69) whose zone group keeps the A
 *   records in the hub's zones, a compute instance and an image-build cluster, and its storage
 *   account, key vault and registry. Every `vantageEvery`-th spoke also has a jumpbox, so the
 *   diagnosis reads effective routes and Network Watcher next hops (long-running POSTs) there.
 * - the service tags of each region, published in every subscription that has a workspace there.
 *
 * Every `brokenEvery`-th workspace is broken for real, alternately: its API record deleted from
 * the hub zone (PRIVATE_DNS_RECORD_MISSING), or its spoke not linked to the hub zones
 * (PRIVATE_DNS_ZONE_NOT_LINKED). The rest are healthy.
 *
 * Names, ids and addresses are deterministic (derived from `seed` and the index). Generation is
 * linear in the fleet size: each workspace's back-references and DNS answers are computed from
 * its own resources, not by scanning the fleet. Every address is data only: nothing connects to it.
 */
import type { DiagnoseRequest } from '../diagnose.ts';
import { CLOUDS, privateRecordFor, requiredZoneNames, workspaceApiFqdn, workspaceCertFqdn } from '../model/cloud.ts';
import type { Scenario, ScenarioDnsAnswer, ScenarioOperation, ScenarioResource } from './scenario.ts';
import {
  aRecord,
  azureFirewall,
  compute,
  containerRegistry,
  firewallPolicy,
  guidFrom,
  keyVault,
  networkId,
  networkSecurityGroup,
  networkWatcher,
  notebooksFqdn,
  peering,
  privateDnsZone,
  privateEndpoint,
  privateEndpointNic,
  publicIpAddress,
  recommendedNsgRules,
  routeTable,
  ruleCollectionGroup,
  serviceTagsResource,
  simulateResolver,
  soaRecord,
  storageAccount,
  subnet,
  virtualMachine,
  virtualNetwork,
  vmNic,
  vnetLink,
  vantageOperations,
  workspace,
  workspaceDependencyIds,
  zoneGroup,
  type EndpointMember,
  type FirewallRuleSpec,
  type RuleCollectionGroupSpec,
} from './scenario-builder.ts';
import { regionalTag } from './service-tag-data.ts';

/** The hubs' regions, in order (hub h is in FLEET_REGIONS[h % length]). */
export const FLEET_REGIONS = ['eastus', 'westeurope', 'southeastasia', 'australiaeast', 'canadacentral', 'uksouth', 'japaneast', 'brazilsouth'];

export type FleetBreak = 'record-missing' | 'zone-not-linked';

/** The finding a broken workspace's report must rank first. */
export const FLEET_BREAK_FINDING: Record<FleetBreak, string> = {
  'record-missing': 'PRIVATE_DNS_RECORD_MISSING',
  'zone-not-linked': 'PRIVATE_DNS_ZONE_NOT_LINKED',
};

export interface FleetOptions {
  workspaces: number;
  /** Workspace (spoke) subscriptions; hubs have subscriptions of their own. */
  subscriptions: number;
  hubs: number;
  /** Default 'fleet'. */
  seed?: string;
  /** Every n-th workspace (from index n/2 on) is broken. Default 47; 0 = none. */
  brokenEvery?: number;
  /** Every n-th workspace (from index n/2 on) has a jumpbox in its compute subnet. Default 23; 0 = none. */
  vantageEvery?: number;
}

export interface FleetHub {
  index: number;
  subscriptionId: string;
  region: string;
  vnetId: string;
  firewallId: string;
  firewallPolicyId: string;
  ruleCollectionGroupId: string;
  /** The api and notebooks zones. */
  zoneIds: string[];
}

export interface FleetWorkspace {
  index: number;
  request: DiagnoseRequest;
  subscriptionId: string;
  hub: number;
  region: string;
  spokeVnetId: string;
  broken?: FleetBreak;
  vantage: boolean;
}

export interface Fleet {
  scenario: Scenario;
  hubs: FleetHub[];
  workspaces: FleetWorkspace[];
  /** The workspace subscriptions. */
  subscriptions: string[];
}

const ML_SPOKE_SUPERNET = '10.64.0.0/10';

/** The Azure ML rules of a hub firewall policy (as in the bundled scenarios' amlRuleGroup). */
function amlRuleGroup(region: string, sources: string[]): RuleCollectionGroupSpec {
  const net = (name: string, protocols: Array<'TCP' | 'UDP' | 'Any'>, destinations: string[], ports: string[]): FirewallRuleSpec => ({ kind: 'network', name, protocols, sources, destinations, ports });
  const app = (name: string, fqdns: string[], http = false): FirewallRuleSpec => ({
    kind: 'application',
    name,
    sources,
    fqdns,
    protocols: [...(http ? [{ protocolType: 'Http' as const, port: 80 }] : []), { protocolType: 'Https', port: 443 }],
  });
  return {
    name: 'rcg-azureml-compute',
    priority: 300,
    collections: [
      {
        name: 'net-azureml-required',
        priority: 100,
        action: 'Allow',
        rules: [
          net('AllowEntraId', ['TCP'], ['AzureActiveDirectory'], ['80', '443']),
          net('AllowAzureMLTcp', ['TCP'], ['AzureMachineLearning'], ['443', '8787', '18881']),
          net('AllowAzureMLUdp', ['UDP'], ['AzureMachineLearning'], ['5831']),
          net('AllowArm', ['TCP'], ['AzureResourceManager'], ['443']),
          net('AllowBatch', ['Any'], [regionalTag('BatchNodeManagement', region)], ['443']),
          net('AllowStorage', ['TCP'], [regionalTag('Storage', region)], ['443', '445']),
          net('AllowKeyVault', ['TCP'], [regionalTag('AzureKeyVault', region)], ['443']),
          net('AllowAcr', ['TCP'], [regionalTag('AzureContainerRegistry', region)], ['443']),
          net('AllowMcr', ['TCP'], ['MicrosoftContainerRegistry', 'AzureFrontDoor.FirstParty'], ['443']),
        ],
      },
      {
        name: 'app-azureml-required',
        priority: 200,
        action: 'Allow',
        rules: [
          app('AllowLogin', ['login.microsoftonline.com'], true),
          app('AllowArmHost', ['management.azure.com']),
          app('AllowAzureML', ['*.azureml.ms', '*.azureml.net', 'ml.azure.com', '*.notebooks.azure.net', '*.aznbcontent.net', 'graph.microsoft.com']),
          app('AllowImages', ['mcr.microsoft.com', '*.data.mcr.microsoft.com']),
          app('AllowPackages', ['pypi.org', '*.pythonhosted.org', '*.anaconda.com']),
        ],
      },
    ],
  };
}

const props = (r: ScenarioResource): Record<string, unknown> => (r.properties ??= {});
const ipConfigIds = (nic: ScenarioResource): Array<{ id: string }> =>
  ((props(nic).ipConfigurations as Array<{ id: string }> | undefined) ?? []).map((c) => ({ id: c.id }));

/** Index n is picked by `every` when n ≡ every/2 (mod every): spread out, none at index 0. */
const picked = (n: number, every: number): boolean => every > 0 && n % every === Math.floor(every / 2);

interface HubBuild {
  info: FleetHub;
  vnet: ScenarioResource;
  resources: ScenarioResource[];
  zones: Array<{ zone: ScenarioResource; records: number; links: number }>;
  firewallIp: string;
}

function buildHub(h: number, seed: string): HubBuild {
  const sub = guidFrom(`${seed}/hub-subscription/${h}`);
  const region = FLEET_REGIONS[h % FLEET_REGIONS.length] as string;
  const rg = `rg-connectivity-hub-${region}-${h}`;
  const base = `10.${h}`;
  const vnet = virtualNetwork(networkId(sub, rg, 'virtualNetworks', `vnet-hub-${region}-${h}`), region, [`${base}.0.0/16`], []);
  const fwSubnet = subnet(vnet.id, 'AzureFirewallSubnet', `${base}.3.0/26`);
  const fwId = networkId(sub, rg, 'azureFirewalls', `afw-hub-${region}-${h}`);
  const pipId = networkId(sub, rg, 'publicIPAddresses', `pip-afw-hub-${region}-${h}`);
  const policyId = networkId(sub, rg, 'firewallPolicies', `afwp-hub-${region}-${h}`);
  const firewallIp = `${base}.3.4`;
  const firewall = azureFirewall(fwId, region, { subnetId: fwSubnet.id, privateIp: firewallIp, publicIpId: pipId, policyId });
  props(fwSubnet).ipConfigurations = ipConfigIds(firewall);
  const group = ruleCollectionGroup(policyId, amlRuleGroup(region, [ML_SPOKE_SUPERNET]));
  const policy = firewallPolicy(policyId, region, { dnsProxy: true, groupIds: [group.id], firewallIds: [fwId] });
  const zoneRg = `rg-connectivity-dns-${h}`;
  const zones = requiredZoneNames(CLOUDS.AzureCloud).map((name) => ({ zone: privateDnsZone(sub, zoneRg, name), records: 1, links: 1 }));
  const resources: ScenarioResource[] = [vnet, fwSubnet, publicIpAddress(pipId, region), firewall, policy, group];
  for (const { zone } of zones) resources.push(zone, soaRecord(zone.id), vnetLink(zone.id, `link-${vnet.name as string}`, vnet.id));
  return {
    info: { index: h, subscriptionId: sub, region, vnetId: vnet.id, firewallId: fwId, firewallPolicyId: policyId, ruleCollectionGroupId: group.id, zoneIds: zones.map((z) => z.zone.id) },
    vnet,
    resources,
    zones,
    firewallIp,
  };
}

interface WorkspaceBuild {
  info: FleetWorkspace;
  resources: ScenarioResource[];
  operations: ScenarioOperation[];
  dns: Record<string, ScenarioDnsAnswer>;
}

function buildWorkspace(i: number, o: Required<FleetOptions>, hub: HubBuild, sub: string): WorkspaceBuild {
  const cloud = CLOUDS.AzureCloud;
  const { region } = hub.info;
  const pad = String(i).padStart(4, '0');
  const tenantId = guidFrom(`${o.seed}/tenant`);
  const guid = guidFrom(`${o.seed}/workspace/${i}`);
  const wsName = `mlw-fleet-${pad}`;
  const wsId = `/subscriptions/${sub}/resourceGroups/rg-ml-fleet-${pad}/providers/Microsoft.MachineLearningServices/workspaces/${wsName}`;
  const netRg = `rg-net-fleet-${pad}`;
  const broken: FleetBreak | undefined = picked(i, o.brokenEvery) ? (Math.floor(i / o.brokenEvery) % 2 === 0 ? 'record-missing' : 'zone-not-linked') : undefined;
  const withVantage = picked(i, o.vantageEvery);

  // Spoke network
  const base = `10.${64 + (i >> 8)}.${i & 255}`;
  const spoke = virtualNetwork(networkId(sub, netRg, 'virtualNetworks', `vnet-spoke-fleet-${pad}`), region, [`${base}.0/24`], []);
  const nsgId = networkId(sub, netRg, 'networkSecurityGroups', `nsg-snet-compute-fleet-${pad}`);
  const rtId = networkId(sub, netRg, 'routeTables', `rt-snet-compute-fleet-${pad}`);
  const computeSubnet = subnet(spoke.id, 'snet-compute', `${base}.0/26`, { networkSecurityGroupId: nsgId, routeTableId: rtId, defaultOutboundAccess: false });
  const peSubnet = subnet(spoke.id, 'snet-private-endpoints', `${base}.64/27`);
  const nsg = networkSecurityGroup(nsgId, region, recommendedNsgRules(region));
  props(nsg).subnets = [{ id: computeSubnet.id }];
  const rt = routeTable(rtId, region, [{ name: 'default-to-hub-firewall', prefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIp: hub.firewallIp }], true);
  props(rt).subnets = [{ id: computeSubnet.id }];
  const toHub = peering({ name: `peer-fleet-${pad}-to-hub`, from: spoke, to: hub.vnet });
  const fromHub = peering({ name: `peer-hub-to-fleet-${pad}`, from: hub.vnet, to: spoke, allowGatewayTransit: true });

  // Workspace private endpoint, in the spoke; its zone group keeps the records in the hub zones.
  const fqdns = { api: workspaceApiFqdn(cloud, guid, region), cert: workspaceCertFqdn(cloud, guid, region), notebooks: notebooksFqdn(cloud, wsName, guid, region) };
  const peName = `pe-${wsName}`;
  const peId = networkId(sub, netRg, 'privateEndpoints', peName);
  const peNicId = networkId(sub, netRg, 'networkInterfaces', `${peName}.nic.${guidFrom(`${peId}:nic`)}`);
  const members: EndpointMember[] = [
    { ip: `${base}.68`, member: 'default', fqdns: [fqdns.api, fqdns.cert] },
    { ip: `${base}.69`, member: 'notebook', fqdns: [fqdns.notebooks] },
  ];
  const pe = privateEndpoint({ id: peId, location: region, subnetId: peSubnet.id, nicId: peNicId, workspaceId: wsId, status: 'Approved', members });
  const peNic = privateEndpointNic(peNicId, region, peId, peSubnet.id, members);
  props(peSubnet).privateEndpoints = [{ id: peId }];
  props(peSubnet).ipConfigurations = ipConfigIds(peNic);
  const records = hub.zones.map(({ zone }) => ({
    zone,
    records: members.flatMap((m) =>
      m.fqdns.flatMap((f) => {
        const rec = privateRecordFor(cloud, f);
        return rec && rec.zoneName === zone.name ? [{ name: rec.recordName, ips: [m.ip] }] : [];
      }),
    ),
  }));
  const group = zoneGroup(peId, records.map((r) => ({ zoneId: r.zone.id, records: r.records })));
  const zoneResources: ScenarioResource[] = [];
  for (const [z, r] of records.entries()) {
    const kept = broken === 'record-missing' ? r.records.filter((rec) => rec.name !== privateRecordFor(cloud, fqdns.api)?.recordName) : r.records;
    zoneResources.push(...kept.map((rec) => aRecord(r.zone.id, rec.name, rec.ips)));
    const counts = hub.zones[z];
    if (counts) counts.records += kept.length;
    if (broken !== 'zone-not-linked') {
      zoneResources.push(vnetLink(r.zone.id, `link-${spoke.name as string}`, spoke.id));
      if (counts) counts.links += 1;
    }
  }

  // Workspace, computes, dependencies
  const connection = { name: `${peName}.${guidFrom(`${peId}:connection`)}`, privateEndpointId: peId, status: 'Approved' as const };
  const ws = workspace({ id: wsId, location: region, guid, tenantId, cloud, publicNetworkAccess: 'Disabled', imageBuildCompute: `cpu-build-${pad}`, connections: [connection] });
  const computes = [
    compute(wsId, region, { name: `ci-fleet-${pad}`, kind: 'instance' }, computeSubnet.id, `${base}.4`),
    compute(wsId, region, { name: `cpu-build-${pad}`, kind: 'cluster' }, computeSubnet.id, `${base}.5`),
  ];
  const deps = workspaceDependencyIds(wsId);
  const dependencies = [
    storageAccount(deps.storage, region, cloud, {}, { computeSubnetId: computeSubnet.id, workspaceId: wsId, tenantId }),
    keyVault(deps.keyVault, region, cloud, {}, { computeSubnetId: computeSubnet.id, tenantId }),
    containerRegistry(deps.registry, region, cloud, {}),
  ];

  const own: ScenarioResource[] = [ws, ...computes, spoke, computeSubnet, peSubnet, nsg, rt, toHub, pe, peNic, group, ...dependencies];
  let operations: ScenarioOperation[] = [];
  if (withVantage) {
    const vmId = `/subscriptions/${sub}/resourceGroups/${netRg}/providers/Microsoft.Compute/virtualMachines/vm-jump-fleet-${pad}`;
    const nic = vmNic(networkId(sub, netRg, 'networkInterfaces', `vm-jump-fleet-${pad}-nic`), region, computeSubnet.id, `${base}.10`, { virtualMachineId: vmId });
    props(computeSubnet).ipConfigurations = ipConfigIds(nic);
    own.push(nic, virtualMachine(vmId, region, nic.id));
    // Effective routes, NSGs and next hops derived from this spoke alone (with its region's tags).
    const watcher = networkWatcher(sub, region);
    operations = vantageOperations([...own, serviceTagsResource(sub, region, cloud)], { vmId, nicId: nic.id, watcherId: watcher.id });
  }
  // What the spoke's resolver (Azure DNS) answers, from the zones as this workspace sees them.
  const dns = simulateResolver([ws, ...computes, ...hub.zones.map((z) => z.zone), ...zoneResources], cloud, spoke.id);
  return {
    info: {
      index: i,
      request: { workspaceId: wsId, subscriptions: [hub.info.subscriptionId] },
      subscriptionId: sub,
      hub: hub.info.index,
      region,
      spokeVnetId: spoke.id,
      ...(broken ? { broken } : {}),
      vantage: withVantage,
    },
    resources: [...own, fromHub, ...zoneResources],
    operations,
    dns,
  };
}

/** The fleet estate and what the fleet test needs to know about it. */
export function fleetScenario(options: FleetOptions): Fleet {
  // Primes, so the broken workspaces and the jumpboxes spread over subscriptions and hubs.
  const o: Required<FleetOptions> = { seed: 'fleet', brokenEvery: 47, vantageEvery: 23, ...options };
  if (!(o.workspaces >= 1 && o.subscriptions >= 1 && o.hubs >= 1)) throw new RangeError('a fleet needs at least one workspace, subscription and hub');
  if (o.hubs > 64 || o.workspaces > 192 * 256) throw new RangeError('the fleet address plan holds at most 64 hubs and 49,152 workspaces');
  const hubs = Array.from({ length: o.hubs }, (_, h) => buildHub(h, o.seed));
  const subscriptions = Array.from({ length: o.subscriptions }, (_, k) => guidFrom(`${o.seed}/subscription/${k}`));
  const resources: ScenarioResource[] = hubs.flatMap((h) => h.resources);
  const operations: ScenarioOperation[] = [];
  const dns: Record<string, ScenarioDnsAnswer> = {};
  const workspaces: FleetWorkspace[] = [];
  const published = new Set<string>();
  const watchers = new Set<string>();
  for (let i = 0; i < o.workspaces; i++) {
    const hub = hubs[Math.floor(i / o.subscriptions) % o.hubs] as HubBuild;
    const sub = subscriptions[i % o.subscriptions] as string;
    const w = buildWorkspace(i, o, hub, sub);
    resources.push(...w.resources);
    operations.push(...w.operations);
    Object.assign(dns, w.dns);
    workspaces.push(w.info);
    // Shared within a subscription and region: the service tags ARM publishes, the Network Watcher.
    const where = `${sub}/${hub.info.region}`;
    if (!published.has(where)) {
      published.add(where);
      resources.push(serviceTagsResource(sub, hub.info.region, CLOUDS.AzureCloud));
    }
    if (w.info.vantage && !watchers.has(where)) {
      watchers.add(where);
      resources.push(networkWatcher(sub, hub.info.region));
    }
  }
  for (const h of hubs) {
    for (const z of h.zones) {
      const p = props(z.zone);
      p.numberOfRecordSets = z.records;
      p.numberOfVirtualNetworkLinks = z.links;
    }
  }
  // The scenario's own target and expectation are the first workspace's; the fleet test reads `workspaces`.
  const first = workspaces[0] as FleetWorkspace;
  const name = `fleet-${o.workspaces}-workspaces-${o.subscriptions}-subscriptions-${o.hubs}-hubs`;
  const scenario: Scenario = {
    name,
    title: `Fleet: ${o.workspaces} private workspaces in ${o.subscriptions} subscriptions sharing ${o.hubs} hubs`,
    description:
      'Generated by src/sim/fleet.ts: hub-and-spoke landing zones whose hubs (VNet, Azure Firewall and policy, private DNS zones) are shared by every workspace spoke; a few workspaces are broken (a deleted API record, or a spoke not linked to the zones).',
    target: { workspaceId: first.request.workspaceId, subscriptions: first.request.subscriptions ?? [], cloud: 'AzureCloud' },
    resources,
    ...(operations.length ? { operations } : {}),
    dns,
    expect: first.broken
      ? { exitCode: 1, verdict: 'cause-found', topFinding: { code: FLEET_BREAK_FINDING[first.broken], resourceId: hubs[first.hub]?.info.zoneIds[0] ?? '' } }
      : { exitCode: 0, verdict: 'no-cause-found' },
  };
  return { scenario, hubs: hubs.map((h) => h.info), workspaces, subscriptions };
}
