/**
 * Helpers shared by the private-endpoint, private-DNS, peering and SSO rules: scoping (private
 * workspace + its endpoints), az CLI naming, zone selection and the subjects ranking joins on.
 * Pure functions over the snapshot, like ./support.ts.
 */
import { idKey, nameOf, sameId, tryParseArmId } from '../model/arm-id.ts';
import { privateRecordFor, requiredZoneNames, type CloudProfile } from '../model/cloud.ts';
import { isPublicIPv4 } from '../model/ip.ts';
import type { ARecordSetObs, ComputeObs, DnsLookupObs, PrivateDnsZoneObs, PrivateDnsZonesObs, PrivateEndpointObs, Snapshot, VnetObs, WorkspaceObs } from '../model/snapshot.ts';
import type { RuleResult } from './rule.ts';
import {
  cloudOf,
  computesInVnets,
  endpointFqdns,
  endpointIpsFor,
  isPrivateWorkspace,
  isUnknown,
  resolverOf,
  resolverVnet,
  unknownFrom,
  vnetById,
  vnetIdOfSubnet,
  workspaceEndpoints,
  workspaceFqdns,
  workspaceOf,
  type Unknown,
} from './support.ts';

export function undetermined(u: Unknown): RuleResult {
  return { status: 'undetermined', item: u.item, reason: u.reason, ...(u.resourceId ? { resourceId: u.resourceId } : {}) };
}

// ---------------------------------------------------------------- az CLI naming

export interface AzParts {
  subscription: string;
  resourceGroup: string;
  name: string;
}

/** Subscription, resource group and own name of an ARM id (best effort when the id is odd). */
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

export function listText(items: string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

// ---------------------------------------------------------------- scope: a private workspace and its endpoints

export interface PrivateScope {
  ws: WorkspaceObs;
  cloud: CloudProfile;
  /** Workspace private endpoints that could be read, sorted by id. */
  endpoints: PrivateEndpointObs[];
  unreadable: Unknown[];
}

/**
 * The common preamble of the private-endpoint rules: the workspace must be readable and private,
 * and the endpoint list readable. Returns the results to give back when the rule cannot go on.
 */
export function privateScope(s: Snapshot): PrivateScope | RuleResult[] {
  const ws = workspaceOf(s);
  if (isUnknown(ws)) return [undetermined(ws)];
  if (!isPrivateWorkspace(ws)) {
    return [{ status: 'pass', resourceId: ws.id, detail: `Does not apply: workspace ${ws.name} has public network access ${ws.publicNetworkAccess ?? 'not set (Enabled)'}, so computes do not need its private endpoint.` }];
  }
  const view = workspaceEndpoints(s, ws);
  if (isUnknown(view)) return [undetermined(view)];
  const endpoints = [...view.endpoints].sort((a, b) => idKey(a.id).localeCompare(idKey(b.id)));
  return { ws, cloud: cloudOf(s), endpoints, unreadable: view.unreadable };
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
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, g]) => ({ ...g, computes: [...g.computes].sort((a, b) => a.name.localeCompare(b.name)) }));
}

export function computeNames(g: ComputeVnetGroup): string {
  return listText(g.computes.map((c) => `${c.computeType === 'ComputeInstance' ? 'compute instance' : 'compute'} ${c.name}`));
}

/** The VNets whose private DNS view the in-scope computes get (Azure DNS: their own; custom DNS: the DNS server's). */
export function resolverVnetsOfComputes(s: Snapshot): VnetObs[] {
  const groups = computeVnetGroups(s);
  if (isUnknown(groups)) return [];
  const out = new Map<string, VnetObs>();
  for (const g of groups) {
    const v = vnetById(s, g.vnetId);
    if (isUnknown(v)) continue;
    const r = resolverVnet(resolverOf(s, v));
    if (r) out.set(idKey(r.id), r);
  }
  return [...out.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, v]) => v);
}

// ---------------------------------------------------------------- names and subjects

export function nameSubjects(names: string[]): string[] {
  return names.map((n) => `name:${n}`);
}

/** `name:<fqdn>` for every workspace FQDN (api, cert, and notebooks when known). */
export function workspaceNameSubjects(scope: PrivateScope): string[] {
  return nameSubjects(workspaceFqdns(scope.ws, scope.endpoints, scope.cloud));
}

/** Workspace FQDNs whose private record lives in `zoneName`. */
export function fqdnsInZone(scope: PrivateScope, zoneName: string): string[] {
  return workspaceFqdns(scope.ws, scope.endpoints, scope.cloud).filter((n) => privateRecordFor(scope.cloud, n)?.zoneName === zoneName.toLowerCase());
}

export function zoneSubjects(zoneName: string, fqdns: string[]): string[] {
  return [`zone:${zoneName}`, ...nameSubjects(fqdns)];
}

/** The zone-config name used in zone groups: `api` or `notebooks`. */
export function zoneConfigLabel(cloud: CloudProfile, zoneName: string): string {
  return zoneName.toLowerCase() === `privatelink.${cloud.apiSuffix}` ? 'api' : 'notebooks';
}

