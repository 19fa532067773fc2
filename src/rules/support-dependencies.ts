/**
 * Helpers of the dependency rules (storage account, key vault, container registry, image builds):
 * which dependency the workspace uses, whether its network rules restrict it, and whether a compute
 * subnet has a path through them (the flow's destination hop when the flow analysis decided it,
 * else the configuration: private endpoints in reachable VNets, virtual network rules with service
 * endpoints). Also the fix as Bicep (the dependency, endpoints or subnet redeclared; the workspace
 * for image builds and managed networks) and the verify command. Pure functions over the snapshot,
 * like ./support.ts.
 */
import { idKey, nameOf, parentId, sameId, tryParseArmId } from '../model/arm-id.ts';
import type { CloudName } from '../model/cloud.ts';
import type {
  ComputeObs,
  DependencyObs,
  DependencyPrivateEndpointObs,
  ManagedNetworkObs,
  NetworkAclsObs,
  Snapshot,
  SubnetObs,
  VnetObs,
  WorkspaceObs,
} from '../model/snapshot.ts';
import type { FlowAnalysis, FlowHop, FlowResult, HopReason } from '../flows/types.ts';
import type { Evidence } from '../report/schema.ts';
import type { FindingDraft, FlowId, RuleResult } from './rule.ts';
import { azParts, azScope, capitalize, computeLabel, isUnknown, judgedWorkspace, listText, named, undetermined, unknownFrom, valuesByKey, vnetById, zonesNamed, type Unknown } from './support.ts';
import { bicepResource, bicepSnippet, raw, scopeOf, type BicepValue } from './support-bicep.ts';

export type DependencyKind = DependencyObs['kind'];

/** What differs between storage, key vault and registry for the path checks. */
export interface DependencySpec {
  kind: DependencyKind;
  flow: FlowId;
  /** `storage account`, `key vault`, `container registry`. */
  label: string;
  /** Private-link sub-resources the compute needs an endpoint for. */
  groups: string[];
  /** Service endpoint a virtual network rule needs on the compute subnet. */
  serviceEndpoint: string;
  /** ARM path of the network rules, for evidence. */
  aclPath: string;
  /** ARM resource type, for `az network private-endpoint-connection --type`. */
  resourceType: string;
  /** The az command adding a virtual network rule for a subnet (none: the service-endpoint way is not offered). */
  vnetRuleCommand?: (d: DependencyObs, subnetId: string) => string;
  /** `az … show --ids <id>`: what the verify step queries. */
  show: (d: DependencyObs) => string;
  /** JMESPath of the private endpoint connections in that output. */
  connectionsPath: string;
  /** Checks that a virtual network rule names the subnet (with `vnetRuleCommand`). */
  vnetRuleCheck?: (subnetId: string) => DependencyCheck;
}

export const STORAGE: DependencySpec = {
  kind: 'storage',
  flow: 'storage',
  label: 'storage account',
  groups: ['blob', 'file'],
  serviceEndpoint: 'Microsoft.Storage',
  aclPath: 'properties.networkAcls',
  resourceType: 'Microsoft.Storage/storageAccounts',
  vnetRuleCommand: (d, subnetId) => `az storage account network-rule add ${azScope(d.id)} --account-name ${d.name} --subnet ${subnetId}`,
  show: (d) => `az storage account show --ids ${d.id}`,
  connectionsPath: 'privateEndpointConnections',
  vnetRuleCheck: (subnetId) => ({ query: `networkRuleSet.virtualNetworkRules[?ends_with(virtualNetworkResourceId, '/subnets/${nameOf(subnetId)}')].state | [0]`, prints: 'Succeeded' }),
};

export const KEY_VAULT: DependencySpec = {
  kind: 'key-vault',
  flow: 'key-vault',
  label: 'key vault',
  groups: ['vault'],
  serviceEndpoint: 'Microsoft.KeyVault',
  aclPath: 'properties.networkAcls',
  resourceType: 'Microsoft.KeyVault/vaults',
  vnetRuleCommand: (d, subnetId) => `az keyvault network-rule add ${azScope(d.id)} --name ${d.name} --subnet ${subnetId}`,
  show: (d) => `az keyvault show --ids ${d.id}`,
  connectionsPath: 'properties.privateEndpointConnections',
  // Key Vault stores virtual network rule ids in lower case.
  vnetRuleCheck: (subnetId) => ({ query: `properties.networkAcls.virtualNetworkRules[?ends_with(id, '/subnets/${nameOf(subnetId).toLowerCase()}')].id | [0]`, prints: subnetId.toLowerCase() }),
};

export const REGISTRY: DependencySpec = {
  kind: 'container-registry',
  flow: 'container-registry',
  label: 'container registry',
  groups: ['registry'],
  serviceEndpoint: 'Microsoft.ContainerRegistry',
  aclPath: 'properties.networkRuleSet',
  resourceType: 'Microsoft.ContainerRegistry/registries',
  show: (d) => `az acr show --ids ${d.id}`,
  connectionsPath: 'privateEndpointConnections',
};

/** Private DNS zone of a private-link sub-resource, per cloud. */
const ZONES: Record<string, Record<CloudName, string>> = {
  blob: { AzureCloud: 'privatelink.blob.core.windows.net', AzureUSGovernment: 'privatelink.blob.core.usgovcloudapi.net', AzureChinaCloud: 'privatelink.blob.core.chinacloudapi.cn' },
  file: { AzureCloud: 'privatelink.file.core.windows.net', AzureUSGovernment: 'privatelink.file.core.usgovcloudapi.net', AzureChinaCloud: 'privatelink.file.core.chinacloudapi.cn' },
  vault: { AzureCloud: 'privatelink.vaultcore.azure.net', AzureUSGovernment: 'privatelink.vaultcore.usgovcloudapi.net', AzureChinaCloud: 'privatelink.vaultcore.azure.cn' },
  registry: { AzureCloud: 'privatelink.azurecr.io', AzureUSGovernment: 'privatelink.azurecr.us', AzureChinaCloud: 'privatelink.azurecr.cn' },
};

export function privateZoneFor(group: string, cloud: CloudName): string {
  return ZONES[group]?.[cloud] ?? `<private DNS zone for ${group}>`;
}

// ---------------------------------------------------------------- the dependency and its restriction

function configuredId(ws: WorkspaceObs, kind: DependencyKind): string | undefined {
  return kind === 'storage' ? ws.storageAccountId : kind === 'key-vault' ? ws.keyVaultId : ws.containerRegistryId;
}

/**
 * The workspace's dependency of this kind as the dependencies probe read it; undefined when the
 * workspace names none (a registry is created on the first image build).
 */
