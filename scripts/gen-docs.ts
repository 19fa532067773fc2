/**
 * npm run docs: writes docs/rules/<CODE>.md and docs/rules/README.md from rule metadata.
 * --check: exits 1 listing the pages that differ (the docs test runs this).
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { rules } from '../src/rules/index.ts';
import { PLANNED_CODES, rulePage, rulesIndexPage } from '../src/rules/docs.ts';

const dir = fileURLToPath(new URL('../docs/rules/', import.meta.url));
const check = process.argv.includes('--check');
const wanted = new Map<string, string>([['README.md', rulesIndexPage(rules, PLANNED_CODES)], ...rules.map((r) => [`${r.meta.code}.md`, rulePage(r)] as [string, string])]);

await mkdir(dir, { recursive: true });
const stale: string[] = [];
for (const [file, text] of wanted) {
  const current = await readFile(dir + file, 'utf8').catch(() => undefined);
  if (current === text) continue;
  if (check) stale.push(file);
  else await writeFile(dir + file, text);
}
const extra = (await readdir(dir)).filter((f) => f.endsWith('.md') && !wanted.has(f));
if (check && (stale.length || extra.length)) {
  console.error(`docs/rules is out of date (${[...stale, ...extra.map((f) => `${f} (no such rule)`)].join(', ')}): run npm run docs`);
  process.exit(1);
}
if (!check) console.log(`wrote ${wanted.size} pages to docs/rules/`);