export function requiredZones(s: Snapshot): string[] {
  return requiredZoneNames(cloudOf(s));
}

// ---------------------------------------------------------------- private DNS zones

type ZoneEntry = PrivateDnsZonesObs['zones'][number];

/** A zone entry that proves the zone exists (read, or unreadable for a reason other than 404). */
export function zoneExists(z: ZoneEntry): boolean {
  return z.observed.ok || z.observed.error.kind !== 'not-found';
}

export function zonesNamed(zones: PrivateDnsZonesObs, zoneName: string): ZoneEntry[] {
  return zones.zones.filter((z) => z.name.toLowerCase() === zoneName.toLowerCase() && zoneExists(z)).sort((a, b) => idKey(a.id).localeCompare(idKey(b.id)));
}

/** Zone ids the endpoint's zone groups reference, or undefined when the groups were not readable. */
export function zoneGroupZoneIds(pe: PrivateEndpointObs): string[] | undefined {
  if (!pe.zoneGroups.ok) return undefined;
  return pe.zoneGroups.value.flatMap((g) => g.zoneConfigs.map((c) => c.privateDnsZoneId));
}

export type ServingZone =
  | { kind: 'zone'; entry: ZoneEntry; how: string }
  | { kind: 'none' }
  | { kind: 'unknown'; unknown: Unknown };

/**
 * The zone that answers for a name the endpoint serves: the zone of that name its zone group
 * references, else the one linked to a compute's resolver VNet, else the only (or first) zone of that
 * name. `none` when no zone of that name exists.
 */
export function servingZone(s: Snapshot, zones: PrivateDnsZonesObs, pe: PrivateEndpointObs, zoneName: string, item: string): ServingZone {
  const candidates = zonesNamed(zones, zoneName);
  if (candidates.length === 0) return { kind: 'none' };
  const referenced = zoneGroupZoneIds(pe);
  const byGroup = referenced ? candidates.find((z) => referenced.some((r) => sameId(r, z.id))) : undefined;
  if (byGroup) return { kind: 'zone', entry: byGroup, how: `referenced by the zone group of ${pe.name}` };
  const resolvers = resolverVnetsOfComputes(s);
  // Azure allows one zone of a given name per VNet link, so at most one candidate is linked per resolver VNet.
  const linked = candidates.find((z) => z.observed.ok && z.observed.value.links.ok && z.observed.value.links.value.some((l) => resolvers.some((r) => sameId(l.virtualNetworkId, r.id))));
  if (linked) return { kind: 'zone', entry: linked, how: `linked to ${resolvers.map((r) => r.name).join(', ')}, which the compute resolves through` };
  if (candidates.length === 1) return { kind: 'zone', entry: candidates[0] as ZoneEntry, how: 'the only zone of that name found' };
  if (referenced) return { kind: 'zone', entry: candidates[0] as ZoneEntry, how: `the first of ${candidates.length} zones of that name found` };
  // Several zones of that name and the zone group could not be read: which one answers is unknown.
  return { kind: 'unknown', unknown: unknownFrom(item, pe.zoneGroups, `the zone groups of ${pe.name}`) };
}

/** The readable zone behind an entry, or why not. */
export function zoneValue(entry: ZoneEntry, item: string): PrivateDnsZoneObs | Unknown {
  if (entry.observed.ok) return entry.observed.value;
  return { unknown: true, item, reason: entry.observed.error.message, resourceId: entry.id };
}

/** Did any zone search fail (so a zone may exist where we could not look)? */
export function failedZoneSearches(zones: PrivateDnsZonesObs, endpoints: PrivateEndpointObs[]): Array<{ scope: string; reason: string }> {
  const out: Array<{ scope: string; reason: string }> = [];
  for (const search of zones.searches) {
    if (!search.result.ok) out.push({ scope: `subscription ${search.subscriptionId}`, reason: search.result.error.message });
  }
  for (const pe of endpoints) {
    if (!pe.zoneGroups.ok) out.push({ scope: `zone groups of ${pe.name}`, reason: pe.zoneGroups.error.message });
  }
  return out;
}

// ---------------------------------------------------------------- A records the endpoints need

interface TargetBase {
  fqdn: string;
  zoneName: string;
  recordName: string;
  /** Workspace endpoints that serve the name and whose answering zone this is. */
  endpoints: PrivateEndpointObs[];
  /** Private IPs those endpoints serve the name on. */
  expectedIps: string[];
}

export type RecordTarget =
  | (TargetBase & { kind: 'zone'; zone: PrivateDnsZoneObs; how: string; records: ARecordSetObs[]; record?: ARecordSetObs })
  | (TargetBase & { kind: 'no-zone' })
  | { kind: 'unknown'; fqdn: string; unknown: Unknown };

/**
 * For every name a workspace endpoint serves: the zone that answers for it and its A record set
 * there. Names served by several endpoints into the same zone are judged once, expecting any of
 * their IPs. Unknown when the zones were not read.
 */
