/**
 * What the rules share: derived views over the snapshot (each returns the value or an `Unknown`
 * naming the evidence that is missing, so rules can answer `undetermined` instead of guessing),
 * the workspace scope every rule starts from, live DNS answers, and az CLI / text helpers. Pure
 * functions. Helpers only the private-endpoint rules use live in ./support-endpoints.ts, those only
 * the DNS rules use in ./support-dns.ts.
 */
import { nameOf, parentId, sameId, idKey, tryParseArmId } from '../model/arm-id.ts';
import { CLOUDS, privateRecordFor, requiredZoneNames, type CloudProfile } from '../model/cloud.ts';
import { AZURE_DNS_IP, cidrContains, isPublicIPv4 } from '../model/ip.ts';
import type { ComputeObs, DnsLookupObs, Observed, PrivateDnsZonesObs, PrivateEndpointObs, Snapshot, VnetObs, WorkspaceObs } from '../model/snapshot.ts';
import type { Evidence } from '../report/schema.ts';
import type { RuleResult } from './rule.ts';

// ---------------------------------------------------------------- missing evidence

/** Evidence that could not be read: what and why. */
export interface Unknown {
  unknown: true;
  item: string;
  reason: string;
  resourceId?: string;
}

export const isUnknown = (v: unknown): v is Unknown => typeof v === 'object' && v !== null && (v as Unknown).unknown === true;

export function unknownFrom(item: string, o: Observed<unknown> | undefined, what: string): Unknown {
  if (!o) return { unknown: true, item, reason: `${what} was not collected` };
  if (!o.ok) return { unknown: true, item, reason: o.error.message, ...(o.error.resourceId ? { resourceId: o.error.resourceId } : {}) };
  return { unknown: true, item, reason: `${what} unavailable` };
}

export function undetermined(u: Unknown): RuleResult {
  return { status: 'undetermined', item: u.item, reason: u.reason, ...(u.resourceId ? { resourceId: u.resourceId } : {}) };
}

// ---------------------------------------------------------------- text, ordering and az CLI naming

export function listText(items: string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** Upper-cases the first letter of a sentence that starts with a label (not with a name). */
export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function byIdKey<T extends { id: string }>(a: T, b: T): number {
  return idKey(a.id).localeCompare(idKey(b.id));
}

/** The values of a map in the order of their keys (a stable order for results). */
export function valuesByKey<T>(m: Map<string, T>): T[] {
  return [...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, v]) => v);
}

export interface AzParts {
  subscription: string;
  resourceGroup: string;
  name: string;
}

/** Subscription, resource group and own name of an ARM id (placeholders when the id is odd). */
export function azParts(id: string): AzParts {
  const p = tryParseArmId(id);
  return { subscription: p?.subscriptionId ?? '<subscription>', resourceGroup: p?.resourceGroup ?? '<resource-group>', name: nameOf(id) };
}

/** `--subscription <guid> -g <rg>` for the resource group that holds `id`. */
export function azScope(id: string): string {
  const p = azParts(id);
  return `--subscription ${p.subscription} -g ${p.resourceGroup}`;
}

/** `name (resource group)` for explanations. */
export function named(id: string): string {
  const p = azParts(id);
  return `${p.name} (${p.resourceGroup})`;
}

// ---------------------------------------------------------------- the workspace and its endpoints

export function cloudOf(s: Snapshot): CloudProfile {
  return CLOUDS[s.target.cloud];
}

export function workspaceOf(s: Snapshot): WorkspaceObs | Unknown {
  return s.workspace?.ok ? s.workspace.value : unknownFrom('workspace', s.workspace, 'the workspace');
}

export function isPrivateWorkspace(ws: WorkspaceObs): boolean {
  return (ws.publicNetworkAccess ?? '').toLowerCase() === 'disabled';
}

/** Is this endpoint a private endpoint of this workspace (group `amlworkspace`)? */
export function isWorkspaceEndpoint(pe: PrivateEndpointObs, ws: WorkspaceObs): boolean {
  return pe.connections.some(
    (c) => sameId(c.privateLinkServiceId, ws.id) && c.groupIds.some((g) => g.toLowerCase() === 'amlworkspace'),
  );
}

export interface EndpointsView {
  /** Workspace private endpoints that could be read. */
  endpoints: PrivateEndpointObs[];
  /** Endpoints the workspace references that could not be read. */
  unreadable: Unknown[];
}