export function dependencyOf(s: Snapshot, ws: WorkspaceObs, spec: DependencySpec): DependencyObs | Unknown | undefined {
  const configured = configuredId(ws, spec.kind);
  const item = `network rules of the workspace's ${spec.label}`;
  if (!s.dependencies?.ok) {
    if (!configured && s.dependencies === undefined) return undefined;
    return { ...unknownFrom(item, s.dependencies, 'the dependencies (storage account, key vault, container registry)'), ...(configured ? { resourceId: configured } : {}) };
  }
  const entry = s.dependencies.value.resources.find((r) => r.kind === spec.kind && (!configured || sameId(r.id, configured)));
  if (!entry) return configured ? { unknown: true, item, reason: `${spec.label} ${nameOf(configured)} was not read by the dependencies probe`, resourceId: configured } : undefined;
  if (!entry.observed.ok) return { unknown: true, item: `network rules of ${spec.label} ${nameOf(entry.id)}`, reason: entry.observed.error.message, resourceId: entry.id };
  return entry.observed.value;
}

const lower = (v: string | undefined) => (v ?? '').toLowerCase();
export const publicDisabled = (n: NetworkAclsObs) => lower(n.publicNetworkAccess) === 'disabled';
export const denyByDefault = (n: NetworkAclsObs) => lower(n.defaultAction) === 'deny';
export const securedByPerimeter = (n: NetworkAclsObs) => lower(n.publicNetworkAccess) === 'securedbyperimeter';
/** Public network access off, or on for selected networks only. */
export const isRestricted = (n: NetworkAclsObs) => publicDisabled(n) || denyByDefault(n) || securedByPerimeter(n);
export const bypassesAzureServices = (n: NetworkAclsObs) => n.bypass.some((b) => lower(b) === 'azureservices');
export const isApproved = (status: string | undefined) => lower(status) === 'approved';

/** `publicNetworkAccess Disabled` / `defaultAction Deny`, for sentences. */
export function restrictionText(n: NetworkAclsObs): string {
  const parts: string[] = [];
  if (publicDisabled(n)) parts.push('public network access disabled');
  if (securedByPerimeter(n)) parts.push('public network access secured by a network security perimeter');
  if (denyByDefault(n)) parts.push('network rules that deny by default (defaultAction Deny)');
  return listText(parts);
}

export function restrictionEvidence(d: DependencyObs, spec: DependencySpec): Evidence[] {
  const out: Evidence[] = [];
  if (publicDisabled(d.network) || securedByPerimeter(d.network)) out.push({ resourceId: d.id, property: 'properties.publicNetworkAccess', observed: d.network.publicNetworkAccess ?? '', expected: 'Enabled, or a private endpoint the compute can reach' });
  if (denyByDefault(d.network)) out.push({ resourceId: d.id, property: `${spec.aclPath}.defaultAction`, observed: 'Deny', expected: 'Allow, or a rule or private endpoint that admits the compute' });
  return out;
}

// ---------------------------------------------------------------- compute subnets

export interface SubnetGroup {
  subnetId: string;
  vnetId: string;
  computes: ComputeObs[];
}

/** Computes in customer VNets grouped by subnet, in a stable order. */
export function computeSubnetGroups(s: Snapshot): SubnetGroup[] | Unknown {
  if (!s.computes?.ok) return unknownFrom('computes', s.computes, 'the computes');
  const groups = new Map<string, SubnetGroup>();
  for (const c of s.computes.value.computes) {
    if (!c.subnetId) continue;
    const g = groups.get(idKey(c.subnetId)) ?? { subnetId: c.subnetId, vnetId: parentId(c.subnetId), computes: [] };
    g.computes.push(c);
    groups.set(idKey(c.subnetId), g);
  }
  return valuesByKey(groups).map((g) => ({ ...g, computes: [...g.computes].sort((a, b) => a.name.localeCompare(b.name)) }));
}

export function groupText(g: SubnetGroup): string {
  return `${listText(g.computes.map(computeLabel))} in subnet ${nameOf(g.subnetId)} of ${nameOf(g.vnetId)}`;
}

/** Managed virtual network isolation is on: computes do not sit in customer subnets. */
export function managedIsolation(ws: WorkspaceObs): boolean {
  const mode = lower(ws.managedNetwork?.isolationMode);
  return !!ws.managedNetwork && mode !== '' && mode !== 'disabled';
}

// ---------------------------------------------------------------- the path from a subnet

/** The private endpoints of one sub-resource, sorted by where they are relative to the compute. */
export interface GroupEndpoints {
  group: string;
  /** Approved, in the compute VNet or a VNet peered with it. */
  approved: DependencyPrivateEndpointObs[];
  /** In a reachable VNet but not approved. */
  pending: DependencyPrivateEndpointObs[];
  /** In VNets the compute has no peering with. */
  elsewhere: DependencyPrivateEndpointObs[];
  /** Endpoint unreadable, or its VNet's relation to the compute VNet unknown. */
  uncertain: Array<{ pe: DependencyPrivateEndpointObs; why: string }>;
}

export interface SubnetAccess {
  group: SubnetGroup;
  /** The compute VNet, or why it could not be read. */
  vnet: VnetObs | Unknown;
  subnet?: SubnetObs;
  verdict: 'open' | 'blocked' | 'unknown';
  /** open: how the compute gets in; blocked/unknown: why not (one sentence, no final period). */
  detail: string;
  endpoints: GroupEndpoints[];
  /** A virtual network rule names the compute subnet. */
  vnetRule: boolean;
  /** The compute subnet carries the service endpoint (undefined when the subnet was not read). */
  serviceEndpoint?: boolean;
  /** The flow's destination hop, when the flow analysis reached it. */
  hop?: { flow: FlowResult; hop: FlowHop };
}

const peVnet = (pe: DependencyPrivateEndpointObs): string | undefined =>
  pe.endpoint.ok ? (pe.endpoint.value.vnetId ?? (pe.endpoint.value.subnetId ? parentId(pe.endpoint.value.subnetId) : undefined)) : undefined;

export function endpointName(pe: DependencyPrivateEndpointObs): string {
  return pe.privateEndpointId ? nameOf(pe.privateEndpointId) : 'an unnamed private endpoint';
}

function groupEndpoints(d: DependencyObs, group: string, vnetId: string, vnet: VnetObs | Unknown): GroupEndpoints {
  const out: GroupEndpoints = { group, approved: [], pending: [], elsewhere: [], uncertain: [] };
  const peered = isUnknown(vnet) ? [] : vnet.peerings.map((p) => p.remoteVirtualNetworkId).filter((id): id is string => !!id);
  for (const pe of d.privateEndpoints) {
    if (!pe.groupIds.some((g) => lower(g) === group)) continue;
    const at = peVnet(pe);
    if (!pe.endpoint.ok) {
      out.uncertain.push({ pe, why: pe.endpoint.error.message });
    } else if (!at) {
      out.uncertain.push({ pe, why: `private endpoint ${endpointName(pe)} reports no subnet` });
    } else if (sameId(at, vnetId) || peered.some((id) => sameId(id, at))) {
      (isApproved(pe.status) ? out.approved : out.pending).push(pe);
    } else if (isUnknown(vnet)) {
      out.uncertain.push({ pe, why: `whether ${nameOf(vnetId)} peers with ${nameOf(at)} is unknown: ${vnet.reason}` });
    } else {
      out.elsewhere.push(pe);
    }
  }
  return out;
}