export function recordTargets(s: Snapshot, scope: PrivateScope): RecordTarget[] | Unknown {
  if (!s.privateDnsZones?.ok) return unknownFrom('private DNS zones', s.privateDnsZones, 'the private DNS zones');
  const zones = s.privateDnsZones.value;
  const byKey = new Map<string, RecordTarget>();
  for (const pe of scope.endpoints) {
    const names = endpointFqdns(pe, scope.cloud);
    if (names.length === 0) {
      const why = pe.nicIpConfigurations.ok ? `private endpoint ${pe.name} reports no FQDN in customDnsConfigs or on its NIC` : pe.nicIpConfigurations.error.message;
      byKey.set(`unknown|${idKey(pe.id)}`, { kind: 'unknown', fqdn: '', unknown: { unknown: true, item: `names served by private endpoint ${pe.name}`, reason: why, resourceId: pe.id } });
      continue;
    }
    for (const fqdn of names) {
      const rec = privateRecordFor(scope.cloud, fqdn);
      if (!rec) continue;
      const item = `A record ${rec.recordName} in ${rec.zoneName} (for ${fqdn})`;
      const ips = endpointIpsFor(pe, fqdn);
      const serving = servingZone(s, zones, pe, rec.zoneName, item);
      if (serving.kind === 'unknown') {
        byKey.set(`unknown|${fqdn}|${idKey(pe.id)}`, { kind: 'unknown', fqdn, unknown: serving.unknown });
        continue;
      }
      const base = { fqdn, zoneName: rec.zoneName, recordName: rec.recordName };
      let key: string;
      let fresh: RecordTarget;
      if (serving.kind === 'none') {
        key = `none|${fqdn}`;
        fresh = { ...base, kind: 'no-zone', endpoints: [], expectedIps: [] };
      } else {
        const zone = zoneValue(serving.entry, item);
        if (isUnknown(zone)) {
          byKey.set(`unknown|${fqdn}|${idKey(serving.entry.id)}`, { kind: 'unknown', fqdn, unknown: zone });
          continue;
        }
        if (!zone.aRecords.ok) {
          byKey.set(`unknown|${fqdn}|${idKey(zone.id)}`, { kind: 'unknown', fqdn, unknown: { unknown: true, item, reason: zone.aRecords.error.message, resourceId: zone.id } });
          continue;
        }
        key = `${idKey(zone.id)}|${rec.recordName}`;
        const records = zone.aRecords.value;
        const record = records.find((r) => r.name.toLowerCase() === rec.recordName);
        fresh = { ...base, kind: 'zone', zone, how: serving.how, records, ...(record ? { record } : {}), endpoints: [], expectedIps: [] };
      }
      const target = byKey.get(key) ?? fresh;
      if (target.kind !== 'unknown') {
        target.endpoints.push(pe);
        for (const ip of ips) if (!target.expectedIps.includes(ip)) target.expectedIps.push(ip);
      }
      byKey.set(key, target);
    }
  }
  return [...byKey.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, t]) => t);
}

/** Undetermined results for a target whose zone was not found while some zone search failed; else undefined. */
export function noZoneGap(s: Snapshot, scope: PrivateScope, zoneName: string, fqdn: string): RuleResult | undefined {
  if (!s.privateDnsZones?.ok) return undefined;
  const failures = failedZoneSearches(s.privateDnsZones.value, scope.endpoints);
  if (failures.length === 0) return undefined;
  return { status: 'undetermined', item: `zone ${zoneName} for ${fqdn} (not found; ${failures.map((f) => f.scope).join(', ')} unreadable)`, reason: failures.map((f) => f.reason).join('; ') };
}

/** Why an endpoint gives no expected IP for a name. */
export function noIpReason(t: TargetBase): string {
  const nicError = t.endpoints.map((pe) => (pe.nicIpConfigurations.ok ? undefined : pe.nicIpConfigurations.error.message)).find((m) => !!m);
  return nicError ?? `private endpoint ${t.endpoints.map((pe) => pe.name).join(', ')} reports no private IP for ${t.fqdn}`;
}

// ---------------------------------------------------------------- live DNS

export function lookupsFor(s: Snapshot, fqdn: string): DnsLookupObs[] {
  if (!s.dns?.ok) return [];
  const name = fqdn.toLowerCase();
  return s.dns.value.lookups.filter((l) => l.name.toLowerCase() === name);
}

/** Observed answers that show a name did not get a private answer (NXDOMAIN or a public address). */
export function lookupsShowingNoPrivateAnswer(s: Snapshot, fqdn: string): DnsLookupObs[] {
  return lookupsFor(s, fqdn).filter((l) => l.status === 'nxdomain' || (l.status === 'ok' && l.addresses.some(isPublicIPv4)));
}

export function describeLookup(l: DnsLookupObs): string {
  return l.status === 'ok' ? `${l.addresses.join(', ') || 'no address'} via ${l.resolver}` : `${l.status.toUpperCase()} via ${l.resolver}`;
}

