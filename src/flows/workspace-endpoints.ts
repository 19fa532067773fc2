/**
 * The workspace's private endpoints as flow destinations: which addresses serve a workspace name,
 * the endpoint in (or next to) the compute VNet first.
 */
import { nameOf, parentId, sameId } from '../model/arm-id.ts';
import type { PrivateEndpointObs } from '../model/snapshot.ts';
import type { CatalogueInput } from './catalogue.ts';
import type { EndpointCandidate, EndpointTarget } from './model.ts';

interface WorkspaceEndpoint {
  id: string;
  status?: string;
  pe?: PrivateEndpointObs;
  error?: string;
}

function workspaceEndpoints(input: CatalogueInput): WorkspaceEndpoint[] {
  const probe = input.snapshot.privateEndpoints;
  return input.ws.privateEndpointConnections.map((conn) => {
    const id = conn.privateEndpointId ?? conn.id;
    const base = { id, ...(conn.status ? { status: conn.status } : {}) };
    if (!conn.privateEndpointId) return { ...base, error: `connection ${conn.name} names no private endpoint` };
    if (!probe) return { ...base, error: 'the private endpoints probe did not run' };
    if (!probe.ok) return { ...base, error: probe.error.message };
    const entry = probe.value.endpoints.find((e) => sameId(e.id, conn.privateEndpointId));
    if (!entry) return { ...base, error: 'it was not read' };
    if (!entry.observed.ok) return { ...base, error: entry.observed.error.message };
    const pe = entry.observed.value;
    return { ...base, pe, status: conn.status ?? pe.connections[0]?.status };
  });
}

/** Addresses an endpoint serves a name on (custom DNS configs, else its NIC's FQDN list). */
function ipsFor(pe: PrivateEndpointObs, fqdn: string): string[] {
  const name = fqdn.toLowerCase();
  const ips = new Set<string>();
  for (const c of pe.customDnsConfigs) if (c.fqdn.toLowerCase() === name) c.ipAddresses.forEach((ip) => ips.add(ip));
  if (ips.size === 0 && pe.nicIpConfigurations.ok) {
    for (const ipc of pe.nicIpConfigurations.value) if (ipc.privateIPAddress && ipc.fqdns.some((f) => f.toLowerCase() === name)) ips.add(ipc.privateIPAddress);
  }
  return [...ips];
}

/** Every name the workspace's readable endpoints serve, lower case, sorted, wildcards dropped. */
export function workspaceEndpointNames(input: CatalogueInput): string[] {
  const names = new Set<string>();
  for (const e of workspaceEndpoints(input)) {
    if (!e.pe) continue;
    e.pe.customDnsConfigs.forEach((c) => names.add(c.fqdn.toLowerCase()));
    if (e.pe.nicIpConfigurations.ok) e.pe.nicIpConfigurations.value.forEach((n) => n.fqdns.forEach((f) => names.add(f.toLowerCase())));
  }
  return [...names].filter((n) => !n.startsWith('*')).sort();
}

/**
 * A target for `fqdns` (the names DNS must answer) reaching the endpoint addresses that serve
 * `servedName` (for instance names: the workspace API member).
 */
export function workspaceEndpointTarget(input: CatalogueInput, fqdns: string[], label: string, servedName: string): EndpointTarget {
  const endpoints = workspaceEndpoints(input);
  const rank = (vnetId: string | undefined) => {
    const i = input.nearVnetIds.findIndex((v) => sameId(v, vnetId));
    return i < 0 ? input.nearVnetIds.length : i;
  };
  const candidates: Array<EndpointCandidate & { rank: number; order: number }> = [];
  for (const e of endpoints) {
    if (!e.pe) continue;
    const vnetId = e.pe.vnetId ?? (e.pe.subnetId ? parentId(e.pe.subnetId) : undefined);
    for (const ip of ipsFor(e.pe, servedName)) {
      candidates.push({
        id: e.pe.id, name: e.pe.name, ip, rank: rank(vnetId), order: candidates.length,
        ...(e.status ? { status: e.status } : {}), ...(e.pe.subnetId ? { subnetId: e.pe.subnetId } : {}), ...(vnetId ? { vnetId } : {}),
      });
    }
  }
  candidates.sort((a, b) => a.rank - b.rank || a.order - b.order);
  const target: EndpointTarget = {
    kind: 'private-endpoint', label, fqdns, owner: { kind: 'workspace', resourceId: input.ws.id },
    candidates: candidates.map(({ rank: _r, order: _o, ...c }) => c),
  };
  if (candidates.length === 0) {
    const errors = endpoints.filter((e) => e.error).map((e) => `private endpoint ${nameOf(e.id)} could not be read (${e.error})`);
    target.unreadable = errors.length > 0 ? errors.join('; ') : `no workspace private endpoint serves ${servedName}`;
  }
  return target;
}
