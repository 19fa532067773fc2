/**
 * PRIVATE_DNS_ZONE_NOT_LINKED: a required private DNS zone exists, but no zone of that name is
 * linked (with state Completed) to the VNet whose resolver the compute uses: the compute VNet with
 * Azure DNS, the DNS server's VNet with custom DNS. Peering never carries a zone link, so the
 * classic hub-and-spoke mistake (zone linked to the hub only, compute in a spoke) fails here.
 */
import { idKey, sameId } from '../model/arm-id.ts';
import type { PrivateDnsZonesObs, Snapshot, VnetLinkObs, VnetObs } from '../model/snapshot.ts';
import type { Evidence, Remediation } from '../report/schema.ts';
import type { FindingDraft, Rule, RuleResult } from './rule.ts';
import {
  azParts,
  azScope,
  byIdKey,
  capitalize,
  computeLabel,
  computeVnetGroups,
  isPublicAnswer,
  isUnknown,
  knownVnets,
  listText,
  lookupEvidence,
  lookupsFor,
  peeringBetween,
  requiredZones,
  resolverOf,
  undetermined,
  unknownFrom,
  valuesByKey,
  vnetById,
  workspaceScope,
  zoneOfName,
  zonesNamed,
  type ResolverView,
  type Unknown,
  type WorkspaceScope,
  type ZoneEntry,
} from './support.ts';
import {
  AZURE_DNS_IP,
  blamedZone,
  dnsServersText,
  expectedIps,
  isFailedLookup,
  linkNameFor,
  linkStateText,
  linkWorks,
  unreadableVnets,
  workspaceDnsNames,
} from './support-dns.ts';
import { RECHECK, bicepFiles, existingZoneResource, zoneLinkResource } from './support-endpoints.ts';

const CODE = 'PRIVATE_DNS_ZONE_NOT_LINKED';

/** One VNet whose private DNS view some computes get, and the compute VNets that use it. */
interface ResolverTarget {
  resolverVnet: VnetObs;
  uses: Array<{ vnet: VnetObs; view: ResolverView; computeNames: string[] }>;
}

function check(s: Snapshot): RuleResult[] {
  const scope = workspaceScope(s, '; computes reach it over its public endpoint, so private DNS zone links do not decide where its names resolve.');
  if (Array.isArray(scope)) return scope;
  const groups = computeVnetGroups(s);
  if (isUnknown(groups)) return [undetermined(groups)];
  if (groups.length === 0) return [{ status: 'pass', resourceId: scope.ws.id, detail: 'Does not apply: no compute in scope sits in a customer virtual network.' }];
  if (!s.privateDnsZones?.ok) return [undetermined(unknownFrom('private DNS zone links', s.privateDnsZones, 'the private DNS zones'))];
  const zones = s.privateDnsZones.value;

  const results: RuleResult[] = [];
  const targets = new Map<string, ResolverTarget>();
  for (const g of groups) {
    const vnet = vnetById(s, g.vnetId);
    if (isUnknown(vnet)) {
      results.push(undetermined(vnet));
      continue;
    }
    const view = resolverOf(s, vnet);
    if (view.kind === 'custom-dns-elsewhere') {
      results.push(elsewhere(s, vnet, view.dnsServers));
      continue;
    }
    const resolverVnet = view.kind === 'azure-dns' ? view.vnet : view.dnsVnet;
    const t = targets.get(idKey(resolverVnet.id)) ?? { resolverVnet, uses: [] };
    t.uses.push({ vnet, view, computeNames: g.computes.map(computeLabel) });
    targets.set(idKey(resolverVnet.id), t);
  }
  for (const target of valuesByKey(targets)) {
    for (const zoneName of requiredZones(s)) results.push(judge(s, scope, zones, zoneName, target));
  }
  return results;
}

