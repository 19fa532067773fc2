import t from 'tap';
import https from 'node:https';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { DefaultAzureCredential } from '@azure/identity';
import { startArmSimulator, type ArmSimulator } from '../../src/sim/arm-server.ts';
import { generateTls } from '../../src/sim/ca.ts';
import { createAzureClients, credentialFromEnv, staticTokenCredential, type AzureAccessOptions } from '../../src/azure/clients.ts';
import { toProbeError } from '../../src/azure/errors.ts';
import type { ScenarioResource } from '../../src/sim/scenario.ts';

const SUB = '7d9e2c41-0b3a-4c5d-9e8f-1a2b3c4d5e6f';
const NET = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network`;
const VNET_ID = `${NET}/virtualNetworks/vnet-hub`;
const resources: ScenarioResource[] = [
  { id: VNET_ID, location: 'westeurope', properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] } } },
  { id: `${NET}/virtualNetworks/vnet-spoke`, location: 'westeurope', properties: { addressSpace: { addressPrefixes: ['10.1.0.0/16'] } } },
];

let sim: ArmSimulator;

t.before(async () => {
  sim = await startArmSimulator({ scenario: { resources } });
});
t.teardown(() => sim.close());
t.beforeEach(() => {
  sim.setFaults([]);
  sim.setLatency(0);
  sim.requests.length = 0;
});

function clientsFor(extra: Partial<AzureAccessOptions> = {}) {
  return createAzureClients({
    armEndpoint: sim.url,
    ca: sim.caPem,
    credential: staticTokenCredential('clients-test-token'),
    retryDelayMs: 5,
    lroPollIntervalMs: 0,
    ...extra,
  });
}

t.test('429 with Retry-After is retried and then succeeds', async (t) => {
  sim.setFaults([{ path: 'virtualNetworks/vnet-hub$', status: 429, retryAfterSeconds: 1, times: 1 }]);
  const c = clientsFor();
  const started = Date.now();
  const vnet = await c.network(SUB).virtualNetworks.get('rg-net', 'vnet-hub', c.call());
  const elapsed = Date.now() - started;
  t.equal(vnet.name, 'vnet-hub');
  t.same(sim.requests.map((r) => r.status), [429, 200]);
  t.ok(elapsed >= 900, `waited for Retry-After (${elapsed} ms)`);
});

t.test('a Retry-After longer than maxRetryAfterMs is shortened to it', async (t) => {
  sim.setFaults([{ path: 'virtualNetworks/vnet-hub$', status: 429, retryAfterSeconds: 30, times: 1 }]);
  const c = clientsFor({ maxRetryAfterMs: 250 });
  const started = Date.now();
  const vnet = await c.network(SUB).virtualNetworks.get('rg-net', 'vnet-hub', c.call());
  const elapsed = Date.now() - started;
  t.equal(vnet.name, 'vnet-hub');
  t.same(sim.requests.map((r) => r.status), [429, 200]);
  t.ok(elapsed >= 200 && elapsed < 900, `waited about maxRetryAfterMs, not 30 s (${elapsed} ms)`);

  // The same cap applies to the millisecond headers some services send.
  const tls = await generateTls();
  let calls = 0;
  const server = https.createServer({ key: tls.keyPem, cert: tls.certPem }, (_req, res) => {
    calls += 1;
    if (calls === 1) {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '30000', 'retry-after': '30' });
      res.end(JSON.stringify({ error: { code: 'TooManyRequests', message: 'slow down' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(resources[0]));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const c2 = createAzureClients({ armEndpoint: url, ca: tls.caPem, credential: staticTokenCredential('x'), retryDelayMs: 5, maxRetryAfterMs: 250 });
  const started2 = Date.now();
  await c2.network(SUB).virtualNetworks.get('rg-net', 'vnet-hub', c2.call());
  t.ok(Date.now() - started2 < 900, 'retry-after-ms is shortened too');
  t.equal(calls, 2);
});

t.test('500 is retried up to maxRetries, then a RestError 500', async (t) => {
  sim.setFaults([{ path: 'virtualNetworks/vnet-hub$', status: 500 }]);
  const c = clientsFor({ maxRetries: 2 });
  await t.rejects(c.network(SUB).virtualNetworks.get('rg-net', 'vnet-hub', c.call()), { name: 'RestError', statusCode: 500, code: 'InternalServerError' });
  t.same(sim.requests.map((r) => r.status), [500, 500, 500], 'first try plus two retries');
  const spoke = await c.network(SUB).virtualNetworks.get('rg-net', 'vnet-spoke', c.call());
  t.equal(spoke.name, 'vnet-spoke', 'other resources are unaffected');
});

t.test('per-call timeout aborts a slow call and classifies as timeout', async (t) => {
  sim.setLatency(2_000);
  const c = clientsFor({ timeoutMs: 150, maxRetries: 0 });
  const started = Date.now();
  let caught: unknown;
  try {
    await c.network(SUB).virtualNetworks.get('rg-net', 'vnet-hub', c.call());
  } catch (e) {
    caught = e;
  }
  t.ok(Date.now() - started < 1_500, 'gave up at the timeout, not after the latency');
  t.match(caught, { name: 'AbortError' });
  const pe = toProbeError(caught, `reading ${VNET_ID}`, VNET_ID);
  t.equal(pe.kind, 'timeout');
  t.match(pe.message, /^timed out reading .*vnet-hub/);

  const outer = new AbortController();
  const c2 = clientsFor({ timeoutMs: 60_000, maxRetries: 0 });
  const pending = c2.network(SUB).virtualNetworks.get('rg-net', 'vnet-hub', c2.call(outer.signal));
  setTimeout(() => outer.abort(), 50);
  await t.rejects(pending, { name: 'AbortError' }, 'a caller signal aborts too');
});

t.test('toProbeError on 403 names the resource and the missing permission', async (t) => {
  sim.setFaults([{ path: 'virtualNetworks/vnet-hub$', status: 403 }]);
  const c = clientsFor({ maxRetries: 0 });
  let caught: unknown;
  try {
    await c.network(SUB).virtualNetworks.get('rg-net', 'vnet-hub', c.call());
  } catch (e) {
    caught = e;
  }
  const pe = toProbeError(caught, `reading ${VNET_ID}`, VNET_ID);
  t.equal(pe.kind, 'forbidden');
  t.equal(pe.statusCode, 403);
  t.equal(pe.code, 'AuthorizationFailed');
  t.equal(pe.resourceId, VNET_ID);
  t.match(pe.message, /^403 AuthorizationFailed reading \/subscriptions\/.*\/virtualNetworks\/vnet-hub: .*Microsoft\.Network\/virtualNetworks\/read/);
  t.notMatch(pe.message, /clients-test-token/);

  sim.setFaults([{ path: 'vnet-hub$', status: 404 }]);
  const nf = toProbeError(await c.network(SUB).virtualNetworks.get('rg-net', 'vnet-hub', c.call()).catch((e: unknown) => e), 'reading vnet-hub');
  t.equal(nf.kind, 'not-found');
});

t.test('credentialFromEnv sends NETDOCTOR_ACCESS_TOKEN as the bearer token', async (t) => {
  // A test-only server sees the raw header; the simulator itself only keeps it redacted.
  const tls = await generateTls();
  const seen: string[] = [];
  const server = https.createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    seen.push(req.headers.authorization ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(resources[0]));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const value of ['env-token-123', 'Bearer env-token-123', '  env-token-123\n']) {
    const c = createAzureClients({ armEndpoint: url, ca: tls.caPem, credential: credentialFromEnv({ NETDOCTOR_ACCESS_TOKEN: value }), maxRetries: 0 });
    await c.network(SUB).virtualNetworks.get('rg-net', 'vnet-hub', c.call());
  }
  t.same(seen, ['Bearer env-token-123', 'Bearer env-token-123', 'Bearer env-token-123'], 'same header however the token was written');

  const c = clientsFor({ credential: credentialFromEnv({ NETDOCTOR_ACCESS_TOKEN: 'env-token-456' }), maxRetries: 0 });
  await c.network(SUB).virtualNetworks.get('rg-net', 'vnet-hub', c.call());
  t.same(sim.requests.map((r) => [r.status, r.headers.authorization]), [[200, '[redacted]']], 'the simulator accepted it and kept no copy');
  t.ok(credentialFromEnv({}) instanceof DefaultAzureCredential, 'without the variable: DefaultAzureCredential');
  t.ok(credentialFromEnv({ NETDOCTOR_ACCESS_TOKEN: '  ' }) instanceof DefaultAzureCredential, 'a blank variable counts as unset');
});

t.test('NODE_EXTRA_CA_CERTS lets a subprocess trust the simulator', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'clients-test-'));
  const caFile = await sim.writeCaFile(dir);
  const script = join(dir, 'child.mjs');
  await writeFile(
    script,
    `const { createAzureClients, credentialFromEnv } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../../src/azure/clients.ts')).href)});
