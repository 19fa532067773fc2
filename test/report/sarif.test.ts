import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Location, Log, ReportingDescriptor, Result } from 'sarif';
import {
  FINGERPRINT_KEY,
  URI_BASE_ID,
  artifactUriOf,
  fingerprintOf,
  levelOf,
  pascalCase,
  renderSarif,
  sarifRank,
} from '../../src/report/render-sarif.ts';
import { renderReport } from '../../src/report/render.ts';
import type { Finding, Report } from '../../src/report/schema.ts';
import { rules } from '../../src/rules/index.ts';
import { scenarioReport } from '../helpers/reports.ts';

// ---------------------------------------------------------------------------------------------
// The validator: the OASIS SARIF 2.1.0 schema, as committed in test/fixtures/sarif (see README).

const SCHEMA_TEXT = readFileSync(new URL('../fixtures/sarif/sarif-schema-2.1.0.json', import.meta.url), 'utf8');
const SCHEMA = JSON.parse(SCHEMA_TEXT) as Record<string, unknown>;

/**
 * The two `language` patterns of the schema are `^(?i)[a-zA]{2}(-[a-z]{2})?$`: an inline
 * case-insensitive flag that JavaScript regular expressions do not have. Read it as the `i` flag.
 */
const regExp = Object.assign(
  (pattern: string, u: string): RegExp => {
    const inline = /^\^\(\?i\)/.exec(pattern);
    return inline ? new RegExp(`^${pattern.slice(inline[0].length)}`, `${u}i`) : new RegExp(pattern, u);
  },
  { code: 'new RegExp' },
);

/**
 * The schema is draft 2020-12 (its `$schema`), so Ajv2020. Two options work around a defect of the
 * schema as published: `definitions.region.properties.anyOf` is an array (an `anyOf` that belongs
 * next to `properties`), so the schema fails its own meta-schema (`validateSchema: false`) and
 * strict mode reads the array's indexes as unknown keywords (`strict: false`). Everything else,
 * formats included (ajv-formats), is enforced.
 */
const ajv = new Ajv2020({ allErrors: true, strict: false, validateSchema: false, code: { regExp } });
addFormatsModule.default(ajv);
const validate = ajv.compile(SCHEMA);

function assertValid(t: Test, log: unknown, label: string): void {
  const ok = validate(log);
  t.ok(ok, `${label}: valid SARIF 2.1.0`, ok ? {} : { errors: ajv.errorsText(validate.errors, { separator: '\n' }) });
}

// ---------------------------------------------------------------------------------------------
// Helpers

function runOf(log: Log) {
  const run = log.runs[0];
  if (!run) throw new Error('no run');
  return run;
}

function rulesOf(log: Log): ReportingDescriptor[] {
  return runOf(log).tool.driver.rules ?? [];
}

function resultsOf(log: Log): Result[] {
  return runOf(log).results ?? [];
}

function fingerprint(r: Result): string | undefined {
  return r.partialFingerprints?.[FINGERPRINT_KEY];
}

function blamed(loc: Location | undefined) {
  return { logical: loc?.logicalLocations?.[0], uri: loc?.physicalLocation?.artifactLocation?.uri, base: loc?.physicalLocation?.artifactLocation?.uriBaseId };
}

/** A copy of the report with one finding changed. */
function withFinding(report: Report, index: number, change: (f: Finding) => Finding): Report {
  return { ...report, findings: report.findings.map((f, i) => (i === index ? change(f) : f)) };
}

// ---------------------------------------------------------------------------------------------

t.test('the committed schema is the 2.1.0 schema, and the validator rejects what it must', async (t) => {
  t.equal(SCHEMA_TEXT.length, 112785, 'byte-for-byte copy of the upstream file (its total length)');
  t.equal(SCHEMA['$schema'], 'https://json-schema.org/draft/2020-12/schema', 'draft 2020-12, hence Ajv2020');
  t.match(SCHEMA['title'], /SARIF\) Version 2\.1\.0/);

  const minimal = { version: '2.1.0', runs: [{ tool: { driver: { name: 'x' } }, results: [] }] };
  assertValid(t, minimal, 'minimal log');
  t.notOk(validate({ runs: [] }), 'a log without version is rejected');
  t.notOk(validate({ ...minimal, version: '2.0.0' }), 'another version is rejected');
  t.notOk(validate({ ...minimal, runs: [{ tool: { driver: {} } }] }), 'a driver without name is rejected');
  t.notOk(validate({ ...minimal, runs: [{ tool: { driver: { name: 'x' } }, results: [{ message: { text: 'm' }, level: 'critical' }] }] }), 'an unknown level is rejected');
  t.notOk(validate({ ...minimal, runs: [{ tool: { driver: { name: 'x', informationUri: 'docs/rules/X.md' } } }] }), 'a relative informationUri is rejected (format uri)');
  t.ok(validate({ ...minimal, runs: [{ tool: { driver: { name: 'x' } }, language: 'EN-us' }] }), 'the (?i) language pattern is case-insensitive');
  t.notOk(validate({ ...minimal, runs: [{ tool: { driver: { name: 'x' } }, language: 'english' }] }), 'and still a pattern');
});

