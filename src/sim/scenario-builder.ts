/**
 * Builds scenario estates as ARM wire JSON (`properties` not flattened), the way ARM returns them,
 * plus the DNS answers the compute's resolver would give. Pure functions, no I/O: the scenario
 * catalogue (scripts/build-scenarios.ts) calls `buildEstate`, mutates one thing, and turns the
 * result into a Scenario with `toScenario`.
 *
 * Every estate also carries what flow analysis reads: the region's service tags, the workspace's
 * storage account, key vault and registry, and an NSG on the compute subnet; options add route
 * tables, firewalls, appliances, locked-down dependencies and a readable jumpbox ("vantage"),
 * whose effective routes, effective NSGs and Network Watcher next hops `toScenario` derives from
 * the estate's final configuration, so a mutation after `buildEstate` shows in them too.
 *
 * Shapes follow ../shared/azure-spec-examples/ and ../shared/reference/arm-wire-protocol.md §3–§6.
 * Every address here is data only: nothing connects to it.
 */
import { createHash } from 'node:crypto';
import { idKey, parentId, sameId, tryParseArmId } from '../model/arm-id.ts';
import {
  CLOUDS,
  instanceFqdns,
  normalizeRegion,
  privateRecordFor,
  requiredZoneNames,
  workspaceApiFqdn,
  workspaceCertFqdn,
  type CloudName,
  type CloudProfile,
} from '../model/cloud.ts';
import { AZURE_DNS_IP, cidrContains, parseIPv4 } from '../model/ip.ts';
import type { Scenario, ScenarioDnsAnswer, ScenarioExpectation, ScenarioFault, ScenarioOperation, ScenarioResource } from './scenario.ts';
import { regionalTag, serviceTagsBody } from './service-tag-data.ts';

type Props = Record<string, unknown>;

export type ConnectionStatus = 'Approved' | 'Pending' | 'Rejected' | 'Disconnected';

const ML = 'Microsoft.MachineLearningServices';
const NET = 'Microsoft.Network';

// ------------------------------------------------------------------------------ deterministic data

function sha(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}

