/**
 * PRIVATE_DNS_ZONE_GROUP_MISSING: a workspace private endpoint has no DNS zone group, or its zone
 * groups reference no zone of some required name. Azure writes and updates the endpoint's A records
 * only through the zone group.
 */
import { nameOf } from '../model/arm-id.ts';
import type { Evidence } from '../report/schema.ts';
import type { PrivateDnsZoneGroupObs, PrivateEndpointObs, Snapshot } from '../model/snapshot.ts';
import type { FindingDraft, Rule, RuleResult } from './rule.ts';
import { azParts, listText, named, privateScope, requiredZones, type WorkspaceScope } from './support.ts';
import {
  RECHECK,
  ZONE_GROUP_NOTE,
  bicepFiles,
  endpointResults,
  fqdnsInZone,
  keptZoneConfigs,
  nameSubjects,
  newZone,
  newZoneBicep,
  sameResourceGroup,
  servingZone,
  zoneConfigLabel,
  zoneGroupBicep,
  zoneGroupCommand,
  zoneIdRef,
  type BicepPart,
  type ZoneConfigRef,
} from './support-endpoints.ts';
import { expectedIps } from './support-dns.ts';

const CODE = 'PRIVATE_DNS_ZONE_GROUP_MISSING';

function check(s: Snapshot): RuleResult[] {
  const scope = privateScope(s);
  if (Array.isArray(scope)) return scope;
  return endpointResults(scope, scope.endpoints.map((pe) => judge(s, scope, pe)));
}

function judge(s: Snapshot, scope: WorkspaceScope, pe: PrivateEndpointObs): RuleResult {
  if (!pe.zoneGroups.ok) return { status: 'undetermined', item: `DNS zone groups of private endpoint ${pe.name}`, reason: pe.zoneGroups.error.message, resourceId: pe.id };
  const groups = pe.zoneGroups.value;
  const referenced = new Set(groups.flatMap((g) => g.zoneConfigs.map((c) => nameOf(c.privateDnsZoneId).toLowerCase())));
  const missing = requiredZones(s).filter((z) => !referenced.has(z.toLowerCase()));
  if (missing.length === 0) {
    return { status: 'pass', resourceId: pe.id, detail: `Private endpoint ${pe.name}: zone group ${groups.map((g) => g.name).join(', ')} references ${listText(requiredZones(s))}.` };
  }
  return { status: 'fail', finding: finding(s, scope, pe, groups, missing) };
}

function describeGroups(groups: PrivateDnsZoneGroupObs[]): string {
  if (groups.length === 0) return 'no DNS zone group';
  return groups.map((g) => `${g.name}: ${g.zoneConfigs.map((c) => nameOf(c.privateDnsZoneId)).join(', ') || 'no zones'}`).join('; ');
}

