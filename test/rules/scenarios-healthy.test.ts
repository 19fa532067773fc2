/**
 * Catalogue meta-test: every rule has a healthy bundled scenario, one where its code is not
 * expected and the rule, run on the scenario's real evidence (every probe against the simulated
 * ARM and DNS server), judges something and passes it: no failure, nothing undetermined, and at
 * least one pass that is not "does not apply".
 */
import t from 'tap';
import { collect } from '../../src/collect.ts';
import { CLOUDS } from '../../src/model/cloud.ts';
import { targetOf } from '../../src/diagnose.ts';
import { analyzeFlows } from '../../src/flows/analyze.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { rules } from '../../src/rules/index.ts';
import type { RuleResult } from '../../src/rules/rule.ts';
import { listScenarios, loadScenario } from '../../src/sim/scenario-files.ts';
import { allCodesExpected } from '../helpers/expect.ts';
import { startScenario } from '../helpers/reports.ts';

const NOT_APPLICABLE = /does not apply/i;

function judged(results: RuleResult[]): boolean {
  return results.length > 0 && results.every((r) => r.status === 'pass') && results.some((r) => r.status === 'pass' && !NOT_APPLICABLE.test(r.detail));
}

const healthyFor = new Map<string, string[]>();
for (const name of await listScenarios()) {
  const scenario = await loadScenario(name);
  if (scenario.expect.verdict === 'undetermined') continue;
  const expected = allCodesExpected(scenario);
  await t.test(name, async (t) => {
    const run = await startScenario(t, scenario);
    const target = targetOf(run.req, run.deps);
    const snapshot: Snapshot = await collect(target, { cloud: CLOUDS[run.deps.cloud], azure: run.deps.azure, dns: run.deps.dns, log: run.deps.log, signal: AbortSignal.timeout(60_000) });
    const context = { flows: analyzeFlows(snapshot) };
    for (const rule of rules) {
      if (expected.has(rule.meta.code)) continue;
      const results = rule.check(snapshot, context);
      t.notOk(results.some((r) => r.status === 'fail'), `${rule.meta.code} does not fail where the scenario does not expect it`);
      if (judged(results)) healthyFor.set(rule.meta.code, [...(healthyFor.get(rule.meta.code) ?? []), name]);
    }
  });
}

t.test('every rule passes, on real evidence, in at least one healthy scenario', async (t) => {
  for (const { meta } of rules) {
    const names = healthyFor.get(meta.code) ?? [];
    t.ok(names.length > 0, `${meta.code} judged healthy in ${names.slice(0, 3).join(', ') || 'no scenario'}`);
  }
});