t.test('broken hub-spoke (zone not linked): one result per finding, symptoms folded in as rules', async (t) => {
  const report = await scenarioReport(t, 'zone-not-linked-hub-spoke');
  const log = renderSarif(report);
  assertValid(t, log, 'zone-not-linked-hub-spoke');
  t.same(JSON.parse(renderReport(report, 'sarif')), log, 'renderReport(sarif) serialises the same log');

  const run = runOf(log);
  const results = resultsOf(log);
  const descriptors = rulesOf(log);
  const top = report.findings[0];
  if (!top) throw new Error('the scenario should have a finding');
  t.equal(log.version, '2.1.0');
  t.equal(run.tool.driver.name, 'aml-netdoctor');
  t.equal(run.tool.driver.version, report.tool.version);
  t.notOk(run.tool.driver.informationUri, 'no informationUri: the project has no absolute documentation URI');

  t.equal(results.length, report.findings.length, 'one result per finding, none per folded symptom');
  t.equal(results[0]?.ruleId, top.code, 'the first result is the top finding');
  t.equal(results[0]?.rank, 100, 'rank 1 maps to SARIF rank 100');
  t.equal(results[0]?.properties?.['reportRank'], 1);
  t.equal(results[0]?.level, levelOf(top.tier));
  t.equal(results[0]?.message.text, `${top.explanation.trim().replace(/([^.!?:])$/, '$1.')} Fix: ${top.remediation.summary}`);
  const ranks = results.map((r) => r.rank ?? -1);
  t.same(ranks, [...ranks].sort((a, b) => b - a), 'results in report order, most important first');

  const symptomCodes = report.findings.flatMap((f) => (f.symptoms ?? []).map((s) => s.code));
  t.ok(symptomCodes.length > 0, 'the scenario folds symptoms into its root cause');
  const ruleIds = descriptors.map((d) => d.id);
  t.same([...new Set(ruleIds)], ruleIds, 'each rule once');
  for (const code of new Set([...report.findings.map((f) => f.code), ...symptomCodes])) t.ok(ruleIds.includes(code), `rules[] has ${code}`);
  t.same(results[0]?.properties?.['symptoms'], (top.symptoms ?? []).map((s) => s.code), 'the top result names its folded symptoms');

  for (const [i, r] of results.entries()) {
    const f = report.findings[i];
    if (!f) throw new Error('finding missing');
    const d = descriptors[r.ruleIndex ?? -1];
    t.equal(d?.id, r.ruleId, `${r.ruleId}: ruleIndex points at its rule`);
    const meta = rules.find((x) => x.meta.code === r.ruleId)?.meta;
    if (!meta) throw new Error(`no rule ${r.ruleId}`);
    t.ok(d?.help?.text.includes(meta.description) && d.help.text.includes(meta.resolution) && d.help.text.includes(meta.verification), `${r.ruleId}: help text from the rule metadata`);
    t.ok(d?.help?.markdown?.includes('## How to fix it'), `${r.ruleId}: help markdown`);
    t.equal(d?.name, pascalCase(meta.code));
    t.equal(d?.shortDescription?.text, meta.title);
    t.equal(d?.defaultConfiguration?.level, meta.tier === 3 ? 'warning' : 'error');
    t.equal(d?.properties?.['security-severity'], { critical: '9.0', high: '7.5', medium: '5.0', low: '3.0' }[meta.severity]);
    t.ok(d?.properties?.tags?.includes(`tier-${meta.tier}`) && d.properties.tags.includes('azure-ml'), `${r.ruleId}: tags`);

    const loc = blamed(r.locations?.[0]);
    t.equal(r.locations?.length, 1);
    t.equal(loc.logical?.fullyQualifiedName, f.resourceId, `${r.ruleId}: the blamed resource id is the logical location`);
    t.equal(loc.logical?.kind, 'resource');
    t.equal(loc.uri, f.resourceId.toLowerCase().replace(/^\//, ''), `${r.ruleId}: and the artifact URI (GitHub needs a physical location)`);
    t.equal(loc.base, URI_BASE_ID);
    for (const rel of r.relatedLocations ?? []) t.not(rel.logicalLocations?.[0]?.fullyQualifiedName?.toLowerCase(), f.resourceId.toLowerCase(), 'related locations are other resources');

    t.same(r.properties?.['azCli'], f.remediation.azCli, `${r.ruleId}: az commands kept`);
    t.equal(r.properties?.['confidence'], f.confidence);
    t.equal(r.properties?.['rankReason'], f.rankReason);
    t.notOk(r.fixes, 'no SARIF fixes: they would have to be file edits');
  }

  const evidenceIds = report.findings.flatMap((f) => [...f.evidence.map((e) => e.resourceId), ...(f.symptoms ?? []).map((s) => s.resourceId)].filter((id): id is string => !!id && id.toLowerCase() !== f.resourceId.toLowerCase()));
  const relatedIds = results.flatMap((r) => (r.relatedLocations ?? []).map((l) => l.logicalLocations?.[0]?.fullyQualifiedName?.toLowerCase()));
  for (const id of evidenceIds) t.ok(relatedIds.includes(id.toLowerCase()), `evidence resource ${id} is a related location`);

  t.equal(run.properties?.['verdict']?.status, report.verdict.status);
  t.equal(run.properties?.['verdict']?.summary, report.verdict.summary);
  t.equal(run.properties?.['workspace']?.id, report.workspace.id);
});

t.test('fingerprints are stable across renders and re-runs, and tell findings apart', async (t) => {
  const report = await scenarioReport(t, 'zone-not-linked-hub-spoke');
  const first = resultsOf(renderSarif(report)).map(fingerprint);
  const again = resultsOf(renderSarif(structuredClone(report))).map(fingerprint);
  t.same(again, first, 'same fingerprints on a second render');
  t.ok(first.every((f) => typeof f === 'string' && /^[0-9a-f]{64}$/.test(f)), 'sha256 hex');
  t.equal(new Set(first).size, first.length, 'each finding has its own fingerprint');
  const top = report.findings[0];
  if (!top) throw new Error('the scenario should have a finding');
  t.equal(first[0], fingerprintOf(top.code, top.resourceId));

  const rerun = await scenarioReport(t, 'zone-not-linked-hub-spoke');
  t.same(resultsOf(renderSarif(rerun)).map(fingerprint), first, 'a fresh diagnosis of the same estate matches');

  // ARM ids are case-insensitive and ARM is not consistent about casing: neither may the match be.
  const upper = withFinding(report, 0, (f) => ({ ...f, resourceId: f.resourceId.toUpperCase(), explanation: `${f.explanation} (reworded)` }));
  const upperResult = resultsOf(renderSarif(upper))[0];
  t.equal(upperResult && fingerprint(upperResult), first[0], 'resource id casing and wording do not change the fingerprint');
  t.equal(blamed(upperResult?.locations?.[0]).uri, blamed(resultsOf(renderSarif(report))[0]?.locations?.[0]).uri, 'nor the artifact URI');
  const moved = withFinding(report, 0, (f) => ({ ...f, resourceId: `${f.resourceId}-other` }));
  const movedResult = resultsOf(renderSarif(moved))[0];
  t.not(movedResult && fingerprint(movedResult), first[0], 'another resource is another alert');
});

t.test('healthy hub-spoke: zero results, still a valid log', async (t) => {
  const report = await scenarioReport(t, 'healthy-hub-spoke');
  t.equal(report.findings.length, 0, 'the scenario is healthy');
  const log = renderSarif(report);
  assertValid(t, log, 'healthy-hub-spoke');
  const run = runOf(log);
  t.same(run.results, [], 'results present and empty: a scan that found nothing');
  t.same(run.tool.driver.rules, []);
  t.equal(run.invocations?.[0]?.executionSuccessful, true);
  t.equal(run.properties?.['verdict']?.status, report.verdict.status);
});

t.test('hub subscription forbidden: what could not be checked becomes tool notifications', async (t) => {
  const report = await scenarioReport(t, 'hub-subscription-forbidden');
  const log = renderSarif(report);
  assertValid(t, log, 'hub-subscription-forbidden');
  const undetermined = report.coverage.filter((c) => c.status === 'undetermined');
  t.ok(undetermined.length > 0, 'the scenario leaves reads undetermined');
  const invocation = runOf(log).invocations?.[0];
  t.equal(invocation?.executionSuccessful, true, 'the tool ran; the gaps are notifications');
  const notes = invocation?.toolExecutionNotifications ?? [];
  t.equal(notes.length, undetermined.length, 'one notification per undetermined coverage item');
  for (const [i, c] of undetermined.entries()) {
    const n = notes[i];
    t.equal(n?.level, 'warning');
    t.ok(n?.message.text?.includes(c.item), `names the item: ${c.item}`);
    if (c.reason) t.ok(n?.message.text?.includes(c.reason), 'and the reason');
    if (c.resourceId) t.equal(n?.locations?.[0]?.logicalLocations?.[0]?.fullyQualifiedName, c.resourceId, 'located at the resource');
    else t.notOk(n?.locations, 'no location when the item has no resource');
    if (c.statusCode !== undefined) t.equal(n?.properties?.['statusCode'], c.statusCode);
  }
  t.ok(notes.some((n) => n.locations?.length), 'at least one notification points at a resource');
  t.equal(runOf(log).properties?.['verdict']?.status, report.verdict.status);
});

t.test('a broken log is caught: deleting version, a bad location, a non-URI', async (t) => {
  const report = await scenarioReport(t, 'zone-not-linked-hub-spoke');
  const log = renderSarif(report) as unknown as Record<string, unknown>;
  assertValid(t, log, 'as rendered');

  const noVersion = structuredClone(log);
  delete noVersion['version'];
  t.notOk(validate(noVersion), 'without version the validator fails');
  t.match(ajv.errorsText(validate.errors), /version/);

  const badUri = structuredClone(log) as unknown as Log;
  const loc = resultsOf(badUri)[0]?.locations?.[0]?.physicalLocation?.artifactLocation;
  if (!loc) throw new Error('no location');
  loc.uri = 'not a uri reference';
  t.notOk(validate(badUri), 'an artifact URI with spaces fails the uri-reference format');

  const badRank = structuredClone(log) as unknown as Log;
  const r0 = resultsOf(badRank)[0];
  if (!r0) throw new Error('no result');
  r0.rank = 101;
  t.notOk(validate(badRank), 'a rank above 100 fails');
});

t.test('rules this version does not know (an older saved report) still render validly', async (t) => {
  const report = await scenarioReport(t, 'zone-not-linked-hub-spoke');
  const renamed = withFinding(report, 0, (f) => ({ ...f, code: 'RETIRED_RULE_CODE', title: 'A retired rule' }));
  const log = renderSarif(renamed);
  assertValid(t, log, 'unknown code');
  const r = resultsOf(log)[0];
  const d = rulesOf(log)[r?.ruleIndex ?? -1];
  t.equal(d?.id, 'RETIRED_RULE_CODE');
  t.equal(d?.shortDescription?.text, 'A retired rule');
  t.match(d?.help?.text, /docs\/rules\/RETIRED_RULE_CODE\.md/, 'help still points at the docs page');
});

t.test('mappings', async (t) => {
  t.equal(pascalCase('PRIVATE_DNS_ZONE_NOT_LINKED'), 'PrivateDnsZoneNotLinked');
  t.equal(pascalCase('NSG_BLOCKS_ENTRA_ID'), 'NsgBlocksEntraId');
  t.same([1, 2, 3, 100, 101, 500].map(sarifRank), [100, 99, 98, 1, 0, 0], 'rank 1 -> 100, one less per rank, floor 0');
  t.same([levelOf(1), levelOf(2), levelOf(3)], ['error', 'error', 'warning']);
  t.equal(
    artifactUriOf('/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/RG-Hub/providers/Microsoft.Network/privateDnsZones/privatelink.api.azureml.ms/'),
    'subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-hub/providers/microsoft.network/privatednszones/privatelink.api.azureml.ms',
  );
  t.equal(artifactUriOf('/subscriptions/x/resourceGroups/rg/providers/P.N/t/a b#c'), 'subscriptions/x/resourcegroups/rg/providers/p.n/t/a%20b%23c', 'odd characters are encoded');
});
