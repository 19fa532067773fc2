/**
 * SARIF 2.1.0 rendering of a report for code-scanning and security tooling (GitHub code scanning,
 * SARIF viewers, security dashboards). Pure.
 *
 * - One run. `tool.driver.rules` holds every code of the findings and of their folded symptoms,
 *   with help built from the rule metadata; `results` holds one result per finding (symptoms stay
 *   inside their root cause, as in every other format).
 * - A finding blames an Azure resource, not a file. Each location carries the ARM id as a logical
 *   location (kind `resource`) AND a physical location whose artifact URI is the lower-cased ARM id
 *   without its leading slash, relative to the `AZURE_RESOURCE_ID` base: GitHub code scanning
 *   rejects a whole upload when a result location has no physicalLocation.
 * - `partialFingerprints['amlNetdoctor/v1']` = sha256 of the code and the lower-cased blamed id, so
 *   a re-run of the same problem matches the earlier alert.
 * - Fixes stay in `result.properties` (azCli, bicep, verify): SARIF `fixes` are edits to files,
 *   and these fixes change Azure resources.
 * - Coverage items that could not be checked become `toolExecutionNotifications` (warnings), so a
 *   scanner shows what was not verified instead of implying it passed.
 */
import { createHash } from 'node:crypto';
import type { Invocation, Location, Log, Notification, ReportingDescriptor, Result, Run } from 'sarif';
import { idKey, nameOf } from '../model/arm-id.ts';
import { rules } from '../rules/index.ts';
import type { RuleMeta } from '../rules/rule.ts';
import type { CoverageItem, Finding, Report, Severity, Tier } from './schema.ts';

export type SarifLog = Log;

export const SARIF_SCHEMA_URI = 'https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json';

/** Key of the result fingerprint; bump the version if what it hashes ever changes. */
export const FINGERPRINT_KEY = 'amlNetdoctor/v1';

/** The uriBaseId of every location: the "path" is an ARM resource id, not a file. */
export const URI_BASE_ID = 'AZURE_RESOURCE_ID';

/** GitHub code scanning truncates or rejects rule descriptions longer than this. */
const MAX_DESCRIPTION = 1024;

/** GitHub reads `security-severity` as: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low. */
const SECURITY_SEVERITY: Record<Severity, string> = {
  critical: '9.0',
  high: '7.5',
  medium: '5.0',
  low: '3.0',
};

const META_BY_CODE: ReadonlyMap<string, RuleMeta> = new Map(rules.map((r) => [r.meta.code, r.meta]));

/** Tiers 1 and 2 break authentication or jobs: errors. Tier 3 (client access, hygiene): warnings. */
export function levelOf(tier: Tier): 'error' | 'warning' {
  return tier <= 2 ? 'error' : 'warning';
}

