/**
 * From a snapshot and the rules to a report: run every rule, rank the failures, gather what could
 * not be checked, and write the verdict. Pure (the clock comes in through the snapshot).
 */
import { nameOf } from '../model/arm-id.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { FindingDraft, Rule, RuleContext, RuleResult } from '../rules/rule.ts';
import { analyzeFlows } from '../flows/analyze.ts';
import type { FlowAnalysis } from '../flows/types.ts';
import { TOOL } from '../version.ts';
import { coverageOfSnapshot } from './coverage.ts';
import { rankFindings, type RankInput } from './rank.ts';
import type { CoverageItem, Report, Tier } from './schema.ts';
import { verdictOf } from './verdict.ts';

/** Operator filters (--min-tier, --exclude). */
export interface ReportOptions {
  /** Keep findings of this tier or more severe (1 = auth path only). */
  minTier?: Tier;
  /** Codes whose rules are not run. */
  exclude?: readonly string[];
}

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

/**
 * The flows a finding breaks: those its rule names, else the traced flows that are not allowed and
 * go to a name the finding is about (`name:<fqdn>` subjects), e.g. the workspace API flow a DNS
 * finding breaks at its dns hop.
 */
function flowsOf(f: FindingDraft, analysis: FlowAnalysis): { flows?: string[] } {
  if (f.flows?.length) return { flows: [...new Set(f.flows)] };
  const names = (f.subjects ?? []).filter((x) => x.startsWith('name:')).map((x) => x.slice(5).toLowerCase());
  if (names.length === 0) return {};
  const hit = analysis.flows.filter((fl) => fl.verdict !== 'allowed' && names.some((n) => fl.destination.toLowerCase().split(/[\s(]/)[0] === n)).map((fl) => fl.id);
  return hit.length ? { flows: [...new Set(hit)] } : {};
}

export function buildReport(snapshot: Snapshot, allRules: readonly Rule[], options: ReportOptions = {}): Report {
  const exclude = [...new Set((options.exclude ?? []).map((c) => c.toUpperCase()))].sort();
  const rules = allRules.filter((r) => !exclude.includes(r.meta.code));
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
  outcomes.forEach(({ rule, results }) => {
    const { meta } = rule;
    const order = allRules.indexOf(rule);
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
          ...(meta.absorbs?.length ? { absorbs: meta.absorbs } : {}),
          ...flowsOf(f, analysis),
          order,
        });
      } else if (r.status === 'undetermined') {
        undetermined++;
        coverage.push({ item: `${meta.code}: ${r.item}`, status: 'undetermined', reason: r.reason, ...(r.resourceId ? { resourceId: r.resourceId } : {}) });
      }
    }
    if (undetermined === 0) coverage.push({ item: `${meta.code}: ${meta.title}`, status: 'ok' });
  });
  const ranked = rankFindings(inputs);
  const findings = options.minTier === undefined ? ranked : ranked.filter((f) => f.tier <= (options.minTier as Tier)).map((f, i) => ({ ...f, rank: i + 1 }));
  const filters: Report['filters'] = options.minTier !== undefined || exclude.length ? { ...(options.minTier !== undefined ? { minTier: options.minTier } : {}), exclude } : undefined;
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
    scope: {
      subscriptions: snapshot.target.subscriptions,
      ...(snapshot.target.vantageVmId ? { vantageVmId: snapshot.target.vantageVmId } : {}),
      cloud: snapshot.target.cloud,
      dnsServers: snapshot.target.dnsServers,
    },
    ...(filters ? { filters } : {}),
    verdict: verdictOf({
      ...(snapshot.target.computeName ? { computeName: snapshot.target.computeName } : {}),
      findings,
      flows: analysis.flows,
      coverage,
      assumptions: analysis.assumptions,
      managedNetwork: analysis.managedNetwork,
      ...(filters ? { filters } : {}),
      ruleFlows: new Map(allRules.map((r) => [r.meta.code, r.meta.flows])),
    }),
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
