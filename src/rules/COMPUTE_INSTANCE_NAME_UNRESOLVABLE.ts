/**
 * COMPUTE_INSTANCE_NAME_UNRESOLVABLE: on a private workspace with a private endpoint, a compute
 * instance's names (<ci>.<region>.instances.azureml.ms and <ci>.<region>.instances.ml.azure.ms, or
 * the sovereign spellings) do not resolve to the workspace private endpoint's API IP. No privatelink
 * zone exists for these names, so they need A records (or forwarders to a zone that has them).
 */
import { idKey } from '../model/arm-id.ts';
import { instanceFqdns } from '../model/cloud.ts';
import type { ComputeObs, DnsLookupObs, Snapshot } from '../model/snapshot.ts';
import type { Remediation } from '../report/schema.ts';
import type { FindingDraft, Rule, RuleResult } from './rule.ts';
import {
  answersWith,
  azParts,
  describeLookup,
  isUnknown,
  listText,
  lookupEvidence,
  lookupsFor,
  resolverOf,
  resolverVnet,
  undetermined,
  unknownFrom,
  vnetById,
  vnetIdOfSubnet,
  workspaceScope,
  zonesNamed,
  type WorkspaceScope,
} from './support.ts';
import { AZURE_DNS_IP, blamedZone, linkNameFor, nslookupCommand, workspaceApiIps } from './support-dns.ts';
import { bicepResource, bicepSnippet } from './support-bicep.ts';

const CODE = 'COMPUTE_INSTANCE_NAME_UNRESOLVABLE';

function check(s: Snapshot): RuleResult[] {
  const scope = workspaceScope(s, '; compute instance names resolve to the public service, as they should.');
  if (Array.isArray(scope)) return scope;
  if (scope.endpoints.length === 0) {
    const gap = scope.unreadable[0];
    if (gap) return [undetermined(gap)];
    return [{ status: 'pass', resourceId: scope.ws.id, detail: `Does not apply yet: workspace ${scope.ws.name} has no private endpoint for the instance names to point to (WORKSPACE_PRIVATE_ENDPOINT_MISSING).` }];
  }
  const apiIps = workspaceApiIps(scope);
  if (apiIps.length === 0) {
    return [{ status: 'undetermined', item: 'compute instance names', reason: "the workspace private endpoint's API IP is unknown (no customDnsConfigs or NIC FQDNs for the API name)", resourceId: scope.ws.id }];
  }
  if (!s.computes?.ok) return [undetermined(unknownFrom('compute instances', s.computes, 'the computes'))];
  const instances = s.computes.value.computes.filter((c) => c.computeType.toLowerCase() === 'computeinstance').sort((a, b) => a.name.localeCompare(b.name));
  if (instances.length === 0) return [{ status: 'pass', resourceId: scope.ws.id, detail: 'Does not apply: no compute instance in scope.' }];
  return instances.map((ci) => judge(s, scope, ci, apiIps));
}

/** The instance's names and the lookups of each (the probe tags them with the compute name). */
function instanceLookups(s: Snapshot, scope: WorkspaceScope, ci: ComputeObs): Array<{ name: string; lookups: DnsLookupObs[] }> {
  const names = new Set(instanceFqdns(scope.cloud, ci.name, ci.location ?? scope.ws.location));
  if (s.dns?.ok) {
    for (const l of s.dns.value.lookups) if (l.purpose === 'instance-name' && (l.computeName ?? '').toLowerCase() === ci.name.toLowerCase()) names.add(l.name.toLowerCase());
  }
  return [...names].sort().map((name) => ({ name, lookups: lookupsFor(s, name) }));
}

function judge(s: Snapshot, scope: WorkspaceScope, ci: ComputeObs, apiIps: string[]): RuleResult {
  if (!s.dns?.ok) return undetermined({ ...unknownFrom(`DNS answers for the names of compute instance ${ci.name}`, s.dns, 'live DNS'), resourceId: ci.id });
  const perName = instanceLookups(s, scope, ci);
  const real = perName.map((n) => ({ ...n, answers: n.lookups.filter((l) => l.status !== 'error') }));
  const bad = real.flatMap((n) => n.answers.filter((l) => !answersWith(l, apiIps)));
  if (bad.length > 0) return { status: 'fail', finding: finding(s, scope, ci, apiIps, perName.flatMap((n) => n.lookups), bad) };
  const missing = real.filter((n) => n.answers.length === 0 || n.answers.length < n.lookups.length);
  if (missing.length > 0) {
    const errors = missing.flatMap((n) => n.lookups.filter((l) => l.status === 'error').map((l) => `${l.resolver}: ${l.message ?? 'lookup error'}`));
    return {
      status: 'undetermined',
      item: `DNS answers for ${listText(missing.map((n) => n.name))} (compute instance ${ci.name})`,
      reason: errors.length ? errors.join('; ') : 'not resolved by the DNS probe',
      resourceId: ci.id,
    };
  }
  return { status: 'pass', resourceId: ci.id, detail: `${listText(real.map((n) => n.name))} resolve to the workspace private endpoint API IP ${listText(apiIps)} through ${listText([...new Set(real.flatMap((n) => n.answers.map((l) => l.resolver)))])}.` };
}

