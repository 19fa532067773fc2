/**
 * The snapshot: everything the probes observed, typed, and nothing else. Probes write it, flow
 * analysis and rules read it. A read that failed is kept as an error (never dropped, never turned
 * into an empty list), so rules can say `undetermined` instead of `healthy`.
 *
 * Ids are kept as ARM returned them; compare them with `sameId` / `idKey` from ./arm-id.ts.
 */
import type { CloudName } from './cloud.ts';

/** Why a read produced no evidence. */
export type ProbeErrorKind =
  | 'forbidden' // 401/403: the caller lacks a read permission
  | 'not-found' // 404 on a resource that another resource references
  | 'throttled' // 429 after retries
  | 'timeout' // per-call timeout or abort
  | 'server-error' // 5xx after retries
  | 'network' // connection refused, TLS failure, DNS failure of the ARM endpoint
  | 'skipped' // not attempted because an earlier read it needs failed
  | 'unknown';

export interface ProbeError {
  kind: ProbeErrorKind;
  /** One line a person can act on, e.g. "403 AuthorizationFailed reading /subscriptions/…/virtualNetworks/vnet-hub". Never contains a token. */
  message: string;
  statusCode?: number;
  /** ARM error code (`AuthorizationFailed`, `ResourceNotFound`, …) when there was one. */
  code?: string;
  /** The resource or scope whose read failed. */
  resourceId?: string;
}

export type Observed<T> = { ok: true; value: T } | { ok: false; error: ProbeError };

export const observed = <T>(value: T): Observed<T> => ({ ok: true, value });
export const failed = <T>(error: ProbeError): Observed<T> => ({ ok: false, error });

/** What the user asked to diagnose, plus the settings that shape the evidence. */
export interface Target {
  workspaceId: string;
  /** Restrict compute analysis to this compute (instance or cluster). */
  computeName?: string;
  /** Extra subscriptions to search for private DNS zones (lower-case GUIDs). */
  subscriptions: string[];
  cloud: CloudName;
  /** Resolvers used for live DNS, `ip` or `ip:port`; empty = the system resolver. */
  dnsServers: string[];
}

// ---------------------------------------------------------------- workspace

export interface WorkspacePrivateEndpointConnection {
  id: string;
  name: string;
  privateEndpointId?: string;
  /** `privateLinkServiceConnectionState.status`: Pending | Approved | Rejected | Disconnected | Timeout. */
  status?: string;
  description?: string;
  provisioningState?: string;
}

export interface ManagedNetworkObs {
  isolationMode?: string;
  status?: string;
  outboundRules: Array<{ name: string; type?: string; category?: string; status?: string; destination?: unknown }>;
}

export interface WorkspaceObs {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  /** Region, normalized (`eastus`). */
  location: string;
  /** The workspace GUID used in its DNS names (`properties.workspaceId`). */
  workspaceGuid?: string;
  /** `Enabled` | `Disabled` (absent on old workspaces). */
  publicNetworkAccess?: string;
  allowPublicAccessWhenBehindVnet?: boolean;
  privateEndpointConnections: WorkspacePrivateEndpointConnection[];
  storageAccountId?: string;
  keyVaultId?: string;
  containerRegistryId?: string;
  applicationInsightsId?: string;
  imageBuildCompute?: string;
  hbiWorkspace?: boolean;
  v1LegacyMode?: boolean;
  discoveryUrl?: string;
  /** Read from the raw body (the ML SDK drops it). Undefined when the workspace has none. */
  managedNetwork?: ManagedNetworkObs;
  /** Workspace API and cert names derived from GUID + region (public spelling, lower case). */
  fqdns: { api?: string; cert?: string };
}

// ---------------------------------------------------------------- computes

export interface ComputeObs {
  id: string;
  name: string;
  /** `ComputeInstance` | `AmlCompute` | `Kubernetes` | … */
  computeType: string;
  location?: string;
  provisioningState?: string;
  /** Compute instance `state` (Running, Stopped, …) or cluster `allocationState`. */
  state?: string;
  subnetId?: string;
  /** As configured; undefined when ARM did not say (the service default then applies: public IP). */
  enableNodePublicIp?: boolean;
  /** Compute instances only; undefined when ARM did not say. */
  enableSSO?: boolean;
}

export interface ComputesObs {
  /** Every compute listed (or the one named with --compute). */
  computes: ComputeObs[];
}

// ---------------------------------------------------------------- private endpoints

export interface PrivateLinkConnectionObs {
  name: string;
  privateLinkServiceId?: string;
  groupIds: string[];
  /** `privateLinkServiceConnectionState.status` as the endpoint sees it. */
  status?: string;
  description?: string;
  /** True for `manualPrivateLinkServiceConnections`. */
  manual: boolean;
}

export interface PrivateDnsZoneGroupObs {
  id: string;
  name: string;
  zoneConfigs: Array<{
    name?: string;
    privateDnsZoneId: string;
    recordSets: Array<{ recordSetName?: string; recordType?: string; fqdn?: string; ipAddresses: string[] }>;
  }>;
}

