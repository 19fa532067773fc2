/** Meta-tests over the rule catalogue (ESLint / trivy-checks style). */
import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { rules } from '../../src/rules/index.ts';
import { PLANNED_CODES } from '../../src/rules/docs.ts';
import { PROBE_IDS } from '../../src/model/snapshot.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ruleFiles = (await readdir(`${root}src/rules`)).filter((f) => /^[A-Z][A-Z0-9_]+\.ts$/.test(f));

t.test('codes are unique and each equals its file name', async (t) => {
  const codes = rules.map((r) => r.meta.code);
  t.equal(new Set(codes).size, codes.length, 'unique codes');
  t.ok(ruleFiles.length >= 13, 'rule files found');
  for (const file of ruleFiles) {
    const mod = (await import(`../../src/rules/${file}`)) as { rule?: { meta: { code: string } } };
    t.equal(mod.rule?.meta.code, file.replace(/\.ts$/, ''), `${file} exports the rule of its name`);
  }
});

t.test('every rule file is in the index and has a test file', async (t) => {
  const indexed = new Set(rules.map((r) => r.meta.code));
  const tests = new Set(await readdir(`${root}test/rules`));
  for (const file of ruleFiles) {
    const code = file.replace(/\.ts$/, '');
    t.ok(indexed.has(code), `${code} is in src/rules/index.ts`);
    t.ok(tests.has(`${code}.test.ts`), `${code} has test/rules/${code}.test.ts`);
  }
});

t.test('metadata is complete', async (t) => {
  for (const { meta } of rules) {
    t.ok(meta.title.length > 10 && meta.description.length > 40 && meta.impact.length > 40 && meta.resolution.length > 20, `${meta.code} has prose`);
    t.ok(meta.references.length > 0, `${meta.code} cites sources`);
    t.ok(meta.flows.length > 0, `${meta.code} names the flows it breaks`);
  }
});

t.test('every code of the shared failure catalogue is implemented or planned', async (t) => {
  const catalogue = await readFile(`${root}../shared/reference/failure-catalogue.md`, 'utf8').catch(() => '');
  if (!catalogue) {
    t.comment('shared/reference is not beside this checkout: catalogue cross-check skipped');
    return;
  }
  const codes = [...catalogue.matchAll(/^\| ([A-Z][A-Z0-9_]+) \|/gm)].map((m) => m[1] as string);
  t.ok(codes.length >= 28, 'catalogue parsed');
  const known = new Set([...rules.map((r) => r.meta.code), ...PLANNED_CODES.map((p) => p.code)]);
  for (const c of codes) t.ok(known.has(c), `${c} implemented or listed as planned`);
});

t.test('docs/rules is generated from the metadata and up to date', async (t) => {
  const r = spawnSync(process.execPath, [`${root}scripts/gen-docs.ts`, '--check'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
});

t.test('metadata for recheck and ranking is complete and consistent', async (t) => {
  const codes = new Set(rules.map((r) => r.meta.code));
  for (const { meta } of rules) {
    t.ok(meta.verification.length > 30, `${meta.code} says how to verify the fix`);
    t.ok(meta.needs.length > 0 && meta.needs.every((n) => (PROBE_IDS as readonly string[]).includes(n)), `${meta.code} names the probes it reads`);
    for (const a of meta.absorbs ?? []) {
      t.ok(codes.has(a), `${meta.code} absorbs a known code (${a})`);
      const absorbed = rules.find((r) => r.meta.code === a)?.meta;
      t.equal(absorbed?.role, 'cause', `${meta.code} lists only causes in absorbs (symptoms fold without it): ${a}`);
    }
  }
  // The absorbs relation has no cycle, so folding always ends at one root.
  const next = new Map(rules.map((r) => [r.meta.code, [...(r.meta.absorbs ?? [])]]));
  const visit = (code: string, path: string[]): string[] | undefined => {
    if (path.includes(code)) return [...path, code];
    for (const n of next.get(code) ?? []) {
      const cycle = visit(n, [...path, code]);
      if (cycle) return cycle;
    }
    return undefined;
  };
  for (const code of codes) t.notOk(visit(code, []), `no absorbs cycle through ${code}`);
});

t.test('every rule is broken in at least one bundled scenario (top finding, folded symptom or also found)', async (t) => {
  const { listScenarios, loadScenario } = await import('../../src/sim/scenario-files.ts');
  const broken = new Set<string>();
  let healthy = 0;
  for (const name of await listScenarios()) {
    const s = await loadScenario(name);
    if (s.expect.topFinding) broken.add(s.expect.topFinding.code);
    else healthy++;
    for (const c of s.expect.topFinding?.symptoms ?? []) broken.add(c);
    for (const c of s.expect.alsoFinds ?? []) broken.add(c);
  }
  for (const { meta } of rules) t.ok(broken.has(meta.code), `${meta.code} is broken in a scenario`);
  t.ok(healthy >= 3, `healthy scenarios exist (${healthy})`);
});