/** The destination hop of this flow from this subnet, when the analysis reached it. */
export function destinationHop(analysis: FlowAnalysis, flow: FlowId, subnetId: string): { flow: FlowResult; hop: FlowHop } | undefined {
  const f = analysis.flows.find((x) => x.id === flow && sameId(x.subnetId, subnetId));
  const hop = f?.hops.find((h) => h.kind === 'destination');
  return f && hop ? { flow: f, hop } : undefined;
}

/** A hop detail inside a sentence of ours: without its final period. */
const clause = (text: string) => text.replace(/\.+\s*$/, '');

const DESTINATION_REASONS: readonly HopReason[] = ['destination-network-rules', 'endpoint-not-approved', 'destination-sku'];

/**
 * Whether the dependency admits the computes of one subnet. The flow's destination hop decides when
 * it is allowed or blocked by the destination; otherwise the configuration does.
 */
export function subnetAccess(s: Snapshot, d: DependencyObs, spec: DependencySpec, g: SubnetGroup, analysis: FlowAnalysis): SubnetAccess {
  const vnet = vnetById(s, g.vnetId);
  const subnet = isUnknown(vnet) ? undefined : vnet.subnets.find((x) => sameId(x.id, g.subnetId));
  const endpoints = spec.groups.map((group) => groupEndpoints(d, group, g.vnetId, vnet));
  const vnetRule = d.network.virtualNetworkSubnetIds.some((id) => sameId(id, g.subnetId));
  const serviceEndpoint = subnet ? subnet.serviceEndpoints.some((e) => lower(e) === lower(spec.serviceEndpoint)) : undefined;
  const base = { group: g, vnet, endpoints, vnetRule, ...(subnet ? { subnet } : {}), ...(serviceEndpoint !== undefined ? { serviceEndpoint } : {}) };
  const config = configVerdict(d, spec, base);
  const hop = destinationHop(analysis, spec.flow, g.subnetId);
  // Traces keep every hop: a destination that admits traffic the path never delivers (an endpoint
  // in an unpeered VNet, say) does not open a path, so the configuration decides then.
  const delivered = !!hop && !hop.flow.hops.slice(0, hop.flow.hops.indexOf(hop.hop)).some((h) => h.verdict === 'blocked');
  if (hop?.hop.verdict === 'allowed' && delivered) return { ...base, hop, verdict: 'open', detail: `the flow analysis lets ${spec.flow} through at the destination: ${clause(hop.hop.detail)}` };
  if (hop?.hop.verdict === 'blocked' && hop.hop.reason && DESTINATION_REASONS.includes(hop.hop.reason)) {
    return { ...base, hop, verdict: 'blocked', detail: config.verdict === 'blocked' ? config.detail : clause(hop.hop.detail) };
  }
  return { ...base, ...(hop ? { hop } : {}), ...config };
}

function configVerdict(d: DependencyObs, spec: DependencySpec, a: Omit<SubnetAccess, 'verdict' | 'detail'>): { verdict: SubnetAccess['verdict']; detail: string } {
  const n = d.network;
  const subnetName = nameOf(a.group.subnetId);
  const vnetName = nameOf(a.group.vnetId);
  if (a.endpoints.every((e) => e.approved.length > 0)) {
    return { verdict: 'open', detail: `approved private endpoint${a.endpoints.length > 1 ? 's' : ''} ${listText(a.endpoints.map((e) => `${endpointName(e.approved[0] as DependencyPrivateEndpointObs)} (${e.group})`))} in ${vnetName} or a VNet peered with it` };
  }
  const publicPath = !publicDisabled(n) && !securedByPerimeter(n);
  if (publicPath && !denyByDefault(n)) return { verdict: 'open', detail: 'network rules allow all networks (defaultAction Allow)' };
  if (publicPath && a.vnetRule && a.serviceEndpoint === true) return { verdict: 'open', detail: `a virtual network rule for ${subnetName}, which has the ${spec.serviceEndpoint} service endpoint` };

  const uncertain = a.endpoints.filter((e) => e.approved.length === 0).flatMap((e) => e.uncertain);
  if (uncertain[0]) return { verdict: 'unknown', detail: `cannot tell whether private endpoint ${endpointName(uncertain[0].pe)} is reachable from ${vnetName}: ${uncertain[0].why}` };
  if (securedByPerimeter(n)) return { verdict: 'unknown', detail: 'public access is governed by a network security perimeter, whose rules are not read' };
  if (publicPath && a.vnetRule && a.serviceEndpoint === undefined) {
    return { verdict: 'unknown', detail: `a virtual network rule names ${subnetName}, but whether the subnet has the ${spec.serviceEndpoint} service endpoint is unknown: ${isUnknown(a.vnet) ? a.vnet.reason : 'the subnet is not in its VNet as read'}` };
  }
  if (publicPath && n.ipRules.length > 0) {
    return { verdict: 'unknown', detail: `no private endpoint or virtual network rule admits ${subnetName}; IP rules (${n.ipRules.join(', ')}) might admit the compute's outbound public address, which cannot be known from configuration` };
  }
  return { verdict: 'blocked', detail: blockedDetail(d, spec, a, publicPath) };
}

function blockedDetail(d: DependencyObs, spec: DependencySpec, a: Omit<SubnetAccess, 'verdict' | 'detail'>, publicPath: boolean): string {
  const vnetName = nameOf(a.group.vnetId);
  const subnetName = nameOf(a.group.subnetId);
  const parts: string[] = [];
  const missing = a.endpoints.filter((e) => e.approved.length === 0);
  const none = missing.filter((e) => e.pending.length === 0);
  if (none.length > 0) {
    const elsewhere = none.flatMap((e) => e.elsewhere);
    parts.push(
      `no approved private endpoint for ${listText(none.map((e) => e.group))} in ${vnetName} or a VNet peered with it` +
        (elsewhere.length ? ` (${listText(elsewhere.map(endpointName))} sit${elsewhere.length === 1 ? 's' : ''} in ${listText([...new Set(elsewhere.map((pe) => nameOf(peVnet(pe) ?? '')))])}, which ${vnetName} does not peer with)` : ''),
    );
  }
  for (const e of missing.filter((x) => x.pending.length > 0)) {
    parts.push(`private endpoint ${listText(e.pending.map((pe) => `${endpointName(pe)} (${pe.status ?? 'status not reported'})`))} for ${e.group} is not approved`);
  }
  if (!publicPath) parts.push(`public network access is ${d.network.publicNetworkAccess ?? 'Disabled'}, so virtual network rules do not apply`);
  else if (!a.vnetRule) parts.push(`no virtual network rule for ${subnetName}`);
  else if (a.serviceEndpoint === false) parts.push(`the virtual network rule for ${subnetName} does not take effect: the subnet lacks the ${spec.serviceEndpoint} service endpoint`);
  return listText(parts);
}

