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
  /**
   * `--vantage-vm`: a VM (or NIC) id in the compute subnet whose effective routes and NSGs stand
   * for the compute's (Azure ML nodes' own NICs live in a Microsoft-managed subscription).
   */
  vantageVmId?: string;
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
  /** `Standard_DS3_v2`, …: tells a CPU cluster (image builds) from a GPU one. */
  vmSize?: string;
}

export interface ComputesObs {
  /** Every compute listed (or the one named with --compute). */
  computes: ComputeObs[];
  /**
   * With --compute: the compute named by the workspace's `imageBuildCompute`, read separately
   * (absent when the workspace names none or it is the compute already listed).
   */
  imageBuildCompute?: Observed<ComputeObs>;
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
  /** `Enabled` | `Disabled` | `NetworkSecurityGroupEnabled` | `RouteTableEnabled`: whether NSGs/UDRs apply to private endpoints in it. */
  privateEndpointNetworkPolicies?: string;
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
  /** `dependency`: a storage account, key vault or registry name served by a private endpoint. */
  purpose: 'workspace-api' | 'workspace-cert' | 'notebooks' | 'instance-name' | 'dependency' | 'other';
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

// ---------------------------------------------------------------- service tags

export interface ServiceTagObs {
  /** `AzureActiveDirectory`, `Storage.westeurope`, … */
  name: string;
  /** Normalized region for regional tags, '' for global ones. */
  region: string;
  systemService?: string;
  /** IPv4 prefixes only (CIDR). */
  addressPrefixes: string[];
}

export interface ServiceTagsObs {
  /** Region asked (the workspace's, normalized). */
  location: string;
  cloud?: string;
  changeNumber?: string;
  tags: ServiceTagObs[];
}

// ---------------------------------------------------------------- subnet policies (route tables, NSGs, NAT)

export interface RouteObs {
  name: string;
  /** CIDR or a service tag name (`AzureMachineLearning`). */
  addressPrefix: string;
  /** `VirtualNetworkGateway` | `VnetLocal` | `Internet` | `VirtualAppliance` | `None`. */
  nextHopType: string;
  nextHopIpAddress?: string;
}

export interface RouteTableObs {
  id: string;
  name: string;
  location?: string;
  disableBgpRoutePropagation?: boolean;
  routes: RouteObs[];
}

/** One NSG rule, custom or default, configured or effective (prefix lists always arrays). */
export interface SecurityRuleObs {
  /** `AllowAml` for configured rules; effective rules keep Azure's `securityRules/AllowAml` / `defaultSecurityRules/DenyAllOutBound`. */
  name: string;
  priority: number;
  direction: 'Inbound' | 'Outbound';
  access: 'Allow' | 'Deny';
  /** `*` (the SDK's `Asterisk`/`All` normalized to `*`), `Tcp`, `Udp`, `Icmp`, `Esp`, `Ah`. */
  protocol: string;
  /** `*`, CIDR, IP, or a tag (`VirtualNetwork`, `Internet`, `AzureLoadBalancer`, `AzureActiveDirectory`, …). */
  sourceAddressPrefixes: string[];
  destinationAddressPrefixes: string[];
  /** Effective NSGs only: tags already expanded by Azure into CIDRs (empty when Azure gave none). */
  expandedSourceAddressPrefixes?: string[];
  expandedDestinationAddressPrefixes?: string[];
  /** `*`, `443`, `1000-2000`. */
  sourcePortRanges: string[];
  destinationPortRanges: string[];
  /** Application security groups on either side: the evaluator cannot decide these. */
  sourceApplicationSecurityGroupIds: string[];
  destinationApplicationSecurityGroupIds: string[];
  /** One of Azure's default rules (priority 65000+). */
  isDefault: boolean;
}

export interface NsgObs {
  id: string;
  name: string;
  location?: string;
  /** Custom rules followed by the default rules, as ARM returned them (`defaultSecurityRules`; the engine adds Azure's six when ARM gave none). */
  rules: SecurityRuleObs[];
}

export interface NatGatewayObs {
  id: string;
  name: string;
  provisioningState?: string;
  publicIpAddressIds: string[];
  publicIpPrefixIds: string[];
}

export interface SubnetPoliciesObs {
  /** Every route table, NSG and NAT gateway attached to a compute subnet or a private endpoint subnet, each read once. */
  routeTables: Array<{ id: string; observed: Observed<RouteTableObs> }>;
  nsgs: Array<{ id: string; observed: Observed<NsgObs> }>;
  natGateways: Array<{ id: string; observed: Observed<NatGatewayObs> }>;
}

// ---------------------------------------------------------------- vantage (a readable NIC in the compute subnet)

export interface EffectiveRouteObs {
  name?: string;
  /** `Default` (system) | `User` | `VirtualNetworkGateway` (BGP) | `Unknown`. */
  source: string;
  /** `Active` | `Invalid`. */
  state: string;
  addressPrefixes: string[];
  /** `VnetLocal` | `VNetPeering` | `Internet` | `VirtualAppliance` | `VirtualNetworkGateway` | `VirtualNetworkServiceEndpoint` | `None` | … */
  nextHopType: string;
  nextHopIpAddresses: string[];
}

export interface EffectiveNsgObs {
  networkSecurityGroupId?: string;
  association: 'subnet' | 'network-interface' | 'network-manager' | 'unknown';
  associatedId?: string;
  rules: SecurityRuleObs[];
}

/** Network Watcher next hop from the vantage VM to one destination address. */
export interface NextHopObs {
  destinationIp: string;
  /** Why this address was asked: a flow id (`workspace-api`, `entra-id`, …). */
  flow: string;
  result: Observed<{ nextHopType: string; nextHopIpAddress?: string; routeTableId?: string }>;
}

export interface VantageObs {
  /** The compute subnet this vantage stands for. */
  subnetId: string;
  nicId: string;
  vmId?: string;
  privateIp?: string;
  /** `given`: --vantage-vm; `subnet`: found among the subnet's ipConfigurations. */
  how: 'given' | 'subnet';
  effectiveRoutes: Observed<EffectiveRouteObs[]>;
  effectiveNsgs: Observed<EffectiveNsgObs[]>;
  /** Absent when no Network Watcher call was possible (no VM behind the NIC). */
  networkWatcherId?: string;
  nextHops: NextHopObs[];
}

export interface VantagesObs {
  /** One entry per compute subnet. */
  subnets: Array<{
    subnetId: string;
    /** A readable NIC's observations, when one was found. */
    vantage?: VantageObs;
    /** ipConfiguration/NIC ids tried and why each was skipped (`403 AuthorizationFailed`, `404`, `not a VM NIC`). */
    skipped: Array<{ id: string; why: string }>;
  }>;
}

// ---------------------------------------------------------------- firewalls

export interface ApplicationRuleObs {
  ruleType: 'ApplicationRule';
  name: string;
  sourceAddresses: string[];
  sourceIpGroups: string[];
  /** `Https:443`, `Http:80`, `Mssql:1433` as {protocolType, port}. */
  protocols: Array<{ protocolType: string; port: number }>;
  targetFqdns: string[];
  fqdnTags: string[];
  webCategories: string[];
  targetUrls: string[];
  destinationAddresses: string[];
}

export interface NetworkRuleObs {
  ruleType: 'NetworkRule';
  name: string;
  /** `TCP` | `UDP` | `ICMP` | `Any`. */
  ipProtocols: string[];
  sourceAddresses: string[];
  sourceIpGroups: string[];
  /** IPs, CIDRs, service tags or `*`. */
  destinationAddresses: string[];
  destinationIpGroups: string[];
  /** Only honoured with the policy's DNS proxy on. */
  destinationFqdns: string[];
  /** `443`, `1000-2000`, `*`. */
  destinationPorts: string[];
}

export interface OtherFirewallRuleObs {
  ruleType: string;
  name: string;
}

export type FirewallRuleObs = ApplicationRuleObs | NetworkRuleObs | OtherFirewallRuleObs;

export interface RuleCollectionObs {
  name: string;
  priority: number;
  /** `FirewallPolicyFilterRuleCollection` | `FirewallPolicyNatRuleCollection`. */
  ruleCollectionType: string;
  /** `Allow` | `Deny` (filter collections), `DNAT` (NAT collections). */
  action?: string;
  rules: FirewallRuleObs[];
}

export interface RuleCollectionGroupObs {
  id: string;
  name: string;
  priority: number;
  ruleCollections: RuleCollectionObs[];
}

export interface FirewallPolicyObs {
  id: string;
  name: string;
  basePolicyId?: string;
  /** `dnsSettings.enableProxy`. */
  dnsProxyEnabled?: boolean;
  threatIntelMode?: string;
  ruleCollectionGroups: Observed<RuleCollectionGroupObs[]>;
}

export interface FirewallObs {
  id: string;
  name: string;
  location?: string;
  /** `AZFW_VNet` | `AZFW_Hub`. */
  skuName?: string;
  skuTier?: string;
  /** Private IPs of its ipConfigurations (and `hubIPAddresses.privateIPAddress` for a vWAN hub firewall). */
  privateIpAddresses: string[];
  subnetIds: string[];
  firewallPolicyId?: string;
  /** Classic (non-policy) rule collections present: not evaluated. */
  hasClassicRules: boolean;
  provisioningState?: string;
}

/** A virtual-appliance next hop address and what owns it. */
export interface ApplianceObs {
  ip: string;
  /**
   * `firewall`: an Azure Firewall's private IP; `nic`: a NIC (a third-party appliance); `none`:
   * nothing in the searched scopes; `unknown`: not found, but something in the address's subnet
   * could not be checked (a load balancer frontend, a scale-set NIC, an unreadable NIC): see `why`.
   */
  owner: 'firewall' | 'nic' | 'none' | 'unknown';
  ownerId?: string;
  why?: string;
}

export interface FirewallsObs {
  /** Every virtual-appliance next hop seen in the route tables and effective routes. */
  appliances: ApplianceObs[];
  /** Firewall listings per subscription searched; a failed one makes `owner: 'none'` undecidable. */
  searches: Array<{ subscriptionId: string; result: Observed<{ count: number }> }>;
  firewalls: Array<{ id: string; observed: Observed<FirewallObs> }>;
  policies: Array<{ id: string; observed: Observed<FirewallPolicyObs> }>;
}

// ---------------------------------------------------------------- dependencies (storage, key vault, registry)

export interface DependencyPrivateEndpointObs {
  privateEndpointId?: string;
  /** `privateLinkServiceConnectionState.status`. */
  status?: string;
  groupIds: string[];
  /** The endpoint itself (its subnet and private IPs), read through Microsoft.Network. */
  endpoint: Observed<{ subnetId?: string; vnetId?: string; ipAddresses: string[]; fqdns: string[] }>;
}

export interface NetworkAclsObs {
  /** `Enabled` | `Disabled` | `SecuredByPerimeter`; undefined when absent (= Enabled). */
  publicNetworkAccess?: string;
  /** `Allow` | `Deny`; undefined when ARM gave no network rules (= Allow). */
  defaultAction?: string;
  /** `AzureServices`, `Logging`, `Metrics`, `None` (split from the comma list). */
  bypass: string[];
  /** Subnet ids of virtual network rules. */
  virtualNetworkSubnetIds: string[];
  ipRules: string[];
  /** Storage only: resource-instance rules. */
  resourceAccessRules: Array<{ tenantId?: string; resourceId: string }>;
}

export interface DependencyObs {
  id: string;
  name: string;
  kind: 'storage' | 'key-vault' | 'container-registry';
  location?: string;
  /** Storage: `Standard_LRS`…; registry: `Basic` | `Standard` | `Premium`; key vault: `standard` | `premium`. */
  sku?: string;
  network: NetworkAclsObs;
  privateEndpoints: DependencyPrivateEndpointObs[];
  /** Data-plane host names: `<acct>.blob.core.windows.net`, `<kv>.vault.azure.net`, `<acr>.azurecr.io`. */
  hostNames: string[];
}

export interface DependenciesObs {
  /** One entry per dependency the workspace names (storage account, key vault, container registry). */
  resources: Array<{ id: string; kind: DependencyObs['kind']; observed: Observed<DependencyObs> }>;
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
  serviceTags?: Observed<ServiceTagsObs>;
  subnetPolicies?: Observed<SubnetPoliciesObs>;
  vantage?: Observed<VantagesObs>;
  firewalls?: Observed<FirewallsObs>;
  dependencies?: Observed<DependenciesObs>;
}

export type ProbeId = Exclude<keyof Snapshot, 'target' | 'collectedAt'>;
export const PROBE_IDS: readonly ProbeId[] = [
  'workspace',
  'computes',
  'privateEndpoints',
  'networks',
  'privateDnsZones',
  'dependencies',
  'dns',
  'serviceTags',
  'subnetPolicies',
  'vantage',
  'firewalls',
];
