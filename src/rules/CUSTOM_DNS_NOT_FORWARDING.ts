/**
 * CUSTOM_DNS_NOT_FORWARDING: the compute VNet uses custom DNS servers, the workspace API/cert names
 * do not resolve to the private endpoint through the resolvers observed, and the Azure side is in
 * order (zone with the correct records, linked to the DNS server's VNet when that VNet is known):
 * the DNS server does not hand the Azure ML zones to Azure DNS (168.63.129.16).
 */
import { idKey, sameId } from '../model/arm-id.ts';
import { privateRecordFor, purposeOfName, requiredZoneNames } from '../model/cloud.ts';
import type { ARecordSetObs, DnsLookupObs, PrivateDnsZonesObs, Snapshot, VnetLinkObs, VnetObs } from '../model/snapshot.ts';
import type { Evidence, Remediation } from '../report/schema.ts';
import type { FindingDraft, Rule, RuleResult } from './rule.ts';
import {
  answersWith,
  azParts,
  azScope,
  byIdKey,
  capitalize,
  computeLabel,
  describeLookup,
  isUnknown,
  judgeComputeVnets,
  knownVnets,
  listText,
  lookupEvidence,
  lookupsFor,
  resolverOf,
  undetermined,
  unknownFrom,
  usesAzureDns,
  vnetById,
  workspaceScope,
  zonesNamed,
  type ComputeVnetGroup,
  type ResolverView,
  type Unknown,
  type WorkspaceScope,
  type ZoneEntry,
} from './support.ts';
import { AZURE_DNS_IP, blamedZone, expectedIps, forwardedZones, linkNameFor, linkWorks, nslookupCommand, workspaceDnsNames } from './support-dns.ts';
import { bicepResource, raw } from './support-bicep.ts';
import { RECHECK, bicepFiles } from './support-endpoints.ts';

const CODE = 'CUSTOM_DNS_NOT_FORWARDING';

function check(s: Snapshot): RuleResult[] {
  const scope = workspaceScope(s, '; its names are meant to resolve to its public address, so custom DNS need not forward them to a private zone.');
  if (Array.isArray(scope)) return scope;
  return judgeComputeVnets(s, scope.ws, (g) => judgeVnet(s, scope, g));
}

/** What the live answers for one name showed. */
interface NameJudgement {
  name: string;
  expected: string[];
  lookups: DnsLookupObs[];
  wrong: DnsLookupObs[];
}

