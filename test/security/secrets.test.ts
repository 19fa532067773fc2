/**
 * Secrets never leave: everything the service and the CLI produce while handling known test
 * secrets is collected (service logs at trace level, CLI stdout/stderr, every HTTP answer in every
 * format, the webhook bodies, the stored runs, health history and deliveries, the ARM requests'
 * bodies) and searched for those secrets.
 *
 * The secrets: the ARM access token (server and CLI), a client's Authorization header, a webhook
 * secret, a webhook URL's query token, and the password of a DATABASE_URL that cannot be reached.
 */
import t from 'tap';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../src/sim/scenario-files.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { diagnoseArgs, runCli, startEstate } from '../helpers/estate.ts';
import { eventually, listeningUrl, startServer } from '../helpers/server-process.ts';

const SECRETS = {
  armToken: 'arm-token-SECRET-7f3a9c2e51',
  clientBearer: 'client-bearer-SECRET-0b8d44',
  webhookSecret: 'webhook-secret-SECRET-a61f09',
  webhookQueryToken: 'hook-query-SECRET-53c1d7',
  dbPassword: 'db-password-SECRET-e2294b',
};

const scenario = await loadScenario('zone-not-linked-hub-spoke');
const dir = await mkdtemp(join(tmpdir(), 'netdoctor-secrets-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

/** Everything produced, by where it came from. */
const produced: Array<{ where: string; text: string }> = [];
const keep = (where: string, text: string) => produced.push({ where, text });

t.test('the service, its store and its webhooks', async (t) => {
  const estate = await startEstate(t, scenario);
  const webhookBodies: string[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      webhookBodies.push(`${JSON.stringify(req.headers)}\n${req.url ?? ''}\n${body}`);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  t.teardown(() => receiver.close());
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook?token=${SECRETS.webhookQueryToken}`;

  const dbPath = join(dir, 'netdoctor.sqlite');
  const store = await openSqliteStore(dbPath);
  t.teardown(() => store.close());
  const schedule = await store.createSchedule({
    workspaceId: scenario.target.workspaceId,
    subscriptions: scenario.target.subscriptions ?? [],
    ...(scenario.target.computeName ? { computeName: scenario.target.computeName } : {}),
    cadence: { intervalSeconds: 3600 },
    notify: [{ url: hook, secret: SECRETS.webhookSecret }],
    nextRunAt: new Date(),
    createdAt: new Date(),
  });

  const server = startServer({
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'trace',
    NETDOCTOR_DB_PATH: dbPath,
    NETDOCTOR_ARM_ENDPOINT: estate.arm.url,
    NODE_EXTRA_CA_CERTS: estate.caFile,
    NETDOCTOR_ACCESS_TOKEN: SECRETS.armToken,
    NETDOCTOR_DNS_SERVERS: estate.dns.address,
    NETDOCTOR_DNS_TIMEOUT_MS: '400',
    NETDOCTOR_LRO_POLL_MS: '5',
    NETDOCTOR_SCHEDULER_TICK_MS: '200',
    NETDOCTOR_WEBHOOK_ALLOWED_HOSTS: 'hooks.invalid',
    NETDOCTOR_WEBHOOK_ALLOW_LOOPBACK: 'on',
  });
  t.teardown(() => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
  });
  const url = await listeningUrl(server, 30_000);
  const auth = { authorization: `Bearer ${SECRETS.clientBearer}` };
  const ask = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${url}${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string> | undefined) } });
    const text = await res.text();
    keep(`HTTP ${init.method ?? 'GET'} ${path} -> ${res.status}`, `${JSON.stringify([...res.headers])}\n${text}`);
    return { status: res.status, text };
  };

  const body = JSON.stringify({ workspaceId: scenario.target.workspaceId, computeName: scenario.target.computeName, subscriptions: scenario.target.subscriptions });
  for (const format of ['json', 'markdown', 'sarif', 'html', 'text']) {
    const res = await ask(`/v1/diagnoses?format=${format}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    t.equal(res.status, 200, `a diagnosis in ${format}`);
  }
  await ask('/v1/diagnoses', { method: 'POST', body: '{"workspaceId": 42}', headers: { 'content-type': 'application/json' } });
  await ask('/v1/schedules');
  await ask(`/v1/schedules/${schedule.id}`);
  await ask(`/v1/schedules`, {
    method: 'POST',
    body: JSON.stringify({ workspaceId: scenario.target.workspaceId, intervalSeconds: 3600, notify: [{ url: `https://hooks.invalid/x?token=${SECRETS.webhookQueryToken}`, secret: SECRETS.webhookSecret }] }),
    headers: { 'content-type': 'application/json' },
  });
  // The scheduled run notifies the receiver (a new finding), signed with the webhook secret.
  await eventually('the scheduled run and its webhook', async () => (webhookBodies.length > 0 ? true : undefined));
  await ask(`/v1/workspaces${scenario.target.workspaceId}/health`);
  await ask('/metrics');

  server.child.kill('SIGTERM');
  await once(server.child, 'exit');
  keep('service stdout', server.stdout.join('\n'));
  keep('service stderr', server.stderr.join('\n'));
  for (const b of webhookBodies) keep('webhook request', b.replace(`token=${SECRETS.webhookQueryToken}`, 'token=(the receiver URL, sent by design)'));
  const stored = {
    runs: await store.listRuns({ limit: 1000 }),
    health: await store.healthHistory(scenario.target.workspaceId, 1000),
    deliveries: await store.listDeliveries({ limit: 1000 }),
  };
  t.ok(stored.runs.length >= 6 && stored.health.length === 1 && stored.deliveries.length === 1, 'runs, a health record and a delivery were stored');
  keep('stored runs, health and deliveries', JSON.stringify(stored));
  keep('ARM requests seen by the simulated ARM (bodies)', JSON.stringify(estate.arm.requests.map((r) => r.body ?? null)));
  t.ok(
    webhookBodies.some((b) => b.includes('x-netdoctor-signature')),
    'the webhook was signed (with the secret, which it must not contain)',
  );
});

t.test('the CLI', async (t) => {
  const estate = await startEstate(t, scenario);
  const ok = await runCli(diagnoseArgs(scenario, estate), estate, { NETDOCTOR_ACCESS_TOKEN: SECRETS.armToken, LOG_LEVEL: 'trace' });
  t.equal(ok.code, 1, 'a diagnosis that finds the cause');
  keep('CLI diagnose stdout', ok.stdout);
  keep('CLI diagnose stderr', ok.stderr);
  for (const format of ['markdown', 'html']) {
    const run = await runCli([...diagnoseArgs(scenario, estate).filter((a) => a !== 'json' && a !== '--format'), '--format', format], estate, { NETDOCTOR_ACCESS_TOKEN: SECRETS.armToken });
    keep(`CLI diagnose --format ${format}`, run.stdout + run.stderr);
  }
  // ARM refuses the token: the error path must not print it either.
  estate.arm.setFaults([{ path: '.*', status: 401, code: 'InvalidAuthenticationToken', message: 'The access token is invalid.' }]);
  const refused = await runCli(diagnoseArgs(scenario, estate), estate, { NETDOCTOR_ACCESS_TOKEN: SECRETS.armToken, LOG_LEVEL: 'trace' });
  keep('CLI refused stdout+stderr', refused.stdout + refused.stderr);
  const badArgs = await runCli(['diagnose', '--workspace', 'not-an-id'], estate, { NETDOCTOR_ACCESS_TOKEN: SECRETS.armToken });
  t.equal(badArgs.code, 2);
  keep('CLI bad arguments', badArgs.stdout + badArgs.stderr);
});

t.test('a DATABASE_URL that cannot be used is refused without its password', async (t) => {
  const server = startServer({ HOST: '127.0.0.1', PORT: '0', DATABASE_URL: `postgres://netdoctor:${SECRETS.dbPassword}@127.0.0.1:9/netdoctor`, NETDOCTOR_ACCESS_TOKEN: SECRETS.armToken });
  const [code] = (await once(server.child, 'exit')) as [number | null];
  t.equal(code, 2, 'exit 2');
  keep('service with a bad DATABASE_URL', server.stdout.join('\n') + server.stderr.join('\n'));
  t.match(server.stderr.join('\n'), /DATABASE_URL/, 'the variable is named');
});

t.test('no secret appears in anything produced', async (t) => {
  t.ok(produced.length >= 20, `${produced.length} outputs collected`);
  t.ok(
    produced.reduce((n, p) => n + p.text.length, 0) > 100_000,
    'a substantial amount of output was searched',
  );
  for (const [name, secret] of Object.entries(SECRETS)) {
    const leaks = produced.filter((p) => p.text.includes(secret)).map((p) => p.where);
    t.same(leaks, [], `${name} appears nowhere`);
  }
});