/** Custom DNS outside every VNet read: no zone link can serve it directly (CUSTOM_DNS_NOT_FORWARDING's job). */
function elsewhere(s: Snapshot, vnet: VnetObs, servers: string[]): RuleResult {
  const gaps = unreadableVnets(s);
  if (gaps.length > 0) {
    return {
      status: 'undetermined',
      item: `resolver VNet of ${vnet.name}: custom DNS server ${servers.join(', ')} is in no VNet read, and some VNets could not be read`,
      reason: gaps.map((g) => g.reason).join('; '),
      resourceId: vnet.id,
    };
  }
  return {
    status: 'pass',
    resourceId: vnet.id,
    detail: `Does not apply to ${vnet.name}: its custom DNS server ${servers.join(', ')} sits in no Azure VNet read (on-premises or elsewhere), so the zones must be reached by forwarding; CUSTOM_DNS_NOT_FORWARDING judges that.`,
  };
}

type ZoneLinks = { entry: ZoneEntry; links: VnetLinkObs[] } | { entry: ZoneEntry; unknown: Unknown };

function linksOf(entry: ZoneEntry): ZoneLinks {
  const item = `virtual network links of private DNS zone ${entry.name} (${entry.id})`;
  if (!entry.observed.ok) return { entry, unknown: { unknown: true, item, reason: entry.observed.error.message, resourceId: entry.id } };
  const links = entry.observed.value.links;
  if (!links.ok) return { entry, unknown: { unknown: true, item, reason: links.error.message, resourceId: entry.id } };
  return { entry, links: [...links.value].sort(byIdKey) };
}

function judge(s: Snapshot, scope: WorkspaceScope, zones: PrivateDnsZonesObs, zoneName: string, target: ResolverTarget): RuleResult {
  const { resolverVnet } = target;
  const candidates = zonesNamed(zones, zoneName);
  if (candidates.length === 0) {
    return { status: 'pass', resourceId: resolverVnet.id, detail: `No private DNS zone ${zoneName} was found, so there is no zone to judge for ${resolverVnet.name} (PRIVATE_DNS_ZONE_MISSING covers a missing zone).` };
  }
  const all = candidates.map(linksOf);
  for (const z of all) {
    if ('links' in z) {
      const good = z.links.find((l) => sameId(l.virtualNetworkId, resolverVnet.id) && linkWorks(l));
      if (good) return { status: 'pass', resourceId: z.entry.id, detail: `Private DNS zone ${zoneName} (${azParts(z.entry.id).resourceGroup}) is linked to ${resolverVnet.name} by ${good.name} (${linkStateText(good)}).` };
    }
  }
  const gaps = all.flatMap((z) => ('unknown' in z ? [z.unknown] : []));
  const first = gaps[0];
  if (first) return { status: 'undetermined', item: `${first.item}, judged for ${resolverVnet.name}`, reason: gaps.map((g) => g.reason).join('; '), ...(first.resourceId ? { resourceId: first.resourceId } : {}) };
  const readable = all.flatMap((z) => ('links' in z ? [z] : []));
  return { status: 'fail', finding: finding(s, scope, zoneName, target, candidates, readable) };
}

