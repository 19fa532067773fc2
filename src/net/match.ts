/**
 * Three-valued matching shared by the NSG and firewall evaluators: a rule part matches (`yes`),
 * does not (`no`), or cannot be decided from the evidence (`maybe`, with the reason), which the
 * evaluators turn into an undetermined verdict, never into allowed.
 */
export type Match = { m: 'yes' } | { m: 'no' } | { m: 'maybe'; why: string };

export const YES: Match = { m: 'yes' };
export const NO: Match = { m: 'no' };
export const maybe = (why: string): Match => ({ m: 'maybe', why });

/** OR over alternatives: any yes → yes, else the first maybe, else no. */
export function anyOf(results: Match[]): Match {
  let first: Match = NO;
  for (const r of results) {
    if (r.m === 'yes') return YES;
    if (r.m === 'maybe' && first.m === 'no') first = r;
  }
  return first;
}

/** AND over conditions: any no → no, else the first maybe, else yes. */
export function allOf(results: Match[]): Match {
  if (results.some((r) => r.m === 'no')) return NO;
  return results.find((r) => r.m === 'maybe') ?? YES;
}
