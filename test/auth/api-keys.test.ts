/**
 * API keys: only hashes in the key file, keys from X-API-Key or Authorization: ApiKey, roles as
 * permissions, and rotation by rewriting the file (no restart; a broken file keeps the old keys).
 */
import t, { type Test } from 'tap';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKeyFileError, hashApiKey, matchApiKey, openApiKeyFile, parseApiKeyFile } from '../../src/auth/api-keys.ts';
import { buildApp, problem, WS_ID } from './idp.ts';

const dir = await mkdtemp(join(tmpdir(), 'netdoctor-keys-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

const RUNNER = 'runner-key-0f8e7d6c5b4a39281706';
const READER = 'reader-key-a1b2c3d4e5f60718293a';
const NEWCOMER = 'newcomer-key-99887766554433221100';

function keyFile(keys: Array<{ id: string; key: string; roles: string[] }>): string {
  return JSON.stringify({ keys: keys.map((k) => ({ id: k.id, sha256: hashApiKey(k.key), roles: k.roles })) }, null, 2);
}

interface Logged {
  level: 'info' | 'error';
  obj: object;
  msg: string;
}

async function setup(t: Test, name: string, content: string) {
  const path = join(dir, `${name}.json`);
  await writeFile(path, content);
  const logs: Logged[] = [];
  const log = { info: (obj: object, msg: string) => logs.push({ level: 'info', obj, msg }), error: (obj: object, msg: string) => logs.push({ level: 'error', obj, msg }) };
  const apiKeys = await openApiKeyFile(path, { log });
  const fastify = await buildApp(t, { auth: { apiKeys } });
  const diagnose = (headers: Record<string, string>) => fastify.inject({ method: 'POST', url: '/v1/diagnoses', payload: { workspaceId: WS_ID }, headers });
  return { path, logs, fastify, diagnose };
}

/** Writes the file the way an operator's tooling would: a new file renamed over the old one. */
async function replace(path: string, content: string): Promise<void> {
  await writeFile(`${path}.tmp`, content);
  await rename(`${path}.tmp`, path);
}

const FILE = keyFile([
  { id: 'ops-runbook', key: RUNNER, roles: ['Diagnoses.Run', 'Reports.Read'] },
  { id: 'dashboard', key: READER, roles: ['Reports.Read'] },
]);

t.test('a known key with the permission passes, by either header; the caller is the key id', async (t) => {
  const { fastify, diagnose } = await setup(t, 'valid', FILE);
  let seen: unknown;
  fastify.addHook('preHandler', async (request) => {
    seen = request.caller;
  });
  const res = await diagnose({ 'x-api-key': RUNNER });
  t.equal(res.statusCode, 200, res.body);
  t.same(seen, { kind: 'api-key', id: 'ops-runbook', roles: ['Diagnoses.Run', 'Reports.Read'] });
  t.equal((await diagnose({ authorization: `ApiKey ${RUNNER}` })).statusCode, 200, 'Authorization: ApiKey');
  t.equal((await diagnose({ authorization: `apikey ${RUNNER}` })).statusCode, 200, 'the scheme is case-insensitive');
});

t.test('a wrong key is a 401 that never repeats it; a key without the permission a 403', async (t) => {
  const { diagnose } = await setup(t, 'wrong', FILE);
  for (const key of [`${RUNNER}x`, RUNNER.slice(0, -1), 'x'.repeat(600), hashApiKey(RUNNER)]) {
    const res = await diagnose({ 'x-api-key': key });
    const body = problem(t, res, 401);
    t.equal(body.detail, 'The API key is not valid.');
    t.equal(res.headers['www-authenticate'], 'ApiKey realm="aml-netdoctor", header="X-API-Key"');
    t.notOk(res.body.includes(key.slice(0, 20)), 'the key is not echoed');
  }
  const noKey = problem(t, await diagnose({}), 401);
  t.match(noKey.detail, /X-API-Key/);
  t.notMatch(noKey.detail, /Bearer/, 'bearer tokens are not offered when not accepted');
  t.match(problem(t, await diagnose({ authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig' }), 401).detail, /Bearer tokens are not accepted/);
  const reader = await diagnose({ 'x-api-key': READER });
  t.match(problem(t, reader, 403).detail, /lacks the Diagnoses\.Run permission/);
  t.notOk(reader.headers['www-authenticate'], 'no bearer challenge for a key');
});

t.test('rotation: a rewritten file takes effect without a restart; a broken one keeps the previous keys', async (t) => {
  const { path, logs, diagnose } = await setup(t, 'rotate', FILE);
  t.equal((await diagnose({ 'x-api-key': RUNNER })).statusCode, 200);
  problem(t, await diagnose({ 'x-api-key': NEWCOMER }), 401, 'the new key is not known yet');

  await replace(path, keyFile([{ id: 'ops-runbook-2', key: NEWCOMER, roles: ['Diagnoses.Run'] }]));
  await new Promise((r) => setTimeout(r, 1_100));
  t.equal((await diagnose({ 'x-api-key': NEWCOMER })).statusCode, 200, 'the added key works');
  problem(t, await diagnose({ 'x-api-key': RUNNER }), 401, 'the removed key is refused');
  t.ok(logs.some((l) => l.level === 'info' && l.msg === 'API keys reloaded'));

  await writeFile(path, '{ "keys": [ { "id": "half-writ');
  await new Promise((r) => setTimeout(r, 1_100));
  t.equal((await diagnose({ 'x-api-key': NEWCOMER })).statusCode, 200, 'a malformed file keeps the previous keys');
  const errors = logs.filter((l) => l.level === 'error');
  t.equal(errors.length, 1, 'and logs an error');
  t.match(errors[0]?.msg, /not valid; keeping the previous keys/);
  await new Promise((r) => setTimeout(r, 1_100));
  await diagnose({ 'x-api-key': NEWCOMER });
  t.equal(logs.filter((l) => l.level === 'error').length, 1, 'the same broken file is reported once');

  await writeFile(path, keyFile([{ id: 'dashboard', key: READER, roles: ['Reports.Read', 'Diagnoses.Run'] }]));
  await new Promise((r) => setTimeout(r, 1_100));
  t.equal((await diagnose({ 'x-api-key': READER })).statusCode, 200, 'fixed file: roles changed in place take effect');
  problem(t, await diagnose({ 'x-api-key': NEWCOMER }), 401);
});

t.test('the key file is checked: what is wrong is said, hashes are never echoed', async (t) => {
  const h = hashApiKey(RUNNER);
  const bad: Array<[string, string, RegExp]> = [
    ['not JSON', 'keys: []', /not valid JSON/],
    ['no keys array', '{}', /keys/],
    ['a plain key instead of a hash', JSON.stringify({ keys: [{ id: 'a', sha256: RUNNER, roles: [] }] }), /\/keys\/0\/sha256/],
    ['an unknown role', JSON.stringify({ keys: [{ id: 'a', sha256: h, roles: ['Diagnoses.Runn'] }] }), /\/keys\/0\/roles\/0/],
    ['an extra field', JSON.stringify({ keys: [{ id: 'a', sha256: h, roles: [], key: RUNNER }] }), /\/keys\/0/],
    ['a doubled id', JSON.stringify({ keys: [{ id: 'a', sha256: h, roles: [] }, { id: 'a', sha256: hashApiKey(READER), roles: [] }] }), /'a' is used twice/],
    ['a doubled hash', JSON.stringify({ keys: [{ id: 'a', sha256: h, roles: [] }, { id: 'b', sha256: h.toUpperCase(), roles: [] }] }), /hash of another entry/],
  ];
  for (const [what, text, message] of bad) {
    const err = t.throws(() => parseApiKeyFile(text), ApiKeyFileError, what) as Error;
    t.match(err.message, message, `${what}: ${err.message}`);
    t.notOk(err.message.includes(h) || err.message.includes(RUNNER), `${what}: nothing secret in the message`);
  }
  await t.rejects(openApiKeyFile(join(dir, 'missing.json')), { name: 'ApiKeyFileError', message: /cannot be read \(ENOENT\)/ });
});

t.test('matchApiKey compares against every entry and finds the right one', async (t) => {
  const entries = parseApiKeyFile(FILE);
  t.equal(matchApiKey(entries, READER)?.id, 'dashboard');
  t.equal(matchApiKey(entries, RUNNER)?.id, 'ops-runbook');
  t.equal(matchApiKey(entries, ''), undefined);
  t.equal(matchApiKey([], RUNNER), undefined);
});
