/**
 * `node src/server.ts` and its authentication settings: it refuses to start without NETDOCTOR_AUTH
 * or with a bad key file (exit 2), and serves Entra ID tokens and API keys as configured.
 */
import t from 'tap';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-keys.ts';
import { listeningUrl, startServer } from '../helpers/server-process.ts';
import { AUDIENCE, signingKey, startIdp, TENANT, token } from './idp.ts';

const dir = await mkdtemp(join(tmpdir(), 'netdoctor-auth-server-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const KEY = 'server-test-key-7a6b5c4d3e2f1a0b';

t.test('without NETDOCTOR_AUTH the server exits 2 and says how to choose', async (t) => {
  const p = startServer({ NETDOCTOR_AUTH: '', PORT: '0' });
  const [code] = (await once(p.child, 'exit')) as [number | null];
  t.equal(code, 2);
  t.match(p.stderr.join('\n'), /NETDOCTOR_AUTH: must be set: entra, api-keys, entra\+api-keys, off/);
});

t.test('a key file that is not valid stops the start (exit 2), naming the variable', async (t) => {
  const path = join(dir, 'broken.json');
  await writeFile(path, JSON.stringify({ keys: [{ id: 'x', sha256: KEY, roles: [] }] }));
  const p = startServer({ NETDOCTOR_AUTH: 'api-keys', NETDOCTOR_API_KEYS_FILE: path, PORT: '0' });
  const [code] = (await once(p.child, 'exit')) as [number | null];
  t.equal(code, 2);
  t.match(p.stderr.join('\n'), /NETDOCTOR_API_KEYS_FILE: '.*broken\.json' does not match .*\/keys\/0\/sha256/);
  t.notMatch(p.stderr.join('\n') + p.stdout.join('\n'), KEY, 'the (mistakenly plain) key is not repeated');
});

t.test('entra+api-keys: tokens and keys accepted, public probes open, the rest closed', async (t) => {
  const signer = await signingKey('server-key');
  const idp = await startIdp(t, [signer]);
  const path = join(dir, 'keys.json');
  await writeFile(path, JSON.stringify({ keys: [{ id: 'ci', sha256: hashApiKey(KEY), roles: ['Reports.Read'] }] }));
  const p = startServer({
    HOST: '127.0.0.1',
    PORT: '0',
    NETDOCTOR_AUTH: 'entra+api-keys',
    NETDOCTOR_ENTRA_TENANT_ID: TENANT,
    NETDOCTOR_ENTRA_AUDIENCE: AUDIENCE,
    NETDOCTOR_ENTRA_AUTHORITY: idp.url,
    NETDOCTOR_API_KEYS_FILE: path,
    NETDOCTOR_SCHEDULER: 'off',
  });
  t.teardown(() => {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });
  const url = await listeningUrl(p, 30_000);
  t.equal((await fetch(`${url}/healthz`)).status, 200);
  t.equal((await fetch(`${url}/readyz`)).status, 200);
  const open = await fetch(`${url}/v1/schedules`);
  t.equal(open.status, 401);
  t.equal(open.headers.get('www-authenticate'), 'Bearer realm="aml-netdoctor", ApiKey realm="aml-netdoctor", header="X-API-Key"');
  t.equal((await fetch(`${url}/metrics`)).status, 401, '/metrics is not public by default');
  t.equal((await fetch(`${url}/v1/schedules`, { headers: { 'x-api-key': KEY } })).status, 200, 'API key');
  const bearer = await token(signer, idp, { roles: ['Reports.Read'] });
  t.equal((await fetch(`${url}/v1/schedules`, { headers: { authorization: `Bearer ${bearer}` } })).status, 200, 'Entra ID token');
  const forbidden = await fetch(`${url}/v1/diagnoses`, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: '{}' });
  t.equal(forbidden.status, 403);
  p.child.kill('SIGTERM');
  await once(p.child, 'exit');
  const output = p.stdout.join('\n') + p.stderr.join('\n');
  t.notMatch(output, KEY, 'the key is never logged');
  t.notMatch(output, bearer.split('.')[2] as string, 'nor the token');
});
