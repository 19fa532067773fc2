/**
 * Every bundled scenario, end to end through the CLI: real SDK clients in a child process against
 * the simulated ARM, real DNS queries against the simulated DNS server. The scenarios are split
 * into shards (test/e2e/scenarios-cli-<k>.test.ts) so the runner spreads them over its jobs.
 */
import t from 'tap';
import { idKey } from '../../src/model/arm-id.ts';
import { listScenarios, loadScenario } from '../../src/sim/scenario-files.ts';
import { diagnoseArgs, runCli, startEstate } from './estate.ts';
import { checkCodes, checkSymptoms } from './expect.ts';
import { checkFlows } from './flow-intent.ts';

export const SHARDS = 4;

/** Runs the scenarios whose position in the sorted list is `shard` modulo SHARDS. */
export async function runScenarioShard(shard: number): Promise<void> {
  const all = await listScenarios();
  t.ok(all.length >= 12, 'at least 12 scenarios are bundled');
  const names = all.filter((_, i) => i % SHARDS === shard);
  t.ok(names.length > 0, `shard ${shard + 1} of ${SHARDS} has scenarios`);

  for (const name of names) {
    t.test(name, async (t) => {
      const scenario = await loadScenario(name);
      const estate = await startEstate(t, scenario);
      const run = await runCli(diagnoseArgs(scenario, estate), estate);
      const report = run.report;
      if (!report) return t.fail(`no JSON report on stdout (exit ${run.code}): ${run.stderr.slice(0, 2000)}`);
      t.equal(run.code, scenario.expect.exitCode, `exit code (stderr: ${run.stderr.slice(0, 500)})`);
      t.equal(report.verdict.status, scenario.expect.verdict, `verdict: ${report.verdict.summary}`);
      const top = report.findings[0];
      if (scenario.expect.topFinding) {
        t.equal(top?.code, scenario.expect.topFinding.code, 'top finding code');
        t.equal(idKey(top?.resourceId ?? ''), idKey(scenario.expect.topFinding.resourceId), 'top finding blames the resource');
        checkSymptoms(t, report, scenario.expect.topFinding.symptoms ?? []);
      } else {
        t.notOk(report.findings.some((f) => f.tier <= 2), `no tier 1-2 finding, got ${report.findings.map((f) => f.code).join(', ')}`);
      }
      checkCodes(t, scenario, report);
      checkFlows(t, scenario, report);
      t.notMatch(run.stdout + run.stderr, /sim-token-not-a-secret/, 'the access token never reaches output');
      t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
    });
  }
}
