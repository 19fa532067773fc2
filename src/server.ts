/**
 * The service entry point and the only place that listens: configuration from the environment,
 * the pino logger (tokens redacted), real diagnoses against Azure, graceful shutdown.
 *
 *   NETDOCTOR_AUTH=entra NETDOCTOR_ENTRA_TENANT_ID=<tenant> NETDOCTOR_ENTRA_AUDIENCE=api://netdoctor HOST=0.0.0.0 PORT=3000 node src/server.ts
 *
 * NETDOCTOR_AUTH is required (entra, api-keys, entra+api-keys, or an explicit off): without it the
 * server exits 2 rather than serve the API to anyone.
 */
import Fastify from 'fastify';
import { pino } from 'pino';
import app, { webhookPolicyOf } from './app.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createAzureClients, credentialFromEnv, type AzureAccessOptions } from './azure/clients.ts';
import { createDiagnose } from './diagnose.ts';
import { ArmThrottle } from './azure/throttle.ts';
import { createMetrics } from './service/metrics.ts';
import { requestIdMixin, requestIdOptions } from './service/request-id.ts';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Scheduler } from './service/scheduler.ts';
import { createStoredRuns, recoverInterruptedRuns } from './service/stored-runs.ts';
import { openSqliteStore } from './store/sqlite.ts';
import { openPostgresStore } from './store/postgres.ts';
import { openPgBossQueue } from './service/pgboss-queue.ts';
import { createSweepDiagnose } from './service/sweep.ts';
import type { Store } from './store/store.ts';
import { authFromConfig } from './auth/index.ts';
import { ApiKeyFileError } from './auth/api-keys.ts';

/** Anything that may carry a credential; pino's wildcards match one level, so list the usual depths. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'DATABASE_URL',
  '*.DATABASE_URL',
  'connectionString',
  '*.connectionString',
  'req.headers["x-ms-authorization-auxiliary"]',
  'req.headers["x-api-key"]',
  '*.headers["x-api-key"]',
  'headers.authorization',
  '*.headers.authorization',
  'authorization',
  '*.authorization',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'access_token',
  '*.access_token',
  'refreshToken',
  '*.refreshToken',
  'NETDOCTOR_ACCESS_TOKEN',
  '*.NETDOCTOR_ACCESS_TOKEN',
];

/** Longest time a client may take to send one request (headers and body); diagnosis time is not counted. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Beyond the configured grace, how long shutdown may take (handing back, closing) before exiting anyway. */
const SHUTDOWN_MARGIN_MS = 10_000;
/** Attempts per DNS query (UDP loses packets; one retry keeps a single drop from looking like a failure). */
const DNS_TRIES = 2;

function readConfig(): Config {
  try {
    return loadConfig(process.env, { service: true });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`aml-netdoctor: ${err.message}\n`);
    process.exit(2);
  }
}

const config = readConfig();
// The mixin puts the request id on lines of the diagnosis, which logs through `log`, not request.log.
const log = pino({ level: config.LOG_LEVEL, redact: { paths: REDACT, censor: '[redacted]' }, mixin: requestIdMixin });
const metrics = config.NETDOCTOR_METRICS === 'off' ? undefined : createMetrics();
// One throttle for the process: every diagnosis and sweep shares each subscription's bucket.
const throttle = new ArmThrottle({
  ...(config.NETDOCTOR_ARM_READS_PER_SECOND !== undefined ? { readsPerSecond: config.NETDOCTOR_ARM_READS_PER_SECOND } : {}),
  ...(config.NETDOCTOR_ARM_BURST !== undefined ? { burst: config.NETDOCTOR_ARM_BURST } : {}),
});

const azureOptions: AzureAccessOptions = {
  cloud: config.NETDOCTOR_CLOUD,
  ...(config.NETDOCTOR_ARM_ENDPOINT ? { armEndpoint: config.NETDOCTOR_ARM_ENDPOINT } : {}),
  credential: credentialFromEnv({ NETDOCTOR_ACCESS_TOKEN: config.NETDOCTOR_ACCESS_TOKEN }),
  timeoutMs: config.NETDOCTOR_TIMEOUT_MS,
  lroPollIntervalMs: config.NETDOCTOR_LRO_POLL_MS,
  throttle,
  ...(metrics ? { metrics } : {}),
};
const azure = createAzureClients(azureOptions);
const auth = await authFromConfig(config, log.child({ component: 'auth' })).catch((err: unknown) => {
  if (!(err instanceof ApiKeyFileError)) throw err;
  process.stderr.write(`aml-netdoctor: NETDOCTOR_API_KEYS_FILE: '${config.NETDOCTOR_API_KEYS_FILE}' ${err.message}\n`);
  process.exit(2);
});
if (!auth) log.warn('NETDOCTOR_AUTH=off: the API is served without authentication to anyone who can reach it');
const diagnoseDeps = {
  cloud: config.NETDOCTOR_CLOUD,
  dns: { servers: config.NETDOCTOR_DNS_SERVERS, timeoutMs: config.NETDOCTOR_DNS_TIMEOUT_MS, tries: DNS_TRIES },
  log,
  ...(metrics ? { metrics } : {}),
};
const diagnose = createDiagnose({ ...diagnoseDeps, azure });

