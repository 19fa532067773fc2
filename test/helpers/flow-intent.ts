/**
 * Walks every flow of a report against the scenario's intent (`expect.flows`): listed flows are
 * blocked at the named hop (and reason) or undetermined; every other flow is allowed. Every flow
 * that is not allowed must show the hop that decided it, with the element or resource to blame.
 */
import type { Test } from 'tap';
import type { Scenario } from '../../src/sim/scenario.ts';
import type { Report } from '../../src/report/schema.ts';

export function checkFlows(t: Test, scenario: Scenario, report: Report): void {
  const intent = scenario.expect.flows ?? {};
  const managed = scenario.expect.flows === undefined && report.flows.length === 0;
  if (!managed) t.ok(report.flows.length > 0, 'the report traces flows');
  for (const flow of report.flows) {
    const where = `${flow.id} from ${flow.subnetId?.split('/').pop() ?? '?'}`;
    t.ok(flow.hops.length > 0, `${where}: has hops`);
    const blocked = intent.blocked?.find((b) => b.id === flow.id);
    const undetermined = intent.undetermined?.includes(flow.id);
    const expected = blocked ? 'blocked' : undetermined ? 'undetermined' : 'allowed';
    const decisive = flow.hops.find((h) => h.verdict === 'blocked') ?? flow.hops.find((h) => h.verdict === 'undetermined');
    t.equal(flow.verdict, expected, `${where}: ${flow.verdict}${decisive ? ` at ${decisive.kind} (${decisive.reason ?? ''}): ${decisive.detail}` : ''}`);
    if (flow.verdict === 'allowed') {
      t.ok(flow.hops.every((h) => h.verdict === 'allowed'), `${where}: allowed means every hop allowed`);
      continue;
    }
    t.ok(decisive, `${where}: names the hop that decided it`);
    if (flow.verdict === 'blocked' && decisive) {
      t.ok(decisive.resourceId || decisive.element, `${where}: the blocking hop names the element or resource`);
      t.ok(decisive.reason, `${where}: the blocking hop has a reason`);
    }
    if (blocked && decisive) {
      t.equal(decisive.kind, blocked.hop, `${where}: blocked at the ${blocked.hop} hop`);
      if (blocked.reason) t.equal(decisive.reason, blocked.reason, `${where}: reason ${blocked.reason}`);
    }
  }
  for (const b of intent.blocked ?? []) t.ok(report.flows.some((f) => f.id === b.id), `flow ${b.id} is in the report`);
}