function judgeVnet(s: Snapshot, scope: WorkspaceScope, g: ComputeVnetGroup): RuleResult {
  const vnet = vnetById(s, g.vnetId);
  if (isUnknown(vnet)) return undetermined(vnet);
  if (usesAzureDns(vnet)) return { status: 'pass', resourceId: vnet.id, detail: `Does not apply: ${vnet.name} uses Azure-provided DNS (${AZURE_DNS_IP}), not custom DNS servers.` };
  const view = resolverOf(s, vnet);

  if (scope.endpoints.length === 0) {
    const gap = scope.unreadable[0];
    if (gap) return undetermined(gap);
    return { status: 'pass', resourceId: vnet.id, detail: `Does not apply yet: workspace ${scope.ws.name} has no private endpoint for ${vnet.name}'s DNS servers to resolve (WORKSPACE_PRIVATE_ENDPOINT_MISSING).` };
  }
  const names = workspaceDnsNames(s, scope).filter((n) => {
    const p = purposeOfName(scope.cloud, n);
    return p === 'workspace-api' || p === 'workspace-cert';
  });
  const withIps = names.map((name) => ({ name, expected: expectedIps(scope.endpoints, name) })).filter((n) => n.expected.length > 0);
  if (withIps.length === 0) {
    return { status: 'undetermined', item: `workspace API/cert names through ${vnet.name}'s DNS servers`, reason: 'the private endpoint IP of the workspace API name is unknown (no customDnsConfigs or NIC FQDNs)', resourceId: vnet.id };
  }
  if (!s.dns?.ok) return undetermined({ ...unknownFrom(`DNS answers for ${listText(withIps.map((n) => n.name))}`, s.dns, 'live DNS'), resourceId: vnet.id });

  const judged: NameJudgement[] = withIps.map((n) => {
    // `error` is the probe's own failure (e.g. an invalid resolver), not an answer.
    const lookups = lookupsFor(s, n.name).filter((l) => l.status !== 'error');
    return { ...n, lookups, wrong: lookups.filter((l) => !answersWith(l, n.expected)) };
  });
  const unanswered = judged.filter((j) => j.lookups.length === 0);
  const wrong = judged.filter((j) => j.wrong.length > 0);
  if (wrong.length === 0) {
    if (unanswered.length > 0) {
      const errors = unanswered.flatMap((j) => lookupsFor(s, j.name)).map((l) => l.message ?? l.status);
      return { status: 'undetermined', item: `DNS answers for ${listText(unanswered.map((j) => j.name))}`, reason: errors.length ? errors.join('; ') : 'not resolved by the DNS probe', resourceId: vnet.id };
    }
    const resolvers = [...new Set(judged.flatMap((j) => j.lookups.map((l) => l.resolver)))].sort();
    return { status: 'pass', resourceId: vnet.id, detail: `${listText(judged.map((j) => j.name))} resolve to the private endpoint (${listText([...new Set(judged.flatMap((j) => j.expected))])}) through ${listText(resolvers)}; ${vnet.name} uses custom DNS ${vnet.dnsServers.join(', ')}.` };
  }

  const azure = azureSide(s, scope, view, wrong);
  if ('result' in azure) return azure.result;
  return { status: 'fail', finding: finding(s, scope, g, vnet, view, wrong, azure) };
}

interface AzureInOrder {
  zone: ZoneEntry;
  records: ARecordSetObs[];
  link?: VnetLinkObs;
}

/**
 * Is the Azure side in order for the names that resolved wrong? A zone of the name must hold the
 * correct records and, when the DNS server's VNet is known, be linked to it. Anything else is another
 * rule's finding (zone, record, link), so this rule passes; unreadable evidence makes it undetermined.
 */