function finding(s: Snapshot, scope: WorkspaceScope, ci: ComputeObs, apiIps: string[], all: DnsLookupObs[], bad: DnsLookupObs[]): FindingDraft {
  const names = [...new Set(all.map((l) => l.name))].sort();
  const badText = bad.map((l) => `${l.name} gave ${describeLookup(l)} through ${l.resolver}`);
  const explanation =
    `Compute instance ${ci.name}'s names do not resolve to the workspace private endpoint's API IP ${listText(apiIps)}: ${badText.join('; ')}. ` +
    `Clients use these names to reach the instance (JupyterLab, terminals and notebooks from studio in a browser, VS Code, az ml compute connect-ssh). ` +
    `No privatelink zone exists for them: on a private workspace each needs an A record pointing to the workspace private endpoint's API IP (not the instance's own IP). ` +
    `This is not what makes the compute print the device-login prompt (that comes from the workspace API and cert names), but users in the VNet cannot open the instance.`;
  return {
    resourceId: ci.id,
    confidence: 'high',
    explanation,
    evidence: all.map((l) => lookupEvidence(l, `${listText(apiIps)} (the workspace private endpoint API IP)`)),
    remediation: remediation(s, scope, ci, apiIps, names, all),
    subjects: [...names.map((n) => `name:${n}`), `compute:${idKey(ci.id)}`],
  };
}

function remediation(s: Snapshot, scope: WorkspaceScope, ci: ComputeObs, apiIps: string[], names: string[], all: DnsLookupObs[]): Remediation {
  const ip = apiIps[0] as string;
  const hosts = `Fallback on a single client: add "${ip} ${names.join(' ')}" to its hosts file (/etc/hosts, or C:\\Windows\\System32\\drivers\\etc\\hosts).`;
  const resolvers = [...new Set(all.map((l) => l.resolver))].sort();
  const verify = `From a client in the VNet: ${(resolvers.length ? resolvers : ['system']).flatMap((r) => names.map((n) => nslookupCommand(n, r))).join('; ')} must each answer ${ip}; then run aml-netdoctor recheck <report.json>.`;
  const suffixes = listText(scope.cloud.instanceSuffixes);

  // Which VNet's resolver clients of this instance use (the instance's own VNet view).
  const vnet = ci.subnetId ? vnetById(s, vnetIdOfSubnet(ci.subnetId)) : undefined;
  const view = vnet && !isUnknown(vnet) ? resolverOf(s, vnet) : undefined;
  if (view?.kind === 'custom-dns-elsewhere') {
    const records = names.map((n) => `${n} -> ${ip}`).join(', ');
    const note = [
      `Nothing to deploy: clients in ${view.vnet.name} resolve through custom DNS ${listText(view.dnsServers)} outside Azure, which Bicep does not configure.`,
      `On that DNS server create A records ${records} (or zones for ${suffixes} holding them).`,
      'Private DNS zones in Azure answer only resolvers inside Azure (168.63.129.16 from a linked VNet), so they help only if that server forwards these names into Azure.',
    ];
    return {
      summary: `Clients in ${view.vnet.name} resolve through custom DNS ${listText(view.dnsServers)} outside Azure: on that DNS server create A records ${records} (or zones for ${suffixes} holding them). ${hosts}`,
      azCli: [],
      bicep: bicepSnippet(ci.id, [], note.join('\n')),
      verify,
    };
  }
  const linkVnet = view ? resolverVnet(view) : undefined;
  const linkVnetId = linkVnet?.id ?? '<id of the VNet whose DNS the clients use>';
  const linkName = linkNameFor(linkVnet?.name ?? 'clients');
  const homeId = zoneHomeId(s, scope);
  const home = azParts(homeId);
  const where = `--subscription ${home.subscription} -g ${home.resourceGroup}`;
  // One private zone per name keeps every other instance's name (other workspaces, other regions) resolving publicly.
  const azCli = names.flatMap((n) => [
    `az network private-dns zone create ${where} -n ${n}`,
    `az network private-dns record-set a add-record ${where} -z ${n} -n @ -a ${ip}`,
    `az network private-dns link vnet create ${where} -z ${n} -n ${linkName} -v ${linkVnetId} -e false`,
  ]);
  const custom =
    view?.kind === 'custom-dns-in-vnet'
      ? ` The DNS server ${view.dnsServer} must forward ${suffixes} to ${AZURE_DNS_IP} (or hold the A records itself) so the zones linked to ${view.dnsVnet.name} answer.`
      : '';
  return {
    summary: `Create a private DNS zone per instance name with an apex A record to the workspace private endpoint's API IP ${ip}, linked to ${linkVnet?.name ?? 'the VNet whose DNS the clients use'} (registration disabled); a zone per name leaves other instances' names alone.${custom} ${hosts}`,
    azCli,
    bicep: zonesBicep(homeId, names, ip, linkName, linkVnetId, custom.trim()),
    verify,
  };
}

