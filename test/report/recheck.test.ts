import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { probeClosure, readReportFile, recheckPlan, ReportFileError, ruleOutcomes } from '../../src/recheck.ts';
import { compareWithPrevious, recheckExitCode, renderRecheckText, type RuleOutcome } from '../../src/report/recheck.ts';
import type { Finding, Report, Symptom, Tier } from '../../src/report/schema.ts';
import type { Rule, RuleMeta, RuleResult } from '../../src/rules/rule.ts';
import { forbidden } from '../helpers/results.ts';
import { healthySnapshot, WS_ID } from '../helpers/snapshot.ts';

const NSG = '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-x';
const ZONE = '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/privatelink.api.azureml.ms';
const REMEDIATION = { summary: 'fix it', azCli: ['az fix'], bicep: '// fix', verify: 'run it, then run aml-netdoctor recheck <report.json>' };

function meta(code: string, tier: Tier = 1): RuleMeta {
  return { code, tier, severity: 'critical', title: `${code} title`, role: 'cause', flows: [], description: '', impact: '', resolution: '', verification: '', needs: ['networks'], references: [] };
}

function finding(code: string, resourceId: string, rank: number, tier: Tier = 1, symptoms?: Symptom[]): Finding {
  return {
    code, tier, severity: 'critical', confidence: 'medium', title: `${code} title`, resourceId, explanation: `${code} explained`, evidence: [], remediation: REMEDIATION,
    docs: `docs/rules/${code}.md`, rank, rankReason: `tier ${tier}`, ...(symptoms ? { symptoms } : {}),
  };
}

const symptom = (code: string, resourceId: string): Symptom => ({ code, title: `${code} title`, resourceId, confidence: 'high', explanation: `${code} observed`, evidence: [] });

function report(findings: Finding[], filters?: Report['filters']): Report {
  return {
    workspace: { id: WS_ID, name: 'ws-demo' },
    generatedAt: '2025-01-01T10:00:00.000Z',
    tool: { name: 'aml-netdoctor', version: '0.0.0' },
    scope: { subscriptions: [] },
    ...(filters ? { filters } : {}),
    verdict: { status: findings.length ? 'cause-found' : 'no-cause-found', summary: '', chain: [], assumptions: [], nextSteps: [] },
    findings,
    flows: [],
    coverage: [],
  };
}

const outcome = (code: string, results: RuleResult[], tier: Tier = 1): RuleOutcome => ({ rule: { meta: meta(code, tier), check: () => results }, results });
const fail = (resourceId: string, explanation = 'still broken'): RuleResult => ({ status: 'fail', finding: { resourceId, confidence: 'medium', explanation, evidence: [], remediation: REMEDIATION } });
const pass = (resourceId: string, detail = 'fine now'): RuleResult => ({ status: 'pass', resourceId, detail });
const unsure = (reason: string, resourceId?: string): RuleResult => ({ status: 'undetermined', item: 'zone links', reason, ...(resourceId ? { resourceId } : {}) });

const run = (outcomes: RuleOutcome[], ranked: Finding[] = []) => ({ outcomes, ranked, probes: ['workspace', 'networks'], generatedAt: '2025-01-02T10:00:00.000Z' });

t.test('fixed: the rule passes for the blamed resource; the detail is its pass detail', async (t) => {
  const result = compareWithPrevious(report([finding('NSG_BLOCKS_ENTRA_ID', NSG, 1)]), run([outcome('NSG_BLOCKS_ENTRA_ID', [pass(NSG, 'AzureActiveDirectory 443 is allowed by AllowAAD (priority 200)')])]));
  t.same(result.findings.map((f) => [f.code, f.status, f.detail]), [['NSG_BLOCKS_ENTRA_ID', 'fixed', 'AzureActiveDirectory 443 is allowed by AllowAAD (priority 200)']]);
  t.equal(result.previousGeneratedAt, '2025-01-01T10:00:00.000Z');
  t.equal(result.generatedAt, '2025-01-02T10:00:00.000Z');
  t.same(result.probes, ['workspace', 'networks']);
  t.equal(result.summary, '1 finding: 1 fixed; no new finding.');
  t.equal(recheckExitCode(result), 0);
});

