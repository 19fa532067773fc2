/**
 * Writes openapi.yaml from the routes' own schemas. `--check` only compares and exits 1 when the
 * committed file is out of date (CI and test/api/openapi.test.ts use this to catch drift).
 *
 *   npm run openapi             regenerate
 *   npm run openapi -- --check  verify
 */
import { readFile, writeFile } from 'node:fs/promises';
import Fastify from 'fastify';
import app from '../src/app.ts';
import { loadConfig } from '../src/config.ts';

export const OPENAPI_PATH = new URL('../openapi.yaml', import.meta.url);

/** The OpenAPI document of the service, as YAML. */
export async function renderOpenApi(): Promise<string> {
  const fastify = Fastify({ logger: false });
  await fastify.register(app, {
    config: loadConfig({}),
    diagnose: async () => {
      throw new Error('the OpenAPI generator never runs a diagnosis');
    },
  });
  await fastify.ready();
  const yaml = fastify.swagger({ yaml: true });
  await fastify.close();
  return yaml.endsWith('\n') ? yaml : `${yaml}\n`;
}

/** First differing line, for a readable hint (1-based), or undefined when equal. */
export function firstDifference(expected: string, actual: string): { line: number; expected: string; actual: string } | undefined {
  if (expected === actual) return undefined;
  const a = expected.split('\n');
  const b = actual.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return { line: i + 1, expected: a[i] ?? '<end of file>', actual: b[i] ?? '<end of file>' };
  }
  return undefined;
}

async function main(args: string[]): Promise<number> {
  const generated = await renderOpenApi();
  if (!args.includes('--check')) {
    await writeFile(OPENAPI_PATH, generated);
    console.log('wrote openapi.yaml');
    return 0;
  }
  const committed = await readFile(OPENAPI_PATH, 'utf8').catch(() => '');
  const diff = firstDifference(generated, committed);
  if (!diff) {
    console.log('openapi.yaml is up to date');
    return 0;
  }
  console.error(
    `openapi.yaml is out of date (first difference at line ${diff.line}):\n` +
      `  generated: ${diff.expected}\n  committed: ${diff.actual}\n` +
      'Run `npm run openapi` and commit the result.',
  );
  return 1;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