/** A GUID (version 4 layout) derived from a seed, so fixtures are stable across runs. */
export function guidFrom(seed: string): string {
  const h = sha(seed);
  const variant = ((Number.parseInt(h[16] ?? '0', 16) & 3) | 8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Short lower-case hex from a seed (resource-name suffixes such as `pe-x.nic.<hex>`). */
export function hexFrom(seed: string, length = 8): string {
  return sha(seed).slice(0, length);
}

function etag(seed: string): string {
  return `W/"${guidFrom(`etag:${seed}`)}"`;
}

/** A public (internet-routed) IPv4 in 20.0.0.0/8, derived from a seed. Data only. */
export function publicIpFrom(seed: string): string {
  const h = sha(seed);
  const byte = (i: number, min: number, max: number) => min + (Number.parseInt(h.slice(i, i + 2), 16) % (max - min + 1));
  return `20.${byte(0, 1, 250)}.${byte(2, 0, 255)}.${byte(4, 1, 254)}`;
}

// ------------------------------------------------------------------------------ names

export function cloudProfile(cloud: CloudName | CloudProfile | undefined): CloudProfile {
  if (cloud === undefined) return CLOUDS.AzureCloud;
  return typeof cloud === 'string' ? CLOUDS[cloud] : cloud;
}

/**
 * Notebooks name: `ml-<workspace name>-<region>-<guid>.<region>.<notebooksSuffix>`, the workspace
 * name truncated so the first label stays within DNS's 63 characters.
 */
export function notebooksFqdn(cloud: CloudProfile, workspaceName: string, workspaceGuid: string, region: string): string {
  const r = normalizeRegion(region);
  const room = 63 - `ml--${r}-${workspaceGuid}`.length;
  const name = workspaceName.toLowerCase().slice(0, Math.max(0, room)).replace(/-+$/, '');
  return `ml-${name}-${r}-${workspaceGuid}.${r}.${cloud.notebooksSuffix}`.toLowerCase();
}

/** The name a workspace FQDN CNAMEs to: `<record>.privatelink.<suffix>`. */
export function privatelinkName(cloud: CloudProfile, fqdn: string): string | undefined {
  const rec = privateRecordFor(cloud, fqdn);
  return rec ? `${rec.recordName}.${rec.zoneName}` : undefined;
}

function cloudAppSuffix(cloud: CloudProfile): string {
  if (cloud.name === 'AzureUSGovernment') return 'usgovcloudapp.net';
  if (cloud.name === 'AzureChinaCloud') return 'chinacloudapp.cn';
  return 'cloudapp.azure.com';
}

function rgPrefix(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
}

export function networkId(subscriptionId: string, resourceGroup: string, type: string, name: string): string {
  return `${rgPrefix(subscriptionId, resourceGroup)}/providers/${NET}/${type}/${name}`;
}

// ------------------------------------------------------------------------------ resource constructors

export interface WorkspaceConnectionSpec {
  name: string;
  privateEndpointId: string;
  status: ConnectionStatus;
  description?: string;
}

export interface WorkspaceSpec {
  id: string;
  location: string;
  guid: string;
  tenantId: string;
  cloud: CloudProfile;
  publicNetworkAccess: 'Enabled' | 'Disabled';
  imageBuildCompute?: string;
  connections: WorkspaceConnectionSpec[];
  /** `properties.managedNetwork` as ARM returns it (absent: no managed network). */
  managedNetwork?: Props;
}

/** The ids of the storage account, key vault, container registry and Application Insights a workspace names. */
export function workspaceDependencyIds(workspaceId: string): { storage: string; keyVault: string; registry: string; appInsights: string } {
  const p = tryParseArmId(workspaceId);
  if (!p) throw new Error(`bad workspace id ${workspaceId}`);
  const name = p.names[0] ?? 'ws';
  const rg = rgPrefix(p.subscriptionId, p.resourceGroup);
  const compact = name.replace(/[^a-z0-9]/gi, '').toLowerCase();
  const hex = hexFrom(workspaceId, 4);
  return {
    storage: `${rg}/providers/Microsoft.Storage/storageAccounts/st${compact.slice(0, 18)}${hex}`,
    keyVault: `${rg}/providers/Microsoft.KeyVault/vaults/kv-${name.slice(0, 16)}-${hex}`,
    registry: `${rg}/providers/Microsoft.ContainerRegistry/registries/cr${compact.slice(0, 20)}${hex}`,
    appInsights: `${rg}/providers/Microsoft.Insights/components/appi-${name}`,
  };
}

function connectionState(status: ConnectionStatus, description?: string): Props {
  const defaults: Record<ConnectionStatus, string> = {
    Approved: 'Auto-Approved',
    Pending: 'Awaiting approval by the workspace owner',
    Rejected: 'Rejected by the workspace owner',
    Disconnected: 'The private endpoint was removed',
  };
  return { actionsRequired: 'None', description: description ?? defaults[status], status };
}

export function workspaceConnection(workspaceId: string, c: WorkspaceConnectionSpec): ScenarioResource {
  return {
    id: `${workspaceId}/privateEndpointConnections/${c.name}`,
    name: c.name,
    type: `${ML}/workspaces/privateEndpointConnections`,
    properties: {
      privateEndpoint: { id: c.privateEndpointId },
      privateLinkServiceConnectionState: connectionState(c.status, c.description),
      provisioningState: 'Succeeded',
    },
  };
}

/** A workspace as `GET {w}` returns it (2025-09-01 wire shape). */
export function workspace(spec: WorkspaceSpec): ScenarioResource {
  const p = tryParseArmId(spec.id);
  if (!p) throw new Error(`bad workspace id ${spec.id}`);
  const name = p.names[0] ?? 'ws';
  const deps = workspaceDependencyIds(spec.id);
  const region = normalizeRegion(spec.location);
  return {
    id: spec.id,
    name,
    type: `${ML}/workspaces`,
    location: region,
    identity: { principalId: guidFrom(`${spec.id}:principal`), tenantId: spec.tenantId, type: 'SystemAssigned' },
    sku: { name: 'Basic', tier: 'Basic' },
    tags: {},
    properties: {
      allowPublicAccessWhenBehindVnet: false,
      applicationInsights: deps.appInsights,
      containerRegistry: deps.registry,
      description: '',
      discoveryUrl: `https://${region}.${spec.cloud.apiSuffix}/discovery`,
      enableDataIsolation: false,
      friendlyName: name,
      hbiWorkspace: false,
      ...(spec.imageBuildCompute ? { imageBuildCompute: spec.imageBuildCompute } : {}),
      keyVault: deps.keyVault,
      ...(spec.managedNetwork ? { managedNetwork: spec.managedNetwork } : {}),
      privateEndpointConnections: spec.connections.map((c) => workspaceConnection(spec.id, c)),
      privateLinkCount: spec.connections.length,
      provisioningState: 'Succeeded',
      publicNetworkAccess: spec.publicNetworkAccess,
      storageAccount: deps.storage,
      storageHnsEnabled: false,
      v1LegacyMode: false,
      workspaceId: spec.guid,
    },
  };
}

export interface ComputeSpec {
  name: string;
  kind: 'instance' | 'cluster';
  /** Compute instances: `enableSSO`; default true. */
  sso?: boolean;
  /** `enableNodePublicIp`; default false (no public IP). */
  publicIp?: boolean;
  /** Instance `state` (default Running) or cluster `allocationState` (default Steady). */
  state?: string;
  vmSize?: string;
  maxNodes?: number;
}

/** `subnetId` undefined: a compute in the workspace's managed virtual network (no customer subnet). */
export function compute(workspaceId: string, location: string, spec: ComputeSpec, subnetId: string | undefined, privateIp: string): ScenarioResource {
  const region = normalizeRegion(location);
  const id = `${workspaceId}/computes/${spec.name}`;
  const common = {
    computeLocation: region,
    createdOn: '2026-03-02T09:14:27.0000000+00:00',
    disableLocalAuth: true,
    isAttachedCompute: false,
    modifiedOn: '2026-10-19T16:40:03.0000000+00:00',
    provisioningState: 'Succeeded',
  };
  const publicIp = spec.publicIp ?? false;
  if (spec.kind === 'instance') {
    return {
      id,
      name: spec.name,
      type: `${ML}/workspaces/computes`,
      location: region,
      properties: {
        ...common,
        computeType: 'ComputeInstance',
        properties: {
          applicationSharingPolicy: 'Personal',
          computeInstanceAuthorizationType: 'personal',
          connectivityEndpoints: { privateIpAddress: privateIp, ...(publicIp ? { publicIpAddress: publicIpFrom(`${id}:pip`) } : {}) },
          enableNodePublicIp: publicIp,
          enableRootAccess: true,
          enableSSO: spec.sso ?? true,
          errors: null,
          sshSettings: { adminUserName: 'azureuser', sshPort: 50000, sshPublicAccess: 'Disabled' },
          state: spec.state ?? 'Running',
          ...(subnetId ? { subnet: { id: subnetId } } : {}),
          vmSize: spec.vmSize ?? 'STANDARD_DS3_V2',
        },
      },
    };
  }
  return {
    id,
    name: spec.name,
    type: `${ML}/workspaces/computes`,
    location: region,
    properties: {
      ...common,
      computeType: 'AmlCompute',
      properties: {
        allocationState: spec.state ?? 'Steady',
        allocationStateTransitionTime: '2026-10-19T16:40:03.000Z',
        currentNodeCount: 0,
        enableNodePublicIp: publicIp,
        errors: null,
        isolatedNetwork: false,
        osType: 'Linux',
        remoteLoginPortPublicAccess: 'Disabled',
        scaleSettings: { maxNodeCount: spec.maxNodes ?? 4, minNodeCount: 0, nodeIdleTimeBeforeScaleDown: 'PT120S' },
        ...(subnetId ? { subnet: { id: subnetId } } : {}),
        targetNodeCount: 0,
        vmPriority: 'Dedicated',
        vmSize: spec.vmSize ?? 'STANDARD_D4S_V3',
      },
    },
  };
}

/** A VNet without embedded subnets/peerings: the simulated ARM embeds the child resources on GET. */
export function virtualNetwork(id: string, location: string, addressPrefixes: string[], dnsServers: string[]): ScenarioResource {
  return {
    id,
    name: id.split('/').pop() as string,
    type: `${NET}/virtualNetworks`,
    location: normalizeRegion(location),
    etag: etag(id),
    properties: {
      addressSpace: { addressPrefixes },
      dhcpOptions: { dnsServers },
      enableDdosProtection: false,
      provisioningState: 'Succeeded',
      resourceGuid: guidFrom(`${id}:guid`),
    },
  };
}

export interface SubnetExtras {
  natGatewayId?: string;
  networkSecurityGroupId?: string;
  routeTableId?: string;
  /** `defaultOutboundAccess`; absent on subnets created before private subnets existed. */
  defaultOutboundAccess?: boolean;
  /** Default 'Disabled'. */
  privateEndpointNetworkPolicies?: 'Enabled' | 'Disabled' | 'NetworkSecurityGroupEnabled' | 'RouteTableEnabled';
  /** Service endpoints, e.g. `Microsoft.Storage`, in the subnet's region. */
  serviceEndpoints?: string[];
  location?: string;
}

/** `privateEndpoints` and `ipConfigurations` are filled in by `reconcile` from what sits in the subnet. */
export function subnet(vnetId: string, name: string, addressPrefix: string, extras: SubnetExtras = {}): ScenarioResource {
  const id = `${vnetId}/subnets/${name}`;
  return {
    id,
    name,
    type: `${NET}/virtualNetworks/subnets`,
    etag: etag(id),
    properties: {
      addressPrefix,
      ...(extras.defaultOutboundAccess !== undefined ? { defaultOutboundAccess: extras.defaultOutboundAccess } : {}),
      delegations: [],
      ipConfigurations: [],
      ...(extras.natGatewayId ? { natGateway: { id: extras.natGatewayId } } : {}),
      ...(extras.networkSecurityGroupId ? { networkSecurityGroup: { id: extras.networkSecurityGroupId } } : {}),
      privateEndpointNetworkPolicies: extras.privateEndpointNetworkPolicies ?? 'Disabled',
      privateEndpoints: [],
      privateLinkServiceNetworkPolicies: 'Enabled',
      provisioningState: 'Succeeded',
      ...(extras.routeTableId ? { routeTable: { id: extras.routeTableId } } : {}),
      serviceEndpoints: (extras.serviceEndpoints ?? []).map((service) => ({ locations: [normalizeRegion(extras.location ?? '')], provisioningState: 'Succeeded', service })),
    },
  };
}

export interface PeeringSpec {
  name: string;
  from: ScenarioResource;
  to: ScenarioResource;
  peeringState?: 'Initiated' | 'Connected' | 'Disconnected';
  allowGatewayTransit?: boolean;
  useRemoteGateways?: boolean;
  allowForwardedTraffic?: boolean;
}

function prefixesOf(vnet: ScenarioResource): string[] {
  const space = (vnet.properties?.addressSpace ?? {}) as { addressPrefixes?: string[] };
  return [...(space.addressPrefixes ?? [])];
}

export function peering(spec: PeeringSpec): ScenarioResource {
  const id = `${spec.from.id}/virtualNetworkPeerings/${spec.name}`;
  const state = spec.peeringState ?? 'Connected';
  return {
    id,
    name: spec.name,
    type: `${NET}/virtualNetworks/virtualNetworkPeerings`,
    etag: etag(id),
    properties: {
      allowForwardedTraffic: spec.allowForwardedTraffic ?? true,
      allowGatewayTransit: spec.allowGatewayTransit ?? false,
      allowVirtualNetworkAccess: true,
      peeringState: state,
      peeringSyncLevel: state === 'Connected' ? 'FullyInSync' : 'RemoteNotInSync',
      provisioningState: 'Succeeded',
      remoteAddressSpace: { addressPrefixes: prefixesOf(spec.to) },
      remoteVirtualNetwork: { id: spec.to.id },
      remoteVirtualNetworkAddressSpace: { addressPrefixes: prefixesOf(spec.to) },
      useRemoteGateways: spec.useRemoteGateways ?? false,
    },
  };
}

/** One private IP of a workspace private endpoint and the names it serves. */
export interface EndpointMember {
  ip: string;
  /** `privateLinkConnectionProperties.requiredMemberName`. */
  member: string;
  fqdns: string[];
}

export interface PrivateEndpointSpec {
  id: string;
  location: string;
  subnetId: string;
  nicId: string;
  workspaceId: string;
  status: ConnectionStatus;
  description?: string;
  /** Put the connection under `manualPrivateLinkServiceConnections` (approval by the workspace owner). */
  manual?: boolean;
  members: EndpointMember[];
  provisioningState?: string;
  /** Group id of the private link resource; default `amlworkspace`. */
  groupId?: string;
  /** The private link resource; default the workspace. */
  serviceId?: string;
}

export function privateEndpoint(spec: PrivateEndpointSpec): ScenarioResource {
  const name = spec.id.split('/').pop() as string;
  const connection = {
    id: `${spec.id}/${spec.manual ? 'manualPrivateLinkServiceConnections' : 'privateLinkServiceConnections'}/${name}`,
    name,
    type: `${NET}/privateEndpoints/privateLinkServiceConnections`,
    etag: etag(`${spec.id}:conn`),
    properties: {
      groupIds: [spec.groupId ?? 'amlworkspace'],
      privateLinkServiceConnectionState: connectionState(spec.status, spec.description),
      privateLinkServiceId: spec.serviceId ?? spec.workspaceId,
      provisioningState: 'Succeeded',
      ...(spec.manual ? { requestMessage: 'Please approve access to the workspace from our network.' } : {}),
    },
  };
  return {
    id: spec.id,
    name,
    type: `${NET}/privateEndpoints`,
    location: normalizeRegion(spec.location),
    etag: etag(spec.id),
    properties: {
      applicationSecurityGroups: [],
      customDnsConfigs: spec.members.flatMap((m) => m.fqdns.map((fqdn) => ({ fqdn, ipAddresses: [m.ip] }))),
      customNetworkInterfaceName: '',
      ipConfigurations: [],
      manualPrivateLinkServiceConnections: spec.manual ? [connection] : [],
      networkInterfaces: [{ id: spec.nicId }],
      privateLinkServiceConnections: spec.manual ? [] : [connection],
      provisioningState: spec.provisioningState ?? 'Succeeded',
      subnet: { id: spec.subnetId },
    },
  };
}

export function privateEndpointNic(nicId: string, location: string, privateEndpointId: string, subnetId: string, members: EndpointMember[], groupId = 'amlworkspace'): ScenarioResource {
  return {
    id: nicId,
    name: nicId.split('/').pop() as string,
    type: `${NET}/networkInterfaces`,
    location: normalizeRegion(location),
    etag: etag(nicId),
    properties: {
      auxiliaryMode: 'None',
      dnsSettings: { appliedDnsServers: [], dnsServers: [] },
      enableAcceleratedNetworking: false,
      enableIPForwarding: false,
      ipConfigurations: members.map((m, i) => {
        const name = `privateEndpointIpConfig.${guidFrom(`${nicId}:${m.member}`)}`;
        return {
          id: `${nicId}/ipConfigurations/${name}`,
          name,
          type: `${NET}/networkInterfaces/ipConfigurations`,
          etag: etag(`${nicId}:${i}`),
          properties: {
            primary: i === 0,
            privateIPAddress: m.ip,
            privateIPAddressVersion: 'IPv4',
            privateIPAllocationMethod: 'Dynamic',
            privateLinkConnectionProperties: { fqdns: m.fqdns, groupId, requiredMemberName: m.member },
            provisioningState: 'Succeeded',
            subnet: { id: subnetId },
          },
        };
      }),
      macAddress: '',
      nicType: 'Standard',
      privateEndpoint: { id: privateEndpointId },
      provisioningState: 'Succeeded',
      vnetEncryptionSupported: false,
    },
  };
}

/**
 * A VM's NIC. Without `virtualMachineId` (e.g. a DNS server in the hub) it has no `virtualMachine`
 * reference: the VM is not part of the estate.
 */
export function vmNic(nicId: string, location: string, subnetId: string, ip: string, opts: { virtualMachineId?: string; ipForwarding?: boolean } = {}): ScenarioResource {
  return {
    id: nicId,
    name: nicId.split('/').pop() as string,
    type: `${NET}/networkInterfaces`,
    location: normalizeRegion(location),
    etag: etag(nicId),
    properties: {
      dnsSettings: { appliedDnsServers: [], dnsServers: [] },
      enableAcceleratedNetworking: true,
      enableIPForwarding: opts.ipForwarding ?? false,
      ipConfigurations: [
        {
          id: `${nicId}/ipConfigurations/ipconfig1`,
          name: 'ipconfig1',
          type: `${NET}/networkInterfaces/ipConfigurations`,
          properties: { primary: true, privateIPAddress: ip, privateIPAddressVersion: 'IPv4', privateIPAllocationMethod: 'Static', provisioningState: 'Succeeded', subnet: { id: subnetId } },
        },
      ],
      nicType: 'Standard',
      provisioningState: 'Succeeded',
      ...(opts.virtualMachineId ? { virtualMachine: { id: opts.virtualMachineId } } : {}),
    },
  };
}

export interface ZoneGroupRecord {
  name: string;
  ips: string[];
}

export function zoneGroup(privateEndpointId: string, zones: Array<{ zoneId: string; records: ZoneGroupRecord[] }>): ScenarioResource {
  const id = `${privateEndpointId}/privateDnsZoneGroups/default`;
  return {
    id,
    name: 'default',
    type: `${NET}/privateEndpoints/privateDnsZoneGroups`,
    etag: etag(id),
    properties: {
      privateDnsZoneConfigs: zones.map((z) => {
        const zoneName = z.zoneId.split('/').pop() as string;
        return {
          name: zoneName.replace(/\./g, '-'),
          properties: {
            privateDnsZoneId: z.zoneId,
            recordSets: z.records.map((r) => ({ fqdn: `${r.name}.${zoneName}`, ipAddresses: r.ips, provisioningState: 'Succeeded', recordSetName: r.name, recordType: 'A', ttl: 10 })),
          },
        };
      }),
      provisioningState: 'Succeeded',
    },
  };
}

/** A private DNS zone; the record and link counts are set by `reconcile`. */
export function privateDnsZone(subscriptionId: string, resourceGroup: string, name: string): ScenarioResource {
  const id = networkId(subscriptionId, resourceGroup, 'privateDnsZones', name);
  return {
    id,
    name,
    type: `${NET}/privateDnsZones`,
    location: 'global',
    etag: guidFrom(`etag:${id}`),
    tags: {},
    properties: {
      internalId: Buffer.from(`${name}:${hexFrom(id, 12)}`).toString('base64'),
      maxNumberOfRecordSets: 25000,
      maxNumberOfVirtualNetworkLinks: 1000,
      maxNumberOfVirtualNetworkLinksWithRegistration: 100,
      numberOfRecordSets: 0,
      numberOfVirtualNetworkLinks: 0,
      numberOfVirtualNetworkLinksWithRegistration: 0,
      provisioningState: 'Succeeded',
    },
  };
}

export function soaRecord(zoneId: string): ScenarioResource {
  const zoneName = zoneId.split('/').pop() as string;
  return {
    id: `${zoneId}/SOA/@`,
    name: '@',
    type: `${NET}/privateDnsZones/SOA`,
    etag: guidFrom(`etag:${zoneId}/SOA/@`),
    properties: {
      fqdn: `${zoneName}.`,
      isAutoRegistered: false,
      soaRecord: { email: 'azureprivatedns-host.microsoft.com', expireTime: 2419200, host: 'azureprivatedns.net', minimumTtl: 10, refreshTime: 3600, retryTime: 300, serialNumber: 1 },
      ttl: 3600,
    },
  };
}

export function aRecord(zoneId: string, relativeName: string, ips: string[], ttl = 10): ScenarioResource {
  const zoneName = zoneId.split('/').pop() as string;
  const id = `${zoneId}/A/${relativeName}`;
  return {
    id,
    name: relativeName,
    type: `${NET}/privateDnsZones/A`,
    etag: guidFrom(`etag:${id}`),
    properties: {
      aRecords: ips.map((ipv4Address) => ({ ipv4Address })),
      fqdn: `${relativeName}.${zoneName}.`,
      isAutoRegistered: false,
      ttl,
    },
  };
}

export function vnetLink(zoneId: string, name: string, vnetId: string, state: 'Completed' | 'InProgress' = 'Completed'): ScenarioResource {
  const id = `${zoneId}/virtualNetworkLinks/${name}`;
  return {
    id,
    name,
    type: `${NET}/privateDnsZones/virtualNetworkLinks`,
    location: 'global',
    etag: guidFrom(`etag:${id}`),
    properties: {
      provisioningState: 'Succeeded',
      registrationEnabled: false,
      resolutionPolicy: 'Default',
      virtualNetwork: { id: vnetId },
      virtualNetworkLinkState: state,
    },
  };
}

export function natGateway(id: string, location: string, publicIpId: string): ScenarioResource {
  return {
    id,
    name: id.split('/').pop() as string,
    type: `${NET}/natGateways`,
    location: normalizeRegion(location),
    etag: etag(id),
    sku: { name: 'Standard' },
    properties: { idleTimeoutInMinutes: 4, provisioningState: 'Succeeded', publicIpAddresses: [{ id: publicIpId }], subnets: [] },
  };
}

export function publicIpAddress(id: string, location: string): ScenarioResource {
  return {
    id,
    name: id.split('/').pop() as string,
    type: `${NET}/publicIPAddresses`,
    location: normalizeRegion(location),
    etag: etag(id),
    sku: { name: 'Standard', tier: 'Regional' },
    properties: { idleTimeoutInMinutes: 4, ipAddress: publicIpFrom(id), provisioningState: 'Succeeded', publicIPAddressVersion: 'IPv4', publicIPAllocationMethod: 'Static' },
  };
}

// ------------------------------------------------------------------------------ NSGs and route tables

export interface NsgRuleSpec {
  name: string;
  priority: number;
  direction: 'Inbound' | 'Outbound';
  access: 'Allow' | 'Deny';
  /** Default `*`. */
  protocol?: '*' | 'Tcp' | 'Udp' | 'Icmp';
  /** `*`, a CIDR, an IP or a service tag; several become the plural field. Default `*`. */
  source?: string | string[];
  destination?: string | string[];
  /** Destination ports: `*`, `443`, `8000-8999`. Default `*`. */
  ports?: string | string[];
  description?: string;
}

const listOf = (v: string | string[] | undefined): string[] => (v === undefined ? ['*'] : Array.isArray(v) ? v : [v]);

/** ARM's split of a list into a singular field (one value, plural `[]`) or the plural field alone. */
function splitField(singular: string, plural: string, values: string[]): Props {
  return values.length === 1 ? { [singular]: values[0], [plural]: [] } : { [plural]: values };
}

export function securityRule(nsgId: string, spec: NsgRuleSpec, kind: 'securityRules' | 'defaultSecurityRules' = 'securityRules'): ScenarioResource {
  const id = `${nsgId}/${kind}/${spec.name}`;
  return {
    id,
    name: spec.name,
    type: `${NET}/networkSecurityGroups/${kind}`,
    etag: etag(id),
    properties: {
      access: spec.access,
      ...(spec.description ? { description: spec.description } : {}),
      ...splitField('destinationAddressPrefix', 'destinationAddressPrefixes', listOf(spec.destination)),
      ...splitField('destinationPortRange', 'destinationPortRanges', listOf(spec.ports)),
      direction: spec.direction,
      priority: spec.priority,
      protocol: spec.protocol ?? '*',
      provisioningState: 'Succeeded',
      ...splitField('sourceAddressPrefix', 'sourceAddressPrefixes', listOf(spec.source)),
      sourcePortRange: '*',
      sourcePortRanges: [],
    },
  };
}

/** Azure's six default rules, as every NSG carries them in `defaultSecurityRules`. */
export const DEFAULT_NSG_RULES: readonly NsgRuleSpec[] = [
  { name: 'AllowVnetInBound', priority: 65000, direction: 'Inbound', access: 'Allow', source: 'VirtualNetwork', destination: 'VirtualNetwork', description: 'Allow inbound traffic from all VMs in VNET' },
  { name: 'AllowAzureLoadBalancerInBound', priority: 65001, direction: 'Inbound', access: 'Allow', source: 'AzureLoadBalancer', description: 'Allow inbound traffic from azure load balancer' },
  { name: 'DenyAllInBound', priority: 65500, direction: 'Inbound', access: 'Deny', description: 'Deny all inbound traffic' },
  { name: 'AllowVnetOutBound', priority: 65000, direction: 'Outbound', access: 'Allow', source: 'VirtualNetwork', destination: 'VirtualNetwork', description: 'Allow outbound traffic from all VMs to all VMs in VNET' },
  { name: 'AllowInternetOutBound', priority: 65001, direction: 'Outbound', access: 'Allow', destination: 'Internet', description: 'Allow outbound traffic from all VMs to Internet' },
  { name: 'DenyAllOutBound', priority: 65500, direction: 'Outbound', access: 'Deny', description: 'Deny all outbound traffic' },
];

/**
 * The NSG rules the Azure ML docs recommend for a compute subnet (facts §3): outbound to the
 * service tags the computes need; with `inbound`, TCP 44224 from AzureMachineLearning and the
 * classic Batch ports (public-IP computes).
 */
export function recommendedNsgRules(region: string, o: { inbound?: boolean } = {}): NsgRuleSpec[] {
  const out = (priority: number, name: string, destination: string, ports: string | string[], protocol: NsgRuleSpec['protocol'] = 'Tcp'): NsgRuleSpec => ({
    name, priority, direction: 'Outbound', access: 'Allow', protocol, source: 'VirtualNetwork', destination, ports,
  });
  const rules: NsgRuleSpec[] = [
    out(100, 'AllowEntraIdOutbound', 'AzureActiveDirectory', ['80', '443']),
    out(110, 'AllowAzureMLOutbound', 'AzureMachineLearning', ['443', '8787', '18881']),
    out(111, 'AllowAzureMLUdpOutbound', 'AzureMachineLearning', '5831', 'Udp'),
    out(120, 'AllowBatchOutbound', regionalTag('BatchNodeManagement', region), '443', '*'),
    out(130, 'AllowArmOutbound', 'AzureResourceManager', '443'),
    out(140, 'AllowStorageOutbound', regionalTag('Storage', region), ['443', '445']),
    out(150, 'AllowKeyVaultOutbound', regionalTag('AzureKeyVault', region), '443'),
    out(160, 'AllowAcrOutbound', regionalTag('AzureContainerRegistry', region), '443'),
    out(170, 'AllowMcrOutbound', 'MicrosoftContainerRegistry', '443'),
    out(171, 'AllowFrontDoorFirstPartyOutbound', 'AzureFrontDoor.FirstParty', '443'),
    out(180, 'AllowFrontDoorOutbound', 'AzureFrontDoor.FrontEnd', '443'),
    out(190, 'AllowMonitorOutbound', 'AzureMonitor', '443'),
  ];
  if (o.inbound) {
    rules.unshift(
      { name: 'AllowBatchNodeInbound', priority: 120, direction: 'Inbound', access: 'Allow', protocol: 'Tcp', source: 'BatchNodeManagement', destination: 'VirtualNetwork', ports: '29876-29877' },
      { name: 'AllowAzureMLInbound', priority: 130, direction: 'Inbound', access: 'Allow', protocol: 'Tcp', source: 'AzureMachineLearning', destination: 'VirtualNetwork', ports: '44224' },
    );
  }
  return rules;
}

/** An NSG with its custom rules and Azure's default rules; `subnets` is filled in by `reconcile`. */
export function networkSecurityGroup(id: string, location: string, rules: readonly NsgRuleSpec[]): ScenarioResource {
  return {
    id,
    name: id.split('/').pop() as string,
    type: `${NET}/networkSecurityGroups`,
    location: normalizeRegion(location),
    etag: etag(id),
    properties: {
      defaultSecurityRules: DEFAULT_NSG_RULES.map((r) => securityRule(id, r, 'defaultSecurityRules')),
      flushConnection: false,
      provisioningState: 'Succeeded',
      resourceGuid: guidFrom(`${id}:guid`),
      securityRules: rules.map((r) => securityRule(id, r)),
      subnets: [],
    },
  };
}

export type NextHopType = 'Internet' | 'VirtualAppliance' | 'None' | 'VnetLocal' | 'VirtualNetworkGateway';

export interface RouteSpec {
  name: string;
  /** A CIDR or a service tag (`AzureMachineLearning`, `BatchNodeManagement.WestUS`). */
  prefix: string;
  nextHopType: NextHopType;
  /** VirtualAppliance: an address, or `firewall` / `nva` for the estate's hub firewall or appliance. */
  nextHopIp?: string;
}

/** A route table; `subnets` is filled in by `reconcile`. */
export function routeTable(id: string, location: string, routes: readonly RouteSpec[], disableBgpRoutePropagation = false): ScenarioResource {
  return {
    id,
    name: id.split('/').pop() as string,
    type: `${NET}/routeTables`,
    location: normalizeRegion(location),
    etag: etag(id),
    properties: {
      disableBgpRoutePropagation,
      provisioningState: 'Succeeded',
      resourceGuid: guidFrom(`${id}:guid`),
      routes: routes.map((r) => {
        const rid = `${id}/routes/${r.name}`;
        return {
          id: rid,
          name: r.name,
          type: `${NET}/routeTables/routes`,
          etag: etag(rid),
          properties: {
            addressPrefix: r.prefix,
            hasBgpOverride: false,
            ...(r.nextHopIp ? { nextHopIpAddress: r.nextHopIp } : {}),
            nextHopType: r.nextHopType,
            provisioningState: 'Succeeded',
          },
        };
      }),
      subnets: [],
    },
  };
}

// ------------------------------------------------------------------------------ Azure Firewall

export type FirewallRuleSpec =
  | { kind: 'network'; name: string; protocols: Array<'TCP' | 'UDP' | 'ICMP' | 'Any'>; sources?: string[]; destinations?: string[]; fqdns?: string[]; ports: string[] }
  | { kind: 'application'; name: string; sources?: string[]; protocols?: Array<{ protocolType: 'Http' | 'Https'; port: number }>; fqdns?: string[]; fqdnTags?: string[] };

export interface RuleCollectionSpec {
  name: string;
  priority: number;
  action: 'Allow' | 'Deny';
  rules: FirewallRuleSpec[];
}

export interface RuleCollectionGroupSpec {
  name: string;
  priority: number;
  collections: RuleCollectionSpec[];
}

export interface FirewallPolicySpec {
  name: string;
  /** `dnsSettings.enableProxy`; default false (as Azure creates policies). */
  dnsProxy?: boolean;
  groups: RuleCollectionGroupSpec[];
}

function firewallRule(r: FirewallRuleSpec): Props {
  if (r.kind === 'network') {
    return {
      name: r.name,
      destinationAddresses: r.destinations ?? [],
      destinationFqdns: r.fqdns ?? [],
      destinationIpGroups: [],
      destinationPorts: r.ports,
      ipProtocols: r.protocols,
      ruleType: 'NetworkRule',
      sourceAddresses: r.sources ?? ['*'],
      sourceIpGroups: [],
    };
  }
  return {
    name: r.name,
    destinationAddresses: [],
    fqdnTags: r.fqdnTags ?? [],
    protocols: r.protocols ?? [{ port: 443, protocolType: 'Https' }],
    ruleType: 'ApplicationRule',
    sourceAddresses: r.sources ?? ['*'],
    sourceIpGroups: [],
    targetFqdns: r.fqdns ?? [],
    targetUrls: [],
    terminateTLS: false,
    webCategories: [],
  };
}

export function ruleCollectionGroup(policyId: string, spec: RuleCollectionGroupSpec): ScenarioResource {
  const id = `${policyId}/ruleCollectionGroups/${spec.name}`;
  return {
    id,
    name: spec.name,
    type: `${NET}/firewallPolicies/ruleCollectionGroups`,
    etag: etag(id),
    properties: {
      priority: spec.priority,
      provisioningState: 'Succeeded',
      ruleCollections: spec.collections.map((c) => ({
        name: c.name,
        action: { type: c.action },
        priority: c.priority,
        ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
        rules: c.rules.map(firewallRule),
      })),
    },
  };
}

export function firewallPolicy(id: string, location: string, o: { dnsProxy: boolean; groupIds: string[]; firewallIds: string[]; basePolicyId?: string; childPolicyIds?: string[] }): ScenarioResource {
  return {
    id,
    name: id.split('/').pop() as string,
    type: `${NET}/firewallPolicies`,
    location: normalizeRegion(location),
    etag: etag(id),
    properties: {
      ...(o.basePolicyId ? { basePolicy: { id: o.basePolicyId } } : {}),
      childPolicies: (o.childPolicyIds ?? []).map((c) => ({ id: c })),
      dnsSettings: { enableProxy: o.dnsProxy, servers: [] },
      firewalls: o.firewallIds.map((f) => ({ id: f })),
      provisioningState: 'Succeeded',
      ruleCollectionGroups: o.groupIds.map((g) => ({ id: g })),
      sku: { tier: 'Standard' },
      threatIntelMode: 'Alert',
    },
  };
}

export function azureFirewall(id: string, location: string, o: { subnetId: string; privateIp: string; publicIpId: string; policyId: string }): ScenarioResource {
  const ipc = `${id}/ipConfigurations/azureFirewallIpConfiguration`;
  return {
    id,
    name: id.split('/').pop() as string,
    type: `${NET}/azureFirewalls`,
    location: normalizeRegion(location),
    etag: etag(id),
    zones: [],
    properties: {
      additionalProperties: {},
      applicationRuleCollections: [],
      firewallPolicy: { id: o.policyId },
      ipConfigurations: [
        {
          id: ipc,
          name: 'azureFirewallIpConfiguration',
          etag: etag(ipc),
          properties: { privateIPAddress: o.privateIp, privateIPAllocationMethod: 'Dynamic', provisioningState: 'Succeeded', publicIPAddress: { id: o.publicIpId }, subnet: { id: o.subnetId } },
        },
      ],
      natRuleCollections: [],
      networkRuleCollections: [],
      provisioningState: 'Succeeded',
      sku: { name: 'AZFW_VNet', tier: 'Standard' },
      threatIntelMode: 'Alert',
    },
  };
}

// ------------------------------------------------------------------------------ VMs and Network Watcher

export function virtualMachine(id: string, location: string, nicId: string, vmSize = 'Standard_B2s'): ScenarioResource {
  return {
    id,
    name: id.split('/').pop() as string,
    type: 'Microsoft.Compute/virtualMachines',
    location: normalizeRegion(location),
    properties: {
      hardwareProfile: { vmSize },
      networkProfile: { networkInterfaces: [{ id: nicId, properties: { primary: true } }] },
      osProfile: { adminUsername: 'azureuser', computerName: id.split('/').pop() as string },
      provisioningState: 'Succeeded',
      storageProfile: { osDisk: { caching: 'ReadWrite', createOption: 'FromImage', osType: 'Linux' } },
      vmId: guidFrom(`${id}:vmId`),
    },
  };
}

export function networkWatcher(subscriptionId: string, region: string): ScenarioResource {
  const r = normalizeRegion(region);
  const id = networkId(subscriptionId, 'NetworkWatcherRG', 'networkWatchers', `NetworkWatcher_${r}`);
  return { id, name: `NetworkWatcher_${r}`, type: `${NET}/networkWatchers`, location: r, etag: etag(id), tags: {}, properties: { provisioningState: 'Succeeded' } };
}

// ------------------------------------------------------------------------------ workspace dependencies

export interface NetworkRulesSpec {
  publicNetworkAccess?: 'Enabled' | 'Disabled';
  /** `networkAcls.defaultAction`; default Allow. */
  defaultAction?: 'Allow' | 'Deny';
  /** Default `AzureServices`. */
  bypass?: string;
  /** A virtual network rule for the compute subnet. */
  computeSubnetRule?: boolean;
  /** The matching service endpoint (`Microsoft.Storage`, `Microsoft.KeyVault`) on the compute subnet. */
  serviceEndpoint?: boolean;
  ipRules?: string[];
}

export interface StorageSpec extends NetworkRulesSpec {
  /** A resource-instance rule for the workspace (`resourceAccessRules`). */
  workspaceRule?: boolean;
}

export interface RegistrySpec {
  sku?: 'Basic' | 'Standard' | 'Premium';
  publicNetworkAccess?: 'Enabled' | 'Disabled';
  /** Premium only: `networkRuleSet.defaultAction`. */
  defaultAction?: 'Allow' | 'Deny';
  /** A registry private endpoint in the endpoint subnet (the hub in hub-and-spoke). */
  privateEndpoint?: { name: string; status?: ConnectionStatus; resourceGroup?: string };
}

const DEPENDENCY_SUFFIX: Record<CloudName, { storage: string; vault: string; registry: string }> = {
  AzureCloud: { storage: 'core.windows.net', vault: 'vault.azure.net', registry: 'azurecr.io' },
  AzureUSGovernment: { storage: 'core.usgovcloudapi.net', vault: 'vault.usgovcloudapi.net', registry: 'azurecr.us' },
  AzureChinaCloud: { storage: 'core.chinacloudapi.cn', vault: 'vault.azure.cn', registry: 'azurecr.cn' },
};

export function dependencyConnection(resourceId: string, name: string, privateEndpointId: string, status: ConnectionStatus, groupId: string): Props {
  const ns = resourceId.split('/providers/')[1]?.split('/').slice(0, 2).join('/') ?? '';
  return {
    id: `${resourceId}/privateEndpointConnections/${name}`,
    name,
    type: `${ns}/privateEndpointConnections`,
    properties: { groupIds: [groupId], privateEndpoint: { id: privateEndpointId }, privateLinkServiceConnectionState: connectionState(status), provisioningState: 'Succeeded' },
  };
}

export function storageAccount(id: string, location: string, cloud: CloudProfile, spec: StorageSpec, o: { computeSubnetId: string; workspaceId: string; tenantId: string }): ScenarioResource {
  const name = id.split('/').pop() as string;
  const suffix = DEPENDENCY_SUFFIX[cloud.name].storage;
  const endpoint = (svc: string) => `https://${name}.${svc}.${suffix}/`;
  return {
    id,
    name,
    type: 'Microsoft.Storage/storageAccounts',
    location: normalizeRegion(location),
    kind: 'StorageV2',
    sku: { name: 'Standard_LRS', tier: 'Standard' },
    tags: {},
    properties: {
      accessTier: 'Hot',
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: true,
      creationTime: '2026-03-02T09:10:41.0000000Z',
      isHnsEnabled: false,
      minimumTlsVersion: 'TLS1_2',
      networkAcls: {
        bypass: spec.bypass ?? 'AzureServices',
        defaultAction: spec.defaultAction ?? 'Allow',
        ipRules: (spec.ipRules ?? []).map((value) => ({ action: 'Allow', value })),
        ipv6Rules: [],
        resourceAccessRules: spec.workspaceRule ? [{ resourceId: o.workspaceId, tenantId: o.tenantId }] : [],
        virtualNetworkRules: spec.computeSubnetRule ? [{ action: 'Allow', id: o.computeSubnetId, state: 'Succeeded' }] : [],
      },
      primaryEndpoints: { blob: endpoint('blob'), dfs: endpoint('dfs'), file: endpoint('file'), queue: endpoint('queue'), table: endpoint('table'), web: endpoint('z6.web') },
      primaryLocation: normalizeRegion(location),
      privateEndpointConnections: [],
      provisioningState: 'Succeeded',
      publicNetworkAccess: spec.publicNetworkAccess ?? 'Enabled',
      statusOfPrimary: 'available',
      supportsHttpsTrafficOnly: true,
    },
  };
}

export function keyVault(id: string, location: string, cloud: CloudProfile, spec: NetworkRulesSpec, o: { computeSubnetId: string; tenantId: string }): ScenarioResource {
  const name = id.split('/').pop() as string;
  return {
    id,
    name,
    type: 'Microsoft.KeyVault/vaults',
    location: normalizeRegion(location),
    tags: {},
    properties: {
      accessPolicies: [],
      enablePurgeProtection: true,
      enableRbacAuthorization: true,
      enableSoftDelete: true,
      enabledForDeployment: false,
      networkAcls: {
        bypass: spec.bypass ?? 'AzureServices',
        defaultAction: spec.defaultAction ?? 'Allow',
        ipRules: (spec.ipRules ?? []).map((value) => ({ value })),
        // Key Vault returns the subnet ids of its rules in lower case.
        virtualNetworkRules: spec.computeSubnetRule ? [{ id: o.computeSubnetId.toLowerCase(), ignoreMissingVnetServiceEndpoint: false }] : [],
      },
      privateEndpointConnections: [],
      provisioningState: 'Succeeded',
      publicNetworkAccess: spec.publicNetworkAccess ?? 'Enabled',
      sku: { family: 'A', name: 'standard' },
      softDeleteRetentionInDays: 90,
      tenantId: o.tenantId,
      vaultUri: `https://${name}.${DEPENDENCY_SUFFIX[cloud.name].vault}/`,
    },
  };
}

export function containerRegistry(id: string, location: string, cloud: CloudProfile, spec: RegistrySpec): ScenarioResource {
  const name = id.split('/').pop() as string;
  const sku = spec.sku ?? 'Premium';
  return {
    id,
    name,
    type: 'Microsoft.ContainerRegistry/registries',
    location: normalizeRegion(location),
    sku: { name: sku, tier: sku },
    tags: {},
    properties: {
      adminUserEnabled: false,
      anonymousPullEnabled: false,
      creationDate: '2026-03-02T09:11:58.0000000Z',
      dataEndpointEnabled: false,
      dataEndpointHostNames: [],
      loginServer: `${name}.${DEPENDENCY_SUFFIX[cloud.name].registry}`,
      networkRuleBypassOptions: 'AzureServices',
      ...(sku === 'Premium' ? { networkRuleSet: { defaultAction: spec.defaultAction ?? 'Allow', ipRules: [] } } : {}),
      privateEndpointConnections: [],
      provisioningState: 'Succeeded',
      publicNetworkAccess: spec.publicNetworkAccess ?? 'Enabled',
      zoneRedundancy: 'Disabled',
    },
  };
}

/** The service tags singleton of a subscription and region (`GET …/locations/<region>/serviceTags`). */
export function serviceTagsResource(subscriptionId: string, region: string, cloud: CloudProfile): ScenarioResource {
  return serviceTagsBody(subscriptionId, region, cloud.name) as ScenarioResource;
}

// ------------------------------------------------------------------------------ resource queries

const typeOf = (r: ScenarioResource): string => {
  const p = tryParseArmId(r.id);
  return p ? [p.namespace, ...p.types].join('/').toLowerCase() : '';
};

function props(r: ScenarioResource): Props {
  return (r.properties ?? {}) as Props;
}

function refId(v: unknown): string | undefined {
  return typeof v === 'object' && v !== null && typeof (v as { id?: unknown }).id === 'string' ? (v as { id: string }).id : undefined;
}

function arrayOf(v: unknown): Props[] {
  return Array.isArray(v) ? (v.filter((x) => typeof x === 'object' && x !== null) as Props[]) : [];
}

export function ofType(resources: readonly ScenarioResource[], type: string): ScenarioResource[] {
  const t = type.toLowerCase();
  return resources.filter((r) => typeOf(r) === t);
}

export function findResource(resources: readonly ScenarioResource[], id: string): ScenarioResource | undefined {
  return resources.find((r) => sameId(r.id, id));
}

function childrenOf(resources: readonly ScenarioResource[], parent: string, childType: string): ScenarioResource[] {
  return resources.filter((r) => sameId(parentId(r.id), parent) && r.id.split('/').slice(-2, -1)[0]?.toLowerCase() === childType.toLowerCase());
}

/**
 * Makes the back-references ARM maintains agree with the estate after mutations: subnet
 * `privateEndpoints`/`ipConfigurations`, NAT gateway `subnets`, zone record/link counts and the
 * workspace `privateLinkCount`. Returns new resources; the input is not changed.
 */
export function reconcile(resources: readonly ScenarioResource[]): ScenarioResource[] {
  const out = structuredClone(resources) as ScenarioResource[];
  const pes = ofType(out, `${NET}/privateEndpoints`);
  const withIpConfigs = [...ofType(out, `${NET}/networkInterfaces`), ...ofType(out, `${NET}/azureFirewalls`)];
  // ipConfigurations of NICs the estate does not hold (Azure ML nodes in a Microsoft-managed subscription) stay.
  const ownSubscriptions = new Set(out.flatMap((r) => tryParseArmId(r.id)?.subscriptionId ?? []));
  const subnets = ofType(out, `${NET}/virtualNetworks/subnets`);
  for (const s of subnets) {
    const p = props(s);
    p.privateEndpoints = pes.filter((pe) => sameId(refId(props(pe).subnet), s.id)).map((pe) => ({ id: pe.id }));
    const foreign = arrayOf(p.ipConfigurations).filter((c) => {
      const sub = tryParseArmId(typeof c.id === 'string' ? c.id : '')?.subscriptionId;
      return sub !== undefined && !ownSubscriptions.has(sub);
    });
    p.ipConfigurations = [
      ...withIpConfigs.flatMap((nic) =>
        arrayOf(props(nic).ipConfigurations)
          .filter((c) => sameId(refId((c.properties as Props | undefined)?.subnet), s.id))
          .map((c) => ({ id: c.id as string })),
      ),
      ...foreign.map((c) => ({ id: c.id as string })),
    ];
  }
  const backRefs = (type: string, field: string) => {
    for (const holder of ofType(out, type)) props(holder).subnets = subnets.filter((s) => sameId(refId(props(s)[field]), holder.id)).map((s) => ({ id: s.id }));
  };
  backRefs(`${NET}/natGateways`, 'natGateway');
  backRefs(`${NET}/networkSecurityGroups`, 'networkSecurityGroup');
  backRefs(`${NET}/routeTables`, 'routeTable');
  for (const zone of ofType(out, `${NET}/privateDnsZones`)) {
    const below = out.filter((r) => sameId(parentId(r.id), zone.id));
    const links = below.filter((r) => r.id.split('/').slice(-2, -1)[0]?.toLowerCase() === 'virtualnetworklinks');
    const p = props(zone);
    p.numberOfRecordSets = below.length - links.length;
    p.numberOfVirtualNetworkLinks = links.length;
    p.numberOfVirtualNetworkLinksWithRegistration = links.filter((l) => props(l).registrationEnabled === true).length;
  }
  for (const ws of ofType(out, `${ML}/workspaces`)) {
    const p = props(ws);
    p.privateLinkCount = arrayOf(p.privateEndpointConnections).length;
  }
  return out;
}

// ------------------------------------------------------------------------------ DNS view

/** The VNet whose private DNS view a compute VNet gets, or 'external' (custom DNS outside every VNet). */
export function resolverVnetFor(resources: readonly ScenarioResource[], computeVnetId: string): string | 'external' {
  const vnet = findResource(resources, computeVnetId);
  const dhcp = (vnet ? props(vnet).dhcpOptions : undefined) as { dnsServers?: string[] } | undefined;
  const servers = (dhcp?.dnsServers ?? []).map((s) => s.trim()).filter((s) => s !== AZURE_DNS_IP);
  const first = servers[0];
  if (first === undefined) return computeVnetId;
  const holder = ofType(resources, `${NET}/virtualNetworks`).find((v) => prefixesOf(v).some((p) => cidrContains(p, first)));
  return holder ? holder.id : 'external';
}

function linkIsUp(link: ScenarioResource): boolean {
  const p = props(link);
  const state = typeof p.virtualNetworkLinkState === 'string' ? p.virtualNetworkLinkState : undefined;
  return state === undefined ? p.provisioningState === 'Succeeded' : state === 'Completed';
}

/** The zone of that name linked (Completed) to the VNet, if any. */
function linkedZone(resources: readonly ScenarioResource[], zoneName: string, vnetId: string): ScenarioResource | undefined {
  return ofType(resources, `${NET}/privateDnsZones`).find(
    (z) =>
      (z.name ?? z.id.split('/').pop() ?? '').toLowerCase() === zoneName.toLowerCase() &&
      childrenOf(resources, z.id, 'virtualNetworkLinks').some((l) => sameId(refId(props(l).virtualNetwork), vnetId) && linkIsUp(l)),
  );
}

interface Resolution {
  /** Answer for the private-link name itself. */
  privatelink: ScenarioDnsAnswer;
  /** Answer for a name that CNAMEs to the private-link name. */
  via: ScenarioDnsAnswer;
}

function resolvePrivatelink(resources: readonly ScenarioResource[], cloud: CloudProfile, fqdn: string, region: string, resolver: string | 'external'): Resolution | undefined {
  const rec = privateRecordFor(cloud, fqdn);
  if (!rec) return undefined;
  const pl = `${rec.recordName}.${rec.zoneName}`;
  const zone = resolver === 'external' ? undefined : linkedZone(resources, rec.zoneName, resolver);
  if (zone) {
    const record = childrenOf(resources, zone.id, 'A').find((r) => (r.name ?? r.id.split('/').pop() ?? '').toLowerCase() === rec.recordName.toLowerCase());
    const ips = arrayOf(record ? props(record).aRecords : undefined).flatMap((a) => (typeof a.ipv4Address === 'string' ? [a.ipv4Address] : []));
    if (record && ips.length) return { privatelink: { a: ips }, via: { cname: [pl], a: ips } };
    return { privatelink: { rcode: 'NXDOMAIN' }, via: { cname: [pl], rcode: 'NXDOMAIN' } };
  }
  // Public resolution: the private-link name continues to the service's public front end.
  const kind = rec.zoneName.includes(cloud.notebooksSuffix) ? 'notebooks' : 'api';
  const frontEnd = `aml-${kind}-fe.${normalizeRegion(region)}.${cloudAppSuffix(cloud)}`;
  const ip = publicIpFrom(`${cloud.name}|${normalizeRegion(region)}|${kind}`);
  return { privatelink: { cname: [frontEnd], a: [ip] }, via: { cname: [pl, frontEnd], a: [ip] } };
}

/**
 * What the compute's resolver answers for every workspace name (api, cert, notebooks), their
 * private-link names and every compute instance name, as Azure would: a workspace name CNAMEs to
 * its `privatelink.` name; a zone of that name linked (Completed) to the resolver VNet answers from
 * its A record, or NXDOMAIN when the record is absent; otherwise public DNS answers with a public
 * address. Instance names CNAME to the workspace API private-link name. `'external'` is a resolver
 * outside Azure that does not forward to Azure DNS: every name resolves publicly.
 */
export function simulateResolver(resources: readonly ScenarioResource[], cloudIn: CloudName | CloudProfile, resolver: string | 'external'): Record<string, ScenarioDnsAnswer> {
  const cloud = cloudProfile(cloudIn);
  const answers: Record<string, ScenarioDnsAnswer> = {};
  for (const ws of ofType(resources, `${ML}/workspaces`)) {
    const p = props(ws);
    const guid = typeof p.workspaceId === 'string' ? p.workspaceId : undefined;
    const region = normalizeRegion(ws.location ?? '');
    if (!guid || !region) continue;
    const name = ws.id.split('/').pop() as string;
    const api = workspaceApiFqdn(cloud, guid, region);
    const names = [api, workspaceCertFqdn(cloud, guid, region), notebooksFqdn(cloud, name, guid, region)];
    for (const fqdn of names) {
      const r = resolvePrivatelink(resources, cloud, fqdn, region, resolver);
      if (!r) continue;
      answers[fqdn] = r.via;
      answers[privatelinkName(cloud, fqdn) as string] = r.privatelink;
    }
    const apiAnswer = resolvePrivatelink(resources, cloud, api, region, resolver);
    for (const c of childrenOf(resources, ws.id, 'computes')) {
      if ((props(c).computeType as string | undefined)?.toLowerCase() !== 'computeinstance' || !apiAnswer) continue;
      for (const fqdn of instanceFqdns(cloud, c.name ?? (c.id.split('/').pop() as string), region)) answers[fqdn] = structuredClone(apiAnswer.via);
    }
  }
  // Dependencies behind private endpoints (storage, key vault, registry): their zones are assumed
  // linked where the compute resolves, so each name answers the endpoint's address (whatever the
  // connection's approval state: the records exist as soon as the endpoint does).
  for (const pe of ofType(resources, `${NET}/privateEndpoints`)) {
    const p = props(pe);
    const targets = [...arrayOf(p.privateLinkServiceConnections), ...arrayOf(p.manualPrivateLinkServiceConnections)].map(
      (c) => ((c.properties as Props | undefined)?.privateLinkServiceId as string | undefined) ?? '',
    );
    if (!targets.some((id) => /\/providers\/Microsoft\.(Storage|KeyVault|ContainerRegistry)\//i.test(id))) continue;
    for (const d of arrayOf(p.customDnsConfigs)) {
      const fqdn = typeof d.fqdn === 'string' ? d.fqdn.toLowerCase() : '';
      const ips = ((d.ipAddresses as string[] | undefined) ?? []).filter((ip) => typeof ip === 'string');
      if (fqdn && !fqdn.includes('*') && ips.length && !answers[fqdn]) answers[fqdn] = { a: ips };
    }
  }
  return answers;
}

// ------------------------------------------------------------------------------ the estate

export interface VnetPlan {
  name: string;
  resourceGroup: string;
  /** First two octets of the VNet's /16, e.g. '10.41' or '172.20'. Subnets are `<base>.<n>.0/24`. */
  base: string;
  /** `dhcpOptions.dnsServers`; empty or absent = Azure-provided DNS. */
  dnsServers?: string[];
  computeSubnet?: string;
  endpointSubnet?: string;
}

export interface ManagedNetworkSpec {
  isolationMode: 'AllowInternetOutbound' | 'AllowOnlyApprovedOutbound';
  /** `status.status`: Active once provisioned. Default Active. */
  status?: 'Active' | 'Inactive';
  /** Subresources (`blob`, `file`, `vault`, `registry`) whose required private endpoint rule is not Active. */
  inactive?: string[];
  /** User-defined FQDN rules: rule name -> FQDN. */
  fqdnRules?: Record<string, string>;
}

/** Make Network Watcher's next hop towards one destination disagree with the effective routes. */
export interface NextHopOverride {
  /** The destination: the first address of this service tag's first prefix (as the vantage probe asks)… */
  tag?: string;
  /** …or this address. */
  ip?: string;
  nextHopType: string;
  nextHopIp?: string;
}

export interface EstateOptions {
  /** Seed for derived GUIDs and names (the scenario name). */
  seed: string;
  cloud?: CloudName;
  region: string;
  topology: 'single-vnet' | 'hub-spoke';
  /** Subscription GUIDs; derived from the seed when absent. spoke = the compute VNet's subscription. */
  subscriptions?: { workspace?: string; spoke?: string; hub?: string };
  tenantId?: string;
  workspace: {
    name: string;
    resourceGroup: string;
    guid?: string;
    publicNetworkAccess?: 'Enabled' | 'Disabled';
    imageBuildCompute?: string;
    /** Managed virtual network isolation: the computes then live outside the customer's VNet. */
    managedNetwork?: ManagedNetworkSpec;
  };
  /** The VNet the computes sit in (the spoke in hub-and-spoke). */
  computeVnet: VnetPlan;
  /** Hub-and-spoke: the hub (holds the private endpoint). `dnsServerIp` adds a DNS server VM's NIC in `snet-dns` (`<base>.0.0/24`). */
  hub?: VnetPlan & { dnsServerIp?: string };
  /** Hub-and-spoke: peer the spoke and the hub both ways. Default true. */
  peered?: boolean;
  /** The workspace private endpoint; false = none. */
  privateEndpoint?:
    | false
    | {
        name: string;
        resourceGroup?: string;
        status?: ConnectionStatus;
        /** Connection under manualPrivateLinkServiceConnections. */
        manual?: boolean;
        /** Create the zone group `default` (and through it the A records). Default true. */
        zoneGroup?: boolean;
        /** Also serve `*.<region>.inference.<…>` on a third IP, as AML endpoints do. */
        inference?: boolean;
        /** Host number of IP #1 in the endpoint subnet (default 4). */
        firstHost?: number;
      };
  /** The workspace's private DNS zones; false = none anywhere. */
  zones?:
    | false
    | {
        resourceGroup: string;
        /** Subscription GUID; default: the hub's (hub-and-spoke) or the workspace's. */
        subscription?: string;
        /** VNets to link; default ['compute'] (single) or ['hub', 'compute'] (hub-and-spoke). */
        linkTo?: Array<'compute' | 'hub'>;
        /** Create the A records for the endpoint's names. Default true. */
        records?: boolean;
      };
  /** Other zones in the zones' subscription (SOA plus a link to the compute VNet). */
  extraZones?: Array<{ name: string; resourceGroup?: string }>;
  computes: ComputeSpec[];
  /** NAT gateway on the compute subnet (egress for no-public-IP compute). Default true. */
  natGateway?: boolean;
  /** Compute subnet `defaultOutboundAccess`; absent by default (a subnet older than private subnets). */
  defaultOutboundAccess?: boolean;
  /** The compute subnet's NSG: its custom rules (Azure's defaults are always there). Default: default rules only. */
  computeNsg?: { name?: string; rules?: NsgRuleSpec[] };
  /** The private endpoint subnet: an NSG with these rules and/or its private endpoint network policies. */
  endpointSubnet?: { nsgName?: string; nsgRules?: NsgRuleSpec[]; privateEndpointNetworkPolicies?: SubnetExtras['privateEndpointNetworkPolicies'] };
  /** A route table on the compute subnet. */
  routeTable?: { name?: string; routes: RouteSpec[]; disableBgpRoutePropagation?: boolean };
  /**
   * An Azure Firewall in `AzureFirewallSubnet` (`<base>.3.0/26`) of the hub, or of the compute VNet
   * without a hub; private IP `<base>.3.4`. `basePolicy` becomes the policy's parent.
   */
  firewall?: { name: string; resourceGroup?: string; policy: FirewallPolicySpec; basePolicy?: FirewallPolicySpec };
  /** A third-party appliance (a VM NIC with IP forwarding, not an Azure Firewall) in `snet-nva` (`<base>.4.0/24`) of the hub; IP `<base>.4.4`. */
  nva?: { name: string; resourceGroup?: string };
  /** Network rules of the workspace's storage account, key vault and container registry (default: open, Premium registry). */
  dependencies?: { storage?: StorageSpec; keyVault?: NetworkRulesSpec; registry?: RegistrySpec };
  /**
   * A jumpbox VM (NIC `<compute base>.1.<host>`, default host 250) in the compute subnet, and the
   * Network Watcher of the region: the scenario answers the NIC's effective routes and NSGs and
   * Network Watcher's next hops, all derived from the estate's final configuration.
   */
  vantage?: { vmName?: string; host?: number; disagree?: NextHopOverride };
  /** List the Azure ML nodes' NICs (in a Microsoft-managed subscription, unreadable) in the compute subnet. Default true. */
  nodeNics?: boolean;
}

export interface EstateIds {
  workspace: string;
  workspaceConnection?: string;
  computeVnet: string;
  computeSubnet: string;
  hubVnet?: string;
  /** VNet and subnet of the private endpoint. */
  endpointVnet?: string;
  endpointSubnet?: string;
  privateEndpoint?: string;
  endpointNic?: string;
  zoneGroup?: string;
  dnsServerNic?: string;
  zones: { api?: string; notebooks?: string };
  records: { api?: string; cert?: string; notebooks?: string; inference?: string };
  /** `<zone kind>:<vnet role>` -> link id, e.g. `api:hub`. */
  links: Record<string, string>;
  peerings: { computeToHub?: string; hubToCompute?: string };
  computes: Record<string, string>;
  serviceTags: string;
  natGateway?: string;
  computeNsg: string;
  endpointNsg?: string;
  routeTable?: string;
  firewall?: string;
  firewallPolicy?: string;
  firewallBasePolicy?: string;
  nvaNic?: string;
  storage: string;
  keyVault: string;
  registry: string;
  registryPrivateEndpoint?: string;
  vantageVm?: string;
  vantageNic?: string;
  networkWatcher?: string;
}

export interface VantageSpec {
  vmId: string;
  nicId: string;
  watcherId: string;
  disagree?: NextHopOverride;
}

export interface Estate {
  cloud: CloudProfile;
  region: string;
  subscriptions: { workspace: string; spoke: string; hub: string; zones?: string };
  resources: ScenarioResource[];
  ids: EstateIds;
  fqdns: { api: string; cert: string; notebooks: string; inference: string; instances: Record<string, string[]> };
  /** Private IPs of the workspace private endpoint. */
  endpointIps: { api?: string; notebooks?: string; inference?: string };
  firewallIp?: string;
  nvaIp?: string;
  /** The jumpbox whose effective routes, NSGs and next hops `toScenario` derives. */
  vantage?: VantageSpec;
}

function cidr(base: string, third: number, len = 24): string {
  return `${base}.${third}.0/${len}`;
}

const SERVICE_ENDPOINT = { storage: 'Microsoft.Storage', keyVault: 'Microsoft.KeyVault' } as const;

function managedNetworkWire(spec: ManagedNetworkSpec, wsId: string, deps: ReturnType<typeof workspaceDependencyIds>): Props {
  const inactive = new Set(spec.inactive ?? []);
  const rules: Record<string, Props> = {};
  const required: Array<[string, string]> = [
    [deps.storage, 'blob'],
    [deps.storage, 'file'],
    [deps.keyVault, 'vault'],
    [deps.registry, 'registry'],
  ];
  for (const [resourceId, sub] of required) {
    rules[`__SYS_PE_${resourceId.split('/').pop()}_${sub}_${hexFrom(`${wsId}:${sub}`, 8)}`] = {
      category: 'Required',
      destination: { serviceResourceId: resourceId, sparkEnabled: false, sparkStatus: 'Inactive', subresourceTarget: sub },
      status: inactive.has(sub) ? 'Inactive' : 'Active',
      type: 'PrivateEndpoint',
    };
  }
  for (const [name, fqdn] of Object.entries(spec.fqdnRules ?? {})) rules[name] = { category: 'UserDefined', destination: fqdn, status: 'Active', type: 'FQDN' };
  return {
    firewallSku: 'Standard',
    isolationMode: spec.isolationMode,
    networkId: guidFrom(`${wsId}:managed-network`),
    outboundRules: rules,
    status: { sparkReady: false, status: spec.status ?? 'Active' },
  };
}

export function buildEstate(o: EstateOptions): Estate {
  const cloud = cloudProfile(o.cloud);
  const region = normalizeRegion(o.region);
  const hubSpoke = o.topology === 'hub-spoke';
  if (hubSpoke && !o.hub) throw new Error(`${o.seed}: hub-spoke needs a hub`);
  const wsSub = o.subscriptions?.workspace ?? guidFrom(`${o.seed}/subscription/workspace`);
  const spokeSub = o.subscriptions?.spoke ?? wsSub;
  const hubSub = o.subscriptions?.hub ?? (hubSpoke ? guidFrom(`${o.seed}/subscription/hub`) : wsSub);
  const tenantId = o.tenantId ?? guidFrom(`${o.seed}/tenant`);
  const guid = o.workspace.guid ?? guidFrom(`${o.seed}/workspace`);
  const wsId = `${rgPrefix(wsSub, o.workspace.resourceGroup)}/providers/${ML}/workspaces/${o.workspace.name}`;
  const deps = workspaceDependencyIds(wsId);
  const managed = o.workspace.managedNetwork;
  const resources: ScenarioResource[] = [];
  const fqdns = {
    api: workspaceApiFqdn(cloud, guid, region),
    cert: workspaceCertFqdn(cloud, guid, region),
    notebooks: notebooksFqdn(cloud, o.workspace.name, guid, region),
    // Online endpoints: `*.<region>.inference.ml.azure.com` (public cloud), `.ml.azure.us`, `.ml.azure.cn`.
    inference: `*.${region}.inference.${cloud.name === 'AzureCloud' ? 'ml.azure.com' : cloud.apiSuffix.replace(/^api\./, '')}`,
    instances: {} as Record<string, string[]>,
  };

  // Networks
  const cv = o.computeVnet;
  const computeSubnetName = cv.computeSubnet ?? 'snet-compute';
  const computeVnet = virtualNetwork(networkId(spokeSub, cv.resourceGroup, 'virtualNetworks', cv.name), region, [`${cv.base}.0.0/16`], cv.dnsServers ?? []);
  resources.push(computeVnet);
  let natId: string | undefined;
  if (o.natGateway ?? true) {
    const pipId = networkId(spokeSub, cv.resourceGroup, 'publicIPAddresses', `pip-ng-${cv.name}`);
    natId = networkId(spokeSub, cv.resourceGroup, 'natGateways', `ng-${cv.name}`);
    resources.push(publicIpAddress(pipId, region), natGateway(natId, region, pipId));
  }
  const computeNsgId = networkId(spokeSub, cv.resourceGroup, 'networkSecurityGroups', o.computeNsg?.name ?? `${cv.name}-${computeSubnetName}-nsg-${region}`);
  const routeTableId = o.routeTable ? networkId(spokeSub, cv.resourceGroup, 'routeTables', o.routeTable.name ?? `rt-${computeSubnetName}-${region}`) : undefined;
  const serviceEndpoints = [
    ...(o.dependencies?.storage?.serviceEndpoint ? [SERVICE_ENDPOINT.storage] : []),
    ...(o.dependencies?.keyVault?.serviceEndpoint ? [SERVICE_ENDPOINT.keyVault] : []),
  ];
  const computeSubnet = subnet(computeVnet.id, computeSubnetName, cidr(cv.base, 1), {
    ...(natId ? { natGatewayId: natId } : {}),
    networkSecurityGroupId: computeNsgId,
    ...(routeTableId ? { routeTableId } : {}),
    ...(o.defaultOutboundAccess !== undefined ? { defaultOutboundAccess: o.defaultOutboundAccess } : {}),
    serviceEndpoints,
    location: region,
  });
  resources.push(computeSubnet);

  let hubVnet: ScenarioResource | undefined;
  let dnsServerNic: string | undefined;
  const ids: EstateIds = {
    workspace: wsId,
    computeVnet: computeVnet.id,
    computeSubnet: computeSubnet.id,
    zones: {},
    records: {},
    links: {},
    peerings: {},
    computes: {},
    serviceTags: '',
    ...(natId ? { natGateway: natId } : {}),
    computeNsg: computeNsgId,
    ...(routeTableId ? { routeTable: routeTableId } : {}),
    storage: deps.storage,
    keyVault: deps.keyVault,
    registry: deps.registry,
  };
  if (hubSpoke && o.hub) {
    const h = o.hub;
    hubVnet = virtualNetwork(networkId(hubSub, h.resourceGroup, 'virtualNetworks', h.name), region, [`${h.base}.0.0/16`], h.dnsServers ?? []);
    resources.push(hubVnet);
    ids.hubVnet = hubVnet.id;
    if (h.dnsServerIp) {
      const dnsSubnet = subnet(hubVnet.id, 'snet-dns', cidr(h.base, 0));
      dnsServerNic = networkId(hubSub, h.resourceGroup, 'networkInterfaces', `nic-vm-dns01-${hexFrom(`${o.seed}/dns`, 4)}`);
      resources.push(dnsSubnet, vmNic(dnsServerNic, region, dnsSubnet.id, h.dnsServerIp));
      ids.dnsServerNic = dnsServerNic;
    }
    if (o.peered ?? true) {
      const out = peering({ name: `peer-${cv.name}-to-${h.name}`, from: computeVnet, to: hubVnet, useRemoteGateways: false });
      const back = peering({ name: `peer-${h.name}-to-${cv.name}`, from: hubVnet, to: computeVnet, allowGatewayTransit: true });
      resources.push(out, back);
      ids.peerings = { computeToHub: out.id, hubToCompute: back.id };
    }
  }

  // Where shared services sit: the hub, or the compute VNet without one.
  const sharedVnet = hubVnet ?? computeVnet;
  const sharedPlan = hubVnet && o.hub ? o.hub : cv;
  const sharedSub = hubVnet ? hubSub : spokeSub;
  const firewallIp = o.firewall ? `${sharedPlan.base}.3.4` : undefined;
  const nvaIp = o.nva ? `${sharedPlan.base}.4.4` : undefined;

  // The private endpoint subnet (created with the first endpoint that needs it)
  let epSubnet: ScenarioResource | undefined;
  const endpointNsgId = o.endpointSubnet?.nsgRules
    ? networkId(sharedSub, sharedPlan.resourceGroup, 'networkSecurityGroups', o.endpointSubnet.nsgName ?? `${sharedVnet.name}-${sharedPlan.endpointSubnet ?? 'snet-private-endpoints'}-nsg-${region}`)
    : undefined;
  const endpointSubnet = (): ScenarioResource => {
    if (!epSubnet) {
      epSubnet = subnet(sharedVnet.id, sharedPlan.endpointSubnet ?? 'snet-private-endpoints', cidr(sharedPlan.base, 2), {
        ...(endpointNsgId ? { networkSecurityGroupId: endpointNsgId } : {}),
        ...(o.endpointSubnet?.privateEndpointNetworkPolicies ? { privateEndpointNetworkPolicies: o.endpointSubnet.privateEndpointNetworkPolicies } : {}),
      });
      resources.push(epSubnet);
      ids.endpointVnet = sharedVnet.id;
      ids.endpointSubnet = epSubnet.id;
    }
    return epSubnet;
  };

  // Private endpoint (in the hub for hub-and-spoke, else next to the computes)
  const connections: WorkspaceConnectionSpec[] = [];
  const pe = o.privateEndpoint === false || o.privateEndpoint === undefined ? undefined : o.privateEndpoint;
  let members: EndpointMember[] = [];
  if (pe) {
    const epRg = pe.resourceGroup ?? sharedPlan.resourceGroup;
    const epSubnetId = endpointSubnet().id;
    const peId = networkId(sharedSub, epRg, 'privateEndpoints', pe.name);
    const nicId = networkId(sharedSub, epRg, 'networkInterfaces', `${pe.name}.nic.${guidFrom(`${peId}:nic`)}`);
    const host = pe.firstHost ?? 4;
    const ip = (n: number) => `${sharedPlan.base}.2.${host + n}`;
    members = [
      { ip: ip(0), member: 'default', fqdns: [fqdns.api, fqdns.cert] },
      { ip: ip(1), member: 'notebook', fqdns: [fqdns.notebooks] },
      ...(pe.inference ? [{ ip: ip(2), member: 'inference', fqdns: [fqdns.inference] }] : []),
    ];
    const status = pe.status ?? 'Approved';
    const connName = `${pe.name}.${guidFrom(`${peId}:connection`)}`;
    resources.push(
      privateEndpoint({ id: peId, location: region, subnetId: epSubnetId, nicId, workspaceId: wsId, status, ...(pe.manual ? { manual: true } : {}), members }),
      privateEndpointNic(nicId, region, peId, epSubnetId, members),
    );
    connections.push({ name: connName, privateEndpointId: peId, status });
    Object.assign(ids, { privateEndpoint: peId, endpointNic: nicId, workspaceConnection: `${wsId}/privateEndpointConnections/${connName}` });
  }

  // Private DNS zones
  const zonesOpt = o.zones === false || o.zones === undefined ? undefined : o.zones;
  const zoneSub = zonesOpt?.subscription ?? (hubSpoke ? hubSub : wsSub);
  if (zonesOpt) {
    const [apiZoneName, nbZoneName] = requiredZoneNames(cloud) as [string, string];
    const linkTo = zonesOpt.linkTo ?? (hubSpoke ? ['hub', 'compute'] : ['compute']);
    const vnetFor = (role: 'compute' | 'hub') => (role === 'hub' ? hubVnet : computeVnet);
    const group: Array<{ zoneId: string; records: ZoneGroupRecord[] }> = [];
    for (const [kind, zoneName] of [['api', apiZoneName], ['notebooks', nbZoneName]] as const) {
      const zone = privateDnsZone(zoneSub, zonesOpt.resourceGroup, zoneName);
      resources.push(zone, soaRecord(zone.id));
      ids.zones[kind] = zone.id;
      const records: ZoneGroupRecord[] = [];
      for (const m of members) {
        for (const fqdn of m.fqdns) {
          const rec = fqdn.startsWith('*.') ? inferenceRecord(cloud, guid, region, zoneName) : privateRecordFor(cloud, fqdn);
          if (!rec || rec.zoneName !== zoneName) continue;
          records.push({ name: rec.recordName, ips: [m.ip] });
        }
      }
      if (zonesOpt.records ?? true) {
        for (const r of records) {
          const rs = aRecord(zone.id, r.name, r.ips);
          resources.push(rs);
          const key = r.name.startsWith('*.') ? 'inference' : r.name.endsWith('.cert') ? 'cert' : kind === 'api' ? 'api' : 'notebooks';
          ids.records[key] = rs.id;
        }
      }
      for (const role of linkTo) {
        const v = vnetFor(role);
        if (!v) continue;
        const link = vnetLink(zone.id, `link-${v.name}`, v.id);
        resources.push(link);
        ids.links[`${kind}:${role}`] = link.id;
      }
      group.push({ zoneId: zone.id, records });
    }
    if (pe && ids.privateEndpoint && (pe.zoneGroup ?? true)) {
      const g = zoneGroup(ids.privateEndpoint, group);
      resources.push(g);
      ids.zoneGroup = g.id;
    }
  }
  for (const z of o.extraZones ?? []) {
    const zone = privateDnsZone(zoneSub, z.resourceGroup ?? zonesOpt?.resourceGroup ?? 'rg-private-dns', z.name);
    resources.push(zone, soaRecord(zone.id), vnetLink(zone.id, `link-${cv.name}`, computeVnet.id));
  }

  // Workspace and computes
  resources.unshift(
    workspace({
      id: wsId,
      location: region,
      guid,
      tenantId,
      cloud,
      publicNetworkAccess: o.workspace.publicNetworkAccess ?? 'Disabled',
      ...(o.workspace.imageBuildCompute ? { imageBuildCompute: o.workspace.imageBuildCompute } : {}),
      ...(managed ? { managedNetwork: managedNetworkWire(managed, wsId, deps) } : {}),
      connections,
    }),
  );
  // Running compute instances have a NIC in the subnet, in a subscription Microsoft manages.
  const nodeNicIds: string[] = [];
  const managedSub = guidFrom(`${o.seed}/subscription/azureml-managed`);
  o.computes.forEach((c, i) => {
    const ip = managed ? `10.0.0.${4 + i}` : `${cv.base}.1.${4 + i}`;
    const r = compute(wsId, region, c, managed ? undefined : computeSubnet.id, ip);
    resources.splice(1 + i, 0, r);
    ids.computes[c.name] = r.id;
    if (c.kind === 'instance') fqdns.instances[c.name] = instanceFqdns(cloud, c.name, region);
    if (!managed && c.kind === 'instance' && (c.state ?? 'Running') === 'Running' && (o.nodeNics ?? true)) {
      const nic = `${rgPrefix(managedSub, `azureml-${region}-${hexFrom(wsId, 6)}`)}/providers/${NET}/networkInterfaces/${hexFrom(r.id, 16)}-nic`;
      nodeNicIds.push(`${nic}/ipConfigurations/ipconfig`);
    }
  });
  if (nodeNicIds.length) props(computeSubnet).ipConfigurations = nodeNicIds.map((id) => ({ id }));

  // The region's service tags, published in the workspace subscription
  const tags = serviceTagsResource(wsSub, region, cloud);
  resources.push(tags);
  ids.serviceTags = tags.id;

  // Compute subnet NSG and route table
  resources.push(networkSecurityGroup(computeNsgId, region, o.computeNsg?.rules ?? []));
  if (o.endpointSubnet?.nsgRules && endpointNsgId) {
    resources.push(networkSecurityGroup(endpointNsgId, region, o.endpointSubnet.nsgRules));
    ids.endpointNsg = endpointNsgId;
  }
  if (o.routeTable && routeTableId) {
    const resolveIp = (ip: string | undefined): string | undefined => {
      if (ip !== 'firewall' && ip !== 'nva') return ip;
      const resolved = ip === 'firewall' ? firewallIp : nvaIp;
      if (!resolved) throw new Error(`${o.seed}: a route to '${ip}' needs ${ip === 'firewall' ? 'a firewall' : 'an nva'}`);
      return resolved;
    };
    const routes = o.routeTable.routes.map((r) => {
      const ip = resolveIp(r.nextHopIp);
      return { ...r, ...(ip ? { nextHopIp: ip } : {}) };
    });
    resources.push(routeTable(routeTableId, region, routes, o.routeTable.disableBgpRoutePropagation ?? false));
  }

  // Hub firewall and its policies
  if (o.firewall && firewallIp) {
    const f = o.firewall;
    const rg = f.resourceGroup ?? sharedPlan.resourceGroup;
    const fwSubnet = subnet(sharedVnet.id, 'AzureFirewallSubnet', cidr(sharedPlan.base, 3, 26));
    const fwId = networkId(sharedSub, rg, 'azureFirewalls', f.name);
    const pipId = networkId(sharedSub, rg, 'publicIPAddresses', `pip-${f.name}`);
    const policyId = networkId(sharedSub, rg, 'firewallPolicies', f.policy.name);
    const baseId = f.basePolicy ? networkId(sharedSub, rg, 'firewallPolicies', f.basePolicy.name) : undefined;
    resources.push(fwSubnet, publicIpAddress(pipId, region), azureFirewall(fwId, region, { subnetId: fwSubnet.id, privateIp: firewallIp, publicIpId: pipId, policyId }));
    const policyResources = (id: string, spec: FirewallPolicySpec, extra: { basePolicyId?: string; childPolicyIds?: string[]; firewallIds: string[] }) => {
      const groups = spec.groups.map((g) => ruleCollectionGroup(id, g));
      resources.push(firewallPolicy(id, region, { dnsProxy: spec.dnsProxy ?? false, groupIds: groups.map((g) => g.id), ...extra }), ...groups);
    };
    if (f.basePolicy && baseId) policyResources(baseId, f.basePolicy, { childPolicyIds: [policyId], firewallIds: [] });
    policyResources(policyId, f.policy, { ...(baseId ? { basePolicyId: baseId } : {}), firewallIds: [fwId] });
    Object.assign(ids, { firewall: fwId, firewallPolicy: policyId, ...(baseId ? { firewallBasePolicy: baseId } : {}) });
  }
  if (o.nva && nvaIp) {
    const rg = o.nva.resourceGroup ?? sharedPlan.resourceGroup;
    const nvaSubnet = subnet(sharedVnet.id, 'snet-nva', cidr(sharedPlan.base, 4));
    const vmId = `${rgPrefix(sharedSub, rg)}/providers/Microsoft.Compute/virtualMachines/${o.nva.name}`;
    const nicId = networkId(sharedSub, rg, 'networkInterfaces', `${o.nva.name}-nic-trust`);
    resources.push(nvaSubnet, vmNic(nicId, region, nvaSubnet.id, nvaIp, { virtualMachineId: vmId, ipForwarding: true }), virtualMachine(vmId, region, nicId, 'Standard_D3_v2'));
    ids.nvaNic = nicId;
  }

  // The workspace's storage account, key vault and container registry
  const d = o.dependencies ?? {};
  resources.push(
    storageAccount(deps.storage, region, cloud, d.storage ?? {}, { computeSubnetId: computeSubnet.id, workspaceId: wsId, tenantId }),
    keyVault(deps.keyVault, region, cloud, d.keyVault ?? {}, { computeSubnetId: computeSubnet.id, tenantId }),
  );
  const registry = containerRegistry(deps.registry, region, cloud, d.registry ?? {});
  resources.push(registry);
  const regPe = d.registry?.privateEndpoint;
  if (regPe) {
    const rg = regPe.resourceGroup ?? sharedPlan.resourceGroup;
    const peId = networkId(sharedSub, rg, 'privateEndpoints', regPe.name);
    const nicId = networkId(sharedSub, rg, 'networkInterfaces', `${regPe.name}.nic.${guidFrom(`${peId}:nic`)}`);
    const acr = registry.name as string;
    const suffix = DEPENDENCY_SUFFIX[cloud.name].registry;
    const regMembers: EndpointMember[] = [
      { ip: `${sharedPlan.base}.2.20`, member: 'registry', fqdns: [`${acr}.${suffix}`] },
      { ip: `${sharedPlan.base}.2.21`, member: `registry_data_${region}`, fqdns: [`${acr}.${region}.data.${suffix}`] },
    ];
    const status = regPe.status ?? 'Approved';
    const epSubnetId = endpointSubnet().id;
    resources.push(
      privateEndpoint({ id: peId, location: region, subnetId: epSubnetId, nicId, workspaceId: wsId, status, members: regMembers, groupId: 'registry', serviceId: deps.registry, ...(status === 'Approved' ? {} : { manual: true }) }),
      privateEndpointNic(nicId, region, peId, epSubnetId, regMembers, 'registry'),
    );
    props(registry).privateEndpointConnections = [dependencyConnection(deps.registry, `${regPe.name}.${guidFrom(`${peId}:connection`)}`, peId, status, 'registry')];
    ids.registryPrivateEndpoint = peId;
  }

  // The vantage: a jumpbox in the compute subnet and the region's Network Watcher
  let vantage: VantageSpec | undefined;
  if (o.vantage && !managed) {
    const vmName = o.vantage.vmName ?? `vm-jump-${hexFrom(`${o.seed}/jumpbox`, 4)}`;
    const vmId = `${rgPrefix(spokeSub, cv.resourceGroup)}/providers/Microsoft.Compute/virtualMachines/${vmName}`;
    const nicId = networkId(spokeSub, cv.resourceGroup, 'networkInterfaces', `${vmName}${100 + (Number.parseInt(hexFrom(vmId, 2), 16) % 900)}`);
    const watcher = networkWatcher(spokeSub, region);
    resources.push(vmNic(nicId, region, computeSubnet.id, `${cv.base}.1.${o.vantage.host ?? 250}`, { virtualMachineId: vmId }), virtualMachine(vmId, region, nicId), watcher);
    vantage = { vmId, nicId, watcherId: watcher.id, ...(o.vantage.disagree ? { disagree: o.vantage.disagree } : {}) };
    Object.assign(ids, { vantageVm: vmId, vantageNic: nicId, networkWatcher: watcher.id });
  }

  return {
    cloud,
    region,
    subscriptions: { workspace: wsSub, spoke: spokeSub, hub: hubSub, ...(zonesOpt || o.extraZones?.length ? { zones: zoneSub } : {}) },
    resources,
    ids,
    fqdns,
    endpointIps: { ...(members[0] ? { api: members[0].ip } : {}), ...(members[1] ? { notebooks: members[1].ip } : {}), ...(members[2] ? { inference: members[2].ip } : {}) },
    ...(firewallIp ? { firewallIp } : {}),
    ...(nvaIp ? { nvaIp } : {}),
    ...(vantage ? { vantage } : {}),
  };
}

/** Managed online endpoints: wildcard `*.<guid>.inference.<region>` in the API zone. */
function inferenceRecord(cloud: CloudProfile, guid: string, region: string, zoneName: string): { zoneName: string; recordName: string } | undefined {
  const apiZone = `privatelink.${cloud.apiSuffix}`;
  return zoneName === apiZone ? { zoneName, recordName: `*.${guid}.inference.${region}` } : undefined;
}

// ------------------------------------------------------------------------------ what Azure computes for the vantage NIC

interface Prefix {
  base: number;
  len: number;
}

function parsePrefix(text: string): Prefix | undefined {
  const [ipText, lenText] = text.trim().split('/');
  const ip = parseIPv4(ipText ?? '');
  const len = lenText === undefined ? 32 : Number(lenText);
  if (ip === undefined || !Number.isInteger(len) || len < 0 || len > 32) return undefined;
  const size = 2 ** (32 - len);
  return { base: Math.floor(ip / size) * size, len };
}

const contains = (p: Prefix, ip: number): boolean => ip >= p.base && ip < p.base + 2 ** (32 - p.len);
const overlaps = (a: Prefix, b: Prefix): boolean => contains(a, b.base) || contains(b, a.base);
const ipText = (n: number): string => [Math.floor(n / 2 ** 24) % 256, Math.floor(n / 2 ** 16) % 256, Math.floor(n / 2 ** 8) % 256, n % 256].join('.');

/** Not internet-routed: what Azure's `Internet` tag leaves out. */
const NON_INTERNET = ['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16', '224.0.0.0/3'].map((p) => parsePrefix(p) as Prefix);

/** The `Internet` tag as Azure expands it in effective rules: every IPv4 prefix outside the non-public ranges, as few CIDRs as possible. */
export function internetPrefixes(): string[] {
  const out: string[] = [];
  const walk = (p: Prefix): void => {
    const hits = NON_INTERNET.filter((x) => overlaps(x, p));
    if (hits.length === 0) return void out.push(`${ipText(p.base)}/${p.len}`);
    if (hits.some((x) => x.len <= p.len)) return; // wholly inside an excluded range
    const half = 2 ** (32 - p.len - 1);
    walk({ base: p.base, len: p.len + 1 });
    walk({ base: p.base + half, len: p.len + 1 });
  };
  walk({ base: 0, len: 0 });
  return out;
}

/** Service tag name (lower case) -> IPv4 prefixes, from the estate's service tags resource. */
function tagTable(resources: readonly ScenarioResource[]): Map<string, string[]> {
  const table = new Map<string, string[]>();
  for (const r of resources.filter((x) => x.type === `${NET}/serviceTags`)) {
    for (const v of arrayOf(r.values)) {
      const name = typeof v.name === 'string' ? v.name : undefined;
      const prefixes = (v.properties as Props | undefined)?.addressPrefixes;
      if (name && Array.isArray(prefixes)) table.set(name.toLowerCase(), (prefixes as string[]).filter((p) => !p.includes(':')));
    }
  }
  return table;
}

interface EffectiveRouteRow {
  name?: string;
  source: 'Default' | 'User';
  state: 'Active' | 'Invalid';
  addressPrefix: string[];
  nextHopType: string;
  nextHopIpAddress: string[];
  routeTableId?: string;
}

const SERVICE_ENDPOINT_TAGS: Record<string, string> = {
  'microsoft.storage': 'Storage',
  'microsoft.keyvault': 'AzureKeyVault',
  'microsoft.containerregistry': 'AzureContainerRegistry',
};

interface VantageContext {
  resources: readonly ScenarioResource[];
  tags: Map<string, string[]>;
  region: string;
  subnet: ScenarioResource;
  vnetPrefixes: string[];
  peeredPrefixes: string[];
}

function vantageContext(resources: readonly ScenarioResource[], nicId: string): VantageContext {
  const nic = findResource(resources, nicId);
  const subnetId = refId((arrayOf(nic ? props(nic).ipConfigurations : undefined)[0]?.properties as Props | undefined)?.subnet);
  const sub = subnetId ? findResource(resources, subnetId) : undefined;
  const vnet = subnetId ? findResource(resources, parentId(subnetId)) : undefined;
  if (!nic || !sub || !vnet) throw new Error(`vantage ${nicId}: its NIC, subnet or VNet is not in the estate`);
  const peerings = childrenOf(resources, vnet.id, 'virtualNetworkPeerings').filter((p) => props(p).peeringState === 'Connected');
  const peeredPrefixes = peerings.flatMap((p) => ((props(p).remoteAddressSpace as { addressPrefixes?: string[] } | undefined)?.addressPrefixes ?? []));
  return { resources, tags: tagTable(resources), region: normalizeRegion(vnet.location ?? ''), subnet: sub, vnetPrefixes: prefixesOf(vnet), peeredPrefixes };
}

/** System routes, service endpoint routes and the subnet's user routes, as `effectiveRouteTable` lists them. */
function effectiveRoutes(c: VantageContext): EffectiveRouteRow[] {
  const sys = (addressPrefix: string[], nextHopType: string): EffectiveRouteRow => ({ source: 'Default', state: 'Active', addressPrefix, nextHopType, nextHopIpAddress: [] });
  const rows: EffectiveRouteRow[] = [sys(c.vnetPrefixes, 'VnetLocal')];
  const vnet = findResource(c.resources, parentId(c.subnet.id));
  for (const p of vnet ? childrenOf(c.resources, vnet.id, 'virtualNetworkPeerings') : []) {
    if (props(p).peeringState !== 'Connected') continue;
    rows.push(sys((props(p).remoteAddressSpace as { addressPrefixes?: string[] } | undefined)?.addressPrefixes ?? [], 'VNetPeering'));
  }
  for (const se of arrayOf(props(c.subnet).serviceEndpoints)) {
    const family = SERVICE_ENDPOINT_TAGS[String(se.service).toLowerCase()];
    const prefixes = family ? c.tags.get(regionalTag(family, c.region).toLowerCase()) : undefined;
    if (prefixes?.length) rows.push(sys(prefixes, 'VirtualNetworkServiceEndpoint'));
  }
  rows.push(sys(['0.0.0.0/0'], 'Internet'));
  for (const p of ['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16']) rows.push(sys([p], 'None'));
  const rtId = refId(props(c.subnet).routeTable);
  const rt = rtId ? findResource(c.resources, rtId) : undefined;
  for (const r of arrayOf(rt ? props(rt).routes : undefined)) {
    const rp = (r.properties ?? {}) as Props;
    const prefix = String(rp.addressPrefix ?? '');
    const expanded = parsePrefix(prefix) ? [prefix] : (c.tags.get(prefix.toLowerCase()) ?? []);
    const ip = typeof rp.nextHopIpAddress === 'string' ? [rp.nextHopIpAddress] : [];
    rows.push({ name: String(r.name), source: 'User', state: 'Active', addressPrefix: expanded, nextHopType: String(rp.nextHopType), nextHopIpAddress: ip, ...(rt ? { routeTableId: rt.id } : {}) });
  }
  // A user route replaces the system route for the same prefix: Azure shows the latter as Invalid.
  const userPrefixes = new Set(rows.filter((r) => r.source === 'User').flatMap((r) => r.addressPrefix));
  for (const r of rows) if (r.source === 'Default' && r.addressPrefix.length === 1 && userPrefixes.has(r.addressPrefix[0] as string)) r.state = 'Invalid';
  return rows;
}

/** Longest prefix match over the active routes; on equal prefixes a user route wins. */
function nextHopFor(rows: EffectiveRouteRow[], ip: number): EffectiveRouteRow | undefined {
  let best: { row: EffectiveRouteRow; len: number } | undefined;
  for (const row of rows) {
    if (row.state !== 'Active') continue;
    for (const text of row.addressPrefix) {
      const p = parsePrefix(text);
      if (!p || !contains(p, ip)) continue;
      if (!best || p.len > best.len || (p.len === best.len && row.source === 'User' && best.row.source !== 'User')) best = { row, len: p.len };
    }
  }
  return best?.row;
}

function effectivePrefix(c: VantageContext, text: string): { shown: string; expanded?: string[] } {
  const t = text.trim();
  if (t === '*') return { shown: '0.0.0.0/0' };
  if (parsePrefix(t)) return { shown: t.includes('/') ? t : `${t}/32` };
  const lower = t.toLowerCase();
  if (lower === 'virtualnetwork') return { shown: t, expanded: [...c.vnetPrefixes, ...c.peeredPrefixes] };
  if (lower === 'internet') return { shown: t, expanded: internetPrefixes() };
  if (lower === 'azureloadbalancer') return { shown: t, expanded: ['168.63.129.16/32'] };
  const tag = c.tags.get(lower);
  return tag ? { shown: t, expanded: tag } : { shown: t };
}

const effectivePort = (p: string): string => (p.trim() === '*' ? '0-65535' : p.includes('-') ? p : `${p}-${p}`);

function effectiveRule(c: VantageContext, rule: Props, kind: string): Props {
  const p = (rule.properties ?? {}) as Props;
  const list = (one: unknown, many: unknown): string[] => (typeof one === 'string' ? [one] : Array.isArray(many) ? (many as string[]) : []);
  const side = (singular: string, plural: string, expandedKey: string, values: string[]): Props => {
    const mapped = values.map((v) => effectivePrefix(c, v));
    const shown = mapped.map((m) => m.shown);
    const expanded = mapped.some((m) => m.expanded) ? mapped.flatMap((m) => m.expanded ?? [m.shown]) : undefined;
    return { ...(shown.length === 1 ? { [singular]: shown[0] } : { [plural]: shown }), ...(expanded ? { [expandedKey]: expanded } : {}) };
  };
  const ports = list(p.destinationPortRange, p.destinationPortRanges).map(effectivePort);
  const protocol = String(p.protocol ?? '*');
  return {
    name: `${kind}/${String(rule.name)}`,
    access: p.access,
    ...side('destinationAddressPrefix', 'destinationAddressPrefixes', 'expandedDestinationAddressPrefix', list(p.destinationAddressPrefix, p.destinationAddressPrefixes)),
    ...(ports.length === 1 ? { destinationPortRange: ports[0] } : { destinationPortRanges: ports }),
    direction: p.direction,
    priority: p.priority,
    protocol: protocol === '*' ? 'All' : protocol,
    ...side('sourceAddressPrefix', 'sourceAddressPrefixes', 'expandedSourceAddressPrefix', list(p.sourceAddressPrefix, p.sourceAddressPrefixes)),
    sourcePortRange: '0-65535',
  };
}

/** The NSGs that apply to the NIC (its subnet's, its own), as `effectiveNetworkSecurityGroups` returns them. */
function effectiveNsgs(c: VantageContext, nicId: string): Props[] {
  const nic = findResource(c.resources, nicId);
  const applied: Array<{ nsgId: string; association: Props }> = [];
  const subnetNsg = refId(props(c.subnet).networkSecurityGroup);
  if (subnetNsg) applied.push({ nsgId: subnetNsg, association: { subnet: { id: c.subnet.id } } });
  const nicNsg = nic ? refId(props(nic).networkSecurityGroup) : undefined;
  if (nicNsg && nic) applied.push({ nsgId: nicNsg, association: { networkInterface: { id: nic.id } } });
  return applied.flatMap(({ nsgId, association }) => {
    const nsg = findResource(c.resources, nsgId);
    if (!nsg) return [];
    const rules = [
      ...arrayOf(props(nsg).securityRules).map((r) => effectiveRule(c, r, 'securityRules')),
      ...arrayOf(props(nsg).defaultSecurityRules).map((r) => effectiveRule(c, r, 'defaultSecurityRules')),
    ];
    return [{ association, effectiveSecurityRules: rules, networkSecurityGroup: { id: nsg.id } }];
  });
}

/**
 * What Azure answers for the vantage NIC (effective routes, effective NSGs) and Network Watcher's
 * next hop from it to every private endpoint address of the estate and to the first address of
 * each service tag's first prefix, all derived from the estate's configuration. `disagree` makes
 * one next hop differ (a cross-check scenario).
 */
export function vantageOperations(resources: readonly ScenarioResource[], v: VantageSpec): ScenarioOperation[] {
  const c = vantageContext(resources, v.nicId);
  const routes = effectiveRoutes(c);
  const rtId = refId(props(c.subnet).routeTable);
  const rt = rtId ? findResource(resources, rtId) : undefined;
  const disableBgp = rt ? props(rt).disableBgpRoutePropagation === true : false;
  const ops: ScenarioOperation[] = [
    {
      resourceId: v.nicId,
      action: 'effectiveRouteTable',
      result: {
        value: routes.map((r) => ({
          ...(r.name ? { name: r.name } : {}),
          addressPrefix: r.addressPrefix,
          disableBgpRoutePropagation: disableBgp,
          nextHopIpAddress: r.nextHopIpAddress,
          nextHopType: r.nextHopType,
          source: r.source,
          state: r.state,
        })),
      },
    },
    { resourceId: v.nicId, action: 'effectiveNetworkSecurityGroups', result: { value: effectiveNsgs(c, v.nicId) } },
  ];
  const destinations: string[] = [];
  const add = (ip: string | undefined) => {
    if (ip && !destinations.includes(ip)) destinations.push(ip);
  };
  for (const pe of ofType(resources, `${NET}/privateEndpoints`)) for (const d of arrayOf(props(pe).customDnsConfigs)) for (const ip of (d.ipAddresses as string[] | undefined) ?? []) add(ip);
  const firstAddress = (tag: string): string | undefined => {
    const p = (c.tags.get(tag.toLowerCase()) ?? []).map(parsePrefix).find((x) => x !== undefined);
    return p ? ipText(p.base) : undefined;
  };
  for (const tag of c.tags.keys()) add(firstAddress(tag));
  const overrideIp = v.disagree ? (v.disagree.ip ?? (v.disagree.tag ? firstAddress(v.disagree.tag) : undefined)) : undefined;
  if (v.disagree && !overrideIp) throw new Error(`next hop override: no address for ${v.disagree.tag ?? '(nothing)'}`);
  for (const ip of destinations) {
    let result: Props;
    if (v.disagree && ip === overrideIp) {
      result = { nextHopType: v.disagree.nextHopType, ...(v.disagree.nextHopIp ? { nextHopIpAddress: v.disagree.nextHopIp } : {}), routeTableId: 'System Route' };
    } else {
      const row = nextHopFor(routes, parseIPv4(ip) as number);
      result = row
        ? { nextHopType: row.nextHopType, ...(row.nextHopIpAddress[0] ? { nextHopIpAddress: row.nextHopIpAddress[0] } : {}), routeTableId: row.routeTableId ?? 'System Route' }
        : { nextHopType: 'None', routeTableId: 'No Route' };
    }
    ops.push({ resourceId: v.watcherId, action: 'nextHop', match: { destinationIPAddress: ip }, result });
  }
  return ops;
}

// ------------------------------------------------------------------------------ mutations

function assertFound(estate: Estate, id: string | undefined): ScenarioResource {
  const r = id ? findResource(estate.resources, id) : undefined;
  if (!r) throw new Error(`no resource ${id ?? '(undefined id)'} in the estate`);
  return r;
}

/** Removes resources and everything below them (a zone takes its records and links along). */
export function removeResources(estate: Estate, ...ids: Array<string | undefined>): void {
  for (const id of ids) assertFound(estate, id);
  const keys = ids.map((id) => idKey(id as string));
  estate.resources = estate.resources.filter((r) => !keys.some((k) => idKey(r.id) === k || idKey(r.id).startsWith(`${k}/`)));
}

/** Changes a resource's `properties` in place. */
export function patchProperties(estate: Estate, id: string | undefined, change: (properties: Props, resource: ScenarioResource) => void): void {
  const r = assertFound(estate, id);
  r.properties ??= {};
  change(r.properties, r);
}

export function setARecord(estate: Estate, recordId: string | undefined, ips: string[]): void {
  patchProperties(estate, recordId, (p) => {
    p.aRecords = ips.map((ipv4Address) => ({ ipv4Address }));
  });
}

export function setComputeProperty(estate: Estate, computeName: string, key: string, value: unknown): void {
  patchProperties(estate, estate.ids.computes[computeName], (p) => {
    (p.properties as Props)[key] = value;
  });
}

// ------------------------------------------------------------------------------ scenario assembly

export interface ScenarioMeta {
  name: string;
  title: string;
  description: string;
  computeName?: string;
  /** Extra subscriptions to search; default: every estate subscription other than the workspace's. */
  subscriptions?: string[];
  /** Replace single DNS answers after the resolver view is computed. */
  dns?: Record<string, ScenarioDnsAnswer>;
  /** Resolver VNet override; default: derived from the compute VNet's DNS servers. */
  resolver?: string | 'external';
  faults?: ScenarioFault[];
  operations?: ScenarioOperation[];
  /** Pass the vantage VM with `--vantage-vm` (otherwise the diagnosis finds it in the subnet). */
  vantageFlag?: boolean;
  expect: ScenarioExpectation;
}

export function toScenario(estate: Estate, meta: ScenarioMeta): Scenario {
  const resources = reconcile(estate.resources);
  // Scenario operations come first: the first match wins, so they can override the derived ones.
  const operations = [...(meta.operations ?? []), ...(estate.vantage ? vantageOperations(resources, estate.vantage) : [])];
  if (meta.vantageFlag && !estate.vantage) throw new Error(`${meta.name}: vantageFlag needs a vantage`);
  const resolver = meta.resolver ?? resolverVnetFor(resources, estate.ids.computeVnet);
  const dns = { ...simulateResolver(resources, estate.cloud, resolver), ...(meta.dns ?? {}) };
  const sortedDns: Record<string, ScenarioDnsAnswer> = {};
  for (const k of Object.keys(dns).sort()) sortedDns[k] = dns[k] as ScenarioDnsAnswer;
  const s = estate.subscriptions;
  const extra = meta.subscriptions ?? [...new Set([s.spoke, s.hub, s.zones].filter((x): x is string => !!x && x !== s.workspace))];
  const scenario: Scenario = {
    name: meta.name,
    title: meta.title,
    description: meta.description,
    target: {
      workspaceId: estate.ids.workspace,
      ...(meta.computeName ? { computeName: meta.computeName } : {}),
      ...(extra.length ? { subscriptions: extra } : {}),
      ...(meta.vantageFlag && estate.vantage ? { vantageVmId: estate.vantage.vmId } : {}),
      cloud: estate.cloud.name,
    },
    expect: meta.expect,
    ...(meta.faults?.length ? { faults: meta.faults } : {}),
    ...(operations.length ? { operations } : {}),
    dns: sortedDns,
    resources,
  };
  return canonical(scenario) as Scenario;
}

// ------------------------------------------------------------------------------ stable JSON

const SCENARIO_KEYS = ['name', 'title', 'description', 'target', 'expect', 'faults', 'operations', 'dns', 'resources'];
const RESOURCE_HEAD = ['id', 'name', 'type', 'location'];
/** Reading order for the small scenario objects; their other keys follow, sorted. */
const KEY_ORDER: Record<string, string[]> = {
  target: ['workspaceId', 'computeName', 'subscriptions', 'vantageVmId', 'cloud'],
  expect: ['exitCode', 'verdict', 'topFinding', 'alsoFinds', 'absentCodes', 'flows'],
  topFinding: ['code', 'resourceId'],
  flows: ['blocked', 'undetermined'],
  'blocked[]': ['id', 'hop', 'reason'],
  'operations[]': ['resourceId', 'action', 'match', 'result'],
};
const DNS_ANSWER_KEYS = ['cname', 'a', 'rcode'];

/**
 * Stable key order: scenario keys in reading order; ARM objects (anything with an `id` and a
 * `properties` or `type`) as `id, name, type, location, <rest sorted>, properties`; target, expect
 * and DNS answers in reading order; everything else sorted. Arrays keep their order.
 */
export function canonical(value: unknown, key = ''): unknown {
  // Items of `blocked` and `operations` have their own reading order; other arrays' items do not.
  if (Array.isArray(value)) return value.map((v) => canonical(v, KEY_ORDER[`${key}[]`] ? `${key}[]` : ''));
  if (typeof value !== 'object' || value === null) return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  const ordered = (head: string[], tail: string[] = []) => [
    ...head.filter((k) => keys.includes(k)),
    ...keys.filter((k) => !head.includes(k) && !tail.includes(k)).sort(),
    ...tail.filter((k) => keys.includes(k)),
  ];
  let order: string[];
  if (key === '' && keys.includes('resources') && keys.includes('expect')) order = ordered(SCENARIO_KEYS);
  else if (KEY_ORDER[key]) order = ordered(KEY_ORDER[key]);
  else if ('id' in obj && ('properties' in obj || 'type' in obj)) order = ordered(RESOURCE_HEAD, ['properties']);
  else if (keys.length > 0 && keys.every((k) => DNS_ANSWER_KEYS.includes(k))) order = ordered(DNS_ANSWER_KEYS);
  else order = [...keys].sort();
  const out: Record<string, unknown> = {};
  for (const k of order) if (obj[k] !== undefined) out[k] = canonical(obj[k], k);
  return out;
}

/** The file text for a scenario: 2-space JSON and a final newline. */
export function scenarioJson(scenario: Scenario): string {
  return `${JSON.stringify(canonical(scenario), null, 2)}\n`;
}
