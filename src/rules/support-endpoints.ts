/**
 * Helpers of the private-endpoint rules (endpoint, zone group, zone and A record rules): the zones
 * and records a workspace endpoint needs, the az commands that create them, and the subjects ranking
 * joins on. Pure functions over the snapshot, like ./support.ts.
 */
import { idKey, nameOf, sameId, tryParseArmId } from '../model/arm-id.ts';
import { privateRecordFor, type CloudProfile } from '../model/cloud.ts';
import type { ARecordSetObs, DnsLookupObs, PrivateDnsZoneGroupObs, PrivateDnsZoneObs, PrivateDnsZonesObs, PrivateEndpointObs, Snapshot, VnetObs } from '../model/snapshot.ts';
import type { RuleResult } from './rule.ts';
import { bicepResource, bicepSnippet, raw, type BicepValue } from './support-bicep.ts';
import {
  azParts,
  azScope,
  cloudOf,
  computeVnetGroups,
  endpointFqdns,
  endpointIpsFor,
  isPublicAnswer,
  isUnknown,
  listText,
  lookupsFor,
  privateScope,
  requiredZones,
  resolverOf,
  resolverVnet,
  undetermined,
  unknownFrom,
  valuesByKey,
  vnetById,
  workspaceFqdns,
  zoneGroupZoneIds,
  zonesNamed,
  type AzParts,
  type Unknown,
  type WorkspaceScope,
  type ZoneEntry,
} from './support.ts';

/**
 * Results judged per workspace endpoint (or per name one serves), plus undetermined for each
 * endpoint that could not be read; a does-not-apply pass when the workspace has no endpoint.
 */
export function endpointResults(scope: WorkspaceScope, judged: RuleResult[]): RuleResult[] {
  const results = [...judged, ...scope.unreadable.map(undetermined)];
  if (results.length === 0) {
    return [{ status: 'pass', resourceId: scope.ws.id, detail: `Does not apply: workspace ${scope.ws.name} has no private endpoint (see WORKSPACE_PRIVATE_ENDPOINT_MISSING).` }];
  }
  return results;
}

/** The names of the computes in customer VNets, for explanations (`the compute` when none is known). */
export function computesText(s: Snapshot): string {
  const groups = computeVnetGroups(s);
  return isUnknown(groups) || groups.length === 0 ? 'the compute' : listText(groups.flatMap((g) => g.computes.map((c) => c.name)));
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
  return valuesByKey(out);
}

// ---------------------------------------------------------------- names and subjects

export function nameSubjects(names: string[]): string[] {
  return names.map((n) => `name:${n}`);
}

/** `name:<fqdn>` for every workspace FQDN (api, cert, and notebooks when known). */
export function workspaceNameSubjects(scope: WorkspaceScope): string[] {
  return nameSubjects(workspaceFqdns(scope.ws, scope.endpoints, scope.cloud));
}

/** Workspace FQDNs whose private record lives in `zoneName`. */
export function fqdnsInZone(scope: WorkspaceScope, zoneName: string): string[] {
  return workspaceFqdns(scope.ws, scope.endpoints, scope.cloud).filter((n) => privateRecordFor(scope.cloud, n)?.zoneName === zoneName.toLowerCase());
}

export function zoneSubjects(zoneName: string, fqdns: string[]): string[] {
  return [`zone:${zoneName}`, ...nameSubjects(fqdns)];
}

// ---------------------------------------------------------------- zones and zone groups

/** The zone-config name used in zone groups: `api` or `notebooks`. */
export function zoneConfigLabel(cloud: CloudProfile, zoneName: string): string {
  return zoneName.toLowerCase() === `privatelink.${cloud.apiSuffix}` ? 'api' : 'notebooks';
}

/** Does one of the endpoint's zone groups reference this zone (false when the groups are unreadable)? */
export function groupReferences(pe: PrivateEndpointObs, zoneId: string): boolean {
  return (zoneGroupZoneIds(pe) ?? []).some((id) => sameId(id, zoneId));
}

/** `az network private-endpoint dns-zone-group create|add` putting one zone into an endpoint's zone group. */
export function zoneGroupCommand(verb: 'create' | 'add', to: { scopeId: string; endpoint: string; group: string; zoneId: string; label: string }): string {
  return `az network private-endpoint dns-zone-group ${verb} ${azScope(to.scopeId)} --endpoint-name ${to.endpoint} -n ${to.group} --private-dns-zone ${to.zoneId} --zone-name ${to.label}`;
}

export interface NewZone {
  /** Subscription and resource group the zone is created in. */
  home: AzParts;
  zoneName: string;
  zoneId: string;
  /** The compute resolver VNets it gets linked to. */
  resolvers: VnetObs[];
  /** The links created, one per resolver VNet. */
  links: Array<{ name: string; vnetId: string }>;
  azCli: string[];
}

