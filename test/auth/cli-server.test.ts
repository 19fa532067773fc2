/**
 * `aml-netdoctor diagnose --server` against a service that requires an API key: the CLI sends
 * NETDOCTOR_SERVER_API_KEY (X-API-Key) on every request of the run, never prints it, and without
 * a credential says which variable to set (exit 2).
 */
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashApiKey, openApiKeyFile } from '../../src/auth/api-keys.ts';
import { PERMISSIONS } from '../../src/auth/authorize.ts';
import { main } from '../../src/cli.ts';
import { captureIo } from '../helpers/io.ts';
import { buildApp, WS_ID } from './idp.ts';

const KEY = 'runbook-key-SECRET-9c8b7a6f5e4d';
const dir = await mkdtemp(join(tmpdir(), 'netdoctor-cli-auth-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const keysPath = join(dir, 'keys.json');
await writeFile(keysPath, JSON.stringify({ keys: [{ id: 'runbook', sha256: hashApiKey(KEY), roles: [...PERMISSIONS] }] }));
const fastify = await buildApp(t, { auth: { apiKeys: await openApiKeyFile(keysPath) }, env: { NETDOCTOR_SYNC_BUDGET_MS: '0' } });
await fastify.listen({ host: '127.0.0.1', port: 0 });
const server = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`;
const NO_AZURE = { NETDOCTOR_ARM_ENDPOINT: 'https://127.0.0.1:9' };

t.test('with NETDOCTOR_SERVER_API_KEY the run goes through, and the key is never printed', async (t) => {
  const io = captureIo({ ...NO_AZURE, NETDOCTOR_SERVER_API_KEY: KEY });
  const code = await main(['diagnose', '--server', server, '-w', WS_ID, '-f', 'json'], io);
  t.ok(code === 0 || code === 1, `a report's exit code (${code}): ${io.err()}`);
  t.match(JSON.parse(io.out()) as object, { workspace: {}, verdict: {} }, 'the report on stdout');
  t.notMatch(io.out() + io.err(), KEY);
});

t.test('without a credential: exit 2, naming the variable to set', async (t) => {
  const io = captureIo(NO_AZURE);
  const code = await main(['diagnose', '--server', server, '-w', WS_ID, '-f', 'json'], io);
  t.equal(code, 2);
  t.match(io.err(), /NETDOCTOR_SERVER_API_KEY/);
  t.notMatch(io.err(), /\n\s+at /, 'no stack trace');
});

t.test('with a wrong key: exit 2, the key not echoed', async (t) => {
  const io = captureIo({ ...NO_AZURE, NETDOCTOR_SERVER_API_KEY: 'wrong-key-SECRET-000000000000' });
  t.equal(await main(['diagnose', '--server', server, '-w', WS_ID, '-f', 'json'], io), 2);
  t.notMatch(io.err(), 'wrong-key-SECRET');
});