t.test('fixed without a pass result for the resource (it is gone): a generic detail', async (t) => {
  const result = compareWithPrevious(report([finding('NSG_BLOCKS_ENTRA_ID', NSG, 1)]), run([outcome('NSG_BLOCKS_ENTRA_ID', [])]));
  t.equal(result.findings[0]?.status, 'fixed');
  t.equal(result.findings[0]?.detail, 'NSG_BLOCKS_ENTRA_ID no longer fails for nsg-x');
});

t.test('still failing: the rule fails again for the same resource (ids compared case-insensitively)', async (t) => {
  const result = compareWithPrevious(
    report([finding('NSG_BLOCKS_ENTRA_ID', NSG, 1), finding('COMPUTE_SSO_DISABLED', `${WS_ID}/computes/ci-a`, 2, 3)]),
    run([outcome('NSG_BLOCKS_ENTRA_ID', [fail(NSG.toUpperCase(), 'Deny-AAD (priority 300) still denies 443'), unsure('something else')]), outcome('COMPUTE_SSO_DISABLED', [pass(`${WS_ID}/computes/ci-a`)], 3)]),
  );
  t.same(result.findings.map((f) => [f.code, f.status]), [['NSG_BLOCKS_ENTRA_ID', 'still-failing'], ['COMPUTE_SSO_DISABLED', 'fixed']]);
  t.equal(result.findings[0]?.detail, 'Deny-AAD (priority 300) still denies 443', 'a failure wins over an undetermined result');
  t.equal(result.summary, '2 findings: 1 fixed, 1 still failing (NSG_BLOCKS_ENTRA_ID on nsg-x); no new finding.');
  t.equal(recheckExitCode(result), 1);
});

t.test('a tier 3 finding still failing does not fail the run', async (t) => {
  const id = `${WS_ID}/computes/ci-a`;
  const result = compareWithPrevious(report([finding('COMPUTE_SSO_DISABLED', id, 1, 3)]), run([outcome('COMPUTE_SSO_DISABLED', [fail(id)], 3)]));
  t.equal(result.findings[0]?.status, 'still-failing');
  t.equal(recheckExitCode(result), 0);
});

t.test('undetermined: not failing but evidence missing is never fixed; the detail is the reason', async (t) => {
  const result = compareWithPrevious(
    report([finding('PRIVATE_DNS_ZONE_NOT_LINKED', ZONE, 1)]),
    run([outcome('PRIVATE_DNS_ZONE_NOT_LINKED', [unsure('403 on another zone'), unsure('403 AuthorizationFailed reading links', ZONE), pass(ZONE)])]),
  );
  t.equal(result.findings[0]?.status, 'undetermined');
  t.equal(result.findings[0]?.detail, 'zone links: 403 AuthorizationFailed reading links', 'the reason about the blamed resource is preferred');
  t.match(result.summary, /0 fixed, 1 undetermined \(PRIVATE_DNS_ZONE_NOT_LINKED on privatelink\.api\.azureml\.ms\)/);
  t.equal(recheckExitCode(result), 3);
});

t.test('a code this version has no rule for is undetermined', async (t) => {
  const result = compareWithPrevious(report([finding('RETIRED_CODE', NSG, 1)]), run([]));
  t.equal(result.findings[0]?.status, 'undetermined');
  t.match(result.findings[0]?.detail, /no rule RETIRED_CODE/);
});

