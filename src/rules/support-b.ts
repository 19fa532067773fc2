/**
 * Helpers shared by the DNS rules (zone links, custom DNS forwarding, live DNS answers, compute
 * instance names). Pure functions over the snapshot, like ./support.ts.
 */
import { idKey, nameOf, sameId, tryParseArmId } from '../model/arm-id.ts';
import { privateRecordFor, purposeOfName, requiredZoneNames, type CloudProfile } from '../model/cloud.ts';
import { AZURE_DNS_IP, isPublicIPv4 } from '../model/ip.ts';
import type { ComputeObs, DnsLookupObs, PrivateDnsZonesObs, PrivateEndpointObs, Snapshot, VnetLinkObs, WorkspaceObs } from '../model/snapshot.ts';
import type { Evidence } from '../report/schema.ts';
import type { RuleResult } from './rule.ts';
import {
  cloudOf,
  computesInVnets,
  isPrivateWorkspace,
  isUnknown,
  unknownFrom,
  vnetIdOfSubnet,
  workspaceEndpoints,
  workspaceFqdns,
  workspaceOf,
  type Unknown,
} from './support.ts';

export function undeterminedFrom(u: Unknown): RuleResult {
  return { status: 'undetermined', item: u.item, reason: u.reason, ...(u.resourceId ? { resourceId: u.resourceId } : {}) };
}

export function byIdKey<T extends { id: string }>(a: T, b: T): number {
  return idKey(a.id).localeCompare(idKey(b.id));
}

export function listText(items: string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** Upper-cases the first letter of a sentence that starts with a label (not with a name). */
export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// ---------------------------------------------------------------- az CLI naming

/** Subscription, resource group and own name of an ARM id (placeholders when the id is odd). */
export function azParts(id: string): { subscription: string; resourceGroup: string; name: string } {
  const p = tryParseArmId(id);
  return { subscription: p?.subscriptionId ?? '<subscription>', resourceGroup: p?.resourceGroup ?? '<resource-group>', name: nameOf(id) };
}

/** `--subscription <guid> -g <rg>` for the resource group that holds `id`. */
export function azScope(id: string): string {
  const p = azParts(id);
  return `--subscription ${p.subscription} -g ${p.resourceGroup}`;
}

/** `nslookup <name> <server>` for a resolver label (`system`, `ip` or `ip:port`). */
export function nslookupCommand(name: string, resolver: string): string {
  if (resolver === 'system' || resolver === '') return `nslookup ${name}`;
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d+)$/.exec(resolver);
  if (m && m[2] !== '53') return `nslookup -port=${m[2]} ${name} ${m[1]}`;
  return `nslookup ${name} ${m ? m[1] : resolver}`;
}

// ---------------------------------------------------------------- workspace scope

export interface WorkspaceScope {
  ws: WorkspaceObs;
  cloud: CloudProfile;
  /** Workspace private endpoints that could be read, sorted by id (empty when unreadable). */
  endpoints: PrivateEndpointObs[];
  /** Why the endpoints (or some of them) could not be read. */
  endpointGaps: Unknown[];
}

/**
 * The workspace, which must be readable, and its endpoints as far as they could be read. Returns
 * results to give back instead when the workspace is unreadable, or public and `privateOnly`.
 */
export function workspaceScope(s: Snapshot, privateOnly: boolean, whyPrivate: string): WorkspaceScope | RuleResult[] {
  const ws = workspaceOf(s);
  if (isUnknown(ws)) return [undeterminedFrom(ws)];
  if (privateOnly && !isPrivateWorkspace(ws)) {
    return [{ status: 'pass', resourceId: ws.id, detail: `Does not apply: workspace ${ws.name} has public network access ${ws.publicNetworkAccess ?? 'not set (Enabled)'}; ${whyPrivate}` }];
  }
  const view = workspaceEndpoints(s, ws);
  const cloud = cloudOf(s);
  if (isUnknown(view)) return { ws, cloud, endpoints: [], endpointGaps: [view] };
  return { ws, cloud, endpoints: [...view.endpoints].sort(byIdKey), endpointGaps: view.unreadable };
}