export function workspaceEndpoints(s: Snapshot, ws: WorkspaceObs): EndpointsView | Unknown {
  if (!s.privateEndpoints?.ok) return unknownFrom('workspace private endpoints', s.privateEndpoints, 'the private endpoints');
  const endpoints: PrivateEndpointObs[] = [];
  const unreadable: Unknown[] = [];
  for (const e of s.privateEndpoints.value.endpoints) {
    if (e.observed.ok) {
      if (isWorkspaceEndpoint(e.observed.value, ws)) endpoints.push(e.observed.value);
    } else {
      unreadable.push({ unknown: true, item: `private endpoint ${e.id}`, reason: e.observed.error.message, resourceId: e.id });
    }
  }
  return { endpoints, unreadable };
}

/**
 * The workspace a rule judges, which must be readable. With `publicNote`, it must also be private:
 * a public workspace gives a does-not-apply pass whose detail ends in the note. Returns the results
 * to give back when the rule cannot go on.
 */
export function judgedWorkspace(s: Snapshot, publicNote?: string): WorkspaceObs | RuleResult[] {
  const ws = workspaceOf(s);
  if (isUnknown(ws)) return [undetermined(ws)];
  if (publicNote !== undefined && !isPrivateWorkspace(ws)) {
    return [{ status: 'pass', resourceId: ws.id, detail: `Does not apply: workspace ${ws.name} has public network access ${ws.publicNetworkAccess ?? 'not set (Enabled)'}${publicNote}` }];
  }
  return ws;
}

export interface WorkspaceScope {
  ws: WorkspaceObs;
  cloud: CloudProfile;
  /** Workspace private endpoints that could be read, sorted by id. */
  endpoints: PrivateEndpointObs[];
  /** Why the endpoints (or some of them) could not be read. */
  unreadable: Unknown[];
}

function scopeOf(s: Snapshot, ws: WorkspaceObs): WorkspaceScope | Unknown {
  const view = workspaceEndpoints(s, ws);
  if (isUnknown(view)) return view;
  return { ws, cloud: cloudOf(s), endpoints: [...view.endpoints].sort(byIdKey), unreadable: view.unreadable };
}

/**
 * The workspace (see judgedWorkspace) and its endpoints as far as they could be read: when the
 * endpoint list is unreadable, `endpoints` is empty and `unreadable` says why.
 */
export function workspaceScope(s: Snapshot, publicNote?: string): WorkspaceScope | RuleResult[] {
  const ws = judgedWorkspace(s, publicNote);
  if (Array.isArray(ws)) return ws;
  const scope = scopeOf(s, ws);
  return isUnknown(scope) ? { ws, cloud: cloudOf(s), endpoints: [], unreadable: [scope] } : scope;
}

/** The scope of the private-endpoint rules: the workspace must be private and the endpoint list readable. */
export function privateScope(s: Snapshot): WorkspaceScope | RuleResult[] {
  const ws = judgedWorkspace(s, ', so computes do not need its private endpoint.');
  if (Array.isArray(ws)) return ws;
  const scope = scopeOf(s, ws);
  return isUnknown(scope) ? [undetermined(scope)] : scope;
}

/** The private IPs an endpoint serves a name on (customDnsConfigs, else the NIC's fqdns). */
export function endpointIpsFor(pe: PrivateEndpointObs, fqdn: string): string[] {
  const name = fqdn.toLowerCase().replace(/\.$/, '');
  const ips = new Set<string>();
  for (const c of pe.customDnsConfigs) if (c.fqdn.toLowerCase() === name) c.ipAddresses.forEach((ip) => ips.add(ip));
  if (ips.size === 0 && pe.nicIpConfigurations.ok) {
    for (const ipc of pe.nicIpConfigurations.value) {
      if (ipc.privateIPAddress && ipc.fqdns.some((f) => f.toLowerCase() === name)) ips.add(ipc.privateIPAddress);
    }
  }
  return [...ips];
}

/** Every workspace FQDN an endpoint serves (api, cert, notebooks), lower case, wildcards dropped. */
export function endpointFqdns(pe: PrivateEndpointObs, cloud: CloudProfile): string[] {
  const names = new Set<string>();
  for (const c of pe.customDnsConfigs) names.add(c.fqdn.toLowerCase());
  if (pe.nicIpConfigurations.ok) for (const ipc of pe.nicIpConfigurations.value) ipc.fqdns.forEach((f) => names.add(f.toLowerCase()));
  return [...names].filter((n) => !n.startsWith('*') && privateRecordFor(cloud, n) !== undefined).sort();
}