function azureSide(s: Snapshot, scope: WorkspaceScope, view: ResolverView, wrong: NameJudgement[]): AzureInOrder | { result: RuleResult } {
  const zoneName = `privatelink.${scope.cloud.apiSuffix}`;
  const vnetId = view.vnet.id;
  if (!s.privateDnsZones?.ok) return { result: undetermined({ ...unknownFrom(`private DNS zone ${zoneName}`, s.privateDnsZones, 'the private DNS zones'), resourceId: vnetId }) };
  const zones: PrivateDnsZonesObs = s.privateDnsZones.value;
  const candidates = zonesNamed(zones, zoneName);
  const otherRule = (why: string): { result: RuleResult } => ({
    result: { status: 'pass', resourceId: vnetId, detail: `The workspace names do not resolve to the private endpoint through ${view.vnet.name}'s DNS servers, but the Azure side explains it: ${why}. Forwarding is not blamed.` },
  });
  if (candidates.length === 0) return otherRule(`no private DNS zone ${zoneName} exists (PRIVATE_DNS_ZONE_MISSING)`);

  const gaps: Unknown[] = [];
  let candidatesToCheck = candidates;
  let linkOf: (z: ZoneEntry) => VnetLinkObs | undefined = () => undefined;
  if (view.kind === 'custom-dns-in-vnet') {
    const dnsVnet = view.dnsVnet;
    const linked: Array<{ z: ZoneEntry; link: VnetLinkObs }> = [];
    for (const z of candidates) {
      if (!z.observed.ok) gaps.push({ unknown: true, item: `private DNS zone ${z.id}`, reason: z.observed.error.message, resourceId: z.id });
      else if (!z.observed.value.links.ok) gaps.push({ unknown: true, item: `virtual network links of ${z.id}`, reason: z.observed.value.links.error.message, resourceId: z.id });
      else {
        const link = z.observed.value.links.value.find((l) => sameId(l.virtualNetworkId, dnsVnet.id) && linkWorks(l));
        if (link) linked.push({ z, link });
      }
    }
    if (linked.length === 0) {
      if (gaps.length) return { result: gapResult(gaps, vnetId) };
      return otherRule(`${zoneName} is not linked to ${dnsVnet.name}, which holds the DNS server ${view.dnsServer} (PRIVATE_DNS_ZONE_NOT_LINKED)`);
    }
    candidatesToCheck = linked.map((l) => l.z);
    linkOf = (z) => linked.find((l) => sameId(l.z.id, z.id))?.link;
  } else {
    // The DNS server is outside every VNet read: the zone the endpoint's zone group uses is the one to check first.
    const first = blamedZone(candidates, scope.endpoints);
    candidatesToCheck = first ? [first, ...candidates.filter((c) => !sameId(c.id, first.id))] : candidates;
  }

  for (const z of candidatesToCheck) {
    if (!z.observed.ok) {
      if (!gaps.some((g) => sameId(g.resourceId, z.id))) gaps.push({ unknown: true, item: `private DNS zone ${z.id}`, reason: z.observed.error.message, resourceId: z.id });
      continue;
    }
    const aRecords = z.observed.value.aRecords;
    if (!aRecords.ok) {
      gaps.push({ unknown: true, item: `A records of ${z.id}`, reason: aRecords.error.message, resourceId: z.id });
      continue;
    }
    const records = wrong.map((w) => correctRecord(scope, aRecords.value, w));
    if (records.every((r): r is ARecordSetObs => !!r)) {
      const link = linkOf(z);
      return { zone: z, records, ...(link ? { link } : {}) };
    }
  }
  if (gaps.length) return { result: gapResult(gaps, vnetId) };
  return otherRule(`${zoneName} lacks a correct A record for ${listText(wrong.map((w) => w.name))} (PRIVATE_DNS_RECORD_MISSING / PRIVATE_DNS_RECORD_STALE)`);
}

function gapResult(gaps: Unknown[], vnetId: string): RuleResult {
  return { status: 'undetermined', item: `whether the Azure side (zone, records, link) is in order: ${listText(gaps.map((g) => g.item))}`, reason: gaps.map((g) => g.reason).join('; '), resourceId: vnetId };
}

/** The A record set for a name, when its addresses are exactly the endpoint's IPs. */
function correctRecord(scope: WorkspaceScope, records: ARecordSetObs[], w: NameJudgement): ARecordSetObs | undefined {
  const rec = privateRecordFor(scope.cloud, w.name);
  if (!rec) return undefined;
  const set = records.find((r) => r.name.toLowerCase() === rec.recordName);
  if (!set) return undefined;
  const have = [...new Set(set.ipv4Addresses)].sort();
  return have.length === w.expected.length && have.every((ip, i) => ip === w.expected[i]) ? set : undefined;
}

/** Was an answer observed through one of the VNet's own DNS servers (port 53)? */
function askedTheServer(l: DnsLookupObs, servers: string[]): boolean {
  const label = l.resolver.replace(/:53$/, '');
  return servers.some((d) => d.trim() === label);
}