/** The private IPs the workspace endpoints serve a name on. */
export function expectedIps(endpoints: PrivateEndpointObs[], fqdn: string): string[] {
  const ips = new Set<string>();
  for (const pe of endpoints) {
    const name = fqdn.toLowerCase();
    for (const c of pe.customDnsConfigs) if (c.fqdn.toLowerCase() === name) c.ipAddresses.forEach((ip) => ips.add(ip));
    if (pe.nicIpConfigurations.ok) {
      for (const ipc of pe.nicIpConfigurations.value) if (ipc.privateIPAddress && ipc.fqdns.some((f) => f.toLowerCase() === name)) ips.add(ipc.privateIPAddress);
    }
  }
  return [...ips].sort();
}

/** The workspace API IP (the one compute instance names must point to). */
export function workspaceApiIps(scope: WorkspaceScope): string[] {
  const { ws, endpoints } = scope;
  const api = ws.fqdns.api ? expectedIps(endpoints, ws.fqdns.api) : [];
  if (api.length) return api;
  return ws.fqdns.cert ? expectedIps(endpoints, ws.fqdns.cert) : [];
}

export type WorkspaceNamePurpose = 'workspace-api' | 'workspace-cert' | 'notebooks';
const WORKSPACE_PURPOSES: readonly string[] = ['workspace-api', 'workspace-cert', 'notebooks'];

/**
 * The workspace names DNS rules judge (api, cert, notebooks): the workspace's own, those the
 * endpoints serve, and those the DNS probe asked with a workspace purpose. Sorted, lower case.
 */
export function workspaceDnsNames(s: Snapshot, scope: WorkspaceScope): string[] {
  const names = new Set(workspaceFqdns(scope.ws, scope.endpoints, scope.cloud).map((n) => n.toLowerCase()));
  if (s.dns?.ok) for (const l of s.dns.value.lookups) if (WORKSPACE_PURPOSES.includes(l.purpose)) names.add(l.name.toLowerCase());
  return [...names].sort();
}

// ---------------------------------------------------------------- live DNS

export function lookupsFor(s: Snapshot, fqdn: string): DnsLookupObs[] {
  if (!s.dns?.ok) return [];
  const name = fqdn.toLowerCase().replace(/\.$/, '');
  return s.dns.value.lookups
    .filter((l) => l.name.toLowerCase().replace(/\.$/, '') === name)
    .sort((a, b) => a.resolver.localeCompare(b.resolver));
}

/** Why there is no DNS evidence for a name. */
export function noLookups(s: Snapshot, fqdn: string, resourceId?: string): Unknown {
  if (!s.dns?.ok) return { ...unknownFrom(`DNS answer for ${fqdn}`, s.dns, 'live DNS'), ...(resourceId ? { resourceId } : {}) };
  return { unknown: true, item: `DNS answer for ${fqdn}`, reason: `${fqdn} was not resolved by the DNS probe`, ...(resourceId ? { resourceId } : {}) };
}

/** Failure statuses the DNS rules report (`error` is the probe's own problem, not an answer). */
export const FAILED_STATUSES: readonly string[] = ['nxdomain', 'nodata', 'servfail', 'refused', 'timeout'];

export function isFailedLookup(l: DnsLookupObs): boolean {
  return FAILED_STATUSES.includes(l.status);
}

export function isPublicAnswer(l: DnsLookupObs): boolean {
  return l.status === 'ok' && l.addresses.some(isPublicIPv4);
}

export function describeLookup(l: DnsLookupObs): string {
  const chain = l.cnames.length ? ` (CNAME ${l.cnames.join(' -> ')})` : '';
  if (l.status === 'ok') {
    const addrs = l.addresses.map((a) => (isPublicIPv4(a) ? `${a} (public)` : a));
    return `${addrs.join(', ') || 'no address'}${chain}`;
  }
  return `${l.status.toUpperCase()}${l.message ? `: ${l.message}` : ''}${chain}`;
}

export function lookupProperty(l: DnsLookupObs): string {
  return `A ${l.name} @ ${l.resolver}`;
}

