/**
 * Drift between two reports of the same workspace (the previous stored run and this one), and the
 * small JSON a drift notification carries. Pure: no I/O, no clock.
 *
 * Identity: a finding is identified by its `code` + the resource it blames, compared
 * case-insensitively (`idKey`). Several findings with the same identity (several DNS names blaming
 * one resource) are one drift item, listed with the best rank.
 *
 * Symptoms count under their root: a symptom folded into a finding is evidence of that finding,
 * never a drift item of its own, so fixing one root cause with three folded symptoms is one
 * resolved item, not four. An identity counts as present in a report whether it is a finding or a
 * folded symptom there, so a finding that was reported on its own and is now folded into a newly
 * found root cause is neither resolved nor new: it is listed as persisting (with the rank of the
 * root it is folded into, named in `foldedInto`), and the new root cause is what is new. Every
 * identity that is a finding in either report appears in exactly one of the four lists; identities
 * that are only ever symptoms appear in none.
 *
 * - new:        a finding now, absent from the previous report (as a finding or a symptom).
 * - persisting: a finding now (or folded now) that was present before.
 * - resolved:   a finding before, absent now, and the current run could check it: its coverage
 *               has no undetermined item and its filters (--min-tier, --exclude) did not hide it.
 * - unknown:    a finding before, absent now, but the current run could not have seen it: the
 *               current coverage has undetermined items (a read failed, a flow or rule could not
 *               be decided), or its filters removed that code or tier. A finding whose evidence
 *               was missing is never reported as resolved. This is deliberately coarse: any gap in
 *               the coverage makes every absent finding unknown, because one failed read (a
 *               private endpoint, a zone list) silently changes what many rules can see.
 *
 * `changed` is true when something is new or resolved, or the verdict status changed (e.g.
 * undetermined -> cause-found). `unknown` alone is not a change: nothing is known to have moved.
 * A first run (no previous report) is a change only when it has findings (they are all new).
 */
import { idKey, nameOf } from '../model/arm-id.ts';
import type { Finding, Report, Severity, Tier, VerdictStatus } from '../report/schema.ts';

export interface DriftFinding {
  code: string;
  title: string;
  tier: Tier;
  severity: Severity;
  resourceId: string;
  /** Rank in the report it is listed from: the current one for new and persisting, the previous one for resolved and unknown. */
  rank: number;
  /** Persisting only: the code of the current finding this one is now folded into as a symptom. */
  foldedInto?: string;
  /** Unknown only: why the current run could not have seen it. */
  reason?: string;
}

export interface Drift {
  workspaceId: string;
  /** True when there was no previous report to compare with. */
  firstRun: boolean;
  previousGeneratedAt?: string;
  generatedAt: string;
  previousStatus?: VerdictStatus;
  status: VerdictStatus;
  new: DriftFinding[];
  resolved: DriftFinding[];
  persisting: DriftFinding[];
  unknown: DriftFinding[];
  changed: boolean;
  /** One line for people, e.g. "mlw-x: changed: 1 new, 1 resolved, 2 persisting; verdict undetermined -> cause-found". */
  summary: string;
}

const keyOf = (code: string, resourceId: string): string => `${code}|${idKey(resourceId)}`;

const itemOf = (f: Finding): DriftFinding => ({ code: f.code, title: f.title, tier: f.tier, severity: f.severity, resourceId: f.resourceId, rank: f.rank });

interface Indexed {
  /** Findings by identity, best rank first (findings are in rank order, the first one wins). */
  roots: Map<string, DriftFinding>;
  /** Identities present only as folded symptoms, with the finding they are folded into. */
  folded: Map<string, Finding>;
}

function index(report: Report): Indexed {
  const roots = new Map<string, DriftFinding>();
  const folded = new Map<string, Finding>();
  const sorted = [...report.findings].sort((a, b) => a.rank - b.rank);
  for (const f of sorted) {
    const k = keyOf(f.code, f.resourceId);
    if (!roots.has(k)) roots.set(k, itemOf(f));
  }
  for (const f of sorted) {
    for (const s of f.symptoms ?? []) {
      const k = keyOf(s.code, s.resourceId);
      if (!roots.has(k) && !folded.has(k)) folded.set(k, f);
    }
  }
  return { roots, folded };
}

const present = (ix: Indexed, k: string): boolean => ix.roots.has(k) || ix.folded.has(k);

/** Why the current report could not have seen `item`, or undefined when it could. */
function blindSpot(current: Report, item: DriftFinding): string | undefined {
  const gaps = current.coverage.filter((c) => c.status === 'undetermined');
  if (gaps.length) return `${gaps.length} check(s) could not be completed in this run (first: ${gaps[0]?.item})`;
  const filters = current.filters;
  if (filters?.exclude.some((c) => c.toUpperCase() === item.code.toUpperCase())) return `${item.code} was excluded from this run`;
  if (filters?.minTier !== undefined && item.tier > filters.minTier) return `tier ${item.tier} findings were filtered out of this run (--min-tier ${filters.minTier})`;
  return undefined;
}