// ---------------------------------------------------------------- evidence and az commands

export function accessEvidence(d: DependencyObs, spec: DependencySpec, a: SubnetAccess): Evidence[] {
  const out: Evidence[] = [];
  const vnetName = nameOf(a.group.vnetId);
  for (const e of a.endpoints.filter((x) => x.approved.length === 0)) {
    const observed = e.pending.length
      ? `${listText(e.pending.map((pe) => `${endpointName(pe)}: ${pe.status ?? 'status not reported'}`))}`
      : e.elsewhere.length
        ? `only in VNets not peered with ${vnetName}: ${listText(e.elsewhere.map(endpointName))}`
        : `no ${e.group} private endpoint`;
    out.push({ resourceId: d.id, property: `properties.privateEndpointConnections (${e.group})`, observed, expected: `an Approved ${e.group} private endpoint in ${vnetName} or a VNet peered with it` });
  }
  if (!publicDisabled(d.network)) {
    out.push({
      resourceId: d.id,
      property: `${spec.aclPath}.virtualNetworkRules`,
      observed: a.vnetRule ? `includes ${nameOf(a.group.subnetId)}` : d.network.virtualNetworkSubnetIds.length ? d.network.virtualNetworkSubnetIds.map((id) => nameOf(id)).join(', ') : 'none',
      expected: `${a.group.subnetId} (with the ${spec.serviceEndpoint} service endpoint)`,
    });
    if (a.vnetRule && a.serviceEndpoint === false) {
      out.push({ resourceId: a.group.subnetId, property: 'properties.serviceEndpoints', observed: a.subnet?.serviceEndpoints.join(', ') || 'none', expected: `includes ${spec.serviceEndpoint}` });
    }
  }
  if (a.hop && a.hop.hop.verdict === 'blocked') {
    out.push({ ...(a.hop.hop.resourceId ? { resourceId: a.hop.hop.resourceId } : {}), property: `flow ${a.hop.flow.id} from ${nameOf(a.group.subnetId)}: destination hop`, observed: `blocked (${a.hop.hop.reason ?? 'no reason'}): ${a.hop.hop.detail}`, expected: 'allowed' });
  }
  return out;
}

const peNameFor = (d: DependencyObs, group: string) => `pe-${d.name}-${group}`;

/** Create a private endpoint for one sub-resource in the compute subnet, with its DNS zone group. */
export function createEndpointCommands(d: DependencyObs, group: string, a: SubnetAccess, cloud: CloudName): string[] {
  const v = azParts(a.group.vnetId);
  const location = (isUnknown(a.vnet) ? undefined : a.vnet.location) ?? d.location;
  const pe = peNameFor(d, group);
  return [
    `az network private-endpoint create --subscription ${v.subscription} -g ${v.resourceGroup} -n ${pe}${location ? ` -l ${location}` : ''} --subnet ${a.group.subnetId} --private-connection-resource-id ${d.id} --group-id ${group} --connection-name ${pe}`,
    `az network private-endpoint dns-zone-group create --subscription ${v.subscription} -g ${v.resourceGroup} --endpoint-name ${pe} -n default --private-dns-zone ${privateZoneFor(group, cloud)} --zone-name ${group}`,
  ];
}

/** Approve a pending private endpoint connection on the dependency. */
export function approveCommands(d: DependencyObs, pe: DependencyPrivateEndpointObs, resourceType: string): string[] {
  const p = azParts(d.id);
  const name = endpointName(pe);
  return [
    `az network private-endpoint-connection list --id ${d.id} --query "[?contains(properties.privateEndpoint.id, '${name}')].name" -o tsv`,
    `az network private-endpoint-connection approve --subscription ${p.subscription} -g ${p.resourceGroup} --resource-name ${d.name} --type ${resourceType} -n <connection name from the list command> --description "Approved for Azure ML compute"`,
  ];
}

/** Turn on the service endpoint on the compute subnet, keeping the ones it has. */
export function serviceEndpointCommand(spec: DependencySpec, a: SubnetAccess): string {
  const v = azParts(a.group.vnetId);
  const keep = (a.subnet?.serviceEndpoints ?? []).filter((e) => lower(e) !== lower(spec.serviceEndpoint));
  return `az network vnet subnet update --subscription ${v.subscription} -g ${v.resourceGroup} --vnet-name ${nameOf(a.group.vnetId)} -n ${nameOf(a.group.subnetId)} --service-endpoints ${[...keep, spec.serviceEndpoint].join(' ')}`;
}

// ---------------------------------------------------------------- the fix as Bicep, and how to check it

/** A change to the dependency itself; the edits of one finding merge into one declaration of it. */
export interface DependencyEdit {
  /** Subnet ids to add as virtual network rules. */
  vnetRules?: string[];
  /** Storage resource instance rules to add (no tenantId: the tenant of the deployment's subscription). */
  resourceAccessRules?: Array<{ resourceId: string; tenantId?: string }>;
  /** The trusted-services bypass values the dependency should have. */
  bypass?: string[];
  /** The SKU the dependency moves to. */
  sku?: string;
}

/** A check after the fix: a JMESPath over the output of `spec.show(d)`, and what it prints. */
export interface DependencyCheck {
  query: string;
  prints: string;
}

/** A command on another resource (the compute subnet), and what it prints. */
export interface CommandCheck {
  command: string;
  prints: string;
}

/** Declarations (or notes) for the resource group holding `deployTo`. */
export interface BicepPart {
  deployTo: string;
  /** The first part with a key wins, so an endpoint or VNet is declared once. */
  key: string;
  declarations: string[];
  notes: string[];
}

const uniqueIds = (ids: string[]) => ids.filter((id, i) => ids.findIndex((x) => sameId(x, id)) === i);

/** `sub/rg` of an id, lower case: snippets are grouped by resource group. */
function groupKey(id: string): string {
  const p = tryParseArmId(id);
  return p ? `${p.subscriptionId}/${p.resourceGroup}`.toLowerCase() : idKey(id);
}

/** A Bicep symbolic name from a resource name. */
function symbol(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(s) ? s : `r_${s}`;
}

/** The private DNS zone of this name the snapshot found: one linked to the VNet first. */
function zoneIdFor(s: Snapshot, zoneName: string, vnetId: string): string | undefined {
  if (!s.privateDnsZones?.ok) return undefined;
  const found = zonesNamed(s.privateDnsZones.value, zoneName);
  const linked = found.find((z) => z.observed.ok && z.observed.value.links.ok && z.observed.value.links.value.some((l) => sameId(l.virtualNetworkId, vnetId)));
  return (linked ?? found[0])?.id;
}

