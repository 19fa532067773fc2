/** Small readers of rule results shared by the rule tests. */
import type { ProbeError } from '../../src/model/snapshot.ts';
import type { FlowAnalysis } from '../../src/flows/types.ts';
import type { FindingDraft, RuleResult } from '../../src/rules/rule.ts';

/** An empty flow analysis, for rules whose check does not depend on flows. */
export const NO_FLOWS: FlowAnalysis = { flows: [], assumptions: [], managedNetwork: false };

/** A failed read, as a probe records a 403. */
export const forbidden = (what: string): { ok: false; error: ProbeError } => ({ ok: false, error: { kind: 'forbidden', message: `403 AuthorizationFailed reading ${what}` } });

export const fails = (rs: RuleResult[]): FindingDraft[] => rs.flatMap((r) => (r.status === 'fail' ? [r.finding] : []));

export const passes = (rs: RuleResult[]): Array<Extract<RuleResult, { status: 'pass' }>> => rs.flatMap((r) => (r.status === 'pass' ? [r] : []));