t.test('new findings: failures matching nothing in the report, re-ranked, within the report --min-tier', async (t) => {
  const previous = report([finding('NSG_BLOCKS_ENTRA_ID', NSG, 1)], { minTier: 2, exclude: [] });
  const other = NSG.replace('nsg-x', 'nsg-y');
  const ranked = [finding('NSG_BLOCKS_ENTRA_ID', NSG, 1), finding('NSG_BLOCKS_ENTRA_ID', other, 2), finding('COMPUTE_SSO_DISABLED', `${WS_ID}/computes/ci-a`, 3, 3)];
  const result = compareWithPrevious(previous, run([outcome('NSG_BLOCKS_ENTRA_ID', [fail(NSG), fail(other)])], ranked));
  t.same(result.newFindings.map((f) => [f.code, f.resourceId, f.rank]), [['NSG_BLOCKS_ENTRA_ID', other, 1]], 'the tier 3 one is outside --min-tier 2');
  t.match(result.summary, /; 1 new finding \(NSG_BLOCKS_ENTRA_ID on nsg-y\)\.$/);
  t.equal(recheckExitCode(result), 1);

  const fixedButMoved = compareWithPrevious(previous, run([outcome('NSG_BLOCKS_ENTRA_ID', [pass(NSG), fail(other)])], [finding('NSG_BLOCKS_ENTRA_ID', other, 1)]));
  t.equal(fixedButMoved.findings[0]?.status, 'fixed');
  t.equal(recheckExitCode(fixedButMoved), 1, 'a new blocking finding fails the run although every old one is fixed');
  t.match(renderRecheckText(fixedButMoved), /New findings[^\n]*\n  #1 tier 1 NSG_BLOCKS_ENTRA_ID on nsg-y/);
});

t.test('folded symptoms are rechecked too, with the rank of their root, once per code and resource', async (t) => {
  const previous = report([
    finding('PRIVATE_DNS_ZONE_NOT_LINKED', ZONE, 1, 1, [symptom('DNS_RESOLVES_PUBLIC_ADDRESS', WS_ID), symptom('DNS_RESOLVES_PUBLIC_ADDRESS', WS_ID)]),
    finding('COMPUTE_SSO_DISABLED', `${WS_ID}/computes/ci-a`, 2, 3),
  ]);
  const result = compareWithPrevious(
    previous,
    run(
      [outcome('PRIVATE_DNS_ZONE_NOT_LINKED', [pass(ZONE)]), outcome('DNS_RESOLVES_PUBLIC_ADDRESS', [fail(WS_ID, 'still resolves to 20.1.2.3')], 1), outcome('COMPUTE_SSO_DISABLED', [], 3)],
      [finding('DNS_RESOLVES_PUBLIC_ADDRESS', WS_ID, 1)],
    ),
  );
  t.same(
    result.findings.map((f) => [f.code, f.previousRank, f.status]),
    [['PRIVATE_DNS_ZONE_NOT_LINKED', 1, 'fixed'], ['DNS_RESOLVES_PUBLIC_ADDRESS', 1, 'still-failing'], ['COMPUTE_SSO_DISABLED', 2, 'fixed']],
  );
  t.same(result.newFindings, [], 'a symptom that now stands alone is not new');
  t.equal(result.summary, '3 findings (2 reported, 1 folded symptom rechecked too): 2 fixed, 1 still failing (DNS_RESOLVES_PUBLIC_ADDRESS on ws-demo); no new finding.');
  t.equal(recheckExitCode(result), 1, 'a tier 1 symptom still failing is still blocking');
  const text = renderRecheckText(result);
  t.match(text, /STILL FAILING\s+1\s+↳ DNS_RESOLVES_PUBLIC_ADDRESS on ws-demo \(folded symptom\)\n\s+still resolves to 20\.1\.2\.3/);
  t.match(text, /fixed\s+#1\s+1\s+PRIVATE_DNS_ZONE_NOT_LINKED on privatelink\.api\.azureml\.ms/);
});

t.test('a report without findings: nothing to recheck, exit 0', async (t) => {
  const result = compareWithPrevious(report([]), { ...run([]), probes: [] });
  t.equal(result.summary, 'The report had no findings; no new finding.');
  t.match(renderRecheckText(result), /probes run again: none/);
  t.equal(recheckExitCode(result), 0);
});

t.test('the plan: only the probes the findings need, closed over what those probes need', async (t) => {
  t.same(probeClosure(['dns']), ['workspace', 'computes', 'privateEndpoints', 'dependencies', 'dns']);
  t.same(probeClosure(['computes']), ['workspace', 'computes']);
  const plan = recheckPlan(report([finding('COMPUTE_SSO_DISABLED', `${WS_ID}/computes/ci-a`, 1, 3, [symptom('RETIRED_CODE', NSG)])]));
  t.same(plan.codes, ['COMPUTE_SSO_DISABLED', 'RETIRED_CODE']);
  t.same(plan.rules.map((r) => r.meta.code), ['COMPUTE_SSO_DISABLED']);
  t.same(plan.probes, probeClosure(plan.rules.flatMap((r) => r.meta.needs)));
  t.notOk(plan.probes.includes('firewalls'), 'no firewall read for a compute setting');
});

t.test('a needed probe that came back not ok makes its rules undetermined', async (t) => {
  const s = healthySnapshot();
  s.networks = forbidden('/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet-spoke');
  const rule: Rule = { meta: meta('NEEDS_NETWORKS'), check: () => [pass(NSG)] };
  const other: Rule = { meta: { ...meta('NEEDS_COMPUTES'), needs: ['computes'] }, check: () => [pass(NSG)] };
  const [a, b] = ruleOutcomes(s, [rule, other]);
  t.same(a?.results.map((r) => r.status), ['pass', 'undetermined']);
  t.match(a?.results[1], { item: 'probe networks', reason: /could not be read again: 403 AuthorizationFailed/ });
  t.same(b?.results.map((r) => r.status), ['pass'], 'a rule that does not need it is unaffected');
  const result = compareWithPrevious(report([finding('NEEDS_NETWORKS', NSG, 1)]), run(a ? [a] : []));
  t.equal(result.findings[0]?.status, 'undetermined');
});

t.test('readReportFile: a clear message naming the file for every kind of wrong file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'netdoctor-report-file-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const good = report([finding('NSG_BLOCKS_ENTRA_ID', NSG, 1)]);
  const files: Record<string, string> = {
    'good.json': JSON.stringify(good),
    'code.json': JSON.stringify({ ...good, findings: [{ ...good.findings[0], code: 7 }] }),
    'missing-field.json': JSON.stringify({ ...good, scope: undefined }),
    'report.md': '# aml-netdoctor report\n',
    'report.sarif': JSON.stringify({ version: '2.1.0', runs: [] }),
    'recheck.json': JSON.stringify({ previousGeneratedAt: 'x', newFindings: [] }),
    'other.json': JSON.stringify({ hello: 'world' }),
    'workspace-id.json': JSON.stringify({ ...good, workspace: { ...good.workspace, id: '/subscriptions/x/resourceGroups/rg' } }),
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  t.same(await readReportFile(join(dir, 'good.json')), good);
  const cases: Array<[string, RegExp]> = [
    ['absent.json', /absent\.json: cannot read the report \(no such file\)$/],
    ['code.json', /code\.json: \/findings\/0\/code: expected string/],
    ['missing-field.json', /missing-field\.json: \/scope: missing/],
    ['report.md', /report\.md: not JSON \(.*\); this is not a JSON report from 'aml-netdoctor diagnose --format json'$/],
    ['report.sarif', /report\.sarif: it is a SARIF log/],
    ['recheck.json', /recheck\.json: it is the output of 'aml-netdoctor recheck'/],
    ['workspace-id.json', /workspace-id\.json: \/workspace\/id: .* is not an ARM resource id/],
    ['other.json', /other\.json: this is not a JSON report from 'aml-netdoctor diagnose --format json' \(\/workspace: missing\)/],
  ];
  for (const [name, message] of cases) await t.rejects(readReportFile(join(dir, name)), { constructor: ReportFileError, message }, name);
});