/** `PRIVATE_DNS_ZONE_NOT_LINKED` -> `PrivateDnsZoneNotLinked`. */
export function pascalCase(code: string): string {
  return code
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

/**
 * SARIF `result.rank` (0..100, higher = more important) from the report rank (1 = most likely
 * cause): rank 1 -> 100, each later rank one less, floored at 0. Independent of how many findings
 * the report has, so the same rank always maps to the same value; the exact report rank is also in
 * `properties.reportRank`.
 */
export function sarifRank(reportRank: number): number {
  return Math.max(0, 101 - reportRank);
}

/** Stable identity of a finding across runs: its code and the blamed resource, case-insensitively. */
export function fingerprintOf(code: string, resourceId: string): string {
  return createHash('sha256').update(`${code}\n${idKey(resourceId)}`).digest('hex');
}

/** The artifact URI of a resource: lower-cased ARM id without the leading slash, each segment encoded. */
export function artifactUriOf(resourceId: string): string {
  return idKey(resourceId)
    .split('/')
    .filter(Boolean)
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

function clamp(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Ends `text` with a full stop unless it already ends a sentence. */
function sentence(text: string): string {
  const t = text.trim();
  return /[.!?:]$/.test(t) ? t : `${t}.`;
}

function resourceLocation(resourceId: string, extra: { id?: number; message?: string } = {}): Location {
  return {
    ...(extra.id !== undefined ? { id: extra.id } : {}),
    physicalLocation: {
      artifactLocation: { uri: artifactUriOf(resourceId), uriBaseId: URI_BASE_ID },
      region: { startLine: 1 },
    },
    logicalLocations: [{ name: nameOf(resourceId), fullyQualifiedName: resourceId, kind: 'resource' }],
    ...(extra.message ? { message: { text: extra.message } } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Rules

/** What a rule descriptor is built from when the rule is not (or no longer) in the rule index. */
interface RuleFallback {
  code: string;
  title: string;
  tier: Tier;
  severity: Severity;
  flows: readonly string[];
}

function helpText(meta: RuleMeta, docs: string): string {
  return [
    meta.title,
    '',
    `What it means: ${meta.description}`,
    '',
    `Why it matters: ${meta.impact}`,
    '',
    `How to fix it: ${meta.resolution}`,
    '',
    `How to verify: ${meta.verification}`,
    '',
    `Each result carries the exact az CLI commands, a Bicep snippet and a verification command for the resource it blames (result properties azCli, bicep, verify). Documentation: ${docs}`,
  ].join('\n');
}

function helpMarkdown(meta: RuleMeta, docs: string): string {
  return [
    `**${meta.title}**`,
    '',
    '## What it means',
    '',
    meta.description,
    '',
    '## Why it matters',
    '',
    meta.impact,
    '',
    '## How to fix it',
    '',
    meta.resolution,
    '',
    '## How to verify',
    '',
    meta.verification,
    '',
    `Each result carries the exact \`az\` commands, a Bicep snippet and a verification command for the resource it blames (result properties \`azCli\`, \`bicep\`, \`verify\`). Documentation: \`${docs}\`.`,
  ].join('\n');
}

function ruleDescriptor(fallback: RuleFallback): ReportingDescriptor {
  const meta = META_BY_CODE.get(fallback.code);
  const docs = `docs/rules/${fallback.code}.md`;
  const title = meta?.title ?? fallback.title;
  const tier = meta?.tier ?? fallback.tier;
  const severity = meta?.severity ?? fallback.severity;
  const flows = meta?.flows ?? fallback.flows;
  const fallbackHelp = `${title}\n\nThis rule is not in this version of aml-netdoctor; see ${docs}.`;
  return {
    id: fallback.code,
    name: pascalCase(fallback.code),
    shortDescription: { text: clamp(title, MAX_DESCRIPTION) },
    fullDescription: { text: clamp(meta?.description ?? title, MAX_DESCRIPTION) },
    help: meta ? { text: helpText(meta, docs), markdown: helpMarkdown(meta, docs) } : { text: fallbackHelp },
    defaultConfiguration: { level: levelOf(tier) },
    properties: {
      tier,
      // `security` makes GitHub honour security-severity; the rest filter the alert list.
      tags: [...new Set(['security', 'azure-ml', 'network', `tier-${tier}`, ...flows])],
      'security-severity': SECURITY_SEVERITY[severity],
    },
  };
}

/** Every code of the findings and of their folded symptoms, in order of first appearance. */
function ruleFallbacks(findings: readonly Finding[]): RuleFallback[] {
  const byCode = new Map<string, RuleFallback>();
  const add = (r: RuleFallback) => {
    if (!byCode.has(r.code)) byCode.set(r.code, r);
  };
  for (const f of findings) {
    add({ code: f.code, title: f.title, tier: f.tier, severity: f.severity, flows: f.flows ?? [] });
    for (const s of f.symptoms ?? []) add({ code: s.code, title: s.title, tier: f.tier, severity: f.severity, flows: s.flows ?? [] });
  }
  return [...byCode.values()];
}

// ---------------------------------------------------------------------------------------------
// Results

/** Other resources the finding's evidence and symptoms point at, one location per resource. */
function relatedLocations(f: Finding): Location[] {
  const notes = new Map<string, { resourceId: string; messages: string[] }>();
  const note = (resourceId: string | undefined, message: string) => {
    if (!resourceId || idKey(resourceId) === idKey(f.resourceId)) return;
    const entry = notes.get(idKey(resourceId)) ?? { resourceId, messages: [] };
    if (!entry.messages.includes(message)) entry.messages.push(message);
    notes.set(idKey(resourceId), entry);
  };
  for (const e of f.evidence) note(e.resourceId, `${e.property ? `${e.property}: ` : ''}observed ${e.observed}; expected ${e.expected}`);
  for (const s of f.symptoms ?? []) note(s.resourceId, `symptom ${s.code}: ${s.title}`);
  return [...notes.values()].map((n, i) => resourceLocation(n.resourceId, { id: i + 1, message: n.messages.join(' | ') }));
}

function resultOf(f: Finding, ruleIndex: number): Result {
  const related = relatedLocations(f);
  return {
    ruleId: f.code,
    ruleIndex,
    level: levelOf(f.tier),
    message: { text: `${sentence(f.explanation)} Fix: ${f.remediation.summary}` },
    locations: [resourceLocation(f.resourceId)],
    ...(related.length ? { relatedLocations: related } : {}),
    partialFingerprints: { [FINGERPRINT_KEY]: fingerprintOf(f.code, f.resourceId) },
    rank: sarifRank(f.rank),
    properties: {
      reportRank: f.rank,
      rankReason: f.rankReason,
      tier: f.tier,
      severity: f.severity,
      confidence: f.confidence,
      flows: f.flows ?? [],
      symptoms: (f.symptoms ?? []).map((s) => s.code),
      evidence: f.evidence,
      azCli: f.remediation.azCli,
      bicep: f.remediation.bicep,
      verify: f.remediation.verify,
      docs: f.docs,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Invocation and run

function notificationOf(c: CoverageItem): Notification {
  const details = {
    ...(c.probe ? { probe: c.probe } : {}),
    ...(c.statusCode !== undefined ? { statusCode: c.statusCode } : {}),
    ...(c.errorCode ? { errorCode: c.errorCode } : {}),
  };
  return {
    level: 'warning',
    message: { text: c.reason ? `Not checked: ${c.item}: ${c.reason}` : `Not checked: ${c.item}` },
    ...(c.resourceId ? { locations: [resourceLocation(c.resourceId)] } : {}),
    ...(Object.keys(details).length ? { properties: details } : {}),
  };
}

function invocationOf(report: Report): Invocation {
  return {
    executionSuccessful: true,
    endTimeUtc: report.generatedAt,
    toolExecutionNotifications: report.coverage.filter((c) => c.status === 'undetermined').map(notificationOf),
  };
}

export function renderSarif(report: Report): SarifLog {
  const findings = [...report.findings].sort((a, b) => a.rank - b.rank);
  const descriptors = ruleFallbacks(findings).map(ruleDescriptor);
  const ruleIndex = new Map(descriptors.map((d, i) => [d.id, i]));
  const run: Run = {
    tool: {
      driver: {
        name: report.tool.name,
        version: report.tool.version,
        rules: descriptors,
      },
    },
    // One category per workspace, so SARIF files of several workspaces for one commit coexist.
    automationDetails: { id: `${report.tool.name}/${idKey(report.workspace.id).replace(/^\/+/, '')}/` },
    originalUriBaseIds: {
      [URI_BASE_ID]: { description: { text: 'Locations are Azure Resource Manager resource ids (lower-cased, without the leading slash), not files.' } },
    },
    invocations: [invocationOf(report)],
    results: findings.map((f) => resultOf(f, ruleIndex.get(f.code) ?? -1)),
    properties: {
      workspace: report.workspace,
      verdict: { status: report.verdict.status, summary: report.verdict.summary },
      ...(report.filters ? { filters: report.filters } : {}),
    },
  };
  return { $schema: SARIF_SCHEMA_URI, version: '2.1.0', runs: [run] };
}
