/**
 * Helpers of the DNS rules (zone links, custom DNS forwarding, live DNS answers and the symptoms
 * they show, compute instance names). Pure functions over the snapshot, like ./support.ts.
 */
import { sameId } from '../model/arm-id.ts';
import { privateRecordFor, purposeOfName, type CloudProfile } from '../model/cloud.ts';
import { AZURE_DNS_IP } from '../model/ip.ts';
import type { DnsLookupObs, PrivateEndpointObs, Snapshot, VnetLinkObs } from '../model/snapshot.ts';
import type { FindingDraft, RuleResult } from './rule.ts';
import {
  azScope,
  computeVnetGroups,
  describeLookup,
  isUnknown,
  listText,
  lookupEvidence,
  lookupsFor,
  undetermined,
  unknownFrom,
  workspaceFqdns,
  zoneGroupZoneIds,
  zoneOfName,
  zonesNamed,
  type Unknown,
  type WorkspaceScope,
  type ZoneEntry,
} from './support.ts';
import { bicepSnippet } from './support-bicep.ts';
import { RECHECK, aRecordResource, bicepFiles, existingZoneResource, resolverVnetsOfComputes, zoneLinkResource } from './support-endpoints.ts';

/** `nslookup <name> <server>` for a resolver label (`system`, `ip` or `ip:port`). */
export function nslookupCommand(name: string, resolver: string): string {
  if (resolver === 'system' || resolver === '') return `nslookup ${name}`;
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d+)$/.exec(resolver);
  if (m && m[2] !== '53') return `nslookup -port=${m[2]} ${name} ${m[1]}`;
  return `nslookup ${name} ${m ? m[1] : resolver}`;
}

// ---------------------------------------------------------------- workspace names and IPs

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

/** Why there is no DNS evidence for a name. */
function noLookups(s: Snapshot, fqdn: string, resourceId?: string): Unknown {
  if (!s.dns?.ok) return { ...unknownFrom(`DNS answer for ${fqdn}`, s.dns, 'live DNS'), ...(resourceId ? { resourceId } : {}) };
  return { unknown: true, item: `DNS answer for ${fqdn}`, reason: `${fqdn} was not resolved by the DNS probe`, ...(resourceId ? { resourceId } : {}) };
}

/** Failure statuses the DNS rules report (`error` is the probe's own problem, not an answer). */
const FAILED_STATUSES: readonly string[] = ['nxdomain', 'nodata', 'servfail', 'refused', 'timeout'];

export function isFailedLookup(l: DnsLookupObs): boolean {
  return FAILED_STATUSES.includes(l.status);
}

// ---------------------------------------------------------------- VNets and links

/** VNets the networks probe could not read (a custom DNS server may sit in one of them). */
export function unreadableVnets(s: Snapshot): Unknown[] {
  if (!s.networks?.ok) return [];
  return s.networks.value.vnets.flatMap((v) => (v.observed.ok ? [] : [{ unknown: true as const, item: `virtual network ${v.id}`, reason: v.observed.error.message, resourceId: v.id }]));
}

export function dnsServersText(servers: string[]): string {
  return servers.length ? servers.join(', ') : `[] (Azure-provided DNS, ${AZURE_DNS_IP})`;
}

