/**
 * recheck: reads a report written by `diagnose --format json`, re-runs only the probes behind its
 * findings (the rules' `meta.needs`, closed over each probe's needs) with the same target, runs
 * only the rules of those findings, and says per finding fixed, still failing or undetermined.
 */
import { readFile } from 'node:fs/promises';
import { Value } from 'typebox/value';
import { probes as allProbes, probeById } from '../probes/index.ts';
import { analyzeFlows } from './flows/analyze.ts';
import type { FlowAnalysis } from './flows/types.ts';
import { parseWorkspaceId } from './model/arm-id.ts';
import { CLOUDS } from './model/cloud.ts';
import { PROBE_IDS, type ProbeId, type Snapshot } from './model/snapshot.ts';
import { collect } from './collect.ts';
import { targetOf, type DiagnoseDeps } from './diagnose.ts';
import { buildReport, runRules } from './report/build.ts';
import { compareWithPrevious, type RuleOutcome } from './report/recheck.ts';
import { Report, type RecheckResult } from './report/schema.ts';
import { rules as allRules } from './rules/index.ts';
import type { Rule, RuleContext } from './rules/rule.ts';

export class ReportFileError extends Error {}

const NOT_A_REPORT = "this is not a JSON report from 'aml-netdoctor diagnose --format json'";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first schema error as "<path>: <problem>", e.g. "/findings/0/code: expected string". */
function firstProblem(data: unknown): string | undefined {
  const e = Value.Errors(Report, data)[0];
  if (!e) return undefined;
  const params: Record<string, unknown> = isObject(e.params) ? e.params : {};
  if (e.keyword === 'required' && Array.isArray(params.requiredProperties)) return `${e.instancePath}/${String(params.requiredProperties[0])}: missing`;
  if (e.keyword === 'type' && typeof params.type === 'string') return `${e.instancePath || '/'}: expected ${params.type}`;
  if (e.keyword === 'boolean' && e.schemaPath.endsWith('/additionalProperties')) return `${e.instancePath}: not a field of the report`;
  return `${e.instancePath || '/'}: ${e.message}`;
}

/** What else the file is, when it is JSON but not a report. */
function whatElse(data: unknown): string | undefined {
  if (!isObject(data)) return undefined;
  if (Array.isArray(data.runs) && 'version' in data) return 'it is a SARIF log (diagnose --format sarif)';
  if ('previousGeneratedAt' in data && 'newFindings' in data) return "it is the output of 'aml-netdoctor recheck'";
  return undefined;
}

/** Reads and validates a report file; every problem is a ReportFileError naming the file. */
export async function readReportFile(path: string): Promise<Report> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new ReportFileError(`${path}: cannot read the report (${why})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ReportFileError(`${path}: not JSON (${(err as Error).message}); ${NOT_A_REPORT}`);
  }
  const other = whatElse(data);
  if (other) throw new ReportFileError(`${path}: ${other}; ${NOT_A_REPORT}`);
  if (!isObject(data) || !isObject(data.workspace) || !Array.isArray(data.findings)) {
    throw new ReportFileError(`${path}: ${NOT_A_REPORT} (${firstProblem(data) ?? 'no workspace or findings'})`);
  }
  const problem = firstProblem(data);
  if (problem) throw new ReportFileError(`${path}: ${problem} (expected a JSON report from 'aml-netdoctor diagnose --format json' of this version)`);
  const report = data as Report;
  try {
    parseWorkspaceId(report.workspace.id);
  } catch (err) {
    throw new ReportFileError(`${path}: /workspace/id: ${(err as Error).message}`);
  }
  return report;
}

/** The probes `ids` need, with everything they need in turn, in PROBE_IDS order. */
export function probeClosure(ids: readonly ProbeId[]): ProbeId[] {
  const found = new Set<ProbeId>();
  const visit = (id: ProbeId): void => {
    if (found.has(id)) return;
    found.add(id);
    for (const need of probeById[id].needs) visit(need);
  };
  for (const id of ids) visit(id);
  return PROBE_IDS.filter((id) => found.has(id));
}

/** Whether the rule reads the flow analysis (its needs are FLOW_NEEDS, i.e. every probe). */
export function needsFlows(rule: Rule): boolean {
  return PROBE_IDS.every((id) => rule.meta.needs.includes(id));
}

export interface RecheckPlan {
  /** The codes of the report's findings and their folded symptoms. */
  codes: string[];
  /** The rules of those codes that this version has. */
  rules: Rule[];
  /** The probes to run again. */
  probes: ProbeId[];
}

export function recheckPlan(previous: Report): RecheckPlan {
  const codes = [...new Set(previous.findings.flatMap((f) => [f.code, ...(f.symptoms ?? []).map((s) => s.code)]))];
  const rules = allRules.filter((r) => codes.includes(r.meta.code));
  return { codes, rules, probes: probeClosure(rules.flatMap((r) => r.meta.needs)) };
}

/**
 * The flow analysis of this evidence, computed only if a rule reads it: a rule that needs FLOW_NEEDS
 * had all probes run; for any other rule this is what `check(snapshot)` without context computes.
 */
function lazyFlowContext(snapshot: Snapshot): RuleContext {
  let flows: FlowAnalysis | undefined;
  return {
    get flows(): FlowAnalysis {
      flows ??= analyzeFlows(snapshot);
      return flows;
    },
  };
}

/** The rules' results, plus an undetermined result for each needed probe whose read failed outright. */
export function ruleOutcomes(snapshot: Snapshot, rules: readonly Rule[]): RuleOutcome[] {
  return runRules(snapshot, rules, lazyFlowContext(snapshot)).map(({ rule, results }) => {
    const unread = probeClosure(rule.meta.needs).flatMap((id) => {
      const o = snapshot[id];
      return o && !o.ok ? [{ status: 'undetermined' as const, item: `probe ${id}`, reason: `could not be read again: ${o.error.message}` }] : [];
    });
    return { rule, results: [...results, ...unread] };
  });
}

export async function recheck(previous: Report, deps: DiagnoseDeps, signal: AbortSignal): Promise<RecheckResult> {
  const plan = recheckPlan(previous);
  const target = targetOf(
    {
      workspaceId: previous.workspace.id,
      ...(previous.workspace.computeName ? { computeName: previous.workspace.computeName } : {}),
      subscriptions: previous.scope.subscriptions,
      ...(previous.scope.vantageVmId ? { vantageVmId: previous.scope.vantageVmId } : {}),
    },
    deps,
  );
  const log = deps.log.child({ workspace: target.workspaceId, command: 'recheck' });
  const snapshot = await collect(
    target,
    { cloud: CLOUDS[deps.cloud], azure: deps.azure, dns: deps.dns, log, signal },
    { probes: allProbes.filter((p) => plan.probes.includes(p.id)), ...(deps.onProgress ? { onProgress: deps.onProgress } : {}) },
  );
  // Ranking (and folding) of the failures exactly as diagnose does, over the rechecked rules only.
  const ranked = buildReport(snapshot, allRules, { exclude: allRules.map((r) => r.meta.code).filter((c) => !plan.codes.includes(c)) }).findings;
  return compareWithPrevious(previous, { outcomes: ruleOutcomes(snapshot, plan.rules), ranked, probes: plan.probes, generatedAt: snapshot.collectedAt });
}
