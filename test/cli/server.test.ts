/**
 * `aml-netdoctor diagnose --server <url>` against the real service listening on 127.0.0.1, which
 * diagnoses bundled scenarios (simulated ARM and DNS) with its own Azure access.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { Value } from 'typebox/value';
import app from '../../src/app.ts';
import { main } from '../../src/cli.ts';
import { loadConfig } from '../../src/config.ts';
import { registerErrorHandlers } from '../../src/errors.ts';
import { createDiagnose, diagnose } from '../../src/diagnose.ts';
import { createMemoryRuns, FAILED_MESSAGE, type DiagnosisRun, type DiagnosisRuns } from '../../src/service/runs.ts';
import { Report } from '../../src/report/schema.ts';
import { captureIo } from '../helpers/io.ts';
import { startScenario, type ScenarioRun } from '../helpers/reports.ts';

const BIN = fileURLToPath(new URL('../../bin/aml-netdoctor.js', import.meta.url));

/** The service for `scenario`, listening on a free loopback port; its base URL and its runs (ids in `started`). */
async function serve(t: Test, scenario: string): Promise<{ url: string; run: ScenarioRun; runs: DiagnosisRuns; started: string[] }> {
  const run = await startScenario(t, scenario);
  const inner = createMemoryRuns({ diagnose: createDiagnose(run.deps), retainMs: 60_000 });
  const started: string[] = [];
  const runs: DiagnosisRuns = {
    ...inner,
    async start(input) {
      const s = await inner.start(input);
      started.push(s.run.id);
      return s;
    },
  };
  const fastify = Fastify({ logger: false });
  await fastify.register(app, { config: loadConfig({ NETDOCTOR_SYNC_BUDGET_MS: '0' }), diagnose: createDiagnose(run.deps), runs });
  await fastify.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => fastify.close());
  return { url: `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`, run, runs, started };
}

function targetArgs(run: ScenarioRun): string[] {
  return [
    '-w',
    run.req.workspaceId,
    ...(run.req.computeName ? ['-c', run.req.computeName] : []),
    ...(run.req.subscriptions ?? []).flatMap((s) => ['-s', s]),
    ...(run.req.vantageVmId ? ['--vantage-vm', run.req.vantageVmId] : []),
  ];
}

/** No credential and no ARM endpoint: with --server, the CLI never talks to Azure itself. */
const NO_AZURE = { NETDOCTOR_ARM_ENDPOINT: 'https://127.0.0.1:9', AZURE_TOKEN_CREDENTIALS: 'dev' };
const WS = '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1';

t.test('a blocking finding: the report as JSON on stdout, exit 1, progress on a terminal', async (t) => {
  const { url, run } = await serve(t, 'zone-not-linked-hub-spoke');
  const expected = await diagnose(run.req, run.deps, AbortSignal.timeout(60_000));
  const io = captureIo(NO_AZURE);
  io.stderr.isTTY = true;
  const code = await main(['diagnose', '--server', url, ...targetArgs(run), '-f', 'json'], io);
  t.equal(code, 1, code === 1 ? 'exit 1' : io.err());
  const report = JSON.parse(io.out()) as unknown;
  t.ok(Value.Check(Report, report), 'stdout is a report');
  const got = report as Report;
  t.same(
    got.findings.map((f) => [f.code, f.resourceId]),
    expected.findings.map((f) => [f.code, f.resourceId]),
    'the same findings as a local run',
  );
  t.equal(got.verdict.status, 'cause-found');
  t.match(io.err(), /^… reading the workspace$/m, 'a probe start is printed as locally');
  t.match(io.err(), /^✓ reading the workspace \(\d+ ms\)$/m, 'and its end');
  t.equal((io.err().match(/^… /gm) ?? []).length, 11, 'every probe start');
  t.equal((io.err().match(/^[✓✗] /gm) ?? []).length, 11, 'every probe end');
});

t.test('a healthy workspace: exit 0, in the chosen format; --min-tier and --exclude reach the server', async (t) => {
  const { url, run } = await serve(t, 'healthy-single-vnet');
  const io = captureIo(NO_AZURE);
  const code = await main(['diagnose', '--server', `${url}/`, ...targetArgs(run), '-f', 'json', '--min-tier', '1', '--exclude', 'COMPUTE_SSO_DISABLED'], io);
  t.equal(code, 0, code === 0 ? 'exit 0' : io.err());
  const report = JSON.parse(io.out()) as Report;
  t.equal(report.verdict.status, 'no-cause-found');
  t.same(report.filters, { minTier: 1, exclude: ['COMPUTE_SSO_DISABLED'] }, 'the filters were applied by the server');
  t.equal(io.err(), '', 'no progress when stderr is not a terminal');

  const text = captureIo(NO_AZURE);
  t.equal(await main(['diagnose', '--server', url, ...targetArgs(run), '-f', 'text'], text), 0);
  t.match(text.out(), /^Verdict: NO CAUSE FOUND$/m, 'text: the terminal rendering');
  const sarif = captureIo(NO_AZURE);
  t.equal(await main(['diagnose', '--server', url, ...targetArgs(run), '-f', 'sarif'], sarif), 0);
  t.equal((JSON.parse(sarif.out()) as { version: string }).version, '2.1.0', 'rendered in the chosen format');
});

