/**
 * Derived views over the snapshot that several rules share. Pure functions; every one returns
 * either the value or an `Unknown` naming the evidence that is missing, so rules can answer
 * `undetermined` instead of guessing.
 */
import { parentId, sameId, idKey } from '../model/arm-id.ts';
import { CLOUDS, privateRecordFor, type CloudProfile } from '../model/cloud.ts';
import { AZURE_DNS_IP, cidrContains } from '../model/ip.ts';
import type { ComputeObs, Observed, PrivateEndpointObs, Snapshot, VnetObs, WorkspaceObs } from '../model/snapshot.ts';

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

/** Computes with a subnet in the customer's VNet (the ones network rules judge). */
export function computesInVnets(s: Snapshot): ComputeObs[] | Unknown {
  if (!s.computes?.ok) return unknownFrom('computes', s.computes, 'the computes');
  return s.computes.value.computes.filter((c) => !!c.subnetId);
}

export function vnetIdOfSubnet(subnetId: string): string {
  return parentId(subnetId);
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

export function uniqueBy<T>(items: T[], key: (t: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((i) => {
    const k = key(i);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export { idKey, sameId };