export interface PrivateEndpointObs {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location?: string;
  provisioningState?: string;
  subnetId?: string;
  /** Parent of subnetId. */
  vnetId?: string;
  connections: PrivateLinkConnectionObs[];
  /** `customDnsConfigs`: which FQDN the endpoint serves on which private IP. */
  customDnsConfigs: Array<{ fqdn: string; ipAddresses: string[] }>;
  networkInterfaceIds: string[];
  /** From the endpoint's NIC(s): private IP and the FQDNs it serves (`privateLinkConnectionProperties.fqdns`). */
  nicIpConfigurations: Observed<Array<{ nicId: string; privateIPAddress?: string; fqdns: string[] }>>;
  zoneGroups: Observed<PrivateDnsZoneGroupObs[]>;
}

export interface PrivateEndpointsObs {
  /** One entry per endpoint referenced by the workspace's private endpoint connections. */
  endpoints: Array<{ id: string; observed: Observed<PrivateEndpointObs> }>;
}

// ---------------------------------------------------------------- private DNS zones

export interface ARecordSetObs {
  id: string;
  /** Relative name, e.g. `<guid>.workspace.eastus`. */
  name: string;
  fqdn?: string;
  ttl?: number;
  ipv4Addresses: string[];
}

export interface VnetLinkObs {
  id: string;
  name: string;
  virtualNetworkId?: string;
  registrationEnabled?: boolean;
  /** `InProgress` | `Completed`. */
  virtualNetworkLinkState?: string;
  provisioningState?: string;
  resolutionPolicy?: string;
}

export interface PrivateDnsZoneObs {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  aRecords: Observed<ARecordSetObs[]>;
  links: Observed<VnetLinkObs[]>;
}

export interface PrivateDnsZonesObs {
  /** Zone names searched for (the cloud's required zones). */
  requiredZoneNames: string[];
  /** Subscription-wide zone listings, one per subscription searched. */
  searches: Array<{ subscriptionId: string; why: string; result: Observed<{ zoneIds: string[] }> }>;
  /** Every zone of a required name found, plus any zone a zone group references. */
  zones: Array<{ id: string; name: string; foundBy: Array<'zone-group' | 'subscription-list'>; observed: Observed<PrivateDnsZoneObs> }>;
}

// ---------------------------------------------------------------- networks

export interface PeeringObs {
  id: string;
  name: string;
  remoteVirtualNetworkId?: string;
  /** `Initiated` | `Connected` | `Disconnected`. */
  peeringState?: string;
  peeringSyncLevel?: string;
  allowVirtualNetworkAccess?: boolean;
  allowForwardedTraffic?: boolean;
  allowGatewayTransit?: boolean;
  useRemoteGateways?: boolean;
  remoteAddressPrefixes: string[];
}

export interface SubnetObs {
  id: string;
  name: string;
  vnetId: string;
  addressPrefixes: string[];
  networkSecurityGroupId?: string;
  routeTableId?: string;
  natGatewayId?: string;
  defaultOutboundAccess?: boolean;
  serviceEndpoints: string[];
  delegations: string[];
  privateEndpointIds: string[];
  ipConfigurationIds: string[];
}

export interface VnetObs {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location?: string;
  addressPrefixes: string[];
  /** `dhcpOptions.dnsServers`; empty = Azure-provided DNS (168.63.129.16). */
  dnsServers: string[];
  subnets: SubnetObs[];
  peerings: PeeringObs[];
}

export interface NetworksObs {
  /** Every VNet read: the compute VNets, the VNets they peer with, the private endpoints' VNets. */
  vnets: Array<{ id: string; roles: Array<'compute' | 'peer' | 'private-endpoint'>; observed: Observed<VnetObs> }>;
}

// ---------------------------------------------------------------- live DNS

export type DnsStatus = 'ok' | 'nxdomain' | 'nodata' | 'servfail' | 'refused' | 'timeout' | 'error';

export interface DnsLookupObs {
  /** Name asked, lower case, no trailing dot. */
  name: string;
  purpose: 'workspace-api' | 'workspace-cert' | 'notebooks' | 'instance-name' | 'other';
  /** For instance names: the compute they belong to. */
  computeName?: string;
  /** `system` or the `ip[:port]` asked. */
  resolver: string;
  status: DnsStatus;
  /** CNAME chain as far as the resolver reported it (first hop at least). */
  cnames: string[];
  /** Final IPv4 addresses. */
  addresses: string[];
  message?: string;
}

export interface DnsObs {
  resolvers: string[];
  lookups: DnsLookupObs[];
}

// ---------------------------------------------------------------- the snapshot

/** Probe outputs, keyed by probe id. A key is absent when its probe did not run. */
export interface Snapshot {
  target: Target;
  /** When the evidence was gathered (ISO 8601). */
  collectedAt: string;
  workspace?: Observed<WorkspaceObs>;
  computes?: Observed<ComputesObs>;
  privateEndpoints?: Observed<PrivateEndpointsObs>;
  privateDnsZones?: Observed<PrivateDnsZonesObs>;
  networks?: Observed<NetworksObs>;
  dns?: Observed<DnsObs>;
}

export type ProbeId = Exclude<keyof Snapshot, 'target' | 'collectedAt'>;
export const PROBE_IDS: readonly ProbeId[] = ['workspace', 'computes', 'privateEndpoints', 'networks', 'privateDnsZones', 'dns'];
