/**
 * Helpers of the dependency rules (storage account, key vault, container registry, image builds):
 * which dependency the workspace uses, whether its network rules restrict it, and whether a compute
 * subnet has a path through them (the flow's destination hop when the flow analysis decided it,
 * else the configuration: private endpoints in reachable VNets, virtual network rules with service
 * endpoints). Pure functions over the snapshot, like ./support.ts.
 */
import { idKey, nameOf, parentId, sameId } from '../model/arm-id.ts';
import type { CloudName } from '../model/cloud.ts';
import type {
  ComputeObs,
  DependencyObs,
  DependencyPrivateEndpointObs,
  NetworkAclsObs,
  Snapshot,
  SubnetObs,
  VnetObs,
  WorkspaceObs,
} from '../model/snapshot.ts';
import type { FlowAnalysis, FlowHop, FlowResult, HopReason } from '../flows/types.ts';
import type { Evidence } from '../report/schema.ts';
import type { FindingDraft, FlowId, RuleResult } from './rule.ts';
import { azParts, azScope, capitalize, computeLabel, isUnknown, judgedWorkspace, listText, named, undetermined, unknownFrom, valuesByKey, vnetById, type Unknown } from './support.ts';

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
};

export const REGISTRY: DependencySpec = {
  kind: 'container-registry',
  flow: 'container-registry',
  label: 'container registry',
  groups: ['registry'],
  serviceEndpoint: 'Microsoft.ContainerRegistry',
  aclPath: 'properties.networkRuleSet',
  resourceType: 'Microsoft.ContainerRegistry/registries',
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

export interface SubnetFix {
  summary: string;
  azCli: string[];
}

/**
 * The smallest fix that opens a path for one subnet: approve pending endpoints, add the missing
 * half of a service-endpoint path, else create private endpoints (the service-endpoint way is
 * offered in the summary when the spec has a `vnetRuleCommand` and public network access is on).
 */
export function subnetFix(d: DependencyObs, spec: DependencySpec, a: SubnetAccess, cloud: CloudName): SubnetFix {
  const vnetRuleCommand = spec.vnetRuleCommand?.(d, a.group.subnetId);
  const resourceType = spec.resourceType;
  // When the flow analysis blocked a path the configuration looked fine for, endpoints for every sub-resource.
  const missing = a.endpoints.some((e) => e.approved.length === 0) ? a.endpoints.filter((e) => e.approved.length === 0) : a.endpoints.map((e) => ({ ...e, approved: [], pending: [] }));
  const where = `${nameOf(a.group.subnetId)} (${nameOf(a.group.vnetId)})`;
  const publicPath = !publicDisabled(d.network) && !securedByPerimeter(d.network);
  if (publicPath && vnetRuleCommand && a.serviceEndpoint === true && !a.vnetRule) {
    return { summary: `Add a virtual network rule for ${where}, which already has the ${spec.serviceEndpoint} service endpoint.`, azCli: [vnetRuleCommand] };
  }
  if (publicPath && a.vnetRule && a.serviceEndpoint === false) {
    return { summary: `Add the ${spec.serviceEndpoint} service endpoint to ${where} (the virtual network rule for it exists), keeping its other service endpoints.`, azCli: [serviceEndpointCommand(spec, a)] };
  }
  const azCli: string[] = [];
  const sentences: string[] = [];
  const pending = missing.filter((e) => e.pending.length > 0);
  for (const e of pending) azCli.push(...approveCommands(d, e.pending[0] as DependencyPrivateEndpointObs, resourceType));
  if (pending.length) sentences.push(`Approve the ${listText(pending.map((e) => e.group))} private endpoint connection${pending.length > 1 ? 's' : ''} on ${spec.label} ${d.name} (${listText(pending.map((e) => endpointName(e.pending[0] as DependencyPrivateEndpointObs)))}).`);
  const create = missing.filter((e) => e.pending.length === 0);
  for (const e of create) azCli.push(...createEndpointCommands(d, e.group, a, cloud));
  if (create.length) {
    sentences.push(
      `Create ${create.length > 1 ? 'private endpoints' : 'a private endpoint'} for ${listText(create.map((e) => e.group))} in ${where} with a DNS zone group for ${listText(create.map((e) => privateZoneFor(e.group, cloud)))}` +
        ` (the zone must exist and be linked to the VNet whose resolver the compute uses; pass its full id to --private-dns-zone when it lives in another resource group).`,
    );
    if (publicPath && vnetRuleCommand) {
      sentences.push(`Alternatively, with public network access left Enabled: \`${serviceEndpointCommand(spec, a)}\` and \`${vnetRuleCommand}\`.`);
    }
  }
  return { summary: sentences.join(' '), azCli };
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
}

/** A problem of the dependency itself, independent of where the compute sits (a registry SKU). */
export interface DependencyProblem {
  text: string;
  evidence: Evidence[];
  summary: string;
  azCli: string[];
}

export interface DependencyRuleParts {
  spec: DependencySpec;
  workspaceAdmission?: (d: DependencyObs, ws: WorkspaceObs) => WorkspaceAdmission;
  problem?: (d: DependencyObs) => DependencyProblem | undefined;
  /** What fails when the compute is shut out (one sentence). */
  breaks: string;
  verify: (d: DependencyObs) => string;
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

  const fixes = blocked.map((a) => subnetFix(d, spec, a, s.target.cloud));
  const summary = [problem?.summary, ...fixes.map((f) => f.summary), admission && !admission.admitted ? admission.summary : undefined].filter((x): x is string => !!x);
  const azCli = [...(problem?.azCli ?? []), ...fixes.flatMap((f) => f.azCli), ...(admission && !admission.admitted ? admission.azCli : [])];
  return {
    resourceId: d.id,
    confidence: 'medium',
    explanation: sentences.join(' '),
    evidence: [
      ...restrictionEvidence(d, spec),
      ...(problem?.evidence ?? []),
      ...blocked.flatMap((a) => accessEvidence(d, spec, a)),
      ...(admission && !admission.admitted ? admission.evidence : []),
    ],
    remediation: { summary: summary.join(' '), azCli: [...new Set(azCli)], verify: parts.verify(d) },
    subjects: [`dependency:${idKey(d.id)}`, ...blocked.map((a) => `subnet:${idKey(a.group.subnetId)}`)],
    ...(blocked.length ? { flows: [spec.flow] } : {}),
  };
}