/** A private endpoint for one sub-resource in the compute subnet, with its zone group (what createEndpointCommands does). */
function endpointPart(s: Snapshot, d: DependencyObs, group: string, a: SubnetAccess): BicepPart {
  const pe = peNameFor(d, group);
  const location = (isUnknown(a.vnet) ? undefined : a.vnet.location) ?? d.location;
  const zoneName = privateZoneFor(group, s.target.cloud);
  const zoneId = zoneIdFor(s, zoneName, a.group.vnetId);
  const peSym = symbol(pe);
  const zoneSym = `${peSym}_zone`;
  const notes = zoneId
    ? []
    : [`Private DNS zone ${zoneName} was not found: this assumes it exists in this resource group, linked to ${nameOf(a.group.vnetId)} (or to the VNet whose resolver the compute uses); create it first, or give the zone reference a scope: where it lives.`];
  return {
    deployTo: a.group.vnetId,
    key: `pe:${groupKey(a.group.vnetId)}/${pe.toLowerCase()}`,
    declarations: [
      bicepResource({
        symbol: peSym,
        type: 'Microsoft.Network/privateEndpoints',
        name: pe,
        body: {
          location: location ?? raw('resourceGroup().location'),
          properties: {
            subnet: { id: a.group.subnetId },
            privateLinkServiceConnections: [{ name: pe, properties: { privateLinkServiceId: d.id, groupIds: [group] } }],
          },
        },
      }),
      bicepResource({ symbol: zoneSym, type: 'Microsoft.Network/privateDnsZones', name: zoneName, existing: true, ...(zoneId && groupKey(zoneId) !== groupKey(a.group.vnetId) ? { scope: scopeOf(zoneId) } : {}) }),
      bicepResource({
        symbol: `${peSym}_dns`,
        type: 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups',
        name: 'default',
        parent: peSym,
        body: { properties: { privateDnsZoneConfigs: [{ name: group, properties: { privateDnsZoneId: raw(`${zoneSym}.id`) } }] } },
      }),
    ],
    notes,
  };
}