t.test('--soft-fail and --output work as for a local run', async (t) => {
  const { url, run } = await serve(t, 'zone-not-linked-hub-spoke');
  const dir = t.testdir({});
  const io = captureIo(NO_AZURE);
  const code = await main(['diagnose', '--server', url, ...targetArgs(run), '-f', 'markdown', '-o', `${dir}/report.md`, '--soft-fail'], io);
  t.equal(code, 0);
  t.equal(io.out(), '');
  const { readFile } = await import('node:fs/promises');
  t.match(await readFile(`${dir}/report.md`, 'utf8'), 'PRIVATE_DNS_ZONE_NOT_LINKED');
});

t.test('a server that cannot be reached: exit 3 with the reason', async (t) => {
  // A port that was just free and is closed again: the connection is refused, on loopback.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const io = captureIo(NO_AZURE);
  t.equal(await main(['diagnose', '--server', `http://127.0.0.1:${port}`, '-w', WS], io), 3);
  t.match(io.err(), /could not reach the server at http:\/\/127\.0\.0\.1:\d+/);
  t.equal(io.out(), '');
});

t.test('server-side settings and bad URLs are usage errors', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--server', 'http://127.0.0.1:9', '--dns-server', '10.0.0.4'], /--server: --dns-server is the server's configuration/],
    [['--server', 'http://127.0.0.1:9', '--cloud', 'AzureChinaCloud', '--arm-endpoint', 'https://127.0.0.1:9'], /--arm-endpoint, --cloud are the server's configuration/],
    [['--server', 'ftp://127.0.0.1'], /--server: 'ftp:\/\/127.0.0.1' is not an http\(s\) URL/],
    [['--server', 'not a url'], /--server: 'not a url'/],
  ];
  for (const [args, message] of cases) {
    const io = captureIo(NO_AZURE);
    t.equal(await main(['diagnose', '-w', WS, ...args], io), 2, args.join(' '));
    t.match(io.err(), message);
  }
});

t.test('Ctrl-C cancels the diagnosis on the server', async (t) => {
  const { url, run, runs, started } = await serve(t, 'zone-not-linked-hub-spoke');
  run.arm.setLatency(300);
  const child = spawn(process.execPath, [BIN, 'diagnose', '--server', url, ...targetArgs(run), '-f', 'json'], { env: { ...process.env, ...NO_AZURE }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let current: DiagnosisRun | undefined;
  const deadline = Date.now() + 20_000;
  while (current?.status !== 'running' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    current = started[0] ? await runs.get(started[0]) : undefined;
  }
  t.equal(current?.status, 'running', 'the CLI started a run on the server');
  child.kill('SIGINT');
  const [code] = (await once(child, 'exit')) as [number | null];
  t.equal(code, 3);
  t.match(stderr, /interrupted; the diagnosis was cancelled on the server/);
  const after = await runs.get(started[0] ?? '');
  t.equal(after?.status, 'cancelled', 'the run is cancelled on the server');
  t.equal(after?.error, 'Cancelled by a DELETE request.');
});

t.test('a URL that is not the service: exit 2 with what the server said', async (t) => {
  const other = Fastify({ logger: false });
  registerErrorHandlers(other);
  await other.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => other.close());
  const io = captureIo(NO_AZURE);
  const code = await main(['diagnose', '--server', `http://127.0.0.1:${(other.server.address() as AddressInfo).port}/not-here`, '-w', WS], io);
  t.equal(code, 2);
  t.match(io.err(), /the server rejected the request: No route for POST \/not-here\/v1\/diagnoses/);
});

t.test('a diagnosis that fails on the server: exit 3 with its message, no report', async (t) => {
  const fastify = Fastify({ logger: false });
  await fastify.register(app, {
    config: loadConfig({ NETDOCTOR_SYNC_BUDGET_MS: '0' }),
    diagnose: async () => {
      throw new Error('a bug');
    },
  });
  await fastify.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => fastify.close());
  const io = captureIo(NO_AZURE);
  const code = await main(['diagnose', '--server', `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`, '-w', WS], io);
  t.equal(code, 3);
  t.match(io.err(), `the diagnosis failed on the server: ${FAILED_MESSAGE}`);
  t.equal(io.out(), '');
});