function finding(s: Snapshot, scope: WorkspaceScope, g: ComputeVnetGroup, vnet: VnetObs, view: ResolverView, wrong: NameJudgement[], azure: AzureInOrder): FindingDraft {
  const { cloud } = scope;
  const servers = vnet.dnsServers;
  const computes = g.computes.map(computeLabel);
  const zoneName = `privatelink.${cloud.apiSuffix}`;
  const zones = forwardedZones(cloud);
  const wrongLookups = wrong.flatMap((w) => w.wrong);
  const direct = wrongLookups.some((l) => askedTheServer(l, servers));
  const where =
    view.kind === 'custom-dns-in-vnet'
      ? `${view.dnsServer} sits in ${view.dnsVnet.name}`
      : `${listText(servers)} ${servers.length > 1 ? 'sit' : 'sits'} in no Azure VNet read (on-premises or elsewhere)`;
  const answers = wrong.map((w) => `${w.name} gave ${listText(w.wrong.map((l) => `${describeLookup(l)} through ${l.resolver}`))} instead of ${listText(w.expected)}`);
  const zoneRg = azParts(azure.zone.id).resourceGroup;

  const explanation =
    `${capitalize(listText(computes))} in ${vnet.name} use${computes.length > 1 ? '' : 's'} custom DNS ${servers.length > 1 ? 'servers' : 'server'} ${listText(servers)}; ${where}. ` +
    `Observed answers: ${answers.join('; ')}. ` +
    `The Azure side is in order: zone ${zoneName} (${zoneRg}) holds the correct A records${azure.link ? ` and is linked to ${view.kind === 'custom-dns-in-vnet' ? view.dnsVnet.name : 'the DNS server VNet'}` : ''}. ` +
    `So the DNS server does not resolve these names through Azure DNS (${AZURE_DNS_IP}) from a VNet linked to the private zones: it lacks conditional forwarders for ${listText(zones)}, or forwards them somewhere that cannot see the private zones. ` +
    `The compute instance's token broker (managed-identity) call to the workspace and cert endpoints then fails, and the SDK falls back to the device-login prompt.` +
    (direct ? '' : ` These answers were observed through ${listText([...new Set(wrongLookups.map((l) => l.resolver))])}, not through ${listText(servers)} directly: run aml-netdoctor with --dns-server ${servers[0]} from a machine that can reach it to confirm.`);

  const evidence: Evidence[] = [
    {
      resourceId: vnet.id,
      property: 'properties.dhcpOptions.dnsServers',
      observed: `${servers.join(', ')}${view.kind === 'custom-dns-in-vnet' ? ` (in ${view.dnsVnet.name})` : ' (in no VNet read)'}`,
      expected: `DNS servers that forward ${listText(zones)} to ${AZURE_DNS_IP} from a VNet linked to the private DNS zones, or Azure-provided DNS`,
    },
  ];
  for (const w of wrong) for (const l of w.lookups) evidence.push(lookupEvidence(l, `${listText(w.expected)} (the workspace private endpoint)`));
  for (const r of azure.records) evidence.push({ resourceId: r.id, property: 'properties.aRecords[*].ipv4Address', observed: r.ipv4Addresses.join(', '), expected: 'the private endpoint IP (correct)' });
  if (azure.link && view.kind === 'custom-dns-in-vnet') {
    evidence.push({ resourceId: azure.link.id, property: 'properties.virtualNetwork.id', observed: `${view.dnsVnet.name} (${azure.link.virtualNetworkLinkState ?? 'Completed'})`, expected: `linked to ${view.dnsVnet.name} (correct)` });
  }

  return {
    resourceId: vnet.id,
    confidence: direct ? 'high' : 'medium',
    explanation,
    evidence,
    remediation: remediation(s, scope, vnet, view, azure, wrong),
    // Missing forwarders break every Azure ML zone the server should forward, not only the names judged.
    subjects: [...wrong.map((w) => `name:${w.name}`), ...requiredZoneNames(cloud).map((z) => `zone:${z}`), `vnet:${idKey(vnet.id)}`],
  };
}

