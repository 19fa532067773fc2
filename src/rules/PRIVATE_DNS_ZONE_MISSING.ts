/**
 * PRIVATE_DNS_ZONE_MISSING: a workspace private endpoint exists, and no private DNS zone of a
 * required name (privatelink.api.azureml.ms, privatelink.notebooks.azure.net, or the sovereign
 * spelling) was found by any search. Undetermined when not found but a search failed.
 */
import { nameOf } from '../model/arm-id.ts';
import type { Evidence } from '../report/schema.ts';
import type { PrivateDnsZonesObs, PrivateEndpointObs, Snapshot } from '../model/snapshot.ts';
import type { FindingDraft, Rule, RuleResult } from './rule.ts';
import { azScope, listText, named, privateScope, requiredZones, undetermined, unknownFrom, zoneGroupZoneIds, zonesNamed, type WorkspaceScope } from './support.ts';
import {
  RECHECK,
  ZONE_GROUP_NOTE,
  bicepFiles,
  failedZoneSearches,
  fqdnsInZone,
  keptZoneConfigs,
  newZone,
  newZoneBicep,
  sameResourceGroup,
  zoneConfigLabel,
  zoneGroupBicep,
  zoneGroupCommand,
  zoneIdRef,
  zoneSubjects,
  type BicepPart,
} from './support-endpoints.ts';
import { expectedIps } from './support-dns.ts';

const CODE = 'PRIVATE_DNS_ZONE_MISSING';

function check(s: Snapshot): RuleResult[] {
  const scope = privateScope(s);
  if (Array.isArray(scope)) return scope;
  const first = scope.endpoints[0];
  if (!first) {
    const u = scope.unreadable[0];
    if (u) return [undetermined(u)];
    return [{ status: 'pass', resourceId: scope.ws.id, detail: `Does not apply: workspace ${scope.ws.name} has no private endpoint, so no private DNS zone is needed yet (see WORKSPACE_PRIVATE_ENDPOINT_MISSING).` }];
  }
  if (!s.privateDnsZones?.ok) return [undetermined(unknownFrom('private DNS zones', s.privateDnsZones, 'the private DNS zones'))];
  const zones = s.privateDnsZones.value;
  return requiredZones(s).map((zoneName) => judge(s, scope, zones, zoneName, first));
}

function judge(s: Snapshot, scope: WorkspaceScope, zones: PrivateDnsZonesObs, zoneName: string, blamed: PrivateEndpointObs): RuleResult {
  const found = zonesNamed(zones, zoneName);
  if (found.length > 0) {
    return { status: 'pass', resourceId: found[0]?.id ?? blamed.id, detail: `Private DNS zone ${zoneName} exists: ${found.map((z) => named(z.id)).join(', ')}.` };
  }
  const failures = failedZoneSearches(zones, scope.endpoints);
  if (failures.length > 0) {
    return { status: 'undetermined', item: `private DNS zone ${zoneName} (not found where the search could look: ${failures.map((f) => f.scope).join(', ')} unreadable)`, reason: failures.map((f) => f.reason).join('; ') };
  }
  return { status: 'fail', finding: finding(s, scope, zones, zoneName, blamed) };
}