const c = createAzureClients({ armEndpoint: process.env.NETDOCTOR_ARM_ENDPOINT, credential: credentialFromEnv(), maxRetries: 0, timeoutMs: 10000 });
try {
  const v = await c.network(process.env.SUB).virtualNetworks.get('rg-net', 'vnet-hub', c.call());
  console.log(JSON.stringify({ ok: true, name: v.name }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, code: e.code, message: e.message }));
}
`,
  );
  const run = async (extraCa: boolean): Promise<{ ok: boolean; name?: string; code?: string }> => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, SUB, NETDOCTOR_ARM_ENDPOINT: sim.url, NETDOCTOR_ACCESS_TOKEN: 'sim' };
    if (extraCa) env.NODE_EXTRA_CA_CERTS = caFile;
    const { stdout } = await promisify(execFile)(process.execPath, [script], { env, timeout: 15_000 });
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { ok: boolean; name?: string; code?: string };
  };
  const [trusted, untrusted] = await Promise.all([run(true), run(false)]);
  t.same(trusted, { ok: true, name: 'vnet-hub' }, 'with NODE_EXTRA_CA_CERTS');
  t.equal(untrusted.ok, false, 'without it');
  t.match(untrusted.code, /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/, 'fails with a certificate error');
  t.equal(toProbeError(untrusted, 'reading vnet-hub').kind, 'network');
});
