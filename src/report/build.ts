/**
 * From a snapshot and the rules to a report: run every rule, rank the failures, gather what could
 * not be checked, and write the verdict. Pure (the clock comes in through the snapshot).
 */
import { nameOf } from '../model/arm-id.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { Rule, RuleContext, RuleResult } from '../rules/rule.ts';
import { analyzeFlows } from '../flows/analyze.ts';
import type { FlowAnalysis } from '../flows/types.ts';
import { TOOL } from '../version.ts';
import { coverageOfSnapshot } from './coverage.ts';
import { rankFindings, type RankInput } from './rank.ts';
import type { CoverageItem, Finding, Report } from './schema.ts';

export function docsPath(code: string): string {
  return `docs/rules/${code}.md`;
}

/** The flow analysis, or an empty one (every flow check then undetermined) if the engine failed. */
function safeAnalysis(snapshot: Snapshot): { analysis: FlowAnalysis; error?: string } {
  try {
    return { analysis: analyzeFlows(snapshot) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { analysis: { flows: [], assumptions: [], managedNetwork: false }, error: message };
  }
}

export function runRules(snapshot: Snapshot, rules: readonly Rule[], context: RuleContext): Array<{ rule: Rule; results: RuleResult[] }> {
  return rules.map((rule) => {
    try {
      return { rule, results: rule.check(snapshot, context) };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return { rule, results: [{ status: 'undetermined', item: `rule ${rule.meta.code}`, reason: `the rule failed on this evidence (${message}); please report this` }] };
    }
  });
}

export function buildReport(snapshot: Snapshot, rules: readonly Rule[]): Report {
  const { analysis, error } = safeAnalysis(snapshot);
  const outcomes = runRules(snapshot, rules, { flows: analysis });
  const inputs: RankInput[] = [];
  const coverage: CoverageItem[] = coverageOfSnapshot(snapshot);
  if (error) coverage.push({ item: 'flow analysis', status: 'undetermined', reason: `the flow analysis failed on this evidence (${error}); please report this` });
  for (const f of analysis.flows) {
    if (f.verdict !== 'undetermined') continue;
    const hop = f.hops.find((h) => h.verdict === 'undetermined');
    coverage.push({
      item: `flow ${f.id} from ${f.subnetId ? nameOf(f.subnetId) : 'the compute'}`,
      status: 'undetermined',
      reason: hop ? `${hop.kind}: ${hop.detail}` : 'a hop could not be decided',
      ...(hop?.resourceId ? { resourceId: hop.resourceId } : {}),
    });
  }
  outcomes.forEach(({ rule, results }, order) => {
    const { meta } = rule;
    let undetermined = 0;
    for (const r of results) {
      if (r.status === 'fail') {
        const f = r.finding;
        inputs.push({
          code: meta.code,
          tier: f.tier !== undefined && f.tier > meta.tier ? f.tier : meta.tier,
          severity: meta.severity,
          confidence: f.confidence,
          title: meta.title,
          resourceId: f.resourceId,
          explanation: f.explanation,
          evidence: f.evidence,
          remediation: f.remediation,
          docs: docsPath(meta.code),
          role: meta.role,
          subjects: f.subjects ?? [],
          ...(f.flows?.length ? { flows: [...new Set(f.flows)] } : {}),
          order,
        });
      } else if (r.status === 'undetermined') {
        undetermined++;
        coverage.push({ item: `${meta.code}: ${r.item}`, status: 'undetermined', reason: r.reason, ...(r.resourceId ? { resourceId: r.resourceId } : {}) });
      }
    }
    if (undetermined === 0) coverage.push({ item: `${meta.code}: ${meta.title}`, status: 'ok' });
  });
  const findings = rankFindings(inputs);
  const ws = snapshot.workspace?.ok ? snapshot.workspace.value : undefined;
  return {
    workspace: {
      id: snapshot.target.workspaceId,
      name: ws?.name ?? nameOf(snapshot.target.workspaceId),
      ...(ws?.location ? { location: ws.location } : {}),
      ...(snapshot.target.computeName ? { computeName: snapshot.target.computeName } : {}),
    },
    generatedAt: snapshot.collectedAt,
    tool: { name: TOOL.name, version: TOOL.version },
    verdict: verdictOf(snapshot, findings, coverage, analysis),
    findings,
    flows: analysis.flows,
    coverage,
  };
}

/** Exit code of `diagnose`: 1 blocking finding (tier 1 or 2), 3 evidence incomplete, else 0. */
export function exitCodeOf(report: Report): 0 | 1 | 3 {
  if (report.findings.some((f) => f.tier <= 2)) return 1;
  if (report.verdict.status === 'undetermined') return 3;
  return 0;
}

function verdictOf(snapshot: Snapshot, findings: Finding[], coverage: CoverageItem[], analysis: FlowAnalysis): Report['verdict'] {
  const gaps = coverage.filter((c) => c.status === 'undetermined');
  const top = findings[0];
  const who = snapshot.target.computeName ? `compute ${snapshot.target.computeName}` : 'the workspace computes';
  const gapText = gaps.length
    ? ` ${gaps.length} check(s) could not be completed (first: ${gaps[0]?.item} — ${gaps[0]?.reason}).`
    : '';
  if (top && top.tier === 1) {
    const others = findings.length - 1 - (top.explains?.length ?? 0);
    return {
      status: 'cause-found',
      summary:
        `Most likely cause of the device-login prompt on ${who}: ${top.title} (${top.code}, blamed resource ${nameOf(top.resourceId)}). ` +
        `${top.explanation} Fix: ${top.remediation.summary}` +
        (top.explains?.length ? ` This also explains: ${top.explains.join(', ')}.` : '') +
        (others > 0 ? ` ${others} other finding(s) listed below.` : '') +
        gapText,
    };
  }
  if (gaps.length) {
    return {
      status: 'undetermined',
      summary:
        `No cause of the device-login prompt was found in the evidence that could be read, but the diagnosis is incomplete:${gapText} ` +
        `Grant the identity running aml-netdoctor the Reader role on the scopes named in the coverage section (or pass --subscription for zones kept elsewhere) and run it again.` +
        (findings.length ? ` Other findings: ${findings.map((f) => f.code).join(', ')}.` : ''),
    };
  }
  const allowed = analysis.flows.filter((f) => f.verdict === 'allowed').length;
  const path = analysis.managedNetwork
    ? ' The computes run in the managed virtual network, so compute-subnet routes and NSGs do not apply.'
    : analysis.flows.length
      ? ` ${allowed} of ${analysis.flows.length} flows the computes depend on are allowed hop by hop (routes, NSGs, firewall, peering, egress, destination network rules).`
      : ' No compute subnet was found to trace flows from.';
  return {
    status: 'no-cause-found',
    summary:
      `The private-link and DNS chain checks out for ${who}: the workspace private endpoint, its DNS zones, records, links and live DNS answers are consistent.` +
      path +
      (findings.length ? ` Findings outside the sign-in path: ${findings.map((f) => f.code).join(', ')}.` : '') +
      (analysis.assumptions.length ? ` Assumptions: ${analysis.assumptions.join('; ')}.` : ''),
  };
}
