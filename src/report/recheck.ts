/**
 * Pure parts of recheck: compare a report's findings with the rule results on fresh evidence,
 * render the comparison, and its exit code.
 *
 * Each finding of the report, and each symptom folded into one, is rechecked by its code and the
 * resource it blamed: still-failing when the rule fails again for that resource, undetermined when
 * it does not but some of its evidence could not be read (never counted as fixed), fixed otherwise.
 * A symptom is listed with the rank of its root cause.
 */
import { idKey, nameOf, sameId } from '../model/arm-id.ts';
import type { Rule, RuleResult } from '../rules/rule.ts';
import { TOOL } from '../version.ts';
import type { Finding, RecheckResult, RecheckStatus, Report, Tier } from './schema.ts';

export type RecheckedFinding = RecheckResult['findings'][number];

/** One rechecked rule and its results on the new evidence (a needed read that failed is an undetermined result). */
export interface RuleOutcome {
  rule: Rule;
  results: RuleResult[];
}

export interface RecheckRun {
  outcomes: readonly RuleOutcome[];
  /** The failures of the rechecked rules, ranked and folded the way diagnose ranks them. */
  ranked: readonly Finding[];
  /** The probes run again. */
  probes: readonly string[];
  /** When the new evidence was gathered. */
  generatedAt: string;
}

/** What the report said: its findings and their folded symptoms, once per code and resource. */
interface PreviousItem {
  code: string;
  resourceId: string;
  title: string;
  tier: Tier;
  previousRank: number;
  symptom: boolean;
}

const key = (code: string, resourceId: string): string => `${code}|${idKey(resourceId)}`;

function previousItems(previous: Report, outcomes: readonly RuleOutcome[]): PreviousItem[] {
  const items: PreviousItem[] = [];
  const seen = new Set<string>();
  const add = (item: PreviousItem): void => {
    // Several DNS names can blame the same resource: one line per code and resource is enough.
    const k = key(item.code, item.resourceId);
    if (seen.has(k)) return;
    seen.add(k);
    items.push(item);
  };
  for (const f of previous.findings) {
    add({ code: f.code, resourceId: f.resourceId, title: f.title, tier: f.tier, previousRank: f.rank, symptom: false });
    for (const s of f.symptoms ?? []) {
      // A folded symptom is never more severe than its root (ranking folds only into causes of the same or a more severe tier).
      const own = outcomes.find((o) => o.rule.meta.code === s.code)?.rule.meta.tier ?? f.tier;
      add({ code: s.code, resourceId: s.resourceId, title: s.title, tier: own > f.tier ? own : f.tier, previousRank: f.rank, symptom: true });
    }
  }
  return items;
}

function statusOf(item: PreviousItem, outcome: RuleOutcome | undefined): { status: RecheckStatus; detail: string } {
  if (!outcome) return { status: 'undetermined', detail: `this version of aml-netdoctor has no rule ${item.code}, so it cannot be rechecked` };
  for (const r of outcome.results) {
    if (r.status === 'fail' && sameId(r.finding.resourceId, item.resourceId)) return { status: 'still-failing', detail: r.finding.explanation };
  }
  const undetermined = outcome.results.flatMap((r) => (r.status === 'undetermined' ? [r] : []));
  if (undetermined.length) {
    const u = undetermined.find((r) => sameId(r.resourceId, item.resourceId)) ?? (undetermined[0] as (typeof undetermined)[number]);
    return { status: 'undetermined', detail: `${u.item}: ${u.reason}` };
  }
  const pass = outcome.results.find((r) => r.status === 'pass' && sameId(r.resourceId, item.resourceId));
  return { status: 'fixed', detail: pass?.status === 'pass' ? pass.detail : `${item.code} no longer fails for ${nameOf(item.resourceId)}` };
}

/** The new findings: failures that match nothing the report had, ranked 1..n, within the report's --min-tier. */
function newFindingsOf(previous: Report, items: readonly PreviousItem[], ranked: readonly Finding[]): Finding[] {
  const known = new Set(items.map((i) => key(i.code, i.resourceId)));
  const minTier = previous.filters?.minTier;
  return ranked
    .filter((f) => !known.has(key(f.code, f.resourceId)) && (minTier === undefined || f.tier <= minTier))
    .map((f, i) => ({ ...f, rank: i + 1 }));
}

