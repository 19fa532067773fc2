/**
 * The service entry point and the only place that listens: configuration from the environment,
 * the pino logger (tokens redacted), real diagnoses against Azure, graceful shutdown.
 *
 *   HOST=0.0.0.0 PORT=3000 node src/server.ts
 */
import Fastify from 'fastify';
import { pino } from 'pino';
import app from './app.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createAzureClients, credentialFromEnv } from './azure/clients.ts';
import { createDiagnose } from './diagnose.ts';

/** Anything that may carry a credential; pino's wildcards match one level, so list the usual depths. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-ms-authorization-auxiliary"]',
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
/** Longest wait for in-flight requests after SIGINT/SIGTERM before exiting anyway. */
const SHUTDOWN_GRACE_MS = 10_000;
/** Attempts per DNS query (UDP loses packets; one retry keeps a single drop from looking like a failure). */
const DNS_TRIES = 2;

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`aml-netdoctor: ${err.message}\n`);
    process.exit(2);
  }
}

const config = readConfig();
const log = pino({ level: config.LOG_LEVEL, redact: { paths: REDACT, censor: '[redacted]' } });

const azure = createAzureClients({
  cloud: config.NETDOCTOR_CLOUD,
  ...(config.NETDOCTOR_ARM_ENDPOINT ? { armEndpoint: config.NETDOCTOR_ARM_ENDPOINT } : {}),
  credential: credentialFromEnv({ NETDOCTOR_ACCESS_TOKEN: config.NETDOCTOR_ACCESS_TOKEN }),
  timeoutMs: config.NETDOCTOR_TIMEOUT_MS,
  lroPollIntervalMs: config.NETDOCTOR_LRO_POLL_MS,
});
const diagnose = createDiagnose({
  cloud: config.NETDOCTOR_CLOUD,
  azure,
  dns: { servers: config.NETDOCTOR_DNS_SERVERS, timeoutMs: config.NETDOCTOR_DNS_TIMEOUT_MS, tries: DNS_TRIES },
  log,
});

const server = Fastify({ loggerInstance: log, requestTimeout: REQUEST_TIMEOUT_MS, return503OnClosing: true });
await server.register(app, { config, diagnose });

let closing = false;
function shutdown(signal: NodeJS.Signals): void {
  if (closing) return;
  closing = true;
  server.log.info({ signal }, 'shutting down');
  setTimeout(() => {
    server.log.error('in-flight requests did not finish in time; exiting');
    process.exit(1);
  }, SHUTDOWN_GRACE_MS).unref();
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
  server.log.info({ cloud: config.NETDOCTOR_CLOUD, armEndpoint: azure.armEndpoint, dnsServers: config.NETDOCTOR_DNS_SERVERS }, 'aml-netdoctor ready');
} catch (err) {
  server.log.fatal({ err }, 'could not start listening');
  process.exit(1);
}
