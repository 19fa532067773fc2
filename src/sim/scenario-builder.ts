/**
 * Builds scenario estates as ARM wire JSON (`properties` not flattened), the way ARM returns them,
 * plus the DNS answers the compute's resolver would give. Pure functions, no I/O: the scenario
 * catalogue (scripts/build-scenarios.ts) calls `buildEstate`, mutates one thing, and turns the
 * result into a Scenario with `toScenario`.
 *
 * Shapes follow ../shared/azure-spec-examples/ and ../shared/reference/arm-wire-protocol.md §3–§5.
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
import { AZURE_DNS_IP, cidrContains } from '../model/ip.ts';
import type { Scenario, ScenarioDnsAnswer, ScenarioExpectation, ScenarioFault, ScenarioOperation, ScenarioResource } from './scenario.ts';

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
  const rg = rgPrefix(p.subscriptionId, p.resourceGroup);
  const compact = name.replace(/[^a-z0-9]/gi, '').toLowerCase();
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
      applicationInsights: `${rg}/providers/Microsoft.Insights/components/appi-${name}`,
      containerRegistry: `${rg}/providers/Microsoft.ContainerRegistry/registries/cr${compact.slice(0, 20)}${hexFrom(spec.id, 4)}`,
      description: '',
      discoveryUrl: `https://${region}.${spec.cloud.apiSuffix}/discovery`,
      enableDataIsolation: false,
      friendlyName: name,
      hbiWorkspace: false,
      ...(spec.imageBuildCompute ? { imageBuildCompute: spec.imageBuildCompute } : {}),
      keyVault: `${rg}/providers/Microsoft.KeyVault/vaults/kv-${name.slice(0, 16)}-${hexFrom(spec.id, 4)}`,
      privateEndpointConnections: spec.connections.map((c) => workspaceConnection(spec.id, c)),
      privateLinkCount: spec.connections.length,
      provisioningState: 'Succeeded',
      publicNetworkAccess: spec.publicNetworkAccess,
      storageAccount: `${rg}/providers/Microsoft.Storage/storageAccounts/st${compact.slice(0, 18)}${hexFrom(spec.id, 4)}`,
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

export function compute(workspaceId: string, location: string, spec: ComputeSpec, subnetId: string, privateIp: string): ScenarioResource {
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
          subnet: { id: subnetId },
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
        subnet: { id: subnetId },
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
      delegations: [],
      ipConfigurations: [],
      ...(extras.natGatewayId ? { natGateway: { id: extras.natGatewayId } } : {}),
      ...(extras.networkSecurityGroupId ? { networkSecurityGroup: { id: extras.networkSecurityGroupId } } : {}),
      privateEndpointNetworkPolicies: 'Disabled',
      privateEndpoints: [],
      privateLinkServiceNetworkPolicies: 'Enabled',
      provisioningState: 'Succeeded',
      ...(extras.routeTableId ? { routeTable: { id: extras.routeTableId } } : {}),
      serviceEndpoints: [],
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
}

export function privateEndpoint(spec: PrivateEndpointSpec): ScenarioResource {
  const name = spec.id.split('/').pop() as string;
  const connection = {
    id: `${spec.id}/${spec.manual ? 'manualPrivateLinkServiceConnections' : 'privateLinkServiceConnections'}/${name}`,
    name,
    type: `${NET}/privateEndpoints/privateLinkServiceConnections`,
    etag: etag(`${spec.id}:conn`),
    properties: {
      groupIds: ['amlworkspace'],
      privateLinkServiceConnectionState: connectionState(spec.status, spec.description),
      privateLinkServiceId: spec.workspaceId,
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

export function privateEndpointNic(nicId: string, location: string, privateEndpointId: string, subnetId: string, members: EndpointMember[]): ScenarioResource {
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
            privateLinkConnectionProperties: { fqdns: m.fqdns, groupId: 'amlworkspace', requiredMemberName: m.member },
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

/** A VM's NIC (e.g. a DNS server in the hub). No `virtualMachine` reference: the VM is not part of the estate. */
export function vmNic(nicId: string, location: string, subnetId: string, ip: string): ScenarioResource {
  return {
    id: nicId,
    name: nicId.split('/').pop() as string,
    type: `${NET}/networkInterfaces`,
    location: normalizeRegion(location),
    etag: etag(nicId),
    properties: {
      dnsSettings: { appliedDnsServers: [], dnsServers: [] },
      enableAcceleratedNetworking: true,
      enableIPForwarding: false,
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
  const nics = ofType(out, `${NET}/networkInterfaces`);
  for (const s of ofType(out, `${NET}/virtualNetworks/subnets`)) {
    const p = props(s);
    p.privateEndpoints = pes.filter((pe) => sameId(refId(props(pe).subnet), s.id)).map((pe) => ({ id: pe.id }));
    p.ipConfigurations = nics.flatMap((nic) =>
      arrayOf(props(nic).ipConfigurations)
        .filter((c) => sameId(refId((c.properties as Props | undefined)?.subnet), s.id))
        .map((c) => ({ id: c.id as string })),
    );
  }
  for (const ngw of ofType(out, `${NET}/natGateways`)) {
    props(ngw).subnets = ofType(out, `${NET}/virtualNetworks/subnets`)
      .filter((s) => sameId(refId(props(s).natGateway), ngw.id))
      .map((s) => ({ id: s.id }));
  }
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

export interface EstateOptions {
  /** Seed for derived GUIDs and names (the scenario name). */
  seed: string;
  cloud?: CloudName;
  region: string;
  topology: 'single-vnet' | 'hub-spoke';
  /** Subscription GUIDs; derived from the seed when absent. spoke = the compute VNet's subscription. */
  subscriptions?: { workspace?: string; spoke?: string; hub?: string };
  tenantId?: string;
  workspace: { name: string; resourceGroup: string; guid?: string; publicNetworkAccess?: 'Enabled' | 'Disabled'; imageBuildCompute?: string };
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
}

function cidr(base: string, third: number, len = 24): string {
  return `${base}.${third}.0/${len}`;
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
  const computeVnet = virtualNetwork(networkId(spokeSub, cv.resourceGroup, 'virtualNetworks', cv.name), region, [`${cv.base}.0.0/16`], cv.dnsServers ?? []);
  resources.push(computeVnet);
  let natId: string | undefined;
  if (o.natGateway ?? true) {
    const pipId = networkId(spokeSub, cv.resourceGroup, 'publicIPAddresses', `pip-ng-${cv.name}`);
    natId = networkId(spokeSub, cv.resourceGroup, 'natGateways', `ng-${cv.name}`);
    resources.push(publicIpAddress(pipId, region), natGateway(natId, region, pipId));
  }
  const computeSubnet = subnet(computeVnet.id, cv.computeSubnet ?? 'snet-compute', cidr(cv.base, 1), natId ? { natGatewayId: natId } : {});
  resources.push(computeSubnet);

  let hubVnet: ScenarioResource | undefined;
  let dnsServerNic: string | undefined;
  const ids: EstateIds = { workspace: wsId, computeVnet: computeVnet.id, computeSubnet: computeSubnet.id, zones: {}, records: {}, links: {}, peerings: {}, computes: {} };
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

  // Private endpoint (in the hub for hub-and-spoke, else next to the computes)
  const connections: WorkspaceConnectionSpec[] = [];
  const pe = o.privateEndpoint === false || o.privateEndpoint === undefined ? undefined : o.privateEndpoint;
  let members: EndpointMember[] = [];
  if (pe) {
    const epVnet = hubVnet ?? computeVnet;
    const epPlan = hubVnet && o.hub ? o.hub : cv;
    const epSub = hubVnet ? hubSub : spokeSub;
    const epRg = pe.resourceGroup ?? epPlan.resourceGroup;
    const epSubnet = subnet(epVnet.id, epPlan.endpointSubnet ?? 'snet-private-endpoints', cidr(epPlan.base, 2));
    resources.push(epSubnet);
    const peId = networkId(epSub, epRg, 'privateEndpoints', pe.name);
    const nicId = networkId(epSub, epRg, 'networkInterfaces', `${pe.name}.nic.${guidFrom(`${peId}:nic`)}`);
    const host = pe.firstHost ?? 4;
    const ip = (n: number) => `${epPlan.base}.2.${host + n}`;
    members = [
      { ip: ip(0), member: 'default', fqdns: [fqdns.api, fqdns.cert] },
      { ip: ip(1), member: 'notebook', fqdns: [fqdns.notebooks] },
      ...(pe.inference ? [{ ip: ip(2), member: 'inference', fqdns: [fqdns.inference] }] : []),
    ];
    const status = pe.status ?? 'Approved';
    const connName = `${pe.name}.${guidFrom(`${peId}:connection`)}`;
    resources.push(
      privateEndpoint({ id: peId, location: region, subnetId: epSubnet.id, nicId, workspaceId: wsId, status, ...(pe.manual ? { manual: true } : {}), members }),
      privateEndpointNic(nicId, region, peId, epSubnet.id, members),
    );
    connections.push({ name: connName, privateEndpointId: peId, status });
    Object.assign(ids, { endpointVnet: epVnet.id, endpointSubnet: epSubnet.id, privateEndpoint: peId, endpointNic: nicId, workspaceConnection: `${wsId}/privateEndpointConnections/${connName}` });
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
      connections,
    }),
  );
  o.computes.forEach((c, i) => {
    const r = compute(wsId, region, c, computeSubnet.id, `${cv.base}.1.${4 + i}`);
    resources.splice(1 + i, 0, r);
    ids.computes[c.name] = r.id;
    if (c.kind === 'instance') fqdns.instances[c.name] = instanceFqdns(cloud, c.name, region);
  });

  return {
    cloud,
    region,
    subscriptions: { workspace: wsSub, spoke: spokeSub, hub: hubSub, ...(zonesOpt || o.extraZones?.length ? { zones: zoneSub } : {}) },
    resources,
    ids,
    fqdns,
    endpointIps: { ...(members[0] ? { api: members[0].ip } : {}), ...(members[1] ? { notebooks: members[1].ip } : {}), ...(members[2] ? { inference: members[2].ip } : {}) },
  };
}

/** Managed online endpoints: wildcard `*.<guid>.inference.<region>` in the API zone. */
function inferenceRecord(cloud: CloudProfile, guid: string, region: string, zoneName: string): { zoneName: string; recordName: string } | undefined {
  const apiZone = `privatelink.${cloud.apiSuffix}`;
  return zoneName === apiZone ? { zoneName, recordName: `*.${guid}.inference.${region}` } : undefined;
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
  expect: ScenarioExpectation;
}

export function toScenario(estate: Estate, meta: ScenarioMeta): Scenario {
  const resources = reconcile(estate.resources);
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
      cloud: estate.cloud.name,
    },
    expect: meta.expect,
    ...(meta.faults?.length ? { faults: meta.faults } : {}),
    ...(meta.operations?.length ? { operations: meta.operations } : {}),
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
  target: ['workspaceId', 'computeName', 'subscriptions', 'cloud'],
  expect: ['exitCode', 'verdict', 'topFinding', 'alsoFinds', 'absentCodes'],
  topFinding: ['code', 'resourceId'],
};
const DNS_ANSWER_KEYS = ['cname', 'a', 'rcode'];

/**
 * Stable key order: scenario keys in reading order; ARM objects (anything with an `id` and a
 * `properties` or `type`) as `id, name, type, location, <rest sorted>, properties`; target, expect
 * and DNS answers in reading order; everything else sorted. Arrays keep their order.
 */
export function canonical(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => canonical(v));
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
