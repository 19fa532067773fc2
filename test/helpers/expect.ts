/** Checks a report against a scenario's expected codes; shared by the CLI and API end-to-end suites. */
import type { Test } from 'tap';
import type { Report } from '../../src/report/schema.ts';
import type { Scenario } from '../../src/sim/scenario.ts';

/** Every code in the report: findings and the symptoms folded into them. */
export function allCodes(report: Report): string[] {
  return report.findings.flatMap((f) => [f.code, ...(f.symptoms ?? []).map((s) => s.code)]);
}

/** The top finding has these codes folded into it, and none of them is a finding of its own. */
export function checkSymptoms(t: Test, report: Report, symptoms: readonly string[]): void {
  const top = report.findings[0];
  const folded = (top?.symptoms ?? []).map((s) => s.code);
  for (const c of symptoms) {
    t.ok(folded.includes(c), `${c} is folded into the top finding (folded: ${folded.join(', ') || 'none'})`);
    t.notOk(report.findings.some((f) => f.code === c), `${c} is not a finding of its own`);
  }
}

export function checkCodes(t: Test, scenario: Scenario, report: Report): void {
  const codes = allCodes(report);
  for (const c of scenario.expect.alsoFinds ?? []) t.ok(codes.includes(c), `also finds ${c}`);
  for (const c of scenario.expect.absentCodes ?? []) t.notOk(codes.includes(c), `does not report ${c}`);
}

/** Every code a scenario expects anywhere in its report. */
export function allCodesExpected(scenario: Scenario): Set<string> {
  const e = scenario.expect;
  return new Set([...(e.topFinding ? [e.topFinding.code, ...(e.topFinding.symptoms ?? [])] : []), ...(e.alsoFinds ?? [])]);
}
