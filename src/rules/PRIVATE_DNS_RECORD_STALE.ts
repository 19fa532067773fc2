/**
 * PRIVATE_DNS_RECORD_STALE: the A record for a name a workspace private endpoint serves exists in
 * the zone that answers for it, but points to an address that is not the endpoint's private IP for
 * that name (typically a hand-made record left behind when the endpoint was recreated).
 */
import type { Evidence } from '../report/schema.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { FindingDraft, Rule, RuleResult } from './rule.ts';
import { answersWith, answerVia, azParts, listText, lookupEvidence, lookupsFor, named, type WorkspaceScope } from './support.ts';
import { RECHECK, aRecordResource, bicepFiles, checkRecordTargets, computesText, existingZoneResource, groupReferences, noIpReason, zoneConfigLabel, zoneSubjects, type ZoneTarget } from './support-endpoints.ts';

const CODE = 'PRIVATE_DNS_RECORD_STALE';

function check(s: Snapshot): RuleResult[] {
  return checkRecordTargets(s, (scope, t) => judge(s, scope, t));
}

function judge(s: Snapshot, scope: WorkspaceScope, t: ZoneTarget): RuleResult {
  if (!t.record) return { status: 'pass', resourceId: t.zone.id, detail: `Does not apply to ${t.fqdn}: zone ${named(t.zone.id)} has no A record ${t.recordName} (see PRIVATE_DNS_RECORD_MISSING).` };
  if (t.expectedIps.length === 0) {
    return { status: 'undetermined', item: `expected private IP of ${t.fqdn}`, reason: noIpReason(t), resourceId: t.endpoints[0]?.id ?? t.record.id };
  }
  const stale = staleIps(t);
  const hasExpected = t.record.ipv4Addresses.some((ip) => t.expectedIps.includes(ip));
  if (stale.length === 0 && hasExpected) {
    return { status: 'pass', resourceId: t.record.id, detail: `${t.fqdn}: A record ${t.recordName} in ${named(t.zone.id)} -> ${t.record.ipv4Addresses.join(', ')}, the endpoint's IP.` };
  }
  return { status: 'fail', finding: finding(s, scope, t, stale) };
}

function staleIps(t: ZoneTarget): string[] {
  return (t.record?.ipv4Addresses ?? []).filter((ip) => !t.expectedIps.includes(ip));
}