function finding(s: Snapshot, scope: WorkspaceScope, zoneName: string, target: ResolverTarget, candidates: ZoneEntry[], zoneLinks: Array<{ entry: ZoneEntry; links: VnetLinkObs[] }>): FindingDraft {
  const { resolverVnet, uses } = target;
  const blamed = blamedZone(candidates, scope.endpoints) as ZoneEntry;
  const vnetName = (id: string | undefined) => (id ? (knownVnets(s).find((v) => sameId(v.id, id))?.name ?? azParts(id).name) : 'an unknown VNet');

  // A link to the resolver VNet that exists but is not Completed (a VNet can be linked to one zone of a name only).
  const stuck = zoneLinks.flatMap((z) => z.links.filter((l) => sameId(l.virtualNetworkId, resolverVnet.id)).map((link) => ({ zone: z.entry, link })))[0];
  const linkedTo = zoneLinks.flatMap((z) => z.links.filter((l) => linkWorks(l) && !sameId(l.virtualNetworkId, resolverVnet.id)).map((l) => ({ zone: z.entry, vnetId: l.virtualNetworkId as string })));
  const linkedNames = [...new Set(linkedTo.map((l) => vnetName(l.vnetId)))].sort();

  const names = workspaceDnsNames(s, scope).filter((n) => zoneOfName(scope.cloud, n) === zoneName.toLowerCase());
  const isApi = zoneName.toLowerCase() === `privatelink.${scope.cloud.apiSuffix}`;

  // How the computes reach this resolver.
  const how = uses
    .map((u) =>
      u.view.kind === 'azure-dns'
        ? `${listText(u.computeNames)} in ${u.vnet.name} resolve${u.computeNames.length > 1 ? '' : 's'} names through Azure-provided DNS, which answers from the private DNS zones linked to ${u.vnet.name} itself`
        : `${listText(u.computeNames)} in ${u.vnet.name} use${u.computeNames.length > 1 ? '' : 's'} custom DNS server ${u.view.kind === 'custom-dns-in-vnet' ? u.view.dnsServer : u.vnet.dnsServers.join(', ')}, which sits in ${resolverVnet.name}: when it forwards to Azure DNS (${AZURE_DNS_IP}), Azure DNS answers from the zones linked to ${resolverVnet.name}, so the link that matters is ${resolverVnet.name}'s`,
    )
    .join('; ');

  const state = stuck
    ? `Private DNS zone ${zoneName} (${azParts(stuck.zone.id).resourceGroup}) has a link ${stuck.link.name} to ${resolverVnet.name}, but it is not usable (${linkStateText(stuck.link)}): Azure DNS answers from a zone only once its link is Completed.`
    : `Private DNS zone ${zoneName} (${azParts(blamed.id).resourceGroup}) is ${linkedNames.length ? `linked to ${listText(linkedNames)}` : 'linked to no virtual network'}, not to ${resolverVnet.name}.`;

  const misleading = peeringsToLinked(resolverVnet, linkedTo.map((l) => l.vnetId));
  const peeringNote = misleading.length && !stuck
    ? ` ${resolverVnet.name} is peered with ${listText(misleading.map((p) => vnetName(p.remoteVirtualNetworkId)))}, which is linked, but peering does not carry private DNS zone links: each VNet that resolves needs its own link.`
    : '';

  const confirmations = names.flatMap((n) => lookupsFor(s, n).filter((l) => isPublicAnswer(l) || isFailedLookup(l)));
  const effect = isApi
    ? `${stuck ? 'Until the link is Completed' : 'Without the link'}, ${listText(names) || `the workspace names in ${zoneName}`} resolve through public DNS to the workspace's public address, which refuses traffic because public network access is Disabled: the compute instance's token broker (managed-identity) call to the workspace and cert endpoints fails, and the SDK falls back to the device-login prompt.`
    : `${stuck ? 'Until the link is Completed' : 'Without the link'}, ${listText(names) || `the notebooks name`} resolves through public DNS to an address that refuses traffic; notebooks and file browsing fail from the compute.`;

  const evidence: Evidence[] = [];
  for (const u of uses) {
    evidence.push({
      resourceId: u.vnet.id,
      property: 'properties.dhcpOptions.dnsServers',
      observed: `${dnsServersText(u.vnet.dnsServers)}: resolver VNet is ${resolverVnet.name}`,
      expected: `the resolver VNet (${resolverVnet.name}) linked to ${zoneName}`,
    });
    if (u.view.kind === 'custom-dns-in-vnet') {
      evidence.push({
        resourceId: resolverVnet.id,
        property: 'properties.addressSpace.addressPrefixes',
        observed: `${resolverVnet.addressPrefixes.join(', ')} contains the DNS server ${u.view.dnsServer}`,
        expected: `${resolverVnet.name}, which holds the DNS server, linked to ${zoneName}`,
      });
    }
  }
  for (const z of zoneLinks) {
    evidence.push({
      resourceId: z.entry.id,
      property: 'virtualNetworkLinks[*].properties.virtualNetwork.id',
      observed: z.links.length ? z.links.map((l) => `${vnetName(l.virtualNetworkId)} (${l.virtualNetworkLinkState ?? l.provisioningState ?? 'state not reported'})`).join(', ') : 'no virtual network links',
      expected: `a link to ${resolverVnet.name} with virtualNetworkLinkState Completed`,
    });
  }
  if (stuck) {
    evidence.push({ resourceId: stuck.link.id, property: 'properties.virtualNetworkLinkState', observed: linkStateText(stuck.link), expected: 'virtualNetworkLinkState Completed, provisioningState Succeeded' });
  }
  for (const p of misleading) {
    evidence.push({
      resourceId: p.id,
      property: 'properties.peeringState',
      observed: `${p.peeringState ?? 'state not reported'} peering ${resolverVnet.name} -> ${vnetName(p.remoteVirtualNetworkId)}, which is linked to ${zoneName}`,
      expected: `peering does not carry private DNS zone links: ${resolverVnet.name} needs its own link`,
    });
  }
  for (const l of confirmations) evidence.push(lookupEvidence(l, expectedIps(scope.endpoints, l.name).join(', ') || 'the workspace private endpoint IP'));

  return {
    resourceId: blamed.id,
    confidence: confirmations.length ? 'high' : 'medium',
    explanation: `${capitalize(how)}. ${state}${peeringNote} ${effect}`,
    evidence,
    remediation: remediation(scope, zoneName, resolverVnet, blamed, stuck, names),
    subjects: [`zone:${zoneName}`, ...names.map((n) => `name:${n}`), `vnet:${idKey(resolverVnet.id)}`],
  };
}

