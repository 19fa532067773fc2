/**
 * DNS_RESOLUTION_FAILED (symptom): a workspace API, cert or notebooks name got NXDOMAIN, NODATA,
 * SERVFAIL, REFUSED or a timeout through some resolver. One finding per name, listing every resolver
 * that failed; ranking folds it under the cause that explains it.
 */
import type { DnsLookupObs, Snapshot } from '../model/snapshot.ts';
import type { Rule, RuleResult } from './rule.ts';
import { isUnknown } from './support.ts';
import {
  describeLookup,
  expectedIps,
  inspectCommands,
  isFailedLookup,
  listText,
  lookupEvidence,
  nameImpact,
  observeWorkspaceNames,
  symptomSubjects,
  undeterminedFrom,
  verifyByNslookup,
  workspaceScope,
  zoneOfName,
  type NameObservation,
  type WorkspaceScope,
} from './support-b.ts';

const CODE = 'DNS_RESOLUTION_FAILED';

function check(s: Snapshot): RuleResult[] {
  // Applies to public workspaces too: a name that does not resolve cannot be reached either way.
  const scope = workspaceScope(s, false, '');
  if (Array.isArray(scope)) return scope;
  return observeWorkspaceNames(s, scope, isFailedLookup).map((o) => (isUnknown(o) ? undeterminedFrom(o) : judge(s, scope, o)));
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
    return { status: 'pass', resourceId: scope.ws.id, detail: `${o.name} resolved (${listText(o.lookups.map((l) => `${describeLookup(l)} via ${l.resolver}`))}).` };
  }
  const zone = zoneOfName(scope.cloud, o.name) ?? 'its private DNS zone';
  const others = o.lookups.filter((l) => !o.bad.includes(l));
  const statuses = [...new Set(o.bad.map((l) => l.status))].sort();
  const expectedText = expected.length ? `${listText(expected)} (the workspace private endpoint)` : 'an address of the workspace endpoint';

  const explanation =
    `${o.name} did not resolve: ${listText(o.bad.map((l) => `${l.status.toUpperCase()} through ${l.resolver}`))}` +
    (others.length ? `, while ${listText(others.map((l) => `${l.resolver} answered ${describeLookup(l)}`))}` : '') +
    `. ${statuses.map((st) => meaning(o.bad.find((l) => l.status === st) as DnsLookupObs, zone)).join('. ')}. ` +
    nameImpact(scope.cloud, o.name);

  return {
    status: 'fail',
    finding: {
      resourceId: scope.ws.id,
      confidence: 'high',
      explanation,
      evidence: o.lookups.map((l) => lookupEvidence(l, expectedText)),
      remediation: {
        summary:
          `Find the cause behind this failure (other findings in this report name it when the configuration shows it). ` +
          (statuses.some((st) => st === 'nxdomain' || st === 'nodata')
            ? `Typical for ${statuses.filter((st) => st === 'nxdomain' || st === 'nodata').map((st) => st.toUpperCase()).join('/')}: the A record for this name missing from the private DNS zone ${zone} that the resolver's VNet is linked to, or a custom DNS server holding a zone of its own for the name. `
            : '') +
          (statuses.some((st) => st === 'servfail' || st === 'refused' || st === 'timeout')
            ? `Typical for ${statuses.filter((st) => st === 'servfail' || st === 'refused' || st === 'timeout').map((st) => st.toUpperCase()).join('/')}: a DNS server that is unreachable or fails, or a conditional forwarder pointing at one (on-premises servers cannot reach 168.63.129.16: they must forward to a DNS server or Private Resolver inbound endpoint inside a VNet linked to the zones). `
            : '') +
          `Inspect with the commands below, and from the compute run the nslookup in the verification step.`,
        azCli: inspectCommands(s, scope, o.name),
        verify: verifyByNslookup(o.name, o.lookups, expected),
      },
      subjects: symptomSubjects(scope.cloud, o.name),
    },
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
      'Observed live: a workspace API, cert or notebooks name got NXDOMAIN, NODATA, SERVFAIL, REFUSED or a timeout through a resolver. It is a symptom: a private zone linked to the resolver without the A record, a custom DNS server with a wrong zone or forwarder, or an unreachable DNS server; the report ranks this finding after the cause that explains it.',
    impact:
      "Without an address the compute cannot reach the workspace at all. The compute instance's token broker (managed-identity) call to the workspace and cert endpoints fails, and the SDK falls back to the device-login prompt.",
    resolution:
      'Fix the cause the report ranks above this finding (record, zone link, forwarder or DNS server reachability), then confirm with nslookup from the compute that the name answers with the private endpoint IP.',
    references: ['F#3', 'S1', 'S2', 'S24', 'S27', 'https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-secure-connection-workspace', 'https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns'],
  },
  check,
} satisfies Rule;
