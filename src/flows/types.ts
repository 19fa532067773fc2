/**
 * The result of flow analysis: every flow a compute depends on (the table in
 * ../shared/reference/failure-catalogue.md), traced from each compute subnet hop by hop.
 * `analyzeFlows(snapshot)` in ./analyze.ts produces it; rules read it; the report carries it.
 */
import type { Flow, FlowHop, FlowVerdict, HopKind, HopReason } from '../report/schema.ts';
import type { FlowId } from '../rules/rule.ts';

export type { FlowHop, FlowVerdict, HopKind, HopReason };

export interface FlowResult extends Flow {
  id: FlowId;
}

export interface FlowAnalysis {
  /** Ordered by subnet, then catalogue flow order. Empty for a managed-network workspace. */
  flows: FlowResult[];
  /** Diagnosis-wide assumptions ("routes computed from configuration: no readable VM in subnet snet-ml"). */
  assumptions: string[];
  /** Managed virtual network isolation is on: compute-subnet flows do not apply. */
  managedNetwork: boolean;
}

/** Flows whose final verdict is `blocked` and whose blocking hop has one of these reasons. */
export function blockedBy(analysis: FlowAnalysis, reasons: readonly HopReason[], flows?: readonly FlowId[]): Array<{ flow: FlowResult; hop: FlowHop }> {
  const out: Array<{ flow: FlowResult; hop: FlowHop }> = [];
  for (const flow of analysis.flows) {
    if (flows && !flows.includes(flow.id)) continue;
    if (flow.verdict !== 'blocked') continue;
    const hop = flow.hops.find((h) => h.verdict === 'blocked');
    if (hop?.reason && reasons.includes(hop.reason)) out.push({ flow, hop });
  }
  return out;
}