/** The compute subnet redeclared with the service endpoint added (a subnet declaration replaces all its properties). */
function serviceEndpointParts(spec: DependencySpec, subnet: SubnetObs): BicepPart[] {
  const vnetSym = symbol(`vnet_${nameOf(subnet.vnetId)}`);
  const keep = subnet.serviceEndpoints.filter((e) => lower(e) !== lower(spec.serviceEndpoint));
  const [only, ...more] = subnet.addressPrefixes;
  const properties: { [key: string]: BicepValue | undefined } = {
    ...(only !== undefined && more.length === 0 ? { addressPrefix: only } : { addressPrefixes: subnet.addressPrefixes }),
    networkSecurityGroup: subnet.networkSecurityGroupId ? { id: subnet.networkSecurityGroupId } : undefined,
    routeTable: subnet.routeTableId ? { id: subnet.routeTableId } : undefined,
    natGateway: subnet.natGatewayId ? { id: subnet.natGatewayId } : undefined,
    serviceEndpoints: [...keep, spec.serviceEndpoint].map((service) => ({ service })),
    delegations: subnet.delegations.length ? subnet.delegations.map((serviceName) => ({ name: serviceName.replace(/\//g, '.'), properties: { serviceName } })) : undefined,
    privateEndpointNetworkPolicies: subnet.privateEndpointNetworkPolicies,
    defaultOutboundAccess: subnet.defaultOutboundAccess,
  };
  return [
    { deployTo: subnet.vnetId, key: `vnet:${idKey(subnet.vnetId)}`, declarations: [bicepResource({ symbol: vnetSym, type: 'Microsoft.Network/virtualNetworks', name: nameOf(subnet.vnetId), existing: true })], notes: [] },
    {
      deployTo: subnet.vnetId,
      key: `subnet:${idKey(subnet.id)}`,
      declarations: [bicepResource({ symbol: symbol(`subnet_${subnet.name}`), type: 'Microsoft.Network/virtualNetworks/subnets', name: subnet.name, parent: vnetSym, body: { properties } })],
      notes: [
        `A subnet declaration replaces the whole subnet: the address prefixes, NSG, route table, NAT gateway, delegations and policies of ${subnet.name} are copied from the snapshot; add anything else it has (service endpoint policies, …) before deploying.`,
      ],
    },
  ];
}

/** Approval cannot be declared: a note in the dependency's resource group. */
function approvalPart(d: DependencyObs, spec: DependencySpec, pe: DependencyPrivateEndpointObs): BicepPart {
  return {
    deployTo: d.id,
    key: `approve:${idKey(d.id)}/${endpointName(pe).toLowerCase()}`,
    declarations: [],
    notes: [`Approving the connection of private endpoint ${endpointName(pe)} on ${spec.label} ${d.name} cannot be expressed in Bicep (the connection belongs to the ${spec.label} and is named at run time): approve it with the az commands.`],
  };
}

const connectionCheck = (spec: DependencySpec, peName: string): DependencyCheck => ({
  query: `${spec.connectionsPath}[?ends_with(privateEndpoint.id, '/${peName}')].privateLinkServiceConnectionState.status | [0]`,
  prints: 'Approved',
});

function serviceEndpointCheck(spec: DependencySpec, subnetId: string): CommandCheck {
  return { command: `az network vnet subnet show --ids ${subnetId} --query "serviceEndpoints[?service=='${spec.serviceEndpoint}'].provisioningState | [0]" -o tsv`, prints: 'Succeeded' };
}

function mergeEdits(edits: Array<DependencyEdit | undefined>): DependencyEdit | undefined {
  const out: DependencyEdit = {};
  for (const e of edits) {
    if (!e) continue;
    if (e.vnetRules?.length) out.vnetRules = [...(out.vnetRules ?? []), ...e.vnetRules];
    if (e.resourceAccessRules?.length) out.resourceAccessRules = [...(out.resourceAccessRules ?? []), ...e.resourceAccessRules];
    if (e.bypass) out.bypass = e.bypass;
    if (e.sku) out.sku = e.sku;
  }
  return Object.keys(out).length ? out : undefined;
}

const bypassText = (values: string[]) => (values.length ? values.join(', ') : 'None');

/**
 * The dependency redeclared with its network rules as read plus the edit. Redeploying a declaration
 * needs what the resource was created with (location, SKU, kind): filled in when the snapshot has them.
 */
function dependencyPart(d: DependencyObs, edit: DependencyEdit): BicepPart {
  const n = d.network;
  const vnetRules = uniqueIds([...n.virtualNetworkSubnetIds, ...(edit.vnetRules ?? [])]);
  const bypass = bypassText(edit.bypass ?? n.bypass);
  const location = d.location ?? raw('resourceGroup().location');
  const unknown = [d.location ? undefined : 'location', d.sku ? undefined : 'SKU'].filter((x): x is string => !!x);
  const missing = unknown.length ? ` The snapshot has no ${listText(unknown)}: fill ${unknown.length > 1 ? 'them' : 'it'} in from \`az resource show --ids ${d.id}\`.` : '';
  const part = (symbolName: string, type: 'Microsoft.Storage/storageAccounts' | 'Microsoft.KeyVault/vaults' | 'Microsoft.ContainerRegistry/registries', body: { [key: string]: BicepValue | undefined }, note: string): BicepPart => ({
    deployTo: d.id,
    key: `dependency:${idKey(d.id)}`,
    declarations: [bicepResource({ symbol: symbolName, type, name: d.name, body })],
    notes: [note + missing],
  });
  if (d.kind === 'storage') {
    const rules = [...n.resourceAccessRules, ...(edit.resourceAccessRules ?? [])].filter((r, i, all) => all.findIndex((x) => sameId(x.resourceId, r.resourceId)) === i);
    return part(
      'account',
      'Microsoft.Storage/storageAccounts',
      {
        location,
        sku: { name: d.sku ?? '<SKU name>' },
        kind: 'StorageV2',
        properties: {
          publicNetworkAccess: n.publicNetworkAccess,
          networkAcls: {
            defaultAction: n.defaultAction,
            bypass,
            ipRules: n.ipRules.map((value) => ({ value, action: 'Allow' })),
            virtualNetworkRules: vnetRules.map((id) => ({ id, action: 'Allow' })),
            resourceAccessRules: rules.map((r) => ({ tenantId: r.tenantId ?? raw('subscription().tenantId'), resourceId: r.resourceId })),
          },
        },
      },
      `Redeploying a storage account declaration needs its sku, kind and location: sku and location are from the snapshot; kind is not read, StorageV2 is assumed (check: az storage account show --ids ${d.id} --query kind -o tsv). Declare any other property your template sets on ${d.name} (minimumTlsVersion, allowBlobPublicAccess, …) as well, or merge this networkAcls block into the template that owns the account.`,
    );
  }
  if (d.kind === 'key-vault') {
    return part(
      'vault',
      'Microsoft.KeyVault/vaults',
      {
        location,
        properties: {
          tenantId: raw('subscription().tenantId'),
          sku: { family: 'A', name: d.sku ?? '<SKU name>' },
          publicNetworkAccess: n.publicNetworkAccess,
          networkAcls: {
            defaultAction: n.defaultAction,
            bypass,
            ipRules: n.ipRules.map((value) => ({ value })),
            virtualNetworkRules: vnetRules.map((id) => ({ id })),
          },
        },
      },
      `Redeploying a vault declaration needs its location, sku and tenantId (filled in). Access policies are part of the declaration: if ${d.name} uses access policies rather than Azure RBAC, copy them in (az keyvault show --ids ${d.id} --query properties.accessPolicies) or they may be removed; or merge this networkAcls block into the template that owns the vault.`,
    );
  }
  return part(
    'registry',
    'Microsoft.ContainerRegistry/registries',
    {
      location,
      sku: { name: edit.sku ?? d.sku ?? '<SKU name>' },
      properties: {
        publicNetworkAccess: n.publicNetworkAccess,
        networkRuleSet: n.defaultAction ? { defaultAction: n.defaultAction, ipRules: n.ipRules.map((value) => ({ action: 'Allow', value })) } : undefined,
        networkRuleBypassOptions: edit.bypass || n.bypass.length ? bypass : undefined,
      },
    },
    `Redeploying a registry declaration needs its location and SKU (filled in). adminUserEnabled and the registry's other settings are not read: declare them as they are now (az acr show --ids ${d.id}), or merge the sku into the template that owns the registry. Deploy this before the private endpoint: registry private endpoints need Premium.`,
  );
}

/** The Bicep of a fix: one snippet per resource group, in the order of the parts. */
export function bicepOf(parts: BicepPart[], fallbackDeployTo: string): string {
  const seen = new Set<string>();
  const groups = new Map<string, { deployTo: string; declarations: string[]; notes: string[] }>();
  for (const p of parts) {
    if (seen.has(p.key)) continue;
    seen.add(p.key);
    const g = groups.get(groupKey(p.deployTo)) ?? { deployTo: p.deployTo, declarations: [], notes: [] };
    g.declarations.push(...p.declarations);
    g.notes.push(...p.notes);
    groups.set(groupKey(p.deployTo), g);
  }
  const all = [...groups.values()];
  if (all.length === 0) return bicepSnippet(fallbackDeployTo, [], 'No declarative change: see the az commands.');
  return all
    .map((g, i) => {
      const notes = [...(all.length > 1 ? [`File ${i + 1} of ${all.length} (one deployment per resource group, in this order).`] : []), ...g.notes];
      return bicepSnippet(g.deployTo, g.declarations, notes.length ? notes.join('\n') : undefined);
    })
    .join('\n');
}

/** One command on the dependency (and one per other resource) with what it prints, then recheck. */
export function verifyOf(show: string, checks: DependencyCheck[], commands: CommandCheck[]): string {
  const unique = checks.filter((c, i) => checks.findIndex((x) => x.query === c.query) === i);
  const lines: string[] = [];
  const [first, ...rest] = unique;
  if (first && rest.length === 0) lines.push(`${show} --query "${first.query}" -o tsv prints ${first.prints}`);
  else if (first) lines.push(`${show} --query "[${unique.map((c) => c.query).join(', ')}]" -o tsv prints ${unique.map((c) => c.prints).join(', ')} (one per line)`);
  for (const c of commands.filter((c, i) => commands.findIndex((x) => x.command === c.command) === i)) lines.push(`${c.command} prints ${c.prints}`);
  if (lines.length === 0) lines.push(`${show} shows the changed network rules`);
  return `${lines.join('; ')}; then run aml-netdoctor recheck <report.json>.`;
}

export interface SubnetFix {
  summary: string;
  azCli: string[];
  /** The change to the dependency itself (a virtual network rule). */
  edit?: DependencyEdit;
  parts: BicepPart[];
  checks: DependencyCheck[];
  commands: CommandCheck[];
}

/**
 * The smallest fix that opens a path for one subnet: approve pending endpoints, add the missing
 * half of a service-endpoint path, else create private endpoints (the service-endpoint way is
 * offered in the summary when the spec has a `vnetRuleCommand` and public network access is on).
 */
export function subnetFix(s: Snapshot, d: DependencyObs, spec: DependencySpec, a: SubnetAccess): SubnetFix {
  const cloud = s.target.cloud;
  const vnetRuleCommand = spec.vnetRuleCommand?.(d, a.group.subnetId);
  const resourceType = spec.resourceType;
  // When the flow analysis blocked a path the configuration looked fine for, endpoints for every sub-resource.
  const missing = a.endpoints.some((e) => e.approved.length === 0) ? a.endpoints.filter((e) => e.approved.length === 0) : a.endpoints.map((e) => ({ ...e, approved: [], pending: [] }));
  const where = `${nameOf(a.group.subnetId)} (${nameOf(a.group.vnetId)})`;
  const publicPath = !publicDisabled(d.network) && !securedByPerimeter(d.network);
  if (publicPath && vnetRuleCommand && a.serviceEndpoint === true && !a.vnetRule) {
    return {
      summary: `Add a virtual network rule for ${where}, which already has the ${spec.serviceEndpoint} service endpoint.`,
      azCli: [vnetRuleCommand],
      edit: { vnetRules: [a.group.subnetId] },
      parts: [],
      checks: spec.vnetRuleCheck ? [spec.vnetRuleCheck(a.group.subnetId)] : [],
      commands: [],
    };
  }
  if (publicPath && a.vnetRule && a.serviceEndpoint === false && a.subnet) {
    return {
      summary: `Add the ${spec.serviceEndpoint} service endpoint to ${where} (the virtual network rule for it exists), keeping its other service endpoints.`,
      azCli: [serviceEndpointCommand(spec, a)],
      parts: serviceEndpointParts(spec, a.subnet),
      checks: [],
      commands: [serviceEndpointCheck(spec, a.group.subnetId)],
    };
  }
  const azCli: string[] = [];
  const sentences: string[] = [];
  const parts: BicepPart[] = [];
  const checks: DependencyCheck[] = [];
  const pending = missing.filter((e) => e.pending.length > 0);
  for (const e of pending) {
    const pe = e.pending[0] as DependencyPrivateEndpointObs;
    azCli.push(...approveCommands(d, pe, resourceType));
    parts.push(approvalPart(d, spec, pe));
    checks.push(connectionCheck(spec, endpointName(pe)));
  }
  if (pending.length) sentences.push(`Approve the ${listText(pending.map((e) => e.group))} private endpoint connection${pending.length > 1 ? 's' : ''} on ${spec.label} ${d.name} (${listText(pending.map((e) => endpointName(e.pending[0] as DependencyPrivateEndpointObs)))}).`);
  const create = missing.filter((e) => e.pending.length === 0);
  for (const e of create) {
    azCli.push(...createEndpointCommands(d, e.group, a, cloud));
    parts.push(endpointPart(s, d, e.group, a));
    checks.push(connectionCheck(spec, peNameFor(d, e.group)));
  }
  if (create.length) {
    sentences.push(
      `Create ${create.length > 1 ? 'private endpoints' : 'a private endpoint'} for ${listText(create.map((e) => e.group))} in ${where} with a DNS zone group for ${listText(create.map((e) => privateZoneFor(e.group, cloud)))}` +
        ` (the zone must exist and be linked to the VNet whose resolver the compute uses; pass its full id to --private-dns-zone when it lives in another resource group).`,
    );
    if (publicPath && vnetRuleCommand) {
      sentences.push(`Alternatively, with public network access left Enabled: \`${serviceEndpointCommand(spec, a)}\` and \`${vnetRuleCommand}\`.`);
    }
  }
  return { summary: sentences.join(' '), azCli, parts, checks, commands: [] };
}

// ---------------------------------------------------------------- the workspace as Bicep (image build compute, managed network)

type OutboundRule = ManagedNetworkObs['outboundRules'][number];
type BicepObject = { [key: string]: BicepValue | undefined };

const stringOf = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** An outbound rule as declared (known destination fields only; status is read-only). */
export function outboundRuleBody(r: OutboundRule): BicepObject | undefined {
  const type = lower(r.type);
  const dest = typeof r.destination === 'object' && r.destination !== null ? (r.destination as Record<string, unknown>) : undefined;
  const category = r.category ?? 'UserDefined';
  if (type === 'fqdn' && typeof r.destination === 'string') return { type: 'FQDN', category, destination: r.destination };
  if (type === 'privateendpoint' && dest) {
    return {
      type: 'PrivateEndpoint',
      category,
      destination: {
        serviceResourceId: stringOf(dest.serviceResourceId),
        subresourceTarget: stringOf(dest.subresourceTarget),
        sparkEnabled: typeof dest.sparkEnabled === 'boolean' ? dest.sparkEnabled : undefined,
      },
    };
  }
  if (type === 'servicetag' && dest) {
    const prefixes = Array.isArray(dest.addressPrefixes) ? dest.addressPrefixes.filter((x): x is string => typeof x === 'string') : undefined;
    return {
      type: 'ServiceTag',
      category,
      destination: { serviceTag: stringOf(dest.serviceTag), protocol: stringOf(dest.protocol), portRanges: stringOf(dest.portRanges), action: stringOf(dest.action), addressPrefixes: prefixes },
    };
  }
  return undefined;
}

/** Azure ML creates Required, Recommended and Dependency rules itself; the others are the user's. */
export const isUserDefinedRule = (r: OutboundRule) => !['required', 'recommended', 'dependency'].includes(lower(r.category));

/** `managedNetwork` as declared: the isolation mode and the user-defined rules (Azure ML creates the others). */
export function managedNetworkValue(mn: ManagedNetworkObs): BicepObject {
  const rules: BicepObject = {};
  for (const r of mn.outboundRules.filter(isUserDefinedRule)) rules[r.name] = outboundRuleBody(r);
  return { isolationMode: mn.isolationMode, outboundRules: Object.keys(rules).length ? rules : undefined };
}

/** What a workspace declaration cannot know, to say in the snippet. */
export function workspaceNotes(ws: WorkspaceObs): string[] {
  const missing = [ws.storageAccountId ? undefined : 'storageAccount', ws.keyVaultId ? undefined : 'keyVault', ws.applicationInsightsId ? undefined : 'applicationInsights'].filter((x): x is string => !!x);
  return [
    'A workspaces declaration redeploys the workspace: location, associated resources, network settings and user-defined outbound rules are from the snapshot; ' +
      'identity (SystemAssigned assumed), sku, encryption, friendlyName, tags and the managed network firewallSku are not read: declare them as they are, or set only the changed property in the template that created the workspace.',
    ...(missing.length ? [`The snapshot has no ${listText(missing)} id for ${ws.name}: add ${missing.length > 1 ? 'them' : 'it'} from az ml workspace show (they cannot change).`] : []),
  ];
}

/** The workspace redeclared with what the snapshot knows of it, plus `properties`. */
export function workspaceDeclaration(ws: WorkspaceObs, properties: BicepObject, dependsOn: string[] = []): string {
  return bicepResource({
    symbol: 'workspace',
    type: 'Microsoft.MachineLearningServices/workspaces',
    name: ws.name,
    body: {
      location: ws.location,
      identity: { type: 'SystemAssigned' },
      properties: {
        storageAccount: ws.storageAccountId,
        keyVault: ws.keyVaultId,
        applicationInsights: ws.applicationInsightsId,
        containerRegistry: ws.containerRegistryId,
        publicNetworkAccess: ws.publicNetworkAccess,
        allowPublicAccessWhenBehindVnet: ws.allowPublicAccessWhenBehindVnet,
        hbiWorkspace: ws.hbiWorkspace,
        v1LegacyMode: ws.v1LegacyMode,
        imageBuildCompute: ws.imageBuildCompute?.trim() || undefined,
        managedNetwork: ws.managedNetwork && managedIsolation(ws) ? managedNetworkValue(ws.managedNetwork) : undefined,
        ...properties,
      },
      dependsOn: dependsOn.length ? dependsOn.map(raw) : undefined,
    },
  });
}

// ---------------------------------------------------------------- the shared judgement (storage, key vault, registry)

/** Whether the workspace itself (the Azure ML service) gets through the dependency's network rules. */
export interface WorkspaceAdmission {
  admitted: boolean;
  /** How it gets in, or why it does not (no final period). */
  how: string;
  evidence: Evidence[];
  summary: string;
  azCli: string[];
  /** The fix as a change to the dependency's declaration, and how to see it took. */
  edit?: DependencyEdit;
  check?: DependencyCheck;
}

/** A problem of the dependency itself, independent of where the compute sits (a registry SKU). */
export interface DependencyProblem {
  text: string;
  evidence: Evidence[];
  summary: string;
  azCli: string[];
  edit?: DependencyEdit;
  check?: DependencyCheck;
}

export interface DependencyRuleParts {
  spec: DependencySpec;
  workspaceAdmission?: (d: DependencyObs, ws: WorkspaceObs) => WorkspaceAdmission;
  problem?: (d: DependencyObs) => DependencyProblem | undefined;
  /** What fails when the compute is shut out (one sentence). */
  breaks: string;
}

/**
 * The network-rules judgement of one dependency: one finding when some compute subnet (or the
 * workspace) is shut out, undetermined for each subnet that could not be decided, else passes.
 * `flows` is called only when a compute path must be judged.
 */
export function judgeDependencyNetwork(s: Snapshot, flows: () => FlowAnalysis, parts: DependencyRuleParts): RuleResult[] {
  const { spec } = parts;
  const ws = judgedWorkspace(s);
  if (Array.isArray(ws)) return ws;
  const d = dependencyOf(s, ws, spec);
  if (d === undefined) return [{ status: 'pass', resourceId: ws.id, detail: `Does not apply: workspace ${ws.name} names no ${spec.label}.` }];
  if (isUnknown(d)) return [undetermined(d)];
  const label = `${spec.label} ${d.name}`;
  if (!isRestricted(d.network)) {
    return [{ status: 'pass', resourceId: d.id, detail: `Does not apply: ${label} accepts traffic from all networks (publicNetworkAccess ${d.network.publicNetworkAccess ?? 'not set (Enabled)'}, defaultAction ${d.network.defaultAction ?? 'not set (Allow)'}).` }];
  }

  const results: RuleResult[] = [];
  let accesses: SubnetAccess[] = [];
  const analysis = managedIsolation(ws) ? undefined : flows();
  const managed = !analysis || analysis.managedNetwork;
  if (analysis && !analysis.managedNetwork) {
    const groups = computeSubnetGroups(s);
    if (isUnknown(groups)) results.push(undetermined({ ...groups, item: `path from the computes to ${label}` }));
    else accesses = groups.map((g) => subnetAccess(s, d, spec, g, analysis));
  }
  const admission = parts.workspaceAdmission?.(d, ws);
  const problem = parts.problem?.(d);
  const blocked = accesses.filter((a) => a.verdict === 'blocked');
  const failing = blocked.length > 0 || admission?.admitted === false || !!problem;
  const unknownResults = accesses
    .filter((a) => a.verdict === 'unknown')
    .map((a): RuleResult => ({ status: 'undetermined', item: `path from subnet ${nameOf(a.group.subnetId)} to ${label}`, reason: a.detail, resourceId: d.id }));
  if (failing) return [{ status: 'fail', finding: dependencyFinding(s, ws, d, parts, blocked, admission, problem) }, ...results, ...unknownResults];

  const passes: RuleResult[] = accesses
    .filter((a) => a.verdict === 'open')
    .map((a) => ({ status: 'pass', resourceId: d.id, detail: `${capitalize(label)} admits ${groupText(a.group)}: ${a.detail}.` }));
  if (admission) passes.push({ status: 'pass', resourceId: d.id, detail: `${capitalize(label)} admits workspace ${ws.name}: ${admission.how}.` });
  if (managed) passes.push({ status: 'pass', resourceId: d.id, detail: `Workspace ${ws.name} uses a managed virtual network: its computes reach ${label} through managed private endpoints (see MANAGED_NETWORK_NOT_READY), not through customer subnets.` });
  else if (accesses.length === 0 && results.length === 0) passes.push({ status: 'pass', resourceId: d.id, detail: `No compute in scope sits in a customer virtual network, so no compute path to ${label} needs checking.` });
  return [...results, ...unknownResults, ...passes];
}

function dependencyFinding(
  s: Snapshot,
  ws: WorkspaceObs,
  d: DependencyObs,
  parts: DependencyRuleParts,
  blocked: SubnetAccess[],
  admission: WorkspaceAdmission | undefined,
  problem: DependencyProblem | undefined,
): FindingDraft {
  const { spec } = parts;
  const sentences: string[] = [`${capitalize(spec.label)} ${named(d.id)} has ${restrictionText(d.network)}.`];
  if (problem) sentences.push(problem.text);
  for (const a of blocked) {
    const agrees = a.hop?.hop.verdict === 'blocked' && clause(a.hop.hop.detail) !== a.detail ? ` (the flow analysis agrees: the ${spec.flow} flow from ${nameOf(a.group.subnetId)} is blocked at the destination)` : '';
    sentences.push(`Nothing admits ${groupText(a.group)}: ${a.detail}${agrees}.`);
  }
  if (admission && !admission.admitted) sentences.push(`${blocked.length ? 'The workspace itself is shut out as well' : `Workspace ${ws.name} is shut out`}: ${admission.how}.`);
  sentences.push(parts.breaks);

  const fixes = blocked.map((a) => subnetFix(s, d, spec, a));
  const shutOut = admission && !admission.admitted ? admission : undefined;
  const summary = [problem?.summary, ...fixes.map((f) => f.summary), shutOut?.summary].filter((x): x is string => !!x);
  const azCli = [...(problem?.azCli ?? []), ...fixes.flatMap((f) => f.azCli), ...(shutOut?.azCli ?? [])];
  const edit = mergeEdits([problem?.edit, ...fixes.map((f) => f.edit), shutOut?.edit]);
  const checks = [problem?.check, ...fixes.flatMap((f) => f.checks), shutOut?.check].filter((c): c is DependencyCheck => !!c);
  return {
    resourceId: d.id,
    confidence: 'medium',
    explanation: sentences.join(' '),
    evidence: [
      ...restrictionEvidence(d, spec),
      ...(problem?.evidence ?? []),
      ...blocked.flatMap((a) => accessEvidence(d, spec, a)),
      ...(shutOut?.evidence ?? []),
    ],
    remediation: {
      summary: summary.join(' '),
      azCli: [...new Set(azCli)],
      bicep: bicepOf([...(edit ? [dependencyPart(d, edit)] : []), ...fixes.flatMap((f) => f.parts)], d.id),
      verify: verifyOf(spec.show(d), checks, fixes.flatMap((f) => f.commands)),
    },
    subjects: [`dependency:${idKey(d.id)}`, ...blocked.map((a) => `subnet:${idKey(a.group.subnetId)}`)],
    ...(blocked.length ? { flows: [spec.flow] } : {}),
  };
}
