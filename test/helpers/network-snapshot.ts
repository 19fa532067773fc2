/**
 * A healthy hub-spoke snapshot WITH the network observations flow analysis reads, built on
 * `healthySnapshot()`: the compute subnet (10.20.1.0/24) has a strict NSG (service-tag allows,
 * Internet denied) and a route table sending 0.0.0.0/0 to Azure Firewall fw-hub (10.10.0.4) in the
 * hub, whose policy allows the ML service tags (network rules) and login.microsoftonline.com
 * (application rule). Storage and registry are reached through approved private endpoints in the
 * hub, the key vault on its public address (network rules Allow). No vantage VM: routes and NSGs
 * are computed from configuration unless a test calls `withVantage`.
 */
import type {
  DependencyObs, EffectiveRouteObs, FirewallPolicyObs, FirewallsObs, NsgObs, RouteTableObs, RuleCollectionGroupObs, SecurityRuleObs, ServiceTagObs, Snapshot, SubnetObs, VantageObs, VnetObs,
} from '../../src/model/snapshot.ts';
import { defaultSecurityRules } from '../../src/net/nsg.ts';
import { HUB_ID, HUB_SUB, PE_SUBNET_ID, SPOKE_ID, SUB, SUBNET_ID, WS_ID, healthySnapshot, lookup, value } from './snapshot.ts';

