/**
 * PRIVATE_DNS_RECORD_MISSING: for a name a workspace private endpoint serves, the private DNS zone
 * that answers for it (the one the endpoint's zone group references, else the one linked to the
 * compute's resolver VNet, else any zone of that name) has no A record set for it.
 */
import type { Evidence } from '../report/schema.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { FindingDraft, Rule, RuleResult } from './rule.ts';
import { answerVia, azParts, listText, lookupEvidence, named, type WorkspaceScope } from './support.ts';
import {
  RECHECK,
  ZONE_GROUP_NOTE,
  aRecordResource,
  bicepFiles,
  checkRecordTargets,
  computesText,
  existingZoneResource,
  groupReferences,
  keptZoneConfigs,
  lookupsShowingNoPrivateAnswer,
  zoneConfigLabel,
  zoneGroupBicep,
  zoneGroupCommand,
  zoneSubjects,
  type BicepPart,
  type ZoneTarget,
} from './support-endpoints.ts';

const CODE = 'PRIVATE_DNS_RECORD_MISSING';

function check(s: Snapshot): RuleResult[] {
  return checkRecordTargets(s, (scope, t) => judge(s, scope, t));
}

function judge(s: Snapshot, scope: WorkspaceScope, t: ZoneTarget): RuleResult {
  if (t.record) {
    return { status: 'pass', resourceId: t.record.id, detail: `${t.fqdn}: zone ${named(t.zone.id)} has A record ${t.record.name} -> ${t.record.ipv4Addresses.join(', ') || 'no address'}.` };
  }
  return { status: 'fail', finding: finding(s, scope, t) };
}

