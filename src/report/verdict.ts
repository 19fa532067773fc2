/**
 * The verdict: the answer a senior engineer gives first. For a cause it tells the device-login
 * prompt as a chain (compute -> name -> address -> route -> rule -> result) with the resources by
 * name and id; with nothing found but evidence missing, it says what to check and which read to
 * grant; otherwise what was verified. It always lists the assumptions the diagnosis made. Pure.
 */
import { nameOf, tryParseArmId } from '../model/arm-id.ts';
import type { ChainStep, CoverageItem, Finding, Flow, FlowHop, Report, Verdict } from './schema.ts';
import { AUTH_PATH } from './rank.ts';

export interface VerdictInput {
  computeName?: string;
  findings: Finding[];
  flows: Flow[];
  coverage: CoverageItem[];
  /** Diagnosis-wide assumptions from the flow analysis. */
  assumptions: string[];
  managedNetwork: boolean;
  /** Codes left out by --exclude / findings left out by --min-tier, said in the verdict. */
  filters?: Report['filters'];
  /** The flows each rule can break (meta.flows), for findings that name none themselves. */
  ruleFlows?: ReadonlyMap<string, readonly string[]>;
}

/** What breaks when the flow is broken, in the words of the user's symptom. */
const RESULT: Record<string, string> = {
  'workspace-api': "the compute's token request to the workspace API fails, so the Azure ML SDK and CLI fall back to device login (\"Performing interactive authentication … open https://microsoft.com/devicelogin\")",
  'workspace-cert': "the compute instance's token broker cannot reach the workspace cert endpoint, so its managed-identity token request fails and the SDK falls back to device login",
  'aml-service': "the compute instance's token broker cannot reach the Azure ML service, so no token is issued and the SDK falls back to device login",
  'entra-id': 'the compute cannot reach Microsoft Entra ID to get a token, so the SDK falls back to device login',
  arm: 'calls through Azure Resource Manager (SDK v2, az ml) cannot get or use a token, so the SDK falls back to device login',
  notebooks: 'notebooks in studio cannot reach the compute instance',
  storage: 'jobs cannot read or write the default storage account (mounts, snapshots, outputs)',
  'key-vault': 'jobs cannot read workspace secrets from the key vault',
  'container-registry': 'images cannot be pulled from or built into the workspace registry',
  mcr: 'base images cannot be pulled from Microsoft Container Registry',
  batch: 'compute nodes cannot talk to Batch node management, so clusters do not scale',
  'aml-inbound': 'Azure ML cannot manage the compute (creation, start, stop and health checks fail)',
  'instance-name': 'users in the VNet cannot open the compute instance (JupyterLab, terminals, VS Code)',
};