function finding(s: Snapshot, scope: WorkspaceScope, t: ZoneTarget, stale: string[]): FindingDraft {
  const record = t.record as NonNullable<ZoneTarget['record']>;
  const z = azParts(t.zone.id);
  const peNames = listText(t.endpoints.map((pe) => pe.name));
  const who = computesText(s);
  const isApi = zoneConfigLabel(scope.cloud, t.zoneName) === 'api';
  const observed = lookupsFor(s, t.fqdn).filter((l) => answersWith(l, stale));
  const recordIps = record.ipv4Addresses.join(', ') || 'no address';

  const explanation =
    `Private endpoint ${peNames} serves ${t.fqdn} on ${t.expectedIps.join(', ')}, but A record ${t.recordName} in ${named(t.zone.id)}, ${t.how}, points to ${recordIps}. ` +
    `From ${who}, ${t.fqdn} therefore resolves to ${stale.length ? stale.join(', ') : 'no address'}, where no workspace endpoint answers, ` +
    (isApi
      ? 'so the connection times out or fails TLS, the managed-identity token request fails and the compute falls back to device login.'
      : 'so notebooks cannot reach the workspace notebook service.') +
    (observed.length ? ` Observed: ${observed.map(answerVia).join('; ')}.` : '');

  const evidence: Evidence[] = [
    { resourceId: record.id, property: 'properties.aRecords[*].ipv4Address', observed: recordIps, expected: t.expectedIps.join(', ') },
    ...t.endpoints.map((pe) => {
      const index = pe.customDnsConfigs.findIndex((c) => c.fqdn.toLowerCase() === t.fqdn);
      return { resourceId: pe.id, property: index >= 0 ? `properties.customDnsConfigs[${index}].ipAddresses` : 'ipConfigurations[*].privateIPAddress (endpoint NIC)', observed: t.expectedIps.join(', '), expected: `the address A ${t.recordName} points to` };
    }),
    ...observed.map((l) => lookupEvidence(l, t.expectedIps.join(', '))),
  ];

  const scopeFlags = `--subscription ${z.subscription} -g ${z.resourceGroup} -z ${t.zoneName} -n ${t.recordName}`;
  // Add the right address first, so removing the last stale one does not delete the record set.
  const azCli = [
    ...t.expectedIps.filter((ip) => !record.ipv4Addresses.includes(ip)).map((ip) => `az network private-dns record-set a add-record ${scopeFlags} -a ${ip}`),
    ...stale.map((ip) => `az network private-dns record-set a remove-record ${scopeFlags} -a ${ip}`),
  ];
  const managed = t.endpoints.some((pe) => groupReferences(pe, t.zone.id));
  const summary =
    `Point ${t.recordName} in ${t.zoneName} at ${t.expectedIps.join(', ')} and remove ${stale.join(', ') || 'nothing'}.` +
    (managed
      ? ` The endpoint's zone group references this zone, so Azure should have written this record: if it keeps drifting, look for automation that writes it by hand.`
      : ` The endpoint's zone group does not reference this zone, so the record is hand-made; reference the zone from the zone group so Azure keeps it in sync.`);
  return {
    resourceId: record.id,
    confidence: observed.length ? 'high' : 'medium',
    explanation,
    evidence,
    remediation: {
      summary,
      azCli,
      bicep: bicepFiles(
        [
          { deployTo: t.zone.id, declaration: existingZoneResource('zone', t.zone.id) },
          { deployTo: t.zone.id, declaration: aRecordResource('record', 'zone', t.recordName, t.expectedIps, record.ttl ?? 10) },
        ],
        `Rewrites the A record ${t.recordName} in ${t.zoneName} with ${t.expectedIps.join(', ')}: a deployment replaces the record's addresses, so ${stale.join(', ') || 'no stale address'} ${stale.length > 1 ? 'go' : 'goes'}.` +
          (managed ? '' : "\nReferencing the zone from the endpoint's DNS zone group (privateEndpoints/privateDnsZoneGroups) lets Azure keep the record in sync from then on."),
      ),
      verify: `az network private-dns record-set a show ${scopeFlags} --query "aRecords[].ipv4Address" -o tsv prints ${t.expectedIps.join(', ')} and nothing else, and from ${who} nslookup ${t.fqdn} answers ${t.expectedIps.join(', ')}; ${RECHECK}`,
    },
    subjects: zoneSubjects(t.zoneName, [t.fqdn]),
  };
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'Private DNS A record points to an address that is not the private endpoint IP',
    role: 'cause',
    flows: ['workspace-api', 'workspace-cert', 'notebooks'],
    description:
      "The A record for a name the workspace private endpoint serves exists in the zone that answers for it, but its addresses differ from the endpoint's private IP for that name (customDnsConfigs or the endpoint NIC). Typical after an endpoint is recreated while records were kept by hand.",
    impact:
      "The compute connects to an address where no workspace endpoint answers: connections time out or fail TLS, the managed-identity token request fails, and azureml-core falls back to the device-login prompt.",
    resolution:
      "Rewrite the record with the endpoint's current private IP, and let the endpoint's DNS zone group manage the record from then on.",
    verification:
      "Show the A record set (az network private-dns record-set a show): it holds exactly the private endpoint's current IP. From the compute, nslookup of the name answers that IP. Then run aml-netdoctor recheck on the report.",
    needs: ['workspace', 'computes', 'privateEndpoints', 'networks', 'privateDnsZones', 'dns'],
    references: ['F#8', 'S1', 'S2', 'https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns', 'https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-secure-connection-workspace'],
  },
  check,
} satisfies Rule;
