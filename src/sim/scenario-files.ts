/**
 * Scenario files: test/fixtures/scenarios/<name>.json, read by the tests, the demo and the
 * benchmarks alike. Loading checks the shape the simulators rely on and names the file on error.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Scenario } from './scenario.ts';

export const SCENARIO_DIR: string = fileURLToPath(new URL('../../test/fixtures/scenarios', import.meta.url));

/** Scenario names (file names without .json), sorted. */
export async function listScenarios(): Promise<string[]> {
  let files: string[];
  try {
    files = await readdir(SCENARIO_DIR);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return files
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** A bare name means SCENARIO_DIR/<name>.json; anything with a slash or `.json` is a path. */
export function scenarioPath(nameOrPath: string): string {
  if (nameOrPath.includes('/') || nameOrPath.includes('\\') || nameOrPath.endsWith('.json')) {
    return isAbsolute(nameOrPath) ? nameOrPath : resolve(nameOrPath);
  }
  return resolve(SCENARIO_DIR, `${nameOrPath}.json`);
}

const FAULT_KINDS: readonly string[] = ['status', 'reset', 'hang', 'malformed-json'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Problems with a parsed scenario, each naming the JSON location; empty when it is usable. */
export function scenarioProblems(data: unknown): string[] {
  if (!isObject(data)) return ['the file does not hold a JSON object'];
  const problems: string[] = [];
  const str = (v: unknown, where: string): void => {
    if (typeof v !== 'string' || v === '') problems.push(`${where} must be a non-empty string`);
  };
  str(data.name, 'name');
  str(data.title, 'title');
  str(data.description, 'description');
  if (!isObject(data.target)) problems.push('target must be an object');
  else str(data.target.workspaceId, 'target.workspaceId');
  if (!Array.isArray(data.resources)) problems.push('resources must be an array');
  else data.resources.forEach((r, i) => (isObject(r) ? str(r.id, `resources[${i}].id`) : problems.push(`resources[${i}] must be an object`)));
  if (data.operations !== undefined) {
    if (!Array.isArray(data.operations)) problems.push('operations must be an array');
    else {
      data.operations.forEach((o, i) => {
        if (!isObject(o)) return problems.push(`operations[${i}] must be an object`);
        str(o.resourceId, `operations[${i}].resourceId`);
        str(o.action, `operations[${i}].action`);
      });
    }
  }
  if (data.faults !== undefined) {
    if (!Array.isArray(data.faults)) problems.push('faults must be an array');
    else {
      data.faults.forEach((f, i) => {
        if (!isObject(f)) return problems.push(`faults[${i}] must be an object`);
        str(f.path, `faults[${i}].path`);
        if (typeof f.path === 'string') {
          try {
            new RegExp(f.path, 'i');
          } catch {
            problems.push(`faults[${i}].path is not a valid regular expression`);
          }
        }
        if (f.query !== undefined) {
          if (typeof f.query !== 'string') problems.push(`faults[${i}].query must be a string`);
          else {
            try {
              new RegExp(f.query, 'i');
            } catch {
              problems.push(`faults[${i}].query is not a valid regular expression`);
            }
          }
        }
        if (f.kind !== undefined && !FAULT_KINDS.includes(f.kind as string)) problems.push(`faults[${i}].kind must be one of ${FAULT_KINDS.join(', ')}`);
        // Only a status fault answers with a status; reset, hang and malformed-json need none.
        const needsStatus = f.kind === undefined || f.kind === 'status' || f.status !== undefined;
        if (needsStatus && (typeof f.status !== 'number' || !Number.isInteger(f.status) || f.status < 100 || f.status > 599)) problems.push(`faults[${i}].status must be an HTTP status code`);
      });
    }
  }
  if (!isObject(data.dns)) problems.push('dns must be an object');
  if (!isObject(data.expect)) problems.push('expect must be an object');
  else {
    if (![0, 1, 3].includes(data.expect.exitCode as number)) problems.push('expect.exitCode must be 0, 1 or 3');
    if (!['cause-found', 'no-cause-found', 'undetermined'].includes(data.expect.verdict as string)) problems.push("expect.verdict must be 'cause-found', 'no-cause-found' or 'undetermined'");
  }
  return problems;
}

/** Reads and checks a scenario by name (from SCENARIO_DIR) or by path. */
export async function loadScenario(nameOrPath: string): Promise<Scenario> {
  const file = scenarioPath(nameOrPath);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const known = await listScenarios().catch(() => []);
      const hint = known.length ? ` Known scenarios: ${known.join(', ')}.` : '';
      throw new Error(`Scenario file '${file}' does not exist.${hint}`);
    }
    throw new Error(`Scenario file '${file}' could not be read: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`Scenario file '${file}' is not valid JSON: ${(e as Error).message}`);
  }
  const problems = scenarioProblems(data);
  if (problems.length) throw new Error(`Scenario file '${file}' is invalid: ${problems.join('; ')}`);
  const scenario = data as Scenario;
  if (scenario.name !== basename(file, '.json') && !nameOrPath.includes('/') && !nameOrPath.endsWith('.json')) {
    throw new Error(`Scenario file '${file}' is invalid: name '${scenario.name}' does not match the file name`);
  }
  return scenario;
}