export function verdictOf(input: VerdictInput): Verdict {
  const gaps = input.coverage.filter((c) => c.status === 'undetermined');
  const assumptions = [...new Set(input.assumptions)];
  const who = input.computeName ? `compute ${input.computeName}` : 'the workspace computes';
  const filterText = filtersText(input.filters);
  const top = input.findings[0];
  if (top && top.tier === 1) {
    const flow = flowOf(top, input.flows, input.ruleFlows?.get(top.code));
    const chain = chainOf(top, flow, input.computeName);
    const others = input.findings.length - 1;
    const folded = top.symptoms?.length ? ` It also explains ${[...new Set(top.symptoms.map((s) => s.code))].join(', ')}, folded into it as evidence.` : '';
    const summary =
      `The device-login prompt on ${who} is most likely caused by ${top.code}: ${top.title}. ` +
      `${chainSentence(chain)} ` +
      `Blamed resource: ${nameOf(top.resourceId)} (${top.resourceId}); confidence ${top.confidence} (${top.rankReason}).` +
      folded +
      ` Fix: ${top.remediation.summary}` +
      (others > 0 ? ` ${others} other finding(s) follow, ranked.` : '') +
      (gaps.length ? ` ${gaps.length} check(s) could not be completed; see coverage.` : '') +
      filterText;
    return {
      status: 'cause-found',
      summary,
      chain,
      assumptions,
      nextSteps: [
        `Apply the fix for ${top.code} on ${nameOf(top.resourceId)}: ${top.remediation.azCli[0] ?? top.remediation.summary}`,
        `Verify: ${top.remediation.verify}`,
        ...(/aml-netdoctor recheck/.test(top.remediation.verify) ? [] : ['Then run `aml-netdoctor recheck <this report.json>` to confirm each finding is fixed.']),
      ],
    };
  }
  if (gaps.length) {
    const steps = grantSteps(gaps);
    return {
      status: 'undetermined',
      summary:
        `No cause of the device-login prompt on ${who} was found in the evidence that could be read, but ${gaps.length} check(s) could not be completed, so this is not a clean bill of health. ` +
        `First gap: ${gaps[0]?.item} (${gaps[0]?.reason ?? 'no reason given'}). ` +
        `What to do: ${steps[0]}` +
        (input.findings.length ? ` Findings outside the sign-in path: ${input.findings.map((f) => f.code).join(', ')}.` : '') +
        filterText,
      chain: [],
      assumptions,
      nextSteps: steps,
    };
  }
  const allowed = input.flows.filter((f) => f.verdict === 'allowed').length;
  const path = input.managedNetwork
    ? ' The computes run in the managed virtual network, so compute-subnet routes and NSGs do not apply.'
    : input.flows.length
      ? ` ${allowed} of ${input.flows.length} flows the computes depend on are allowed hop by hop (routes, NSGs, firewall, peering, egress, destination network rules).`
      : ' No compute subnet was found to trace flows from.';
  const nextSteps = input.findings.length
    ? input.findings.map((f) => `${f.code} on ${nameOf(f.resourceId)}: ${f.remediation.summary}`)
    : [
        'If the prompt persists, run the diagnosis again with --dns-server set to the resolver the compute uses and --compute set to the compute that shows the prompt.',
        'On the compute, run `nslookup <workspace-guid>.workspace.<region>.api.azureml.ms` and compare the answer with the private endpoint IP in this report.',
      ];
  return {
    status: 'no-cause-found',
    summary:
      `No cause of the device-login prompt was found for ${who}: the workspace private endpoint, its DNS zones, records, links and live DNS answers are consistent.` +
      path +
      (input.findings.length ? ` Findings outside the sign-in path: ${input.findings.map((f) => f.code).join(', ')}.` : '') +
      (assumptions.length ? ` Assumptions: ${assumptions.join('; ')}.` : '') +
      filterText,
    chain: [],
    assumptions,
    nextSteps,
  };
}

function filtersText(filters: VerdictInput['filters']): string {
  if (!filters) return '';
  const parts: string[] = [];
  if (filters.minTier !== undefined && filters.minTier < 3) parts.push(`findings below tier ${filters.minTier} are left out (--min-tier ${filters.minTier})`);
  if (filters.exclude.length) parts.push(`rules ${filters.exclude.join(', ')} were not run (--exclude)`);
  return parts.length ? ` Note: ${parts.join('; ')}.` : '';
}

/** The flow the chain is told along: an auth-path flow the finding breaks that is not allowed, else any. */
function flowOf(top: Finding, flows: Flow[], ruleFlows: readonly string[] = []): Flow | undefined {
  const ids = top.flows?.length ? top.flows : ruleFlows;
  const candidates = flows.filter((f) => ids.includes(f.id) && f.verdict !== 'allowed');
  const order = (f: Flow) => {
    const i = (AUTH_PATH as readonly string[]).indexOf(f.id);
    return i < 0 ? AUTH_PATH.length : i;
  };
  const blamed = (f: Flow) => (f.hops.some((h) => h.resourceId && h.resourceId.toLowerCase() === top.resourceId.toLowerCase()) ? 0 : 1);
  return candidates.sort((a, b) => blamed(a) - blamed(b) || order(a) - order(b))[0];
}

function subnetText(subnetId: string | undefined): { text: string; name?: string } {
  const id = tryParseArmId(subnetId);
  if (!id) return { text: '' };
  const vnet = id.names[0];
  const subnet = id.names[1];
  return { text: ` in subnet ${subnet ?? '?'} of VNet ${vnet ?? '?'}`, ...(subnet ? { name: subnet } : {}) };
}

const HOP_STEP: Record<FlowHop['kind'], ChainStep['kind']> = {
  dns: 'address',
  route: 'route',
  nsg: 'rule',
  firewall: 'rule',
  peering: 'route',
  destination: 'rule',
};

