/**
 * DNS_RESOLVES_PUBLIC_ADDRESS (symptom): on a private workspace, a workspace API, cert or notebooks
 * name resolved to a public address through some resolver. One finding per name, listing every
 * resolver that gave the public answer; ranking folds it under the cause that explains it.
 */
import { isPublicIPv4 } from '../model/ip.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { Rule, RuleResult } from './rule.ts';
import { isPublicAnswer, listText, workspaceScope, zoneOfName, type WorkspaceScope } from './support.ts';
import { expectedIps, judgeWorkspaceNames, nameImpact, otherAnswersText, symptomBicep, symptomFinding, type NameObservation } from './support-dns.ts';

const CODE = 'DNS_RESOLVES_PUBLIC_ADDRESS';

function check(s: Snapshot): RuleResult[] {
  const scope = workspaceScope(s, '; a public answer is expected.');
  if (Array.isArray(scope)) return scope;
  return judgeWorkspaceNames(s, scope, isPublicAnswer, (o) => judge(s, scope, o));
}

function judge(s: Snapshot, scope: WorkspaceScope, o: NameObservation): RuleResult {
  const expected = expectedIps(scope.endpoints, o.name);
  if (o.bad.length === 0) {
    return { status: 'pass', resourceId: scope.ws.id, detail: `${o.name} resolved to ${listText([...new Set(o.lookups.flatMap((l) => l.addresses))]) || 'no address'} (no public address) through ${listText(o.lookups.map((l) => l.resolver))}.` };
  }
  const zone = zoneOfName(scope.cloud, o.name) ?? 'its private DNS zone';
  const publicIps = [...new Set(o.bad.flatMap((l) => l.addresses.filter(isPublicIPv4)))].sort();
  const viaPrivatelink = o.bad.some((l) => l.cnames.some((c) => c.includes('.privatelink.')));

  const explanation =
    `${o.name} resolved to the public address ${listText(publicIps)} through ${listText(o.bad.map((l) => l.resolver))}` +
    otherAnswersText(o) +
    `. Workspace ${scope.ws.name} has public network access Disabled, so its public endpoint refuses the compute. ` +
    (viaPrivatelink
      ? `The answer went through the privatelink CNAME, so the resolver found no private zone ${zone} for it: the zone is not linked to the VNet the resolver answers for, lacks the record, or a custom DNS server does not forward the name to Azure DNS. `
      : `The answer did not go through a privatelink name, so the resolver answered from public DNS or a zone of its own: a custom DNS server that does not forward the name to Azure DNS, or a hosts-file entry, is likely. `) +
    nameImpact(scope.cloud, o.name);

  return {
    status: 'fail',
    finding: symptomFinding(s, scope, o, {
      expected,
      expectedText: expected.length ? `${listText(expected)} (the workspace private endpoint)` : 'a private address of the workspace private endpoint',
      explanation,
      summary: `Find the cause behind this answer (other findings in this report name it when the configuration shows it): the private DNS zone ${zone} missing, not linked to the VNet whose resolver the compute uses (with custom DNS: the DNS server's VNet), or without the A record for this name; or a custom DNS server that does not forward the Azure ML zones to 168.63.129.16. `,
      bicep: symptomBicep(s, scope, o, viaPrivatelink ? 'public-via-privatelink' : 'public-direct'),
    }),
  };
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'Workspace name resolves to a public address although public network access is disabled',
    role: 'symptom',
    flows: ['workspace-api', 'workspace-cert', 'notebooks'],
    description:
      'Observed live: a workspace API, cert or notebooks name resolved to a public IP address through a resolver, while the workspace has public network access disabled. It is a symptom: the cause is usually a missing or unlinked private DNS zone, a missing A record, or a custom DNS server that does not forward the Azure ML zones; the report folds this finding into the cause finding that shares its name or zone (listed among the symptoms of that finding).',
    impact:
      "The public endpoint refuses traffic when public network access is disabled. The compute instance's token broker (managed-identity) call to the workspace and cert endpoints fails, and the SDK falls back to the device-login prompt.",
    resolution:
      'Fix the cause this finding is folded into (zone, link, record or forwarder; when the report found none, the one the explanation points to), then confirm with nslookup from the compute that the name answers with the private endpoint IP.',
    verification:
      "From the compute (or a client using the same resolver), nslookup of the name answers the workspace private endpoint's IP, not a public address. Then run aml-netdoctor recheck on the report.",
    needs: ['workspace', 'computes', 'privateEndpoints', 'networks', 'privateDnsZones', 'dns'],
    references: ['F#3', 'S1', 'S2', 'S24', 'https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-secure-connection-workspace', 'https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns'],
  },
  check,
} satisfies Rule;
