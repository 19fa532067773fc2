/**
 * A rule: metadata plus a pure check over the snapshot. One file per rule in src/rules/,
 * exported as `export const rule = { meta, check } satisfies Rule`, listed in src/rules/index.ts.
 */
import { PROBE_IDS, type ProbeId, type Snapshot } from '../model/snapshot.ts';
import type { FlowAnalysis } from '../flows/types.ts';
import type { Confidence, Evidence, Remediation, Severity, Tier } from '../report/schema.ts';

/** Flow ids from ../shared/reference/failure-catalogue.md. */
export type FlowId =
  | 'workspace-api'
  | 'workspace-cert'
  | 'aml-service'
  | 'entra-id'
  | 'arm'
  | 'notebooks'
  | 'storage'
  | 'key-vault'
  | 'container-registry'
  | 'mcr'
  | 'batch'
  | 'aml-inbound'
  | 'instance-name';

export interface RuleMeta {
  /** Stable code, SCREAMING_SNAKE, equals the file name. */
  code: string;
  tier: Tier;
  severity: Severity;
  title: string;
  /**
   * `cause`: names a configuration that is wrong. `symptom`: an observation (a DNS answer) that some
   * cause explains; ranking puts symptoms after the causes that explain them.
   */
  role: 'cause' | 'symptom';
  /** Flows this failure breaks. */
  flows: FlowId[];
  /** What the rule means, in two or three sentences (goes into docs/rules/<CODE>.md). */
  description: string;
  /** Why this produces the device-login prompt (or what it breaks instead). */
  impact: string;
  /** Fix, in general terms (each finding carries the exact commands). */
  resolution: string;
  /** How to confirm the fix worked, in general terms (each finding carries the exact command). */
  verification: string;
  /**
   * The probes whose observations `check` reads (directly or through the flow analysis, then
   * FLOW_NEEDS). `recheck` runs these (and what they need) for a report's findings of this rule.
   */
  needs: readonly ProbeId[];
  /**
   * Codes of *causes* this rule's findings are the root cause of when they share a subject (e.g. a
   * missing zone absorbs the zone group and records that cannot exist without it). Symptoms
   * (role 'symptom') are absorbed by any cause sharing a subject without being listed here.
   */
  absorbs?: readonly string[];
  /** Facts-file references (`F#3`, `S25`, …) and public doc links. */
  references: string[];
}

export interface FindingDraft {
  /** The resource the finding blames: where the fix goes. */
  resourceId: string;
  confidence: Confidence;
  explanation: string;
  evidence: Evidence[];
  remediation: Remediation;
  /**
   * Keys that let ranking connect causes and symptoms, e.g. `name:<fqdn>`, `zone:<zone name>`,
   * `vnet:<id key>`. A symptom is explained by a cause that shares a key.
   */
  subjects?: string[];
  /** Ids of the flows (FlowResult.id) this finding breaks. */
  flows?: FlowId[];
  /**
   * For rules whose tier depends on the flow ("1 or 2 (by flow)"): this finding's tier, never
   * lower than meta.tier's number (meta.tier is the most severe tier the rule can have).
   */
  tier?: Tier;
}

export type RuleResult =
  | { status: 'fail'; finding: FindingDraft }
  | { status: 'pass'; resourceId: string; detail: string }
  | { status: 'undetermined'; item: string; reason: string; resourceId?: string };

/** What the flow analysis reads: a rule that uses `context.flows` needs all of it. */
export const FLOW_NEEDS: readonly ProbeId[] = PROBE_IDS;

/** Derived evidence computed once per diagnosis and shared by the rules. */
export interface RuleContext {
  flows: FlowAnalysis;
}

export interface Rule {
  meta: RuleMeta;
  /** Rules that need the flow analysis use `context?.flows ?? analyzeFlows(snapshot)`. */
  check(snapshot: Snapshot, context?: RuleContext): RuleResult[];
}