export const NSG_ID = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/nsg-compute`;
export const RT_ID = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/routeTables/rt-compute`;
export const NAT_ID = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/natGateways/nat-compute`;
export const FW_ID = `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/azureFirewalls/fw-hub`;
export const FW_POLICY_ID = `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/firewallPolicies/fwp-hub`;
export const FW_IP = '10.10.0.4';
export const FW_SUBNET_ID = `${HUB_ID}/subnets/AzureFirewallSubnet`;
export const SPOKE_PEERING_ID = `${SPOKE_ID}/virtualNetworkPeerings/spoke-to-hub`;
export const STORAGE_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.Storage/storageAccounts/stdemo`;
export const KV_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.KeyVault/vaults/kv-demo`;
export const ACR_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.ContainerRegistry/registries/acrdemo`;
export const VANTAGE_NIC_ID = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkInterfaces/vm-jump-nic`;
export const BLOB_IP = '10.10.1.6';
export const FILE_IP = '10.10.1.7';
export const ACR_IP = '10.10.1.8';
export const AAD_PREFIXES = ['20.190.128.0/18', '40.126.0.0/18'];
export const AML_PREFIXES = ['13.69.64.0/24', '20.43.120.0/24'];

const peId = (name: string) => `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/privateEndpoints/${name}`;

export const SERVICE_TAGS: ServiceTagObs[] = [
  { name: 'AzureActiveDirectory', region: '', addressPrefixes: AAD_PREFIXES },
  { name: 'AzureMachineLearning', region: '', addressPrefixes: AML_PREFIXES },
  { name: 'AzureResourceManager', region: '', addressPrefixes: ['20.37.158.0/23'] },
  { name: 'Storage', region: '', addressPrefixes: ['20.60.0.0/16', '52.239.0.0/16'] },
  { name: 'Storage.eastus', region: 'eastus', addressPrefixes: ['20.60.0.0/16'] },
  { name: 'AzureKeyVault.eastus', region: 'eastus', addressPrefixes: ['20.42.64.32/28'] },
  { name: 'AzureContainerRegistry.eastus', region: 'eastus', addressPrefixes: ['20.42.66.0/23'] },
  { name: 'MicrosoftContainerRegistry', region: '', addressPrefixes: ['204.79.197.219/32'] },
  { name: 'AzureFrontDoor.FirstParty', region: '', addressPrefixes: ['13.107.3.0/24'] },
  { name: 'BatchNodeManagement.eastus', region: 'eastus', addressPrefixes: ['40.71.12.192/27'] },
];

/** A configured NSG rule (one destination prefix, ports as given). */
export function nsgRule(name: string, priority: number, access: 'Allow' | 'Deny', dest: string, ports: string[], extra: Partial<SecurityRuleObs> = {}): SecurityRuleObs {
  return {
    name, priority, direction: 'Outbound', access, protocol: 'Tcp',
    sourceAddressPrefixes: ['VirtualNetwork'], destinationAddressPrefixes: [dest], sourcePortRanges: ['*'], destinationPortRanges: ports,
    sourceApplicationSecurityGroupIds: [], destinationApplicationSecurityGroupIds: [], isDefault: false, ...extra,
  };
}

/** The compute subnet's NSG as ARM returns custom rules (no defaults: the engine appends them). */
export function computeNsg(): NsgObs {
  return {
    id: NSG_ID, name: 'nsg-compute', location: 'eastus',
    rules: [
      nsgRule('AllowAadOutbound', 100, 'Allow', 'AzureActiveDirectory', ['80', '443']),
      nsgRule('AllowAmlOutbound', 110, 'Allow', 'AzureMachineLearning', ['443', '18881']),
      nsgRule('AllowAmlUdpOutbound', 111, 'Allow', 'AzureMachineLearning', ['5831'], { protocol: 'Udp' }),
      nsgRule('AllowArmOutbound', 120, 'Allow', 'AzureResourceManager', ['443']),
      nsgRule('AllowStorageOutbound', 130, 'Allow', 'Storage.eastus', ['443', '445']),
      nsgRule('AllowKeyVaultOutbound', 140, 'Allow', 'AzureKeyVault.eastus', ['443']),
      nsgRule('AllowAcrOutbound', 150, 'Allow', 'AzureContainerRegistry.eastus', ['443']),
      nsgRule('AllowMcrOutbound', 160, 'Allow', 'MicrosoftContainerRegistry', ['443']),
      nsgRule('AllowFrontDoorOutbound', 170, 'Allow', 'AzureFrontDoor.FirstParty', ['443']),
      nsgRule('AllowBatchOutbound', 180, 'Allow', 'BatchNodeManagement.eastus', ['443']),
      nsgRule('DenyInternetOutbound', 4000, 'Deny', 'Internet', ['*'], { protocol: '*' }),
      nsgRule('AllowAmlInbound', 200, 'Allow', 'VirtualNetwork', ['44224'], { direction: 'Inbound', sourceAddressPrefixes: ['AzureMachineLearning'] }),
    ],
  };
}

export function computeRouteTable(): RouteTableObs {
  return { id: RT_ID, name: 'rt-compute', location: 'eastus', disableBgpRoutePropagation: true, routes: [{ name: 'default-to-firewall', addressPrefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIpAddress: FW_IP }] };
}

const netRule = (name: string, protocols: string[], tag: string, ports: string[]) => ({
  ruleType: 'NetworkRule' as const, name, ipProtocols: protocols, sourceAddresses: ['10.20.0.0/16'], sourceIpGroups: [], destinationAddresses: [tag], destinationIpGroups: [], destinationFqdns: [], destinationPorts: ports,
});

export function firewallGroups(): RuleCollectionGroupObs[] {
  return [{
    id: `${FW_POLICY_ID}/ruleCollectionGroups/rcg-ml`, name: 'rcg-ml', priority: 200,
    ruleCollections: [
      {
        name: 'net-ml', priority: 100, ruleCollectionType: 'FirewallPolicyFilterRuleCollection', action: 'Allow',
        rules: [
          netRule('aml-tcp', ['TCP'], 'AzureMachineLearning', ['443', '18881']),
          netRule('aml-udp', ['UDP'], 'AzureMachineLearning', ['5831']),
          netRule('arm', ['TCP'], 'AzureResourceManager', ['443']),
          netRule('storage', ['TCP'], 'Storage.eastus', ['443', '445']),
          netRule('keyvault', ['TCP'], 'AzureKeyVault.eastus', ['443']),
          netRule('acr', ['TCP'], 'AzureContainerRegistry.eastus', ['443']),
          netRule('mcr', ['TCP'], 'MicrosoftContainerRegistry', ['443']),
          netRule('frontdoor', ['TCP'], 'AzureFrontDoor.FirstParty', ['443']),
          netRule('batch', ['TCP'], 'BatchNodeManagement.eastus', ['443']),
        ],
      },
      {
        name: 'app-auth', priority: 300, ruleCollectionType: 'FirewallPolicyFilterRuleCollection', action: 'Allow',
        rules: [{
          ruleType: 'ApplicationRule', name: 'entra-login', sourceAddresses: ['10.20.0.0/16'], sourceIpGroups: [],
          protocols: [{ protocolType: 'Http', port: 80 }, { protocolType: 'Https', port: 443 }],
          targetFqdns: ['login.microsoftonline.com'], fqdnTags: [], webCategories: [], targetUrls: [], destinationAddresses: [],
        }],
      },
    ],
  }];
}

function firewalls(): FirewallsObs {
  const policy: FirewallPolicyObs = { id: FW_POLICY_ID, name: 'fwp-hub', dnsProxyEnabled: false, ruleCollectionGroups: { ok: true, value: firewallGroups() } };
  return {
    appliances: [{ ip: FW_IP, owner: 'firewall', ownerId: FW_ID }],
    searches: [{ subscriptionId: SUB, result: { ok: true, value: { count: 0 } } }, { subscriptionId: HUB_SUB, result: { ok: true, value: { count: 1 } } }],
    firewalls: [{ id: FW_ID, observed: { ok: true, value: { id: FW_ID, name: 'fw-hub', location: 'eastus', skuName: 'AZFW_VNet', skuTier: 'Standard', privateIpAddresses: [FW_IP], subnetIds: [FW_SUBNET_ID], firewallPolicyId: FW_POLICY_ID, hasClassicRules: false, provisioningState: 'Succeeded' } } }],
    policies: [{ id: FW_POLICY_ID, observed: { ok: true, value: policy } }],
  };
}

function dependency(id: string, kind: DependencyObs['kind'], name: string, sku: string, hostNames: string[], pes: Array<{ name: string; group: string; ip: string; fqdn: string }>, defaultAction: string): DependencyObs {
  return {
    id, name, kind, location: 'eastus', sku, hostNames,
    network: { defaultAction, bypass: ['AzureServices'], virtualNetworkSubnetIds: [], ipRules: [], resourceAccessRules: [] },
    privateEndpoints: pes.map((p) => ({ privateEndpointId: peId(p.name), status: 'Approved', groupIds: [p.group], endpoint: { ok: true, value: { subnetId: PE_SUBNET_ID, vnetId: HUB_ID, ipAddresses: [p.ip], fqdns: [p.fqdn] } } })),
  };
}

export function networkSnapshot(): Snapshot {
  const s = healthySnapshot();
  const ws = value(s.workspace);
  ws.storageAccountId = STORAGE_ID;
  ws.keyVaultId = KV_ID;
  ws.containerRegistryId = ACR_ID;
  const sub = computeSubnet(s);
  sub.networkSecurityGroupId = NSG_ID;
  sub.routeTableId = RT_ID;
  sub.defaultOutboundAccess = false;
  const hub = vnetOf(s, HUB_ID);
  hub.subnets.push({ id: FW_SUBNET_ID, name: 'AzureFirewallSubnet', vnetId: HUB_ID, addressPrefixes: ['10.10.0.0/26'], serviceEndpoints: [], delegations: [], privateEndpointIds: [], ipConfigurationIds: [] });
  const hubPe = hub.subnets.find((x) => x.id === PE_SUBNET_ID) as SubnetObs;
  hubPe.privateEndpointNetworkPolicies = 'Disabled';

  const blob = 'stdemo.blob.core.windows.net';
  const file = 'stdemo.file.core.windows.net';
  const acr = 'acrdemo.azurecr.io';
  const storage = dependency(STORAGE_ID, 'storage', 'stdemo', 'Standard_LRS', [blob, file], [{ name: 'pe-st-blob', group: 'blob', ip: BLOB_IP, fqdn: blob }, { name: 'pe-st-file', group: 'file', ip: FILE_IP, fqdn: file }], 'Deny');
  storage.network.publicNetworkAccess = 'Disabled';
  const kv = dependency(KV_ID, 'key-vault', 'kv-demo', 'standard', ['kv-demo.vault.azure.net'], [], 'Allow');
  const registry = dependency(ACR_ID, 'container-registry', 'acrdemo', 'Premium', [acr], [{ name: 'pe-acr', group: 'registry', ip: ACR_IP, fqdn: acr }], 'Deny');
  s.dependencies = { ok: true, value: { resources: [storage, kv, registry].map((d) => ({ id: d.id, kind: d.kind, observed: { ok: true as const, value: d } })) } };
  value(s.dns).lookups.push(lookup(blob, 'other', [BLOB_IP]), lookup(file, 'other', [FILE_IP]), lookup(acr, 'other', [ACR_IP]));

  s.serviceTags = { ok: true, value: { location: 'eastus', cloud: 'Public', changeNumber: '42', tags: structuredClone(SERVICE_TAGS) } };
  s.subnetPolicies = { ok: true, value: { routeTables: [{ id: RT_ID, observed: { ok: true, value: computeRouteTable() } }], nsgs: [{ id: NSG_ID, observed: { ok: true, value: computeNsg() } }], natGateways: [] } };
  s.vantage = { ok: true, value: { subnets: [{ subnetId: SUBNET_ID, skipped: [] }] } };
  s.firewalls = { ok: true, value: firewalls() };
  return s;
}

// ---------------------------------------------------------------- accessors for tests that break one thing

export function vnetOf(s: Snapshot, id: string): VnetObs {
  const e = value(s.networks).vnets.find((v) => v.id === id);
  if (!e) throw new Error(`fixture: no vnet ${id}`);
  return value(e.observed);
}

export function computeSubnet(s: Snapshot): SubnetObs {
  const sub = vnetOf(s, SPOKE_ID).subnets.find((x) => x.id === SUBNET_ID);
  if (!sub) throw new Error('fixture: no compute subnet');
  return sub;
}

export const nsgOf = (s: Snapshot): NsgObs => value(value(s.subnetPolicies).nsgs.find((n) => n.id === NSG_ID)?.observed);
export const routeTableOf = (s: Snapshot): RouteTableObs => value(value(s.subnetPolicies).routeTables.find((n) => n.id === RT_ID)?.observed);
export const policyOf = (s: Snapshot): FirewallPolicyObs => value(value(s.firewalls).policies[0]?.observed);
export const dependencyOf = (s: Snapshot, id: string): DependencyObs => value(value(s.dependencies).resources.find((r) => r.id === id)?.observed);

/** Effective routes equal to the configuration (what Azure would report for the vantage NIC). */
export function effectiveRoutes(): EffectiveRouteObs[] {
  const r = (source: string, prefixes: string[], nextHopType: string, ip?: string, name?: string): EffectiveRouteObs => ({ ...(name ? { name } : {}), source, state: 'Active', addressPrefixes: prefixes, nextHopType, nextHopIpAddresses: ip ? [ip] : [] });
  return [
    r('Default', ['10.20.0.0/16'], 'VnetLocal'),
    r('Default', ['10.10.0.0/16'], 'VNetPeering'),
    r('Default', ['0.0.0.0/0'], 'Internet'),
    r('Default', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'], 'None'),
    { ...r('User', ['0.0.0.0/0'], 'VirtualAppliance', FW_IP, 'default-to-firewall') },
  ].map((x, i) => (i === 2 ? { ...x, state: 'Invalid' } : x));
}

/** A readable VM NIC in the compute subnet: effective routes and NSGs as Azure reports them. */
export function withVantage(s: Snapshot, patch: Partial<VantageObs> = {}): VantageObs {
  // Azure reports effective rules with their collection in the name, the defaults included, and
  // service tags expanded into prefixes.
  const effective: SecurityRuleObs[] = [
    ...computeNsg().rules.map((rule) => ({ ...rule, name: `securityRules/${rule.name}`, ...(rule.name === 'AllowAadOutbound' ? { expandedDestinationAddressPrefixes: AAD_PREFIXES } : {}) })),
    ...defaultSecurityRules().map((rule) => ({ ...rule, name: `defaultSecurityRules/${rule.name}` })),
  ];
  const vantage: VantageObs = {
    subnetId: SUBNET_ID, nicId: VANTAGE_NIC_ID, vmId: `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Compute/virtualMachines/vm-jump`, privateIp: '10.20.1.10', how: 'subnet',
    effectiveRoutes: { ok: true, value: effectiveRoutes() },
    effectiveNsgs: { ok: true, value: [{ networkSecurityGroupId: NSG_ID, association: 'subnet', associatedId: SUBNET_ID, rules: effective }] },
    networkWatcherId: `/subscriptions/${SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/NetworkWatcher_eastus`,
    nextHops: [],
    ...patch,
  };
  s.vantage = { ok: true, value: { subnets: [{ subnetId: SUBNET_ID, vantage, skipped: [] }] } };
  return vantage;
}

export { HUB_ID, SPOKE_ID, SUBNET_ID, WS_ID };

// ---------------------------------------------------------------- reading an analysis

/** The flow of that id (the snapshot has one compute subnet). */
export function flowOf<F extends { id: string }>(analysis: { flows: F[] }, id: string): F {
  const f = analysis.flows.find((x) => x.id === id);
  if (!f) throw new Error(`no flow ${id} in [${analysis.flows.map((x) => x.id).join(', ')}]`);
  return f;
}

/** The hop that decided a flow: the first blocked one, else the first undetermined one. */
export function decisiveHop<H extends { verdict: string }>(flow: { hops: H[] }): H | undefined {
  return flow.hops.find((h) => h.verdict === 'blocked') ?? flow.hops.find((h) => h.verdict === 'undetermined');
}