export function lookupEvidence(l: DnsLookupObs, expected: string): Evidence {
  return { property: lookupProperty(l), observed: describeLookup(l), expected };
}

/** Does this answer contain one of the expected private IPs? */
export function answersWith(l: DnsLookupObs, ips: string[]): boolean {
  return l.status === 'ok' && l.addresses.some((a) => ips.includes(a));
}

export function zoneOfName(cloud: CloudProfile, fqdn: string): string | undefined {
  return privateRecordFor(cloud, fqdn)?.zoneName;
}

// ---------------------------------------------------------------- computes and VNets

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
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, g]) => ({ ...g, computes: [...g.computes].sort((a, b) => a.name.localeCompare(b.name)) }));
}

export function computeLabel(c: ComputeObs): string {
  return `${c.computeType.toLowerCase() === 'computeinstance' ? 'compute instance' : 'compute'} ${c.name}`;
}

/** VNets the networks probe could not read (a custom DNS server may sit in one of them). */
export function unreadableVnets(s: Snapshot): Unknown[] {
  if (!s.networks?.ok) return [];
  return s.networks.value.vnets.flatMap((v) => (v.observed.ok ? [] : [{ unknown: true as const, item: `virtual network ${v.id}`, reason: v.observed.error.message, resourceId: v.id }]));
}

export function dnsServersText(servers: string[]): string {
  return servers.length ? servers.join(', ') : `[] (Azure-provided DNS, ${AZURE_DNS_IP})`;
}

// ---------------------------------------------------------------- private DNS zones

export type ZoneEntry = PrivateDnsZonesObs['zones'][number];

/** Zones of this name that exist (read, or unreadable for a reason other than 404), sorted by id. */
export function existingZonesNamed(zones: PrivateDnsZonesObs, zoneName: string): ZoneEntry[] {
  return zones.zones
    .filter((z) => z.name.toLowerCase() === zoneName.toLowerCase() && (z.observed.ok || z.observed.error.kind !== 'not-found'))
    .sort(byIdKey);
}

/** The zone a workspace endpoint's zone group references, else the first by id. */
export function blamedZone(candidates: ZoneEntry[], endpoints: PrivateEndpointObs[]): ZoneEntry | undefined {
  const referenced = endpoints.flatMap((pe) => (pe.zoneGroups.ok ? pe.zoneGroups.value.flatMap((g) => g.zoneConfigs.map((c) => c.privateDnsZoneId)) : []));
  return candidates.find((z) => referenced.some((r) => sameId(r, z.id))) ?? candidates[0];
}

/** A link resolves names: state Completed, or no state reported and provisioning Succeeded. */
export function linkWorks(l: VnetLinkObs): boolean {
  const state = (l.virtualNetworkLinkState ?? '').toLowerCase();
  if (state) return state === 'completed';
  return (l.provisioningState ?? '').toLowerCase() === 'succeeded';
}

export function linkStateText(l: VnetLinkObs): string {
  return `virtualNetworkLinkState ${l.virtualNetworkLinkState ?? 'not reported'}, provisioningState ${l.provisioningState ?? 'not reported'}`;
}

export function requiredZones(s: Snapshot): string[] {
  return requiredZoneNames(cloudOf(s));
}

/** A link name Azure accepts, derived from the VNet name (1-80 chars: letters, digits, `-`, `_`, `.`). */
export function linkNameFor(vnetName: string): string {
  return `link-${vnetName}`.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 80);
}

// ---------------------------------------------------------------- forwarding

/** Public DNS zones a custom DNS server must forward to Azure DNS for a workspace (facts §1.1, §1.2). */
export function forwardedZones(cloud: CloudProfile): string[] {
  const inference: Record<CloudProfile['name'], string> = {
    AzureCloud: 'inference.ml.azure.com',
    AzureUSGovernment: 'inference.ml.azure.us',
    AzureChinaCloud: 'inference.ml.azure.cn',
  };
  return [cloud.apiSuffix, cloud.notebooksSuffix, ...cloud.instanceSuffixes, 'aznbcontent.net', inference[cloud.name]];
}

export { AZURE_DNS_IP };

// ---------------------------------------------------------------- DNS symptoms (observed answers)