/** Peerings of the resolver VNet to VNets that are linked to the zone: the usual false reassurance. */
function peeringsToLinked(resolverVnet: VnetObs, linkedVnetIds: string[]) {
  return linkedVnetIds
    .map((id) => peeringBetween(resolverVnet, id))
    .filter((p): p is NonNullable<typeof p> => !!p)
    .filter((p, i, all) => all.findIndex((q) => sameId(q.id, p.id)) === i)
    .sort(byIdKey);
}

/** The zone link as Bicep: the `existing` zone and its virtualNetworkLinks child to the resolver VNet. */
function linkBicep(zone: ZoneEntry, linkName: string, resolverVnet: VnetObs, note: string): string {
  return bicepFiles(
    [
      { deployTo: zone.id, declaration: existingZoneResource('zone', zone.id) },
      { deployTo: zone.id, declaration: zoneLinkResource('link', 'zone', linkName, resolverVnet.id) },
    ],
    note,
  );
}

function remediation(scope: WorkspaceScope, zoneName: string, resolverVnet: VnetObs, blamed: ZoneEntry, stuck: { zone: ZoneEntry; link: VnetLinkObs } | undefined, names: string[]): Remediation {
  const zone = stuck?.zone ?? blamed;
  const where = `${azScope(zone.id)} -z ${zoneName}`;
  const verifyName = names[0];
  const verifyIp = verifyName ? expectedIps(scope.endpoints, verifyName).join(', ') : '';
  const verify =
    `az network private-dns link vnet list ${where} --query "[].{name:name, vnet:virtualNetwork.id, state:virtualNetworkLinkState}" -o table shows a Completed link to ${resolverVnet.name}` +
    (verifyName ? `, and from the compute nslookup ${verifyName} answers ${verifyIp || "the private endpoint's IP"}` : '') +
    `; ${RECHECK}`;
  if (stuck) {
    const inProgress = (stuck.link.virtualNetworkLinkState ?? '').toLowerCase() === 'inprogress' && (stuck.link.provisioningState ?? '').toLowerCase() !== 'failed';
    return {
      summary: inProgress
        ? `The link ${stuck.link.name} from ${zoneName} to ${resolverVnet.name} is still InProgress. Wait a few minutes and check its state again; if it does not reach Completed, delete it and create it again.`
        : `The link ${stuck.link.name} from ${zoneName} to ${resolverVnet.name} is not usable (${linkStateText(stuck.link)}). Delete it and create it again.`,
      azCli: [
        `az network private-dns link vnet show ${where} -n ${stuck.link.name} --query "{state:virtualNetworkLinkState, provisioning:provisioningState}"`,
        `az network private-dns link vnet delete ${where} -n ${stuck.link.name} --yes`,
        `az network private-dns link vnet create ${where} -n ${stuck.link.name} -v ${resolverVnet.id} -e false`,
      ],
      bicep: linkBicep(
        zone,
        stuck.link.name,
        resolverVnet,
        `Link ${stuck.link.name} from ${zoneName} to ${resolverVnet.name} (registration disabled).\nBicep cannot delete: if the link stays ${stuck.link.virtualNetworkLinkState ?? stuck.link.provisioningState ?? 'unusable'}, delete it with the az command first, then deploy this to recreate it.`,
      ),
      verify,
    };
  }
  return {
    summary: `Link the private DNS zone ${zoneName} to ${resolverVnet.name} (registration disabled). A link is per VNet: linking a peered hub does not help ${resolverVnet.name}.`,
    azCli: [`az network private-dns link vnet create ${where} -n ${linkNameFor(resolverVnet.name)} -v ${resolverVnet.id} -e false`],
    bicep: linkBicep(zone, linkNameFor(resolverVnet.name), resolverVnet, `Links ${zoneName} to ${resolverVnet.name} (registration disabled): Azure DNS in ${resolverVnet.name} then answers from the zone.`),
    verify,
  };
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: "Private DNS zone is not linked to the VNet whose DNS resolver the compute uses",
    role: 'cause',
    flows: ['workspace-api', 'workspace-cert', 'notebooks'],
    description:
      'A required private DNS zone (privatelink.api.azureml.ms or privatelink.notebooks.azure.net, or the sovereign-cloud spelling) exists, but no zone of that name has a Completed virtual network link to the VNet whose resolver the compute uses: the compute VNet itself with Azure-provided DNS, or the VNet holding the custom DNS server. Peering does not carry zone links, so a zone linked only to the hub does not serve a compute in a peered spoke.',
    impact:
      "Azure DNS answers from a private zone only for VNets linked to it. Without the link, the workspace API and cert names resolve to the workspace's public address, which refuses traffic when public network access is disabled. The compute instance's token broker (managed-identity) call to the workspace and cert endpoints fails, and the SDK falls back to the device-login prompt.",
    resolution:
      'Create a virtual network link from each required zone to the resolver VNet (registration disabled). A link stuck InProgress or Failed: wait, then delete and recreate it.',
    verification:
      "List the zone's virtual network links (az network private-dns link vnet list): one points at the resolver VNet with state Completed. From the compute, nslookup of the workspace API name answers the private endpoint's IP. Then run aml-netdoctor recheck on the report.",
    needs: ['workspace', 'computes', 'privateEndpoints', 'networks', 'privateDnsZones', 'dns'],
    references: [
      'F#5',
      'S2',
      'S4',
      'S25',
      'S26',
      'https://learn.microsoft.com/azure/dns/private-dns-virtual-network-links',
      'https://learn.microsoft.com/cli/azure/network/private-dns/link/vnet',
      'https://learn.microsoft.com/azure/machine-learning/how-to-secure-training-vnet',
      'https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-secure-connection-workspace',
    ],
  },
  check,
} satisfies Rule;