/**
 * Commands that create a missing zone beside the other workspace zone when there is one (else in
 * the resource group of `fallbackId`) and link it to the VNets the computes resolve through.
 */
export function newZone(s: Snapshot, zones: PrivateDnsZonesObs, zoneName: string, fallbackId: string): NewZone {
  const sibling = requiredZones(s).map((n) => zonesNamed(zones, n)[0]).find((z) => !!z);
  const home = azParts(sibling?.id ?? fallbackId);
  const where = `--subscription ${home.subscription} -g ${home.resourceGroup}`;
  const zoneId = `/subscriptions/${home.subscription}/resourceGroups/${home.resourceGroup}/providers/Microsoft.Network/privateDnsZones/${zoneName}`;
  const resolvers = resolverVnetsOfComputes(s);
  const links = resolvers.map((v) => ({ name: `${v.name}-link`, vnetId: v.id }));
  const azCli = [
    `az network private-dns zone create ${where} -n ${zoneName}`,
    ...links.map((l) => `az network private-dns link vnet create ${where} -z ${zoneName} -n ${l.name} -v ${l.vnetId} -e false`),
  ];
  return { home, zoneName, zoneId, resolvers, links, azCli };
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
function zoneValue(entry: ZoneEntry, item: string): PrivateDnsZoneObs | Unknown {
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

export type ZoneTarget = Extract<RecordTarget, { kind: 'zone' }>;

/**
 * For every name a workspace endpoint serves: the zone that answers for it and its A record set
 * there. Names served by several endpoints into the same zone are judged once, expecting any of
 * their IPs. Unknown when the zones were not read.
 */
function recordTargets(s: Snapshot, scope: WorkspaceScope): RecordTarget[] | Unknown {
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
  return valuesByKey(byKey);
}

/**
 * The check shared by the A record rules: one result per record target. Targets that are unknown,
 * or whose zone does not exist, are answered here; `judge` gets those whose zone was read.
 */
export function checkRecordTargets(s: Snapshot, judge: (scope: WorkspaceScope, t: ZoneTarget) => RuleResult): RuleResult[] {
  const scope = privateScope(s);
  if (Array.isArray(scope)) return scope;
  const targets = recordTargets(s, scope);
  if (isUnknown(targets)) return [undetermined(targets)];
  return endpointResults(
    scope,
    targets.map((t) => {
      if (t.kind === 'unknown') return undetermined(t.unknown);
      if (t.kind === 'no-zone') {
        return noZoneGap(s, scope, t.zoneName, t.fqdn) ?? { status: 'pass', resourceId: scope.ws.id, detail: `Does not apply to ${t.fqdn}: no private DNS zone ${t.zoneName} exists (see PRIVATE_DNS_ZONE_MISSING).` };
      }
      return judge(scope, t);
    }),
  );
}

/** Undetermined results for a target whose zone was not found while some zone search failed; else undefined. */
function noZoneGap(s: Snapshot, scope: WorkspaceScope, zoneName: string, fqdn: string): RuleResult | undefined {
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

/** Observed answers that show a name did not get a private answer (NXDOMAIN or a public address). */
export function lookupsShowingNoPrivateAnswer(s: Snapshot, fqdn: string): DnsLookupObs[] {
  return lookupsFor(s, fqdn).filter((l) => l.status === 'nxdomain' || isPublicAnswer(l));
}

// ---------------------------------------------------------------- Bicep

/** One Bicep declaration and the resource group it deploys to (any ARM id inside that group). */
export interface BicepPart {
  deployTo: string;
  declaration: string;
}

function resourceGroupKey(id: string): string {
  const p = tryParseArmId(id);
  return p ? `${p.subscriptionId}/${p.resourceGroup.toLowerCase()}` : idKey(id);
}

export function sameResourceGroup(a: string, b: string): boolean {
  return resourceGroupKey(a) === resourceGroupKey(b);
}

/**
 * The Bicep of a fix whose resources may sit in several resource groups: a Bicep file deploys to one
 * resource group, so there is one snippet per group, in the order the groups first appear, each
 * deployed on its own. `note` heads the first snippet.
 */
export function bicepFiles(parts: BicepPart[], note?: string): string {
  const files: Array<{ deployTo: string; declarations: string[] }> = [];
  for (const p of parts) {
    const file = files.find((f) => sameResourceGroup(f.deployTo, p.deployTo));
    if (file) file.declarations.push(p.declaration);
    else files.push({ deployTo: p.deployTo, declarations: [p.declaration] });
  }
  return files
    .map((f, i) => {
      const order = files.length > 1 ? `File ${i + 1} of ${files.length}: deploy the files in this order, each to its own resource group.` : '';
      const text = [i === 0 ? (note ?? '') : '', order].filter((t) => t).join('\n');
      return bicepSnippet(f.deployTo, f.declarations, text || undefined);
    })
    .join('\n');
}

/** A `virtualNetworkLinks` child of a zone: location global, registration disabled. */
export function zoneLinkResource(symbol: string, parent: string, name: string, vnetId: string): string {
  return bicepResource({
    symbol,
    type: 'Microsoft.Network/privateDnsZones/virtualNetworkLinks',
    name,
    parent,
    body: { location: 'global', properties: { registrationEnabled: false, virtualNetwork: { id: vnetId } } },
  });
}

/** An `existing` reference to a private DNS zone in the resource group the snippet deploys to. */
export function existingZoneResource(symbol: string, zoneId: string): string {
  return bicepResource({ symbol, type: 'Microsoft.Network/privateDnsZones', name: nameOf(zoneId), existing: true });
}

/** An A record set child of a zone (a deployment replaces its addresses: stale ones go). */
export function aRecordResource(symbol: string, parent: string, recordName: string, ips: string[], ttl: number): string {
  return bicepResource({
    symbol,
    type: 'Microsoft.Network/privateDnsZones/A',
    name: recordName,
    parent,
    body: { properties: { ttl, aRecords: ips.map((ip) => ({ ipv4Address: ip })) } },
  });
}

/** The zone and its links that newZone's commands create. */
export function newZoneBicep(z: NewZone, symbol: string): BicepPart[] {
  return [
    { deployTo: z.zoneId, declaration: bicepResource({ symbol, type: 'Microsoft.Network/privateDnsZones', name: z.zoneName, body: { location: 'global' } }) },
    ...z.links.map((l, i) => ({ deployTo: z.zoneId, declaration: zoneLinkResource(`${symbol}Link${i + 1}`, symbol, l.name, l.vnetId) })),
  ];
}

/** A zone config of a zone group: its name (`api`, `notebooks`) and the zone id (a string, or `zone.id`). */
export interface ZoneConfigRef {
  name: string;
  zoneId: BicepValue;
}

/**
 * The configs a zone group keeps when the configs for `replaced` zone names are rewritten: all the
 * others except those naming a zone that no longer exists (a deployment naming it would fail).
 */
export function keptZoneConfigs(s: Snapshot, group: PrivateDnsZoneGroupObs | undefined, replaced: string[]): ZoneConfigRef[] {
  const names = replaced.map((z) => z.toLowerCase());
  const deleted = (id: string) => !!s.privateDnsZones?.ok && s.privateDnsZones.value.zones.some((z) => sameId(z.id, id) && !z.observed.ok && z.observed.error.kind === 'not-found');
  return (group?.zoneConfigs ?? [])
    .filter((c) => !names.includes(nameOf(c.privateDnsZoneId).toLowerCase()) && !deleted(c.privateDnsZoneId))
    .map((c) => ({ name: c.name ?? zoneConfigLabel(cloudOf(s), nameOf(c.privateDnsZoneId)), zoneId: c.privateDnsZoneId }));
}

/** The comment line every zone group snippet carries. */
export const ZONE_GROUP_NOTE =
  'A zone group deployment replaces its whole list of zones: the list below keeps the zones it has; merge the privateDnsZoneConfigs of any other fix to this zone group into one declaration.';

/** The zone id a zone group config names: `symbol.id` when the zone is declared in the same file, else its id. */
export function zoneIdRef(zoneId: string, symbol: string, declaredBeside: boolean): BicepValue {
  return declaredBeside ? raw(`${symbol}.id`) : zoneId;
}

/**
 * An endpoint's DNS zone group holding every config it must have. A deployment replaces the whole
 * config list, so `configs` includes the ones the group keeps.
 */
export function zoneGroupBicep(pe: PrivateEndpointObs, groupName: string, configs: ZoneConfigRef[], suffix = ''): BicepPart[] {
  const peSymbol = `pe${suffix}`;
  return [
    { deployTo: pe.id, declaration: bicepResource({ symbol: peSymbol, type: 'Microsoft.Network/privateEndpoints', name: pe.name, existing: true }) },
    {
      deployTo: pe.id,
      declaration: bicepResource({
        symbol: `zoneGroup${suffix}`,
        type: 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups',
        name: groupName,
        parent: peSymbol,
        body: { properties: { privateDnsZoneConfigs: configs.map((c) => ({ name: c.name, properties: { privateDnsZoneId: c.zoneId } })) } },
      }),
    },
  ];
}

/** The end of every `verify`: recheck repeats the probes and rules behind the report's findings. */
export const RECHECK = 'then run aml-netdoctor recheck <report.json>.';