const postgres = config.DATABASE_URL;
async function openStore(): Promise<Store> {
  try {
    return postgres ? await openPostgresStore(postgres) : await openSqliteStore(config.NETDOCTOR_DB_PATH);
  } catch (err) {
    // The message of a connection error never holds the password; the URL is not repeated.
    const where = postgres ? 'DATABASE_URL: cannot use the PostgreSQL database' : `NETDOCTOR_DB_PATH: cannot open '${config.NETDOCTOR_DB_PATH}'`;
    process.stderr.write(`aml-netdoctor: ${where} (${err instanceof Error ? err.message : String(err)})\n`);
    process.exit(2);
  }
}
const store = await openStore();
const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
const leaseMs = config.NETDOCTOR_RUN_LEASE_SECONDS * 1000;
// On-demand runs whose holder is gone (a previous process, a dead replica) end failed, now and then periodically.
const recover = () =>
  recoverInterruptedRuns(store, new Date()).then(
    (interrupted) => {
      if (interrupted > 0) log.warn({ interrupted }, 'runs whose replica stopped before they finished marked failed');
    },
    (err: unknown) => log.error({ err }, 'recovering interrupted runs failed'),
  );
await recover();
const recoverTimer = setInterval(recover, leaseMs);
recoverTimer.unref();
const runs = createStoredRuns({ store, diagnose, owner, leaseMs });
// A DELETE on another replica ends a run in the shared store; stop it here too.
const syncTimer = setInterval(() => void runs.sync().catch((err: unknown) => log.error({ err }, 'syncing runs with the store failed')), Math.min(2_000, leaseMs / 3));
syncTimer.unref();
const queue = postgres
  ? await openPgBossQueue({
      connectionString: postgres,
      log: log.child({ component: 'queue' }),
      heartbeatSeconds: config.NETDOCTOR_JOB_HEARTBEAT_SECONDS,
      superviseSeconds: config.NETDOCTOR_QUEUE_SUPERVISE_SECONDS,
      batchSize: config.NETDOCTOR_SCHEDULER_BATCH,
    }).catch((err: unknown) => {
      process.stderr.write(`aml-netdoctor: DATABASE_URL: cannot start the job queue (${err instanceof Error ? err.message : String(err)})\n`);
      process.exit(2);
    })
  : undefined;
const scheduler = new Scheduler({
  store,
  // One sweep per tick (embedded) or per queue batch (PostgreSQL): shared resources are read once in it.
  sweep: () => createSweepDiagnose(azureOptions, diagnoseDeps).diagnose,
  log: log.child({ component: 'scheduler' }),
  owner,
  batch: config.NETDOCTOR_SCHEDULER_BATCH,
  concurrency: config.NETDOCTOR_SWEEP_CONCURRENCY,
  leaseMs,
  webhook: { policy: webhookPolicyOf(config) },
  ...(queue ? { queue } : {}),
});
const HOUR_MS = 3_600_000;
const prune = () =>
  store.prune(new Date(Date.now() - config.NETDOCTOR_HISTORY_RETENTION_DAYS * 24 * HOUR_MS)).then(
    (counts) => log.info({ counts }, 'retention: old runs, history and deliveries pruned'),
    (err: unknown) => log.error({ err }, 'retention prune failed'),
  );
const pruneTimer = setInterval(prune, HOUR_MS);
pruneTimer.unref();

const server = Fastify({ loggerInstance: log, requestTimeout: REQUEST_TIMEOUT_MS, return503OnClosing: true, ...requestIdOptions });
await server.register(app, { config, diagnose, store, runs, ...(metrics ? { metrics } : {}), ...(auth ? { auth } : {}) });
// Shutdown order: stop claiming ticks and taking queued runs; running scheduled work gets the grace
// period, then is handed back (queued again, for another replica or the next start); then the queue
// and the store close. On-demand runs get the same grace (routes/diagnoses.ts), then are cancelled.
server.addHook('preClose', async () => {
  clearInterval(pruneTimer);
  clearInterval(recoverTimer);
  clearInterval(syncTimer);
  await scheduler.stop({ graceMs: config.NETDOCTOR_SHUTDOWN_GRACE_MS });
});
server.addHook('onClose', async () => {
  await queue?.close();
  await store.close();
});

let closing = false;
function shutdown(signal: NodeJS.Signals): void {
  if (closing) return;
  closing = true;
  server.log.info({ signal }, 'shutting down');
  setTimeout(() => {
    server.log.error('in-flight requests did not finish in time; exiting');
    process.exit(1);
  }, config.NETDOCTOR_SHUTDOWN_GRACE_MS + SHUTDOWN_MARGIN_MS).unref();
  server.close().then(
    () => process.exit(0),
    (err: unknown) => {
      server.log.error({ err }, 'error while shutting down');
      process.exit(1);
    },
  );
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);

try {
  await server.listen({ host: config.HOST, port: config.PORT });
  if (config.NETDOCTOR_SCHEDULER === 'on') await scheduler.start(config.NETDOCTOR_SCHEDULER_TICK_MS);
  else scheduler.keepLeases();
  void prune();
  server.log.info(
    {
      cloud: config.NETDOCTOR_CLOUD,
      armEndpoint: azure.armEndpoint,
      dnsServers: config.NETDOCTOR_DNS_SERVERS,
      armThrottle: { readsPerSecond: throttle.readsPerSecond, burst: throttle.burst },
      metrics: metrics !== undefined,
      auth: config.NETDOCTOR_AUTH,
      store: postgres ? 'postgresql' : config.NETDOCTOR_DB_PATH,
      scheduler: config.NETDOCTOR_SCHEDULER === 'on' ? { owner, tickMs: config.NETDOCTOR_SCHEDULER_TICK_MS } : 'off',
    },
    'aml-netdoctor ready',
  );
} catch (err) {
  server.log.fatal({ err }, 'could not start listening');
  process.exit(1);
}