/** The workspace's API/cert names plus whatever the endpoints serve. */
export function workspaceFqdns(ws: WorkspaceObs, endpoints: PrivateEndpointObs[], cloud: CloudProfile): string[] {
  const names = new Set<string>();
  if (ws.fqdns.api) names.add(ws.fqdns.api);
  if (ws.fqdns.cert) names.add(ws.fqdns.cert);
  for (const pe of endpoints) endpointFqdns(pe, cloud).forEach((n) => names.add(n));
  return [...names].sort();
}

// ---------------------------------------------------------------- computes and VNets

/** Computes with a subnet in the customer's VNet (the ones network rules judge). */
export function computesInVnets(s: Snapshot): ComputeObs[] | Unknown {
  if (!s.computes?.ok) return unknownFrom('computes', s.computes, 'the computes');
  return s.computes.value.computes.filter((c) => !!c.subnetId);
}

export function vnetIdOfSubnet(subnetId: string): string {
  return parentId(subnetId);
}

export function vnetOfEndpoint(pe: PrivateEndpointObs): string | undefined {
  return pe.vnetId ?? (pe.subnetId ? vnetIdOfSubnet(pe.subnetId) : undefined);
}

export interface ComputeVnetGroup {
  vnetId: string;
  computes: ComputeObs[];
}

/** Computes in customer VNets grouped by VNet, in a stable order. */
export function computeVnetGroups(s: Snapshot): ComputeVnetGroup[] | Unknown {
  const computes = computesInVnets(s);
  if (isUnknown(computes)) return computes;
  const groups = new Map<string, ComputeVnetGroup>();
  for (const c of computes) {
    const vnetId = vnetIdOfSubnet(c.subnetId as string);
    const g = groups.get(idKey(vnetId)) ?? { vnetId, computes: [] };
    g.computes.push(c);
    groups.set(idKey(vnetId), g);
  }
  return valuesByKey(groups).map((g) => ({ ...g, computes: [...g.computes].sort((a, b) => a.name.localeCompare(b.name)) }));
}

/**
 * Judges each customer VNet that holds computes in scope: undetermined when the computes could not
 * be read, a does-not-apply pass (its detail ending in `noneNote`) when no compute sits in one.
 */
export function judgeComputeVnets(s: Snapshot, ws: WorkspaceObs, judge: (g: ComputeVnetGroup) => RuleResult | RuleResult[], noneNote = ''): RuleResult[] {
  const groups = computeVnetGroups(s);
  if (isUnknown(groups)) return [undetermined(groups)];
  if (groups.length === 0) {
    return [{ status: 'pass', resourceId: ws.id, detail: `Does not apply: no compute in scope sits in a customer virtual network${noneNote}.` }];
  }
  return groups.flatMap((g) => judge(g));
}

export function computeLabel(c: ComputeObs): string {
  return `${c.computeType.toLowerCase() === 'computeinstance' ? 'compute instance' : 'compute'} ${c.name}`;
}

export function computeNames(g: ComputeVnetGroup): string {
  return listText(g.computes.map(computeLabel));
}

/** A VNet from the networks probe, or why it is unknown. */
export function vnetById(s: Snapshot, vnetId: string): VnetObs | Unknown {
  if (!s.networks?.ok) return unknownFrom(`virtual network ${vnetId}`, s.networks, 'the virtual networks');
  const entry = s.networks.value.vnets.find((v) => sameId(v.id, vnetId));
  if (!entry) return { unknown: true, item: `virtual network ${vnetId}`, reason: 'not read by the networks probe', resourceId: vnetId };
  if (!entry.observed.ok) return { unknown: true, item: `virtual network ${vnetId}`, reason: entry.observed.error.message, resourceId: vnetId };
  return entry.observed.value;
}

/** Every VNet read successfully. */
export function knownVnets(s: Snapshot): VnetObs[] {
  if (!s.networks?.ok) return [];
  return s.networks.value.vnets.flatMap((v) => (v.observed.ok ? [v.observed.value] : []));
}

export function usesAzureDns(vnet: VnetObs): boolean {
  return vnet.dnsServers.length === 0 || vnet.dnsServers.every((d) => d.trim() === AZURE_DNS_IP);
}

export type ResolverView =
  | { kind: 'azure-dns'; vnet: VnetObs }
  | { kind: 'custom-dns-in-vnet'; vnet: VnetObs; dnsServer: string; dnsVnet: VnetObs }
  | { kind: 'custom-dns-elsewhere'; vnet: VnetObs; dnsServers: string[] };

/**
 * Which VNet's private DNS view the compute gets: its own with Azure DNS; with custom DNS, the VNet
 * that holds the first custom DNS server (when we read it), else "elsewhere" (on-premises or unread).
 */