function remediation(s: Snapshot, scope: WorkspaceScope, vnet: VnetObs, view: ResolverView, azure: AzureInOrder, wrong: NameJudgement[]): Remediation {
  const zones = forwardedZones(scope.cloud);
  const zoneName = `privatelink.${scope.cloud.apiSuffix}`;
  const servers = vnet.dnsServers;
  const verifyName = wrong[0]?.name ?? '';
  const verify = `From the compute, ${nslookupCommand(verifyName, servers[0] ?? 'system')} answers ${listText(wrong[0]?.expected ?? [])} (the private endpoint), and the device-login prompt no longer appears; ${RECHECK}`;
  const recipes =
    `Windows DNS: Add-DnsServerConditionalForwarderZone -Name ${zones[0]} -MasterServers ${AZURE_DNS_IP} (repeat per zone); ` +
    `BIND: zone "${zones[0]}" { type forward; forward only; forwarders { ${AZURE_DNS_IP}; }; }; (repeat per zone).`;

  if (view.kind === 'custom-dns-in-vnet') {
    return {
      summary:
        `On the DNS server ${view.dnsServer} (in ${view.dnsVnet.name}, which is linked to ${zoneName}), add conditional forwarders for ${listText(zones)} to ${AZURE_DNS_IP}. ${recipes} ` +
        `On-premises DNS servers that serve these names must forward them to ${view.dnsServer} (or an Azure DNS Private Resolver inbound endpoint), not to ${AZURE_DNS_IP}, which is reachable only from inside Azure.`,
      azCli: [
        `az network vnet show --ids ${vnet.id} --query dhcpOptions.dnsServers`,
        `az network private-dns link vnet list ${azScope(azure.zone.id)} -z ${zoneName} --query "[].{name:name, vnet:virtualNetwork.id, state:virtualNetworkLinkState}" -o table`,
      ],
      bicep: resolverBicep({
        host: view.dnsVnet,
        deployTo: view.dnsVnet.id,
        location: view.dnsVnet.location ?? scope.ws.location,
        computeVnet: vnet,
        zones,
        note:
          `The fix is on the DNS server ${view.dnsServer} itself: conditional forwarders for ${listText(zones)} to ${AZURE_DNS_IP} (Windows DNS or BIND, see the summary). Bicep cannot configure a DNS server's own zones.\n` +
          `Declared below, the Azure-managed alternative: an Azure DNS Private Resolver in ${view.dnsVnet.name} (linked to ${zoneName}) whose inbound endpoint answers these zones from the private zones, ` +
          `and a forwarding ruleset that sends them there for ${vnet.name} once ${vnet.name} uses Azure-provided DNS instead of ${listText(servers)} (forward your own domains to ${listText(servers)} with more rules).`,
      }),
      verify,
    };
  }

  // The DNS server is outside Azure: it needs something inside a linked VNet to forward to.
  const linkedVnet = linkedVnetForResolver(s, scope, azure);
  const host = linkedVnet ? azParts(linkedVnet.id) : { subscription: '<subscription>', resourceGroup: '<resource-group>', name: '<vnet linked to the zones>' };
  const vnetId = linkedVnet?.id ?? '<id of a VNet linked to the private DNS zones>';
  const location = linkedVnet?.location ?? scope.ws.location;
  const resolverName = `dnspr-${host.name}`;
  const scopeArgs = `--subscription ${host.subscription} -g ${host.resourceGroup}`;
  return {
    summary:
      `${listText(servers)} ${servers.length > 1 ? 'are' : 'is'} outside every Azure VNet read, so ${servers.length > 1 ? 'they' : 'it'} cannot query ${AZURE_DNS_IP} (reachable only from inside Azure). ` +
      `Create an Azure DNS Private Resolver inbound endpoint (or a DNS forwarder VM) in ${host.name}, which is linked to the private DNS zones, and on ${listText(servers)} add conditional forwarders for ${listText(zones)} to the inbound endpoint's IP (not to ${AZURE_DNS_IP}). ${recipes.replaceAll(AZURE_DNS_IP, '<inbound endpoint IP>')}`,
    azCli: [
      `az network vnet subnet create ${scopeArgs} --vnet-name ${host.name} -n snet-dns-inbound --address-prefixes <free /28 in ${linkedVnet?.addressPrefixes.join(', ') || 'the VNet'}> --delegations Microsoft.Network/dnsResolvers`,
      `az dns-resolver create ${scopeArgs} -n ${resolverName} --location ${location} --id ${vnetId}`,
      `az dns-resolver inbound-endpoint create ${scopeArgs} --dns-resolver-name ${resolverName} -n inbound --location ${location} --ip-configurations '[{"private-ip-allocation-method":"Dynamic","id":"${vnetId}/subnets/snet-dns-inbound"}]'`,
      `az dns-resolver inbound-endpoint show ${scopeArgs} --dns-resolver-name ${resolverName} -n inbound --query "ipConfigurations[0].privateIpAddress" -o tsv`,
    ],
    bicep: resolverBicep({
      host: linkedVnet,
      deployTo: linkedVnet?.id ?? azure.zone.id,
      location,
      computeVnet: vnet,
      zones,
      note:
        `The fix is on the DNS server ${listText(servers)} itself: conditional forwarders for ${listText(zones)} to the inbound endpoint's IP declared below (Windows DNS or BIND, see the summary). Bicep cannot configure a DNS server outside Azure.\n` +
        `Declared below: an Azure DNS Private Resolver in ${host.name} (linked to the private DNS zones) with the inbound endpoint to forward to, ` +
        `and a forwarding ruleset that sends these zones there for ${vnet.name} once ${vnet.name} uses Azure-provided DNS instead of ${listText(servers)} (forward your own domains to ${listText(servers)} with more rules).`,
    }),
    verify,
  };
}

