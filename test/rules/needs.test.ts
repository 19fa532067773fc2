/**
 * Meta-test: every rule's `meta.needs` is complete. For each bundled scenario, a full snapshot is
 * collected once (real SDK clients against the simulated ARM and DNS server); each rule must give
 * the same results on it as on a copy holding only the keys in the closure of its needs, which is
 * what `recheck` collects. A rule that reads a key it does not declare would be rechecked on
 * missing evidence, and could call a finding fixed that is not.
 */
import t from 'tap';
import { collect } from '../../src/collect.ts';
import { targetOf } from '../../src/diagnose.ts';
import { analyzeFlows } from '../../src/flows/analyze.ts';
import { CLOUDS } from '../../src/model/cloud.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { needsFlows, probeClosure } from '../../src/recheck.ts';
import { rules } from '../../src/rules/index.ts';
import type { Rule, RuleResult } from '../../src/rules/rule.ts';
import { listScenarios } from '../../src/sim/scenario-files.ts';
import { startScenario } from '../helpers/reports.ts';

/** The snapshot holding only the rule's needs (and what those probes need), plus target and collectedAt. */
function restrictTo(snapshot: Snapshot, rule: Rule): Snapshot {
  const kept: Snapshot = { target: snapshot.target, collectedAt: snapshot.collectedAt };
  for (const id of probeClosure(rule.meta.needs)) Object.assign(kept, { [id]: snapshot[id] });
  return kept;
}

function check(rule: Rule, snapshot: Snapshot, withFlows: boolean): RuleResult[] | string {
  try {
    // Without a context, a rule that reads the flow analysis computes it from what it was given.
    return withFlows ? rule.check(snapshot, { flows: analyzeFlows(snapshot) }) : rule.check(snapshot);
  } catch (err) {
    return `threw: ${err instanceof Error ? err.message : String(err)}`;
  }
}

const declared = rules.filter((r) => Array.isArray(r.meta.needs));

t.test('every rule declares meta.needs', async (t) => {
  for (const rule of rules) {
    t.ok(Array.isArray(rule.meta.needs), `${rule.meta.code} declares meta.needs (the probes its check reads; FLOW_NEEDS if it uses the flow analysis)`);
  }
});

for (const name of await listScenarios()) {
  t.test(name, async (t) => {
    const run = await startScenario(t, name);
    const snapshot = await collect(targetOf(run.req, run.deps), {
      cloud: CLOUDS[run.deps.cloud],
      azure: run.deps.azure,
      dns: run.deps.dns,
      log: run.deps.log,
      signal: AbortSignal.timeout(120_000),
    });
    const full = { flows: analyzeFlows(snapshot) };
    for (const rule of declared) {
      const expected = rule.check(snapshot, full);
      const actual = check(rule, restrictTo(snapshot, rule), needsFlows(rule));
      t.strictSame(actual, expected, `${rule.meta.code} gives the same results with only its needs (${rule.meta.needs.join(', ') || 'none'})`);
    }
  });
}
