/**
 * The operator flags through the real CLI against a bundled scenario: --soft-fail, --min-tier,
 * --exclude, --format and --output, as a runbook or a CI job would use them.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Report } from '../../src/report/schema.ts';
import { loadScenario } from '../../src/sim/scenario-files.ts';
import { diagnoseArgs, runCli, startEstate } from '../helpers/estate.ts';

const scenario = await loadScenario('zone-not-linked-hub-spoke');
const estate = await startEstate(t, scenario);
const base = diagnoseArgs(scenario, estate);
const dir = await mkdtemp(join(tmpdir(), 'netdoctor-flags-'));

t.test('--soft-fail: exit 0 with blocking findings, the report unchanged', async (t) => {
  const hard = await runCli(base, estate);
  t.equal(hard.code, 1);
  const soft = await runCli([...base, '--soft-fail'], estate);
  t.equal(soft.code, 0, soft.stderr);
  t.equal(soft.report?.findings[0]?.code, hard.report?.findings[0]?.code);
});

t.test('--min-tier 1 keeps only what breaks sign-in; --exclude drops a rule', async (t) => {
  const r = await runCli([...base, '--min-tier', '1', '--exclude', 'COMPUTE_SSO_DISABLED'], estate);
  const report = r.report as Report;
  t.ok(report.findings.length > 0 && report.findings.every((f) => f.tier === 1), report.findings.map((f) => `${f.code}:${f.tier}`).join(', '));
  t.same(report.filters, { minTier: 1, exclude: ['COMPUTE_SSO_DISABLED'] });
  t.match(report.verdict.summary, /--min-tier 1/);
});

for (const [format, check] of [
  ['markdown', (s: string) => s.startsWith('# ')],
  ['sarif', (s: string) => (JSON.parse(s) as { version: string }).version === '2.1.0'],
  ['html', (s: string) => /^<!doctype html>/i.test(s)],
  ['json', (s: string) => (JSON.parse(s) as Report).findings.length > 0],
] as const) {
  t.test(`--format ${format} --output writes the file and nothing to stdout`, async (t) => {
    const file = join(dir, `report.${format}`);
    const r = await runCli([...base.filter((a, i) => a !== '--format' && base[i - 1] !== '--format'), '--format', format, '--output', file], estate);
    t.equal(r.code, 1, r.stderr);
    t.equal(r.stdout, '');
    const text = await readFile(file, 'utf8');
    t.ok(check(text), `${format} file looks right`);
    t.match(text, 'PRIVATE_DNS_ZONE_NOT_LINKED');
    t.notMatch(text, /sim-token-not-a-secret/, 'no token in the file');
  });
}

t.test('--output into a missing directory: exit 2, a clear message', async (t) => {
  const r = await runCli([...base, '--output', join(dir, 'no', 'such', 'dir', 'r.json')], estate);
  t.equal(r.code, 2);
  t.match(r.stderr, /--output: cannot write .*ENOENT/);
  t.notMatch(r.stderr, /\n\s+at /);
});