/**
 * An Azure DNS Private Resolver in `host` (a VNet linked to the private zones): delegated subnets,
 * inbound endpoint (what DNS servers forward the zones to), outbound endpoint, and a forwarding
 * ruleset whose rules send the zones to the inbound endpoint, linked to the compute VNet (a ruleset
 * applies to VNets that use Azure-provided DNS; never to the host itself, which would loop).
 */
function resolverBicep(o: { host: VnetObs | undefined; deployTo: string; location: string; computeVnet: VnetObs; zones: string[]; note: string }): string {
  const hostName = o.host?.name ?? '<vnet linked to the private DNS zones>';
  const prefixes = o.host?.addressPrefixes.join(', ') || 'the VNet';
  const delegated = (name: string, after?: string) =>
    bicepResource({
      symbol: `${name}Subnet`,
      type: 'Microsoft.Network/virtualNetworks/subnets',
      name: `snet-dns-${name}`,
      parent: 'hostVnet',
      body: {
        ...(after ? { dependsOn: [raw(after)] } : {}),
        properties: { addressPrefix: `<free /28 in ${prefixes}>`, delegations: [{ name: 'Microsoft.Network.dnsResolvers', properties: { serviceName: 'Microsoft.Network/dnsResolvers' } }] },
      },
    });
  const declarations = [
    bicepResource({ symbol: 'hostVnet', type: 'Microsoft.Network/virtualNetworks', name: hostName, existing: true }),
    delegated('inbound'),
    // Subnets of one VNet are written one at a time.
    delegated('outbound', 'inboundSubnet'),
    bicepResource({ symbol: 'resolver', type: 'Microsoft.Network/dnsResolvers', name: `dnspr-${hostName}`, body: { location: o.location, properties: { virtualNetwork: { id: raw('hostVnet.id') } } } }),
    bicepResource({
      symbol: 'inbound',
      type: 'Microsoft.Network/dnsResolvers/inboundEndpoints',
      name: 'inbound',
      parent: 'resolver',
      body: { location: o.location, properties: { ipConfigurations: [{ privateIpAllocationMethod: 'Dynamic', subnet: { id: raw('inboundSubnet.id') } }] } },
    }),
    bicepResource({ symbol: 'outbound', type: 'Microsoft.Network/dnsResolvers/outboundEndpoints', name: 'outbound', parent: 'resolver', body: { location: o.location, properties: { subnet: { id: raw('outboundSubnet.id') } } } }),
    bicepResource({ symbol: 'ruleset', type: 'Microsoft.Network/dnsForwardingRulesets', name: `dnsrs-${hostName}`, body: { location: o.location, properties: { dnsResolverOutboundEndpoints: [{ id: raw('outbound.id') }] } } }),
    ...o.zones.map((zone, i) =>
      bicepResource({
        symbol: `rule${i + 1}`,
        type: 'Microsoft.Network/dnsForwardingRulesets/forwardingRules',
        name: zone.replace(/[^A-Za-z0-9_-]/g, '-'),
        parent: 'ruleset',
        body: { properties: { domainName: `${zone}.`, forwardingRuleState: 'Enabled', targetDnsServers: [{ ipAddress: raw('inbound.properties.ipConfigurations[0].privateIpAddress'), port: 53 }] } },
      }),
    ),
  ];
  if (!o.host || !sameId(o.host.id, o.computeVnet.id)) {
    declarations.push(
      bicepResource({ symbol: 'rulesetLink', type: 'Microsoft.Network/dnsForwardingRulesets/virtualNetworkLinks', name: linkNameFor(o.computeVnet.name), parent: 'ruleset', body: { properties: { virtualNetwork: { id: o.computeVnet.id } } } }),
    );
  }
  return bicepFiles(
    declarations.map((declaration) => ({ deployTo: o.deployTo, declaration })),
    `${o.note}\nFill in two free /28 ranges of ${hostName} for the resolver subnets.`,
  );
}