/** A private zone per instance name, its apex A record to the workspace API IP, and its link to the clients' resolver VNet. */
function zonesBicep(homeId: string, names: string[], ip: string, linkName: string, linkVnetId: string, customNote: string): string {
  const declarations = names.flatMap((n, i) => {
    const zone = `zone${i + 1}`;
    return [
      bicepResource({ symbol: zone, type: 'Microsoft.Network/privateDnsZones', name: n, body: { location: 'global' } }),
      bicepResource({ symbol: `${zone}Apex`, type: 'Microsoft.Network/privateDnsZones/A', name: '@', parent: zone, body: { properties: { ttl: 3600, aRecords: [{ ipv4Address: ip }] } } }),
      bicepResource({
        symbol: `${zone}Link`,
        type: 'Microsoft.Network/privateDnsZones/virtualNetworkLinks',
        name: linkName,
        parent: zone,
        body: { location: 'global', properties: { registrationEnabled: false, virtualNetwork: { id: linkVnetId } } },
      }),
    ];
  });
  const note = [
    "No privatelink zone exists for compute instance names: one zone per name, each with an apex A record to the workspace private endpoint's API IP, leaves other instances' names resolving publicly.",
    ...(customNote ? [customNote] : []),
  ];
  return bicepSnippet(homeId, declarations, note.join('\n'));
}

/** Put the instance zones beside the workspace's privatelink API zone, else in the workspace resource group (an id in that group). */
function zoneHomeId(s: Snapshot, scope: WorkspaceScope): string {
  if (s.privateDnsZones?.ok) {
    const z = blamedZone(zonesNamed(s.privateDnsZones.value, `privatelink.${scope.cloud.apiSuffix}`), scope.endpoints);
    if (z) return z.id;
  }
  return scope.ws.id;
}

export const rule = {
  meta: {
    code: CODE,
    tier: 3,
    severity: 'medium',
    title: "Compute instance names do not resolve to the workspace private endpoint",
    role: 'cause',
    flows: ['instance-name'],
    description:
      "On a private workspace, a compute instance's names (<ci>.<region>.instances.azureml.ms and <ci>.<region>.instances.ml.azure.ms, or the sovereign-cloud spellings) do not resolve to the workspace private endpoint's API IP through the resolvers observed. No privatelink zone exists for these names, so they need A records pointing to the workspace private endpoint's API IP (not the instance's own IP), or forwarders to a DNS that has them.",
    impact:
      'These names are how clients (studio in a browser, VS Code, Jupyter, SSH via az ml compute connect-ssh) reach the compute instance. This does not itself cause the device-login prompt on the compute, which comes from the workspace API and cert names; it keeps users in the VNet from opening the instance.',
    resolution:
      "Create A records for both instance names pointing to the workspace private endpoint's API IP: private DNS zones linked to the VNet whose resolver the clients use, records on the custom DNS server (or forwarders for instances.azureml.ms and instances.ml.azure.ms to it), or a hosts-file entry on a single client.",
    verification:
      "From a client in the VNet (or the compute), resolve both instance names through the resolver the clients use: each must answer the workspace private endpoint's API IP. Then run aml-netdoctor recheck on the report.",
    needs: ['workspace', 'privateEndpoints', 'computes', 'dns', 'networks', 'privateDnsZones'],
    references: ['S1', 'S3', 'S24', 'https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns', 'https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall'],
  },
  check,
} satisfies Rule;

