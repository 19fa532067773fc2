/**
 * Acceptance for `aml-netdoctor recheck`, through the real CLI against simulated estates: diagnose a
 * broken estate to a JSON report, fix the estate, recheck the report.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { idKey, nameOf } from '../../src/model/arm-id.ts';
import type { RecheckResult, Report } from '../../src/report/schema.ts';
import { diagnose } from '../../src/diagnose.ts';
import { exitCodeOf } from '../../src/report/build.ts';
import { renderReport } from '../../src/report/render.ts';
import { loadScenario } from '../../src/sim/scenario-files.ts';
import type { Scenario } from '../../src/sim/scenario.ts';
import { diagnoseArgs, runCli, startEstate, type Estate } from '../helpers/estate.ts';
import { startScenario } from '../helpers/reports.ts';
import { linkZonesToEveryVnet } from '../helpers/fixes.ts';

function recheckArgs(file: string, scenario: Scenario, estate: Estate): string[] {
  const args = ['recheck', file, '--dns-server', estate.dns.address, '--dns-timeout', '400', '--format', 'json'];
  if (scenario.target.cloud) args.push('--cloud', scenario.target.cloud);
  return args;
}

function parseResult(stdout: string): RecheckResult | undefined {
  try {
    return JSON.parse(stdout) as RecheckResult;
  } catch {
    return undefined;
  }
}

const broken = await loadScenario('zone-not-linked-hub-spoke');
const fixed = linkZonesToEveryVnet(broken);
const dir = await mkdtemp(join(tmpdir(), 'netdoctor-recheck-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const reportFile = join(dir, 'report.json');

// The diagnosis the recheck tests start from, on its own estate so its request log is its own.
const diagnosed = await startEstate(t, broken);
const diagnosis = await runCli([...diagnoseArgs(broken, diagnosed), '--output', reportFile], diagnosed);
const diagnosisRequests = diagnosed.arm.requests.length;
const report = JSON.parse(await readFile(reportFile, 'utf8')) as Report;
const reported = report.findings.flatMap((f) => [f, ...(f.symptoms ?? [])]);

t.test('the diagnosis of the broken estate has the DNS findings recheck starts from', async (t) => {
  t.equal(diagnosis.code, 1, diagnosis.stderr);
  t.equal(report.findings[0]?.code, 'PRIVATE_DNS_ZONE_NOT_LINKED');
  t.ok(report.findings.some((f) => f.symptoms?.length), 'a finding has folded symptoms');
});

t.test('the fixed estate really is fixed: a diagnosis of it finds no blocking cause', async (t) => {
  const run = await startScenario(t, fixed);
  const again = await diagnose(run.req, run.deps, AbortSignal.timeout(60_000));
  t.equal(exitCodeOf(again), 0, `no blocking finding left (found: ${again.findings.map((f) => f.code).join(', ') || 'none'})`);
});

t.test('after the fix: every finding and folded symptom is fixed, exit 0', async (t) => {
  const estate = await startEstate(t, fixed);
  const run = await runCli(recheckArgs(reportFile, fixed, estate), estate);
  const result = parseResult(run.stdout);
  if (!result) return t.fail(`no JSON result (exit ${run.code}): ${run.stderr}`);
  t.equal(run.code, 0, run.stderr);
  for (const f of reported) {
    const line = result.findings.find((x) => x.code === f.code && idKey(x.resourceId) === idKey(f.resourceId));
    t.equal(line?.status, 'fixed', `${f.code} on ${nameOf(f.resourceId)}: ${line?.detail}`);
  }
  t.ok(result.findings.length >= report.findings.length, 'every reported finding is listed');
  t.same(result.newFindings, [], 'the fix moved nothing');
  t.equal(result.workspace.id, report.workspace.id);
  t.equal(result.previousGeneratedAt, report.generatedAt);
  t.match(result.summary, /fixed/);
  t.notMatch(result.summary, /still failing|undetermined/);

});

t.test('against the unchanged broken estate: still failing, exit 1, and only the needed probes ran', async (t) => {
  const estate = await startEstate(t, broken);
  const run = await runCli(recheckArgs(reportFile, broken, estate), estate);
  const result = parseResult(run.stdout);
  if (!result) return t.fail(`no JSON result (exit ${run.code}): ${run.stderr}`);
  t.equal(run.code, 1, run.stderr);
  const top = report.findings[0];
  const line = result.findings.find((x) => x.code === top?.code && idKey(x.resourceId) === idKey(top?.resourceId ?? ''));
  t.equal(line?.status, 'still-failing');
  t.match(line?.detail ?? '', /link/i, 'the detail is the rule explanation');
  t.ok(result.findings.every((f) => f.status === 'still-failing'), 'nothing reported fixed');
  t.same(result.newFindings, [], 'nothing new');
  t.match(result.summary, /still failing \(PRIVATE_DNS_ZONE_NOT_LINKED on privatelink\.api\.azureml\.ms/);

  const rechecked = estate.arm.requests;
  t.ok(rechecked.length > 0 && rechecked.length < diagnosisRequests, `recheck made fewer ARM requests (${rechecked.length}) than the diagnosis (${diagnosisRequests})`);
  const reads = (log: typeof rechecked, re: RegExp) => log.filter((r) => re.test(r.path)).length;
  t.ok(reads(diagnosed.arm.requests, /networkSecurityGroups|serviceTags/i) > 0, 'the diagnosis read NSGs and service tags');
  t.equal(reads(rechecked, /networkSecurityGroups|serviceTags|azureFirewalls|firewallPolicies|effective/i), 0, 'the DNS recheck read no NSG, service tag, firewall or effective route');
  t.notOk(result.probes.includes('firewalls') || result.probes.includes('vantage'), `probes run again: ${result.probes.join(', ')}`);
});

t.test('the zone reads forbidden (403) on the fixed estate: the zone findings are undetermined, never fixed, exit 3', async (t) => {
  const estate = await startEstate(t, fixed, [{ path: 'Microsoft\\.Network/privateDnsZones', status: 403 }]);
  const run = await runCli(recheckArgs(reportFile, fixed, estate), estate);
  const result = parseResult(run.stdout);
  if (!result) return t.fail(`no JSON result (exit ${run.code}): ${run.stderr}`);
  t.equal(run.code, 3, `${result.summary} ${run.stderr}`);
  const links = result.findings.filter((f) => f.code === 'PRIVATE_DNS_ZONE_NOT_LINKED');
  t.equal(links.length, report.findings.filter((f) => f.code === 'PRIVATE_DNS_ZONE_NOT_LINKED').length, 'every zone-link finding is listed');
  for (const f of links) {
    t.equal(f.status, 'undetermined', `${f.code} on ${nameOf(f.resourceId)} is not called fixed: the links could not be read`);
    t.match(f.detail, /403|AuthorizationFailed/, 'the detail says the read was forbidden');
  }
  t.notOk(result.findings.some((f) => f.status === 'still-failing'), 'nothing is called still failing either');
  t.match(result.summary, /undetermined \(PRIVATE_DNS_ZONE_NOT_LINKED on privatelink\./);
});

t.test('a bad report file (missing, markdown or SARIF output, a field wrong): exit 2 with a message naming the file, no stack trace', async (t) => {
  const bad = join(dir, 'bad-code.json');
  const broke = structuredClone(report) as unknown as { findings: Array<{ code: unknown }> };
  (broke.findings[0] as { code: unknown }).code = 42;
  await writeFile(bad, JSON.stringify(broke));
  const markdown = join(dir, 'report.md');
  await writeFile(markdown, renderReport(report, 'markdown'));
  const sarif = join(dir, 'report.sarif');
  await writeFile(sarif, renderReport(report, 'sarif'));
  const cases = [
    { file: join(dir, 'missing.json'), message: /missing\.json: cannot read the report \(no such file\)/ },
    { file: markdown, message: /report\.md: not JSON .*this is not a JSON report from 'aml-netdoctor diagnose --format json'/ },
    { file: sarif, message: /report\.sarif: it is a SARIF log.*this is not a JSON report/ },
    { file: bad, message: /bad-code\.json: \/findings\/0\/code: expected string/ },
  ];
  // The CLI stops before signing in, so these can run side by side.
  const runs = await Promise.all(cases.map((c) => runCli(recheckArgs(c.file, broken, diagnosed), diagnosed)));
  for (const [i, c] of cases.entries()) {
    const run = runs[i] as (typeof runs)[number];
    t.equal(run.code, 2, `${c.file}: exit 2`);
    t.match(run.stderr, c.message);
    t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
    t.equal(run.stdout, '', 'nothing on stdout');
  }
});
