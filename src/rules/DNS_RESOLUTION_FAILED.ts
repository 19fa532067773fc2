/**
 * DNS_RESOLUTION_FAILED (symptom): a workspace API, cert or notebooks name got NXDOMAIN, NODATA,
 * SERVFAIL, REFUSED or a timeout through some resolver. One finding per name, listing every resolver
 * that failed; ranking folds it under the cause that explains it.
 */
import type { DnsLookupObs, Snapshot } from '../model/snapshot.ts';
import type { Rule, RuleResult } from './rule.ts';
import { answerVia, listText, workspaceScope, zoneOfName, type WorkspaceScope } from './support.ts';
import { expectedIps, isFailedLookup, judgeWorkspaceNames, nameImpact, otherAnswersText, symptomBicep, symptomFinding, type NameObservation } from './support-dns.ts';

const CODE = 'DNS_RESOLUTION_FAILED';

function check(s: Snapshot): RuleResult[] {
  // Applies to public workspaces too: a name that does not resolve cannot be reached either way.
  const scope = workspaceScope(s);
  if (Array.isArray(scope)) return scope;
  return judgeWorkspaceNames(s, scope, isFailedLookup, (o) => judge(s, scope, o));
}

/** What a failure status usually means, for the explanation. */
function meaning(l: DnsLookupObs, zone: string): string {
  switch (l.status) {
    case 'nxdomain':
      return `NXDOMAIN: the name does not exist for this resolver. A private zone ${zone} linked to the resolver's VNet answers authoritatively, so a missing A record there gives NXDOMAIN instead of the public answer; a custom DNS server with a zone of its own for the name does the same`;
    case 'nodata':
      return `NODATA: the name exists but has no A record (a CNAME into ${zone} that ends without an A record, or a record of another type only)`;
    case 'servfail':
      return 'SERVFAIL: the resolver or a server it forwards to failed (a conditional forwarder pointing at an unreachable or broken server is typical)';
    case 'refused':
      return 'REFUSED: the DNS server refuses queries from this client (recursion or ACL settings)';
    default:
      return 'TIMEOUT: the resolver, or the server it forwards to, did not answer (unreachable DNS server, NSG or firewall blocking UDP/TCP 53, or 168.63.129.16 asked from outside Azure)';
  }
}

function judge(s: Snapshot, scope: WorkspaceScope, o: NameObservation): RuleResult {
  const expected = expectedIps(scope.endpoints, o.name);
  if (o.bad.length === 0) {
    return { status: 'pass', resourceId: scope.ws.id, detail: `${o.name} resolved (${listText(o.lookups.map(answerVia))}).` };
  }
  const zone = zoneOfName(scope.cloud, o.name) ?? 'its private DNS zone';
  const statuses = [...new Set(o.bad.map((l) => l.status))].sort();
  const typical = (kinds: string[], text: string) => {
    const seen = statuses.filter((st) => kinds.includes(st));
    return seen.length ? `Typical for ${seen.map((st) => st.toUpperCase()).join('/')}: ${text} ` : '';
  };

  const explanation =
    `${o.name} did not resolve: ${listText(o.bad.map((l) => `${l.status.toUpperCase()} through ${l.resolver}`))}` +
    otherAnswersText(o) +
    `. ${statuses.map((st) => meaning(o.bad.find((l) => l.status === st) as DnsLookupObs, zone)).join('. ')}. ` +
    nameImpact(scope.cloud, o.name);

  return {
    status: 'fail',
    finding: symptomFinding(s, scope, o, {
      expected,
      expectedText: expected.length ? `${listText(expected)} (the workspace private endpoint)` : 'an address of the workspace endpoint',
      explanation,
      summary:
        `Find the cause behind this failure (other findings in this report name it when the configuration shows it). ` +
        typical(['nxdomain', 'nodata'], `the A record for this name missing from the private DNS zone ${zone} that the resolver's VNet is linked to, or a custom DNS server holding a zone of its own for the name.`) +
        typical(['servfail', 'refused', 'timeout'], 'a DNS server that is unreachable or fails, or a conditional forwarder pointing at one (on-premises servers cannot reach 168.63.129.16: they must forward to a DNS server or Private Resolver inbound endpoint inside a VNet linked to the zones).'),
      bicep: symptomBicep(s, scope, o, 'failed'),
    }),
  };
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'Workspace name does not resolve (NXDOMAIN, SERVFAIL or timeout)',
    role: 'symptom',
    flows: ['workspace-api', 'workspace-cert', 'notebooks'],
    description:
      'Observed live: a workspace API, cert or notebooks name got NXDOMAIN, NODATA, SERVFAIL, REFUSED or a timeout through a resolver. It is a symptom: a private zone linked to the resolver without the A record, a custom DNS server with a wrong zone or forwarder, or an unreachable DNS server; the report folds this finding into the cause finding that shares its name or zone (listed among the symptoms of that finding).',
    impact:
      "Without an address the compute cannot reach the workspace at all. The compute instance's token broker (managed-identity) call to the workspace and cert endpoints fails, and the SDK falls back to the device-login prompt.",
    resolution:
      'Fix the cause this finding is folded into (record, zone link, forwarder or DNS server reachability; when the report found none, the one the explanation points to), then confirm with nslookup from the compute that the name answers with the private endpoint IP.',
    verification:
      "From the compute (or a client using the same resolver), nslookup of the name answers the workspace private endpoint's IP instead of NXDOMAIN, SERVFAIL or a timeout. Then run aml-netdoctor recheck on the report.",
    needs: ['workspace', 'computes', 'privateEndpoints', 'privateDnsZones', 'dns'],
    references: ['F#3', 'S1', 'S2', 'S24', 'S27', 'https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-secure-connection-workspace', 'https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns'],
  },
  check,
} satisfies Rule;