/** compute -> name -> address -> route -> rule -> result. Steps that do not apply are left out. */
export function chainOf(top: Finding, flow: Flow | undefined, computeName: string | undefined): ChainStep[] {
  const steps: ChainStep[] = [];
  const computes = flow?.computes.length ? flow.computes : computeName ? [computeName] : [];
  const where = subnetText(flow?.subnetId);
  steps.push({
    kind: 'compute',
    text: `${computes.length ? `compute ${computes.join(', ')}` : 'the compute'}${where.text}`,
    ...(computes[0] ? { name: computes[0] } : {}),
    ...(flow?.subnetId ? { resourceId: flow.subnetId } : {}),
  });
  if (flow) {
    steps.push({ kind: 'name', text: `needs ${flow.destination} on ${flow.ports.join(', ')} (flow ${flow.id})` });
    for (const hop of flow.hops) {
      if (hop.verdict === 'allowed' && hop.kind !== 'dns' && hop.kind !== 'route') continue;
      steps.push({
        kind: HOP_STEP[hop.kind],
        text: `${hop.kind}: ${hop.detail}${hop.element && !hop.detail.includes(hop.element) ? ` [${hop.element}]` : ''}${hop.verdict === 'allowed' ? '' : ` (${hop.verdict})`}`,
        ...(hop.resourceId ? { name: nameOf(hop.resourceId), resourceId: hop.resourceId } : {}),
      });
      if (hop.verdict !== 'allowed') break;
    }
  }
  const blamedInChain = steps.some((s) => s.resourceId && s.resourceId.toLowerCase() === top.resourceId.toLowerCase());
  if (!blamedInChain) {
    steps.push({ kind: 'rule', text: `${top.title} (${top.code})`, name: nameOf(top.resourceId), resourceId: top.resourceId });
  }
  const flowId = flow?.id ?? top.flows?.find((id) => (AUTH_PATH as readonly string[]).includes(id)) ?? top.flows?.[0];
  steps.push({ kind: 'result', text: (flowId && RESULT[flowId]) || 'the compute cannot get a token, so the SDK falls back to device login' });
  return steps;
}

function chainSentence(chain: ChainStep[]): string {
  return `${chain
    .map((s, i) => {
      const text = s.resourceId && s.name && !s.text.includes(s.name) ? `${s.text} (${s.name})` : s.text;
      return i === 0 ? text.charAt(0).toUpperCase() + text.slice(1) : text;
    })
    .join(' → ')}.`;
}

/** Permissions each probe's reads need, for a 403 on them. */
const NEEDS: Record<string, { role: string; what: string }> = {
  vantage: {
    role: 'Network Contributor',
    what: 'effective routes and NSGs and Network Watcher next hop (Microsoft.Network/networkInterfaces/effectiveRouteTable/action, …/effectiveNetworkSecurityGroups/action, networkWatchers/nextHop/action; a custom role with only these actions is enough)',
  },
};

/** At most this many "check …" steps; the rest are in the coverage section. */
const MAX_CHECK_STEPS = 3;

/**
 * One next step per distinct gap: a role assignment for each refused read first (one per scope),
 * then what to look at for the other gaps (a few; the coverage section has them all).
 */
export function grantSteps(gaps: CoverageItem[]): string[] {
  const grants: string[] = [];
  const checks: string[] = [];
  const seen = new Set<string>();
  for (const g of gaps) {
    const refused = g.statusCode === 403 || g.errorCode === 'AuthorizationFailed' || /\b403\b|AuthorizationFailed/.test(g.reason ?? '');
    const scope = g.resourceId ?? '';
    let step: string;
    let grant = false;
    if (refused && scope) {
      grant = true;
      const need = (g.probe && NEEDS[g.probe]) || { role: 'Reader', what: 'the resource' };
      step = `Grant the identity running aml-netdoctor ${need.role} on ${nameOf(scope) || scope} to read ${need.what}: az role assignment create --assignee <principal-object-id> --role "${need.role}" --scope ${scope}; then run the diagnosis again.`;
    } else if (refused) {
      grant = true;
      step = `Grant the identity running aml-netdoctor Reader on the resource named here, then run the diagnosis again: ${g.item}: ${g.reason ?? 'the read was refused'}.`;
    } else if (g.statusCode === 404 && scope) {
      step = `Check that ${scope} exists and is the resource you meant (${g.reason ?? 'not found'}); pass its subscription with --subscription if it lives elsewhere.`;
    } else {
      step = `Check ${g.item}: ${g.reason ?? 'it could not be decided'}${scope ? ` (${scope})` : ''}.`;
    }
    if (seen.has(step)) continue;
    seen.add(step);
    (grant ? grants : checks).push(step);
  }
  const more = checks.length - MAX_CHECK_STEPS;
  return [...grants, ...checks.slice(0, MAX_CHECK_STEPS), ...(more > 0 ? [`${more} more undetermined check(s) are listed in the coverage section.`] : [])];
}