function finding(s: Snapshot, scope: WorkspaceScope, zones: PrivateDnsZonesObs, zoneName: string, blamed: PrivateEndpointObs): FindingDraft {
  const { cloud, endpoints } = scope;
  const names = fqdnsInZone(scope, zoneName);
  const isApi = zoneConfigLabel(cloud, zoneName) === 'api';
  // Zone groups may still point at a zone of this name that was deleted.
  const dangling = zones.zones.filter((z) => z.name.toLowerCase() === zoneName.toLowerCase() && !z.observed.ok && z.observed.error.kind === 'not-found');
  const subs = zones.searches.map((x) => `${x.subscriptionId} (${x.why})`);

  const explanation =
    `Workspace private endpoint ${listText(endpoints.map((pe) => pe.name))} serves ${listText(names) || `names in ${zoneName}`}, but no private DNS zone ${zoneName} exists in the subscriptions searched (${listText(subs) || 'none'})` +
    (dangling.length ? `; the zone group still references ${listText(dangling.map((z) => named(z.id)))}, which no longer exists` : '') +
    `. Without the zone, the privatelink CNAME is answered by public DNS, so ` +
    (isApi
      ? `the workspace API and cert names resolve to the workspace's public address, which refuses traffic because public network access is Disabled: the compute's managed-identity token request fails and it falls back to device login.`
      : `the notebooks name resolves to a public address that refuses traffic; notebooks and file browsing in studio and on the compute fail.`);

  const evidence: Evidence[] = zones.searches.map((x) => ({
    resourceId: `/subscriptions/${x.subscriptionId}`,
    property: 'Microsoft.Network/privateDnsZones (subscription listing)',
    observed: x.result.ok ? (x.result.value.zoneIds.length ? `zones found: ${x.result.value.zoneIds.map(nameOf).join(', ')}` : 'no private DNS zone of a required name') : x.result.error.message,
    expected: `a zone named ${zoneName}`,
  }));
  for (const pe of endpoints) {
    const ids = zoneGroupZoneIds(pe) ?? [];
    evidence.push({
      resourceId: pe.id,
      property: 'properties.privateDnsZoneGroups[*].properties.privateDnsZoneConfigs[*].properties.privateDnsZoneId',
      observed: ids.length ? ids.join(', ') : 'no DNS zone group',
      expected: `an existing zone named ${zoneName}`,
    });
  }

  const created = newZone(s, zones, zoneName, blamed.id);
  const { home, zoneId, resolvers, azCli } = created;
  const label = zoneConfigLabel(cloud, zoneName);
  const zoneSymbol = `${label}Zone`;
  const parts: BicepPart[] = newZoneBicep(created, zoneSymbol);
  endpoints.forEach((pe, i) => {
    const group = pe.zoneGroups.ok ? pe.zoneGroups.value[0] : undefined;
    if (group) {
      // A config still pointing at a deleted zone of this name is replaced (zone groups write records only when they change).
      for (const c of group.zoneConfigs.filter((c) => nameOf(c.privateDnsZoneId).toLowerCase() === zoneName.toLowerCase())) {
        azCli.push(`az network private-endpoint dns-zone-group remove ${azScope(pe.id)} --endpoint-name ${pe.name} -n ${group.name} --zone-name ${c.name ?? label}`);
      }
    }
    azCli.push(zoneGroupCommand(group ? 'add' : 'create', { scopeId: pe.id, endpoint: pe.name, group: group?.name ?? 'default', zoneId, label }));
    const configs = [...keptZoneConfigs(s, group, [zoneName]), { name: label, zoneId: zoneIdRef(zoneId, zoneSymbol, sameResourceGroup(zoneId, pe.id)) }];
    parts.push(...zoneGroupBicep(pe, group?.name ?? 'default', configs, endpoints.length > 1 ? String(i + 1) : ''));
  });
  const summary =
    `Create the private DNS zone ${zoneName} in ${home.resourceGroup}, link it to ${resolvers.length ? listText(resolvers.map((v) => v.name)) : 'the VNet whose DNS resolver the compute uses'} (registration disabled), and add it to the endpoint's DNS zone group so Azure writes the A records.` +
    (resolvers.length ? '' : ' With custom DNS outside Azure, also forward the public zone to a resolver in a linked VNet.');
  const bicep = bicepFiles(
    parts,
    `Creates ${zoneName} (location global)` +
      (resolvers.length ? `, links it to ${listText(resolvers.map((v) => v.name))}` : ', with no VNet link: add a virtualNetworkLinks child for the VNet whose DNS resolver the compute uses') +
      `, and puts it into the DNS zone group of ${listText(endpoints.map((pe) => pe.name))}.\n${ZONE_GROUP_NOTE}`,
  );
  const verifyName = names[0] ?? zoneName;
  return {
    resourceId: blamed.id,
    confidence: 'medium',
    explanation,
    evidence,
    remediation: {
      summary,
      azCli,
      bicep,
      verify:
        `az network private-dns record-set a list --subscription ${home.subscription} -g ${home.resourceGroup} -z ${zoneName} --query "[].{name:name, ip:aRecords[0].ipv4Address}" -o tsv lists the workspace records with the endpoint's private IP` +
        `, and from the compute nslookup ${verifyName} answers ${listText(expectedIps(endpoints, verifyName)) || "the endpoint's private IP"}; ${RECHECK}`,
    },
    subjects: zoneSubjects(zoneName, names),
  };
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'Private DNS zone for the workspace private endpoint does not exist',
    role: 'cause',
    flows: ['workspace-api', 'workspace-cert', 'notebooks'],
    description:
      'The workspace has a private endpoint, but a private DNS zone it needs (privatelink.api.azureml.ms or privatelink.notebooks.azure.net, or the sovereign-cloud spelling) exists in none of the subscriptions searched and is not referenced by the endpoint.',
    impact:
      "Without the zone the workspace names resolve to the workspace's public address, which refuses traffic when public network access is disabled. The compute instance's managed-identity token request fails and azureml-core falls back to the device-login prompt.",
    resolution:
      "Create the zone, link it to the VNet whose resolver the compute uses (registration disabled), and add it to the private endpoint's DNS zone group so the A records are written and kept in sync.",
    verification:
      "List the zone's A records (az network private-dns record-set a list): the workspace names appear with the private endpoint's IP. From the compute, nslookup of the workspace API name answers that private IP, not a public address. Then run aml-netdoctor recheck on the report.",
    needs: ['workspace', 'computes', 'privateEndpoints', 'networks', 'privateDnsZones'],
    absorbs: ['PRIVATE_DNS_ZONE_GROUP_MISSING', 'PRIVATE_DNS_RECORD_MISSING'],
    references: ['F#3', 'S1', 'S2', 'S16', 'S24', 'https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns', 'https://learn.microsoft.com/azure/private-link/private-endpoint-dns'],
  },
  check,
} satisfies Rule;