const byRank = (a: DriftFinding, b: DriftFinding): number => a.rank - b.rank;

/** The drift from `previous` (undefined on a first run) to `current`. Both must be of the same workspace. */
export function driftOf(previous: Report | undefined, current: Report): Drift {
  if (previous && idKey(previous.workspace.id) !== idKey(current.workspace.id)) {
    throw new Error(`drift needs two reports of the same workspace: ${previous.workspace.id} and ${current.workspace.id} differ`);
  }
  const now = index(current);
  const before = previous ? index(previous) : undefined;
  const drift: Drift = {
    workspaceId: current.workspace.id,
    firstRun: !previous,
    ...(previous ? { previousGeneratedAt: previous.generatedAt, previousStatus: previous.verdict.status } : {}),
    generatedAt: current.generatedAt,
    status: current.verdict.status,
    new: [],
    resolved: [],
    persisting: [],
    unknown: [],
    changed: false,
    summary: '',
  };
  for (const [k, item] of now.roots) (before && present(before, k) ? drift.persisting : drift.new).push(item);
  for (const [k, item] of before?.roots ?? []) {
    if (now.roots.has(k)) continue;
    const root = now.folded.get(k);
    const reason = root ? undefined : blindSpot(current, item);
    if (root) drift.persisting.push({ ...item, rank: root.rank, foldedInto: root.code });
    else if (reason) drift.unknown.push({ ...item, reason });
    else drift.resolved.push(item);
  }
  drift.persisting.sort(byRank);
  drift.changed = drift.new.length > 0 || drift.resolved.length > 0 || (!!previous && previous.verdict.status !== current.verdict.status);
  drift.summary = summaryOf(drift, current.workspace.name || nameOf(current.workspace.id));
  return drift;
}

function summaryOf(d: Drift, name: string): string {
  const counts = [
    d.new.length ? `${d.new.length} new` : '',
    d.resolved.length ? `${d.resolved.length} resolved` : '',
    d.unknown.length ? `${d.unknown.length} unknown (evidence missing)` : '',
    d.persisting.length ? `${d.persisting.length} persisting` : '',
  ].filter(Boolean);
  const what = counts.length ? counts.join(', ') : 'no findings';
  const verdict = d.previousStatus && d.previousStatus !== d.status ? `verdict ${d.previousStatus} -> ${d.status}` : `verdict ${d.status}`;
  const head = d.firstRun ? 'first run' : d.changed ? 'changed' : 'no change';
  return `${name}: ${head}: ${what}; ${verdict}`;
}

/** A finding as the notification lists it. */
export interface PayloadFinding {
  code: string;
  title: string;
  tier: Tier;
  resourceId: string;
  rank: number;
  /** Unknown findings: why this run could not see it. */
  reason?: string;
}

/** The body of a drift notification (event `drift`); see src/service/webhook.ts for how it is signed. */
export interface DriftPayload {
  event: 'drift';
  workspace: { id: string; name: string };
  generatedAt: string;
  previousGeneratedAt: string | null;
  verdict: { status: VerdictStatus; previousStatus: VerdictStatus | null };
  summary: string;
  new: PayloadFinding[];
  resolved: PayloadFinding[];
  unknown: PayloadFinding[];
  persistingCount: number;
  /** Path (or URL) of the stored report, filled in by the caller that knows where it stored it. */
  reportPath: string | null;
}

const payloadFinding = (f: DriftFinding): PayloadFinding => ({ code: f.code, title: f.title, tier: f.tier, resourceId: f.resourceId, rank: f.rank, ...(f.reason ? { reason: f.reason } : {}) });

/** The notification for `drift`, computed for `report` (the current run) of `workspace`. */
export function driftPayload(workspace: { id: string; name?: string }, drift: Drift, report: Report, reportPath?: string): DriftPayload {
  return {
    event: 'drift',
    workspace: { id: workspace.id, name: workspace.name || report.workspace.name || nameOf(workspace.id) },
    generatedAt: report.generatedAt,
    previousGeneratedAt: drift.previousGeneratedAt ?? null,
    verdict: { status: report.verdict.status, previousStatus: drift.previousStatus ?? null },
    summary: drift.summary,
    new: drift.new.map(payloadFinding),
    resolved: drift.resolved.map(payloadFinding),
    unknown: drift.unknown.map(payloadFinding),
    persistingCount: drift.persisting.length,
    reportPath: reportPath ?? null,
  };
}