/** A VNet the serving zone is linked to, preferring the one holding the workspace private endpoint. */
function linkedVnetForResolver(s: Snapshot, scope: WorkspaceScope, azure: AzureInOrder): VnetObs | undefined {
  if (!azure.zone.observed.ok || !azure.zone.observed.value.links.ok) return undefined;
  const linked = azure.zone.observed.value.links.value.filter(linkWorks).map((l) => l.virtualNetworkId);
  const vnets = knownVnets(s).filter((v) => linked.some((id) => sameId(id, v.id))).sort(byIdKey);
  const peVnets = scope.endpoints.map((pe) => pe.vnetId);
  return vnets.find((v) => peVnets.some((id) => sameId(id, v.id))) ?? vnets[0];
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'Custom DNS servers do not forward the Azure ML zones to Azure DNS',
    role: 'cause',
    flows: ['workspace-api', 'workspace-cert', 'notebooks', 'instance-name'],
    description:
      "The compute VNet uses custom DNS servers, and through them the workspace API and cert names do not resolve to the workspace private endpoint, although the private DNS zone holds the correct records and is linked to the DNS server's VNet (when that VNet is known). The DNS server answers the names itself instead of forwarding the Azure ML zones to Azure DNS (168.63.129.16) from a VNet linked to the private zones.",
    impact:
      "The compute resolves the workspace names to the public address (or not at all), which refuses traffic when public network access is disabled. The compute instance's token broker (managed-identity) call to the workspace and cert endpoints fails, and the SDK falls back to the device-login prompt.",
    verification:
      "From the compute (or with nslookup against the custom DNS server), the workspace API and cert names answer the private endpoint's IP, and the compute no longer shows the device-login prompt. Then run aml-netdoctor recheck on the report.",
    needs: ['workspace', 'computes', 'privateEndpoints', 'networks', 'privateDnsZones', 'dns'],
    resolution:
      'On the custom DNS server, add conditional forwarders for api.azureml.ms, notebooks.azure.net, instances.azureml.ms, instances.ml.azure.ms, aznbcontent.net and inference.ml.azure.com (sovereign clouds: their own spellings) to 168.63.129.16; the server must sit in a VNet linked to the private DNS zones. A DNS server outside Azure forwards instead to a DNS server or an Azure DNS Private Resolver inbound endpoint in such a VNet.',
    references: [
      'F#6',
      'F#7',
      'S1',
      'S9',
      'S24',
      'S27',
      'https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns',
      'https://learn.microsoft.com/azure/private-link/private-endpoint-dns',
      'https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16',
    ],
  },
  check,
} satisfies Rule;
