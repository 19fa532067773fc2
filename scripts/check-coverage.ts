/**
 * Coverage thresholds for the whole suite (tap 21 itself only knows "100% or allow incomplete").
 * Reads tap's json-summary report and fails when a total drops below its floor.
 */
import { readFileSync } from 'node:fs';

const THRESHOLDS = { lines: 95, statements: 95, functions: 95, branches: 80 } as const;

type Totals = Record<keyof typeof THRESHOLDS, { pct: number }>;
const file = new URL('../.tap/report/coverage-summary.json', import.meta.url);
let total: Totals;
try {
  total = (JSON.parse(readFileSync(file, 'utf8')) as { total: Totals }).total;
} catch (err) {
  console.error(`coverage: no summary at ${file.pathname} (${(err as Error).message}); run the tests through npm test`);
  process.exit(1);
}
const below = (Object.keys(THRESHOLDS) as Array<keyof typeof THRESHOLDS>).filter((k) => total[k].pct < THRESHOLDS[k]);
for (const k of Object.keys(THRESHOLDS) as Array<keyof typeof THRESHOLDS>) {
  console.log(`coverage ${k.padEnd(10)} ${total[k].pct.toFixed(2).padStart(6)}%  (floor ${THRESHOLDS[k]}%)`);
}
if (below.length) {
  console.error(`coverage below the floor for: ${below.join(', ')}`);
  process.exit(1);
}