/** The zone a workspace endpoint's zone group references, else the first by id. */
export function blamedZone(candidates: ZoneEntry[], endpoints: PrivateEndpointObs[]): ZoneEntry | undefined {
  const referenced = endpoints.flatMap((pe) => zoneGroupZoneIds(pe) ?? []);
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
function observeWorkspaceNames(s: Snapshot, scope: WorkspaceScope, isBad: (l: DnsLookupObs) => boolean): Array<NameObservation | Unknown> {
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

/** The check of a DNS symptom rule: one result per workspace name, `judge` for those with real answers. */
export function judgeWorkspaceNames(s: Snapshot, scope: WorkspaceScope, isBad: (l: DnsLookupObs) => boolean, judge: (o: NameObservation) => RuleResult): RuleResult[] {
  return observeWorkspaceNames(s, scope, isBad).map((o) => (isUnknown(o) ? undetermined(o) : judge(o)));
}

/** `, while <resolver> answered <answer>` for the resolvers that gave no bad answer, else ''. */
export function otherAnswersText(o: NameObservation): string {
  const others = o.lookups.filter((l) => !o.bad.includes(l));
  return others.length ? `, while ${listText(others.map((l) => `${l.resolver} answered ${describeLookup(l)}`))}` : '';
}

/**
 * The finding of a DNS symptom rule for one name: every answer as evidence, commands that find the
 * cause, and nslookup from the compute to verify. `summary` is followed by how to inspect.
 */
export function symptomFinding(s: Snapshot, scope: WorkspaceScope, o: NameObservation, what: { expected: string[]; expectedText: string; explanation: string; summary: string; bicep: string }): FindingDraft {
  return {
    resourceId: scope.ws.id,
    confidence: 'high',
    explanation: what.explanation,
    evidence: o.lookups.map((l) => lookupEvidence(l, what.expectedText)),
    remediation: {
      summary: `${what.summary}Inspect with the commands below, and from the compute run the nslookup in the verification step.`,
      azCli: inspectCommands(s, scope, o.name),
      bicep: what.bicep,
      verify: verifyByNslookup(o.name, o.lookups, what.expected),
    },
    subjects: symptomSubjects(scope.cloud, o.name),
  };
}

/** The zone entry of a name's private zone to point commands at (zone group's first), if any was found. */
function zoneEntryFor(s: Snapshot, scope: WorkspaceScope, zoneName: string): ZoneEntry | undefined {
  if (!s.privateDnsZones?.ok) return undefined;
  return blamedZone(zonesNamed(s.privateDnsZones.value, zoneName), scope.endpoints);
}

/** Commands to find which cause is behind a wrong answer for a workspace name. */
function inspectCommands(s: Snapshot, scope: WorkspaceScope, name: string): string[] {
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

function verifyByNslookup(name: string, lookups: DnsLookupObs[], expected: string[]): string {
  const resolvers = [...new Set(lookups.map((l) => l.resolver))].sort();
  const cmds = (resolvers.length ? resolvers : ['system']).map((r) => nslookupCommand(name, r));
  return `From the compute (or a client using the same resolver): ${cmds.join('; ')} answers ${expected.length ? listText(expected) : "the workspace private endpoint's IP"}; ${RECHECK}`;
}

function symptomSubjects(cloud: CloudProfile, name: string): string[] {
  const zone = zoneOfName(cloud, name);
  return [`name:${name}`, ...(zone ? [`zone:${zone}`] : [])];
}

/** What breaks when this workspace name does not reach the private endpoint. */
export function nameImpact(cloud: CloudProfile, name: string): string {
  return purposeOfName(cloud, name) !== 'notebooks'
    ? "The compute instance's token broker (managed-identity) call to the workspace and cert endpoints fails, so the SDK falls back to the device-login prompt."
    : 'Notebooks and file browsing in studio fail from the compute (this name is not on the sign-in path itself).';
}

// ---------------------------------------------------------------- DNS symptoms: the likely fix as Bicep

/** A snippet with nothing to deploy: only comments saying where the fix is. */
function commentOnly(deployTo: string, note: string): string {
  return bicepSnippet(deployTo, [], `Nothing to deploy from this finding.\n${note}`);
}

/** The VNets the computes resolve through that no working link of any zone of this name reaches. */
function unlinkedResolverVnets(s: Snapshot, zones: ZoneEntry[]) {
  return resolverVnetsOfComputes(s).filter(
    (v) => !zones.some((z) => z.observed.ok && z.observed.value.links.ok && z.observed.value.links.value.some((l) => sameId(l.virtualNetworkId, v.id) && linkWorks(l))),
  );
}

/**
 * The Bicep of a DNS symptom: the fix its explanation names as most likely, when the snapshot shows
 * it (a public answer: link the zone to the resolver VNets that lack it; NXDOMAIN/NODATA: the missing
 * A record), else comments naming the cause findings that carry the fix and are folded above it.
 */
export function symptomBicep(s: Snapshot, scope: WorkspaceScope, o: NameObservation, kind: 'public-via-privatelink' | 'public-direct' | 'failed'): string {
  if (kind === 'public-direct') {
    return commentOnly(
      scope.ws.id,
      `The answer did not go through the privatelink CNAME, so the resolver answered from a zone or hosts entry of its own: the fix is on that DNS server (conditional forwarders to Azure DNS, configured on the server itself; CUSTOM_DNS_NOT_FORWARDING carries it when it applies) or in the client's hosts file.`,
    );
  }
  const rec = privateRecordFor(scope.cloud, o.name);
  if (!rec) return commentOnly(scope.ws.id, `${o.name} has no private DNS zone of its own: the DNS server that answers it must resolve it through Azure DNS (see CUSTOM_DNS_NOT_FORWARDING).`);
  const zone = zoneEntryFor(s, scope, rec.zoneName);
  if (!zone) {
    return commentOnly(
      scope.ws.id,
      `No private DNS zone ${rec.zoneName} was found${s.privateDnsZones?.ok ? '' : ' (the zones could not be read)'}: PRIVATE_DNS_ZONE_MISSING, which this finding is folded into when it applies, carries the Bicep that creates the zone, links it and adds it to the endpoint's DNS zone group.`,
    );
  }
  if (kind === 'public-via-privatelink') {
    const all = s.privateDnsZones?.ok ? zonesNamed(s.privateDnsZones.value, rec.zoneName) : [zone];
    const unlinked = unlinkedResolverVnets(s, all);
    if (unlinked.length === 0) {
      return commentOnly(
        zone.id,
        `${rec.zoneName} is linked to every VNet the computes resolve through, so the public answer most likely comes from a custom DNS server that does not forward the Azure ML zones to ${AZURE_DNS_IP}: CUSTOM_DNS_NOT_FORWARDING carries that fix (conditional forwarders are configured on the DNS server itself).`,
      );
    }
    return bicepFiles(
      [
        { deployTo: zone.id, declaration: existingZoneResource('zone', zone.id) },
        ...unlinked.map((v, i) => ({ deployTo: zone.id, declaration: zoneLinkResource(`link${i + 1}`, 'zone', linkNameFor(v.name), v.id) })),
      ],
      `Most likely fix for a public answer through the privatelink CNAME: link ${rec.zoneName} to ${listText(unlinked.map((v) => v.name))}, whose resolver answers the compute (PRIVATE_DNS_ZONE_NOT_LINKED carries the same fix when it finds the link missing).`,
    );
  }
  const nameError = o.bad.some((l) => l.status === 'nxdomain' || l.status === 'nodata');
  const records = zone.observed.ok && zone.observed.value.aRecords.ok ? zone.observed.value.aRecords.value : undefined;
  const hasRecord = records?.some((r) => r.name.toLowerCase() === rec.recordName && r.ipv4Addresses.length > 0);
  const ips = expectedIps(scope.endpoints, o.name);
  if (nameError && records && !hasRecord && ips.length > 0) {
    return bicepFiles(
      [
        { deployTo: zone.id, declaration: existingZoneResource('zone', zone.id) },
        { deployTo: zone.id, declaration: aRecordResource('record', 'zone', rec.recordName, ips, 10) },
      ],
      `Most likely fix for NXDOMAIN/NODATA: the A record ${rec.recordName} in ${rec.zoneName} with the endpoint's IP (PRIVATE_DNS_RECORD_MISSING carries the same fix, with the endpoint's DNS zone group).`,
    );
  }
  return commentOnly(
    zone.id,
    nameError
      ? `${rec.zoneName} already holds ${rec.recordName}: the resolver that failed does not answer from this zone (a custom DNS server with a zone of its own for the name, or a zone of this name linked elsewhere). The zone, link or forwarding finding this one is folded into carries the fix.`
      : 'SERVFAIL, REFUSED or a timeout comes from a DNS server, not from an Azure resource Bicep declares: check that the server is reachable (NSG, routes, UDP/TCP 53) and where it forwards. A zone, link or forwarding finding this one is folded into carries its fix.',
  );
}
