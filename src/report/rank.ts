/**
 * Ranking: the order a senior engineer would read the findings in. Pure and deterministic; the
 * model is written down in docs/ranking.md.
 *
 * 1. Causality first: a finding is folded into the root cause that explains it, when they share a
 *    subject (`name:<fqdn>`, `zone:<zone>`, `vnet:<id>`, `firewall:<policy>` …) and the cause's tier
 *    is the same or more severe. Symptoms (observed DNS answers) fold into any such cause; causes
 *    fold only into rules that declare them in `meta.absorbs` (a missing zone absorbs the zone
 *    group and records that cannot exist without it). Chains fold into their root. A folded
 *    finding is evidence of its root, listed in the root's `symptoms`, not a finding of its own.
 * 2. The remaining findings are ordered by tier (1 = auth path), then confidence (observed live or
 *    computed by Azure, before read from configuration, before inferred), where a cause whose
 *    predicted effect was observed live (a folded high-confidence symptom) counts as observed;
 * 3. then by the earliest auth-path flow the finding breaks (workspace-api, workspace-cert,
 *    aml-service, entra-id, arm), then catalogue order of the rule, then the blamed resource id,
 *    then input order, so equal inputs always give the same ranks.
 */
import type { Confidence, Finding, Symptom, Tier } from './schema.ts';

export interface RankInput extends Omit<Finding, 'rank' | 'rankReason' | 'symptoms'> {
  role: 'cause' | 'symptom';
  subjects: string[];
  /** Position of the rule in the rule index (catalogue order). */
  order: number;
  /** Codes of causes this finding's rule absorbs (meta.absorbs). */
  absorbs?: readonly string[];
}

/** The flows of the auth path, in the order a token request uses them. */
export const AUTH_PATH = ['workspace-api', 'workspace-cert', 'aml-service', 'entra-id', 'arm'] as const;

const CONFIDENCE: Record<Confidence, number> = { high: 0, medium: 1, low: 2 };

const CONFIDENCE_TEXT: Record<Confidence, string> = {
  high: 'observed live or computed by Azure',
  medium: 'read from configuration',
  low: 'inferred with assumptions',
};

const TIER_TEXT: Record<Tier, string> = {
  1: 'auth path',
  2: 'breaks jobs, images or compute lifecycle',
  3: 'client access or hygiene',
};

function authPosition(f: Pick<RankInput, 'flows'>): number {
  const positions = (f.flows ?? []).map((id) => (AUTH_PATH as readonly string[]).indexOf(id)).filter((i) => i >= 0);
  return positions.length ? Math.min(...positions) : AUTH_PATH.length;
}

function compareBase(a: RankInput, b: RankInput): number {
  return (
    a.tier - b.tier ||
    CONFIDENCE[a.confidence] - CONFIDENCE[b.confidence] ||
    authPosition(a) - authPosition(b) ||
    a.order - b.order ||
    a.resourceId.toLowerCase().localeCompare(b.resourceId.toLowerCase())
  );
}

function canExplain(cause: RankInput, other: RankInput): boolean {
  if (cause === other || cause.role !== 'cause' || cause.tier > other.tier) return false;
  if (other.role === 'cause' && !(cause.absorbs ?? []).includes(other.code)) return false;
  const subjects = new Set(other.subjects.map((x) => x.toLowerCase()));
  return cause.subjects.some((x) => subjects.has(x.toLowerCase()));
}

export function rankFindings(inputs: readonly RankInput[]): Finding[] {
  // The best cause that explains each finding (its parent), then each finding's root.
  const parent = new Map<RankInput, RankInput>();
  for (const f of inputs) {
    const cause = inputs.filter((c) => canExplain(c, f)).sort(compareBase)[0];
    if (cause) parent.set(f, cause);
  }
  const rootOf = (f: RankInput): RankInput => {
    const seen = new Set<RankInput>([f]);
    let r = f;
    for (let p = parent.get(r); p && !seen.has(p); p = parent.get(r)) {
      seen.add(p);
      r = p;
    }
    // A cycle (two rules absorbing each other, which the catalogue meta-test forbids) keeps both.
    return r === f || parent.get(r) === undefined ? r : f;
  };
  const folded = new Map<RankInput, RankInput[]>();
  for (const f of inputs) {
    const root = rootOf(f);
    if (root === f) continue;
    folded.set(root, [...(folded.get(root) ?? []), f]);
  }
  const roots = inputs.filter((f) => rootOf(f) === f);

  const effective = new Map<RankInput, { input: RankInput; corroboratedBy?: string[] }>();
  for (const r of roots) {
    const symptoms = folded.get(r) ?? [];
    const live = symptoms.filter((s) => s.role === 'symptom' && s.confidence === 'high').map((s) => s.code);
    if (live.length && r.confidence !== 'high') effective.set(r, { input: { ...r, confidence: 'high' }, corroboratedBy: [...new Set(live)].sort() });
    else effective.set(r, { input: r });
  }
  const sorted = roots
    .map((r, i) => ({ r, e: (effective.get(r) as { input: RankInput }).input, i }))
    .sort((a, b) => compareBase(a.e, b.e) || a.i - b.i);

  return sorted.map(({ r, e }, i) => {
    const symptoms = (folded.get(r) ?? []).slice().sort(compareBase).map(toSymptom);
    const corroboratedBy = effective.get(r)?.corroboratedBy;
    const { role: _role, subjects: _subjects, order: _order, absorbs: _absorbs, ...finding } = e;
    return {
      ...finding,
      rank: i + 1,
      rankReason: rankReason(e, symptoms, corroboratedBy, r.confidence),
      ...(symptoms.length ? { symptoms } : {}),
    };
  });
}

function toSymptom(f: RankInput): Symptom {
  return {
    code: f.code,
    title: f.title,
    resourceId: f.resourceId,
    confidence: f.confidence,
    explanation: f.explanation,
    evidence: f.evidence,
    ...(f.flows?.length ? { flows: f.flows } : {}),
  };
}

function rankReason(f: RankInput, symptoms: Symptom[], corroboratedBy: string[] | undefined, ownConfidence: Confidence): string {
  const flows = f.flows ?? [];
  const auth = flows.filter((id) => (AUTH_PATH as readonly string[]).includes(id));
  const tier =
    f.tier === 1 && auth.length
      ? `tier 1 (auth path: breaks ${auth.join(', ')})`
      : f.tier === 1 && flows.length
        ? `tier 1 by its rule (breaks ${flows.join(', ')}, off the auth path)`
        : `tier ${f.tier} (${TIER_TEXT[f.tier]})`;
  const confidence = corroboratedBy
    ? `${CONFIDENCE_TEXT[ownConfidence]}, corroborated live by ${corroboratedBy.join(', ')}`
    : CONFIDENCE_TEXT[f.confidence];
  const codes = [...new Set(symptoms.map((s) => s.code))];
  return `${tier}; ${confidence}${codes.length ? `; root cause of ${codes.join(', ')}` : ''}`;
}