export function resolverOf(s: Snapshot, vnet: VnetObs): ResolverView {
  if (usesAzureDns(vnet)) return { kind: 'azure-dns', vnet };
  const server = vnet.dnsServers.find((d) => d.trim() !== AZURE_DNS_IP) ?? vnet.dnsServers[0] ?? '';
  const dnsVnet = knownVnets(s).find((v) => v.addressPrefixes.some((p) => cidrContains(p, server)));
  if (dnsVnet) return { kind: 'custom-dns-in-vnet', vnet, dnsServer: server, dnsVnet };
  return { kind: 'custom-dns-elsewhere', vnet, dnsServers: vnet.dnsServers };
}

/** The VNet whose zone links matter for this resolver, if known. */
export function resolverVnet(r: ResolverView): VnetObs | undefined {
  return r.kind === 'azure-dns' ? r.vnet : r.kind === 'custom-dns-in-vnet' ? r.dnsVnet : undefined;
}

/** Is there a peering from `a` to `b` (in a's peerings)? */
export function peeringBetween(a: VnetObs, bId: string) {
  return a.peerings.find((p) => sameId(p.remoteVirtualNetworkId, bId));
}

export function peeringWorks(p: { peeringState?: string; allowVirtualNetworkAccess?: boolean } | undefined): boolean {
  return !!p && (p.peeringState ?? '').toLowerCase() === 'connected' && p.allowVirtualNetworkAccess !== false;
}

// ---------------------------------------------------------------- private DNS zones

export function requiredZones(s: Snapshot): string[] {
  return requiredZoneNames(cloudOf(s));
}

/** The private zone a workspace name's record lives in, if it is a workspace name. */
export function zoneOfName(cloud: CloudProfile, fqdn: string): string | undefined {
  return privateRecordFor(cloud, fqdn)?.zoneName;
}

export type ZoneEntry = PrivateDnsZonesObs['zones'][number];

/** Zones of this name that exist (read, or unreadable for a reason other than 404), sorted by id. */
export function zonesNamed(zones: PrivateDnsZonesObs, zoneName: string): ZoneEntry[] {
  return zones.zones
    .filter((z) => z.name.toLowerCase() === zoneName.toLowerCase() && (z.observed.ok || z.observed.error.kind !== 'not-found'))
    .sort(byIdKey);
}

/** Zone ids the endpoint's zone groups reference, or undefined when the groups were not readable. */
export function zoneGroupZoneIds(pe: PrivateEndpointObs): string[] | undefined {
  if (!pe.zoneGroups.ok) return undefined;
  return pe.zoneGroups.value.flatMap((g) => g.zoneConfigs.map((c) => c.privateDnsZoneId));
}

// ---------------------------------------------------------------- live DNS

/** The DNS probe's lookups of a name (trailing dot and case ignored), by resolver. */
export function lookupsFor(s: Snapshot, fqdn: string): DnsLookupObs[] {
  if (!s.dns?.ok) return [];
  const name = fqdn.toLowerCase().replace(/\.$/, '');
  return s.dns.value.lookups
    .filter((l) => l.name.toLowerCase().replace(/\.$/, '') === name)
    .sort((a, b) => a.resolver.localeCompare(b.resolver));
}

/** The answer of a lookup: its addresses (public ones marked) or its failure, and the CNAME chain. */
export function describeLookup(l: DnsLookupObs): string {
  const chain = l.cnames.length ? ` (CNAME ${l.cnames.join(' -> ')})` : '';
  if (l.status === 'ok') {
    const addrs = l.addresses.map((a) => (isPublicIPv4(a) ? `${a} (public)` : a));
    return `${addrs.join(', ') || 'no address'}${chain}`;
  }
  return `${l.status.toUpperCase()}${l.message ? `: ${l.message}` : ''}${chain}`;
}

/** describeLookup plus the resolver that gave the answer. */
export function answerVia(l: DnsLookupObs): string {
  return `${describeLookup(l)} via ${l.resolver}`;
}

export function lookupEvidence(l: DnsLookupObs, expected: string): Evidence {
  return { property: `A ${l.name} @ ${l.resolver}`, observed: describeLookup(l), expected };
}

export function isPublicAnswer(l: DnsLookupObs): boolean {
  return l.status === 'ok' && l.addresses.some(isPublicIPv4);
}

/** Does this answer contain one of these IPs? */
export function answersWith(l: DnsLookupObs, ips: string[]): boolean {
  return l.status === 'ok' && l.addresses.some((a) => ips.includes(a));
}

export { idKey, sameId };