function finding(s: Snapshot, scope: WorkspaceScope, t: ZoneTarget): FindingDraft {
  const { cloud } = scope;
  const zone = t.zone;
  const z = azParts(zone.id);
  const peNames = listText(t.endpoints.map((pe) => pe.name));
  const who = computesText(s);
  const isApi = zoneConfigLabel(cloud, t.zoneName) === 'api';
  const confirmations = lookupsShowingNoPrivateAnswer(s, t.fqdn);

  const explanation =
    `Private endpoint ${peNames} serves ${t.fqdn} on ${t.expectedIps.join(', ') || 'its private IP'}, but the zone that answers for it, ${named(zone.id)}, ${t.how}, has no A record ${t.recordName}. ` +
    `When ${who} resolves ${t.fqdn}, the public CNAME leads to ${t.recordName}.${t.zoneName}, which the zone answers with NXDOMAIN, ` +
    (isApi
      ? `so the workspace ${t.fqdn.includes('.cert.') ? 'cert' : 'API'} name does not resolve, the managed-identity token request fails and the compute falls back to device login.`
      : 'so notebooks cannot reach the workspace notebook service.') +
    (confirmations.length ? ` Observed: ${confirmations.map(answerVia).join('; ')}.` : '');

  const evidence: Evidence[] = [
    { resourceId: zone.id, property: 'A record sets (Microsoft.Network/privateDnsZones/A)', observed: t.records.length ? `no record ${t.recordName}; records: ${t.records.map((r) => r.name).join(', ')}` : 'no A records', expected: `A ${t.recordName} -> ${t.expectedIps.join(', ') || "the endpoint's private IP"}` },
    ...t.endpoints.map((pe) => {
      const index = pe.customDnsConfigs.findIndex((c) => c.fqdn.toLowerCase() === t.fqdn);
      return { resourceId: pe.id, property: index >= 0 ? `properties.customDnsConfigs[${index}]` : 'properties.customDnsConfigs', observed: `${t.fqdn} -> ${t.expectedIps.join(', ') || 'no IP'}`, expected: `an A record ${t.recordName} in ${t.zoneName}` };
    }),
    ...confirmations.map((l) => lookupEvidence(l, t.expectedIps.join(', ') || 'a private IP')),
  ];

  const azCli = t.expectedIps.map((ip) => `az network private-dns record-set a add-record --subscription ${z.subscription} -g ${z.resourceGroup} -z ${t.zoneName} -n ${t.recordName} -a ${ip}`);
  const managed = t.endpoints.some((pe) => groupReferences(pe, zone.id));
  // Endpoints whose (readable) zone groups do not reference the zone.
  const lacking = t.endpoints.filter((pe) => pe.zoneGroups.ok && !groupReferences(pe, zone.id));
  const label = zoneConfigLabel(cloud, t.zoneName);
  const ips = t.expectedIps.length ? t.expectedIps : ["<the endpoint's private IP>"];
  const parts: BicepPart[] = [
    { deployTo: zone.id, declaration: existingZoneResource('zone', zone.id) },
    { deployTo: zone.id, declaration: aRecordResource('record', 'zone', t.recordName, ips, 10) },
  ];
  lacking.forEach((pe, i) => {
    const group = pe.zoneGroups.ok ? pe.zoneGroups.value[0] : undefined;
    azCli.push(zoneGroupCommand(group ? 'add' : 'create', { scopeId: pe.id, endpoint: pe.name, group: group?.name ?? 'default', zoneId: zone.id, label }));
    const configs = [...keptZoneConfigs(s, group, [t.zoneName]), { name: label, zoneId: zone.id }];
    parts.push(...zoneGroupBicep(pe, group?.name ?? 'default', configs, lacking.length > 1 ? String(i + 1) : ''));
  });
  const nicHint = t.expectedIps.length === 0 ? ` The endpoint's IP for this name is unknown: read it with az network nic show --ids ${t.endpoints[0]?.networkInterfaceIds[0] ?? '<nic id>'} --query "ipConfigurations[*].{ip: privateIPAddress, fqdns: privateLinkConnectionProperties.fqdns}".` : '';
  const summary =
    `Add the A record ${t.recordName} -> ${t.expectedIps.join(', ') || "the endpoint's IP"} to ${t.zoneName} in ${z.resourceGroup}` +
    (lacking.length ? `, and reference the zone from the endpoint's DNS zone group so Azure keeps the records in sync.` : '.') +
    (managed ? " The endpoint's zone group references this zone, so Azure should have written the record: recreating the zone group (delete, then create) also rewrites it." : '') +
    nicHint;
  return {
    resourceId: zone.id,
    confidence: confirmations.length ? 'high' : 'medium',
    explanation,
    evidence,
    remediation: {
      summary,
      azCli,
      bicep: bicepFiles(
        parts,
        `Adds the A record ${t.recordName} to ${t.zoneName} (ttl 10, as the zone group writes it)` +
          (lacking.length ? ` and puts the zone into the DNS zone group of ${listText(lacking.map((pe) => pe.name))}, so Azure keeps the record in sync.\n${ZONE_GROUP_NOTE}` : '.') +
          (t.expectedIps.length ? '' : "\nFill in the endpoint's private IP (see the summary)."),
      ),
      verify:
        `az network private-dns record-set a show --subscription ${z.subscription} -g ${z.resourceGroup} -z ${t.zoneName} -n ${t.recordName} --query "aRecords[].ipv4Address" -o tsv prints ${t.expectedIps.join(', ') || "the endpoint's IP"}` +
        `, and from ${who} nslookup ${t.fqdn} answers the same; ${RECHECK}`,
    },
    subjects: zoneSubjects(t.zoneName, [t.fqdn]),
  };
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'Private DNS zone has no A record for a workspace name',
    role: 'cause',
    flows: ['workspace-api', 'workspace-cert', 'notebooks'],
    description:
      'A workspace private endpoint serves a name (customDnsConfigs), but the private DNS zone that answers for it has no A record set for that name. The zone chosen is the one the endpoint zone group references, else the one linked to the compute resolver VNet, else any zone of that name.',
    impact:
      "The name resolves to NXDOMAIN inside the VNet. For the workspace API and cert names the compute instance's managed-identity token request fails, and azureml-core falls back to the device-login prompt.",
    resolution:
      "Add the A record with the endpoint's private IP, preferably by referencing the zone from the endpoint's DNS zone group so Azure maintains it.",
    verification:
      "Show the A record set (az network private-dns record-set a show): it holds the private endpoint's IP. From the compute, nslookup of the name answers that IP instead of NXDOMAIN. Then run aml-netdoctor recheck on the report.",
    needs: ['workspace', 'computes', 'privateEndpoints', 'networks', 'privateDnsZones', 'dns'],
    references: ['F#3', 'S1', 'S2', 'S24', 'https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns', 'https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-secure-connection-workspace'],
  },
  check,
} satisfies Rule;