export function compareWithPrevious(previous: Report, run: RecheckRun): RecheckResult {
  const items = previousItems(previous, run.outcomes);
  const findings: RecheckedFinding[] = items.map((item) => {
    const { status, detail } = statusOf(item, run.outcomes.find((o) => o.rule.meta.code === item.code));
    return { code: item.code, resourceId: item.resourceId, title: item.title, tier: item.tier, previousRank: item.previousRank, status, detail };
  });
  const newFindings = newFindingsOf(previous, items, run.ranked);
  return {
    workspace: { id: previous.workspace.id, name: previous.workspace.name },
    generatedAt: run.generatedAt,
    previousGeneratedAt: previous.generatedAt,
    tool: { name: TOOL.name, version: TOOL.version },
    probes: [...run.probes],
    findings,
    newFindings,
    summary: summaryOf(findings, items.filter((i) => i.symptom).length, newFindings),
  };
}

// ------------------------------------------------------------------------------ summary and text

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const where = (f: { code: string; resourceId: string }): string => `${f.code} on ${nameOf(f.resourceId)}`;

/** "A on x, B on y and 2 more". */
function listed(list: ReadonlyArray<{ code: string; resourceId: string }>, max = 3): string {
  const shown = list.slice(0, max).map(where).join(', ');
  return list.length > max ? `${shown} and ${list.length - max} more` : shown;
}

function summaryOf(findings: readonly RecheckedFinding[], symptoms: number, newFindings: readonly Finding[]): string {
  const added = newFindings.length ? `${plural(newFindings.length, 'new finding')} (${listed(newFindings)})` : 'no new finding';
  if (findings.length === 0) return `The report had no findings; ${added}.`;
  const by = (s: RecheckStatus) => findings.filter((f) => f.status === s);
  const fixed = by('fixed');
  const still = by('still-failing');
  const undetermined = by('undetermined');
  const counted = symptoms
    ? `${plural(findings.length, 'finding')} (${findings.length - symptoms} reported, ${plural(symptoms, 'folded symptom')} rechecked too)`
    : plural(findings.length, 'finding');
  const parts = [`${fixed.length} fixed`];
  if (still.length) parts.push(`${still.length} still failing (${listed(still)})`);
  if (undetermined.length) parts.push(`${undetermined.length} undetermined (${listed(undetermined)})`);
  return `${counted}: ${parts.join(', ')}; ${added}.`;
}

const WIDTH = 100;
const DETAIL_INDENT = '      ';

/** Words of `text` in lines of at most WIDTH characters, each starting with `indent`. */
function wrap(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > WIDTH) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}

const STATUS_TEXT: Record<RecheckStatus, string> = { fixed: 'fixed', 'still-failing': 'STILL FAILING', undetermined: 'undetermined' };

export function renderRecheckText(result: RecheckResult): string {
  const lines: string[] = [
    `Recheck of workspace ${result.workspace.name}`,
    `  report of ${result.previousGeneratedAt}, rechecked ${result.generatedAt}`,
    `  probes run again: ${result.probes.length ? result.probes.join(', ') : 'none (the report had no findings)'}`,
    '',
  ];
  if (result.findings.length) {
    lines.push(`${'STATUS'.padEnd(14)} ${'RANK'.padEnd(5)} ${'TIER'.padEnd(5)} FINDING`);
    let lastRank = 0;
    for (const f of result.findings) {
      // Symptoms follow their root and share its rank.
      const symptom = f.previousRank === lastRank;
      lastRank = f.previousRank;
      const finding = `${symptom ? '  ↳ ' : ''}${f.code} on ${nameOf(f.resourceId)}${symptom ? ' (folded symptom)' : ''}`;
      lines.push(`${STATUS_TEXT[f.status].padEnd(14)} ${(symptom ? '' : `#${f.previousRank}`).padEnd(5)} ${String(f.tier).padEnd(5)} ${finding}`);
      lines.push(...wrap(f.detail, DETAIL_INDENT));
    }
    lines.push('');
  }
  if (result.newFindings.length) {
    lines.push('New findings (not in the report; a fix can move the break):');
    for (const f of result.newFindings) {
      lines.push(`  #${f.rank} tier ${f.tier} ${f.code} on ${nameOf(f.resourceId)}: ${f.title}`);
      lines.push(...wrap(f.explanation, DETAIL_INDENT), ...wrap(`Fix: ${f.remediation.summary}`, DETAIL_INDENT));
    }
    lines.push('');
  }
  lines.push(result.summary);
  return `${lines.join('\n')}\n`;
}

/** As for diagnose: 1 a tier 1-2 finding still fails or appeared, 3 something could not be rechecked, else 0. */
export function recheckExitCode(result: RecheckResult): 0 | 1 | 3 {
  if (result.findings.some((f) => f.status === 'still-failing' && f.tier <= 2) || result.newFindings.some((f) => f.tier <= 2)) return 1;
  if (result.findings.some((f) => f.status === 'undetermined')) return 3;
  return 0;
}