export interface NameObservation {
  name: string;
  /** Every real answer for the name (probe errors left out), by resolver. */
  lookups: DnsLookupObs[];
  /** The answers that show the symptom. */
  bad: DnsLookupObs[];
}

/**
 * Judges the workspace names against the observed answers. A name without bad answers passes only
 * when every resolver gave a real answer; missing or errored lookups make it undetermined.
 */
export function observeWorkspaceNames(s: Snapshot, scope: WorkspaceScope, isBad: (l: DnsLookupObs) => boolean): Array<NameObservation | Unknown> {
  if (!s.dns?.ok) return [{ ...unknownFrom('live DNS answers for the workspace names', s.dns, 'live DNS'), resourceId: scope.ws.id }];
  return workspaceDnsNames(s, scope).map((name) => {
    const all = lookupsFor(s, name);
    const lookups = all.filter((l) => l.status !== 'error');
    const bad = lookups.filter(isBad);
    if (bad.length === 0 && (all.length === 0 || lookups.length < all.length)) {
      const errors = all.filter((l) => l.status === 'error').map((l) => `${l.resolver}: ${l.message ?? 'lookup error'}`);
      return errors.length ? { unknown: true as const, item: `DNS answer for ${name}`, reason: errors.join('; '), resourceId: scope.ws.id } : noLookups(s, name, scope.ws.id);
    }
    return { name, lookups, bad };
  });
}

/** The zone entry of a name's private zone to point commands at (zone group's first), if any was found. */
function zoneEntryFor(s: Snapshot, scope: WorkspaceScope, zoneName: string): ZoneEntry | undefined {
  if (!s.privateDnsZones?.ok) return undefined;
  return blamedZone(existingZonesNamed(s.privateDnsZones.value, zoneName), scope.endpoints);
}

/** Commands to find which cause is behind a wrong answer for a workspace name. */
export function inspectCommands(s: Snapshot, scope: WorkspaceScope, name: string): string[] {
  const rec = privateRecordFor(scope.cloud, name);
  const cmds: string[] = [];
  if (rec) {
    const z = zoneEntryFor(s, scope, rec.zoneName);
    if (z) {
      const where = `${azScope(z.id)} -z ${rec.zoneName}`;
      cmds.push(`az network private-dns link vnet list ${where} --query "[].{name:name, vnet:virtualNetwork.id, state:virtualNetworkLinkState}" -o table`);
      cmds.push(`az network private-dns record-set a show ${where} -n ${rec.recordName} --query aRecords`);
    } else {
      cmds.push(`az network private-dns zone list --query "[?name=='${rec.zoneName}'].id" -o tsv`);
    }
  }
  const groups = computeVnetGroups(s);
  if (!isUnknown(groups)) for (const g of groups) cmds.push(`az network vnet show --ids ${g.vnetId} --query dhcpOptions.dnsServers`);
  const pe = scope.endpoints[0];
  if (pe) cmds.push(`az network private-endpoint show --ids ${pe.id} --query customDnsConfigs`);
  return cmds;
}

export function verifyByNslookup(name: string, lookups: DnsLookupObs[], expected: string[]): string {
  const resolvers = [...new Set(lookups.map((l) => l.resolver))].sort();
  const cmds = (resolvers.length ? resolvers : ['system']).map((r) => nslookupCommand(name, r));
  return `From the compute (or a client using the same resolver): ${cmds.join('; ')} answers ${expected.length ? listText(expected) : "the workspace private endpoint's IP"}.`;
}

export function symptomSubjects(cloud: CloudProfile, name: string): string[] {
  const zone = zoneOfName(cloud, name);
  return [`name:${name}`, ...(zone ? [`zone:${zone}`] : [])];
}

/** What breaks when this workspace name does not reach the private endpoint. */
export function nameImpact(cloud: CloudProfile, name: string): string {
  return purposeOfName(cloud, name) !== 'notebooks'
    ? "The compute instance's token broker (managed-identity) call to the workspace and cert endpoints fails, so the SDK falls back to the device-login prompt."
    : 'Notebooks and file browsing in studio fail from the compute (this name is not on the sign-in path itself).';
}
