/**
 * Ranking: the order a senior engineer would read the findings in. Pure and deterministic.
 *
 * 1. tier (1 explains the device-login prompt, 2 breaks jobs/images, 3 client access/hygiene);
 * 2. causality: a symptom (an observed DNS answer) that shares a subject (`name:<fqdn>`,
 *    `zone:<zone>`) with a cause of the same or a lower tier number is explained by it: it moves
 *    after every unexplained finding of its tier and the cause lists it in `explains`;
 * 3. confidence (high, medium, low);
 * 4. catalogue order of the rule (the failure catalogue lists codes in diagnostic order);
 * 5. the blamed resource id, then insertion order.
 */
import type { Confidence, Finding } from './schema.ts';

export interface RankInput extends Omit<Finding, 'rank' | 'explains'> {
  role: 'cause' | 'symptom';
  subjects: string[];
  /** Position of the rule in the rule index (catalogue order). */
  order: number;
}

const CONFIDENCE: Record<Confidence, number> = { high: 0, medium: 1, low: 2 };

export function rankFindings(inputs: readonly RankInput[]): Finding[] {
  const causes = inputs.filter((f) => f.role === 'cause');
  const explainedBy = new Map<RankInput, RankInput>();
  for (const s of inputs) {
    if (s.role !== 'symptom') continue;
    const subjects = new Set(s.subjects.map((x) => x.toLowerCase()));
    const cause = causes
      .filter((c) => c.tier <= s.tier && c.subjects.some((x) => subjects.has(x.toLowerCase())))
      .sort(compareBase)[0];
    if (cause) explainedBy.set(s, cause);
  }
  const sorted = inputs
    .map((f, i) => ({ f, i }))
    .sort((a, b) => {
      if (a.f.tier !== b.f.tier) return a.f.tier - b.f.tier;
      const ea = explainedBy.has(a.f) ? 1 : 0;
      const eb = explainedBy.has(b.f) ? 1 : 0;
      if (ea !== eb) return ea - eb;
      return compareBase(a.f, b.f) || a.i - b.i;
    })
    .map((x) => x.f);
  return sorted.map((f, i) => {
    const explains = [...explainedBy.entries()].filter(([, c]) => c === f).map(([s]) => s.code);
    const { role: _role, subjects: _subjects, order: _order, ...finding } = f;
    return { ...finding, rank: i + 1, ...(explains.length ? { explains: [...new Set(explains)].sort() } : {}) };
  });
}

function compareBase(a: RankInput, b: RankInput): number {
  return (
    a.tier - b.tier ||
    CONFIDENCE[a.confidence] - CONFIDENCE[b.confidence] ||
    a.order - b.order ||
    a.resourceId.toLowerCase().localeCompare(b.resourceId.toLowerCase())
  );
}