function finding(s: Snapshot, scope: WorkspaceScope, pe: PrivateEndpointObs, groups: PrivateDnsZoneGroupObs[], missing: string[]): FindingDraft {
  const { cloud } = scope;
  const names = missing.flatMap((z) => fqdnsInZone(scope, z));
  const authBroken = missing.some((z) => zoneConfigLabel(cloud, z) === 'api');
  const explanation =
    (groups.length === 0
      ? `Private endpoint ${pe.name} has no DNS zone group, `
      : `Private endpoint ${pe.name} has zone group ${groups.map((g) => g.name).join(', ')}, but it references no ${listText(missing)} zone, `) +
    `so Azure does not write or update the A records for ${listText(names) || listText(missing)} in ${listText(missing)}. ` +
    `Those records are then missing, or hand-made and stale after the endpoint's IP changes` +
    (authBroken
      ? `, and the compute resolves the workspace API and cert names to the public address (refused, public access is Disabled) or to a dead IP: its managed-identity token request fails and it falls back to device login.`
      : `, and notebooks in studio and on the compute fail to reach the workspace's notebook service.`);

  const evidence: Evidence[] = [
    {
      resourceId: pe.id,
      property: 'properties.privateDnsZoneGroups[*].properties.privateDnsZoneConfigs[*].properties.privateDnsZoneId',
      observed: describeGroups(groups),
      expected: `a zone group referencing ${listText(requiredZones(s))}`,
    },
  ];

  const p = azParts(pe.id);
  const azCli: string[] = [];
  const groupName = groups[0]?.name ?? 'default';
  let verb: 'create' | 'add' = groups.length === 0 ? 'create' : 'add';
  const notFound: string[] = [];
  const unknownZones: string[] = [];
  const created: BicepPart[] = [];
  const configs: ZoneConfigRef[] = keptZoneConfigs(s, groups[0], missing);
  for (const zoneName of missing) {
    const label = zoneConfigLabel(cloud, zoneName);
    let zoneId: string;
    let ref: ZoneConfigRef['zoneId'] | undefined;
    const zones = s.privateDnsZones?.ok ? s.privateDnsZones.value : undefined;
    const serving = zones ? servingZone(s, zones, pe, zoneName, `zone ${zoneName}`) : undefined;
    if (serving?.kind === 'zone') {
      zoneId = serving.entry.id;
      evidence.push({ resourceId: zoneId, observed: `zone ${named(zoneId)} exists (${serving.how}) but is not in the zone group`, expected: `referenced by the zone group of ${pe.name}` });
    } else if (!zones) {
      // The zones could not be read: the id of an existing zone is unknown.
      unknownZones.push(zoneName);
      zoneId = `<resource id of the ${zoneName} zone>`;
    } else {
      // No zone of this name was found: create it first, beside the other workspace zone if there is one.
      notFound.push(zoneName);
      const zone = newZone(s, zones, zoneName, pe.id);
      zoneId = zone.zoneId;
      azCli.push(...zone.azCli);
      created.push(...newZoneBicep(zone, `${label}Zone`));
      ref = zoneIdRef(zoneId, `${label}Zone`, sameResourceGroup(zoneId, pe.id));
    }
    azCli.push(zoneGroupCommand(verb, { scopeId: pe.id, endpoint: pe.name, group: groupName, zoneId, label }));
    configs.push({ name: label, zoneId: ref ?? zoneId });
    verb = 'add';
  }
  const bicep = bicepFiles(
    [...created, ...zoneGroupBicep(pe, groupName, configs)],
    `${groups.length === 0 ? 'Creates the DNS zone group' : `Rewrites DNS zone group ${groupName}`} of ${pe.name} with ${listText(missing)}` +
      (notFound.length ? ` (creating ${listText(notFound)} first, location global, linked to the compute's resolver VNet)` : '') +
      `.\n${ZONE_GROUP_NOTE}` +
      (unknownZones.length ? `\nFill in the id of the existing ${listText(unknownZones)} zone (the private DNS zones could not be read).` : ''),
  );
  const summary =
    (groups.length === 0 ? `Create a DNS zone group on ${pe.name}` : `Add the missing zone(s) to zone group ${groupName} of ${pe.name}`) +
    ` so Azure manages the A records for ${listText(missing)}` +
    (notFound.length ? ` (${listText(notFound)} was not found, so it is created first)` : '') +
    '.' +
    (unknownZones.length ? ` The private DNS zones could not be read (${s.privateDnsZones && !s.privateDnsZones.ok ? s.privateDnsZones.error.message : 'not collected'}): fill in the id of the existing ${listText(unknownZones)} zone, or create it.` : '');
  return {
    resourceId: pe.id,
    confidence: 'medium',
    explanation,
    evidence,
    remediation: {
      summary,
      azCli,
      bicep,
      verify:
        `az network private-endpoint dns-zone-group list --subscription ${p.subscription} -g ${p.resourceGroup} --endpoint-name ${pe.name} --query "[].privateDnsZoneConfigs[].privateDnsZoneId" -o tsv lists ${listText(missing)}` +
        `, and from the compute nslookup ${names[0] ?? '<workspace name>'} answers ${listText(names[0] ? expectedIps([pe], names[0]) : []) || "the endpoint's private IP"}; ${RECHECK}`,
    },
    subjects: [...missing.map((z) => `zone:${z}`), ...nameSubjects(names)],
  };
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'Workspace private endpoint has no DNS zone group for a required zone',
    role: 'cause',
    flows: ['workspace-api', 'workspace-cert', 'notebooks'],
    description:
      'The workspace private endpoint has no private DNS zone group, or its zone group does not reference a zone of each required name (privatelink.api.azureml.ms and privatelink.notebooks.azure.net, or the sovereign spelling). Azure maintains the A records only through the zone group.',
    impact:
      'The workspace names then have no private A records, or hand-made ones that go stale when the endpoint is recreated. The compute resolves the workspace API and cert names to the public address or a dead IP, the managed-identity token request fails, and azureml-core falls back to device login.',
    resolution:
      "Create a DNS zone group on the endpoint (or add the missing zone to it) referencing both zones; Azure then writes and maintains the A records.",
    verification:
      "List the endpoint's DNS zone groups (az network private-endpoint dns-zone-group list): their configs reference every required zone. From the compute, nslookup of the workspace API name answers the private endpoint's IP. Then run aml-netdoctor recheck on the report.",
    needs: ['workspace', 'computes', 'privateEndpoints', 'networks', 'privateDnsZones'],
    absorbs: ['PRIVATE_DNS_RECORD_MISSING'],
    references: ['F#4', 'S2', 'S16', 'S24', 'https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-secure-connection-workspace', 'https://learn.microsoft.com/azure/private-link/private-endpoint-dns'],
  },
  check,
} satisfies Rule;
