/**
 * Service configuration from environment variables: one TypeBox schema is both the type and the
 * validation. `loadConfig` reports every bad variable at once, by name, and never echoes the
 * access token.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { CLOUD_NAMES } from './model/cloud.ts';
import { isAllowedAuthorityUrl } from './auth/entra.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const AUTH_MODES = ['entra', 'api-keys', 'entra+api-keys', 'off'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export const Config = Type.Object(
  {
    HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address to listen on.' }),
    PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'TCP port to listen on (0 = any free port).' }),
    LOG_LEVEL: Type.Enum([...LOG_LEVELS], { default: 'info' }),
    NETDOCTOR_CLOUD: Type.Enum([...CLOUD_NAMES], { default: 'AzureCloud' }),
    NETDOCTOR_ARM_ENDPOINT: Type.Optional(
      Type.String({ pattern: '^https://[^\\s/?#@]+(/[^\\s?#]*)?$', description: 'Overrides the cloud ARM endpoint (https URL, no credentials).' }),
    ),
    NETDOCTOR_DNS_SERVERS: Type.Array(Type.String(), {
      default: [],
      description: 'Resolvers for the live DNS checks, `ip`, `ip:port` or `[ipv6]:port`; empty = system resolver.',
    }),
    NETDOCTOR_ACCESS_TOKEN: Type.Optional(Type.String({ minLength: 1, description: 'Pre-acquired ARM bearer token; never logged.' })),
    NETDOCTOR_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 60_000, description: 'Timeout of one ARM call, retries included.' }),
    NETDOCTOR_DNS_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 3_000, description: 'Timeout of one DNS query.' }),
    NETDOCTOR_LRO_POLL_MS: Type.Integer({
      minimum: 1,
      maximum: 60_000,
      default: 2_000,
      description: 'Polling interval of long-running ARM operations (effective routes, effective NSGs, next hop) when ARM gives no Retry-After.',
    }),
    NETDOCTOR_SYNC_BUDGET_MS: Type.Integer({
      minimum: 0,
      maximum: 3_600_000,
      default: 30_000,
      description:
        'How long POST /v1/diagnoses waits for a diagnosis before answering 202 Accepted with a Location to poll instead of the report (0 = always asynchronous).',
    }),
    NETDOCTOR_RUN_RETENTION_MS: Type.Integer({ minimum: 1, maximum: 604_800_000, default: 3_600_000, description: 'How long a finished diagnosis (status, progress, report) stays readable at GET /v1/diagnoses/{id}.' }),
    NETDOCTOR_METRICS: Type.Optional(Type.Enum(['on', 'off'], { description: 'GET /metrics (Prometheus): on (default) or off.' })),
    NETDOCTOR_ARM_READS_PER_SECOND: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 10_000,
        description: "ARM requests per second per subscription (token bucket refill). Default 25, ARM's documented subscription read rate.",
      }),
    ),
    NETDOCTOR_DB_PATH: Type.String({
      minLength: 1,
      default: 'aml-netdoctor.sqlite',
      description: "SQLite file holding schedules, runs, health history and webhook deliveries (':memory:' keeps nothing across restarts).",
    }),
    NETDOCTOR_SCHEDULER: Type.Enum(['on', 'off'], { default: 'on', description: 'Run due scheduled health checks in this process (off: serve the API only).' }),
    NETDOCTOR_SCHEDULER_TICK_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 5_000, description: 'How often the scheduler looks for due schedules.' }),
    NETDOCTOR_HISTORY_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 3650, default: 90, description: 'Runs, health history and deliveries older than this are deleted (schedules never are).' }),
    DATABASE_URL: Type.Optional(
      Type.String({
        pattern: '^postgres(ql)?://',
        description:
          'PostgreSQL (postgres://user:password@host:5432/db): replicas share schedules, runs and history there, and scheduled runs through a job queue (pg-boss). Unset: the SQLite file NETDOCTOR_DB_PATH. Never logged.',
      }),
    ),
    NETDOCTOR_RUN_LEASE_SECONDS: Type.Integer({
      minimum: 2,
      maximum: 3600,
      default: 30,
      description: 'A replica renews its hold on the runs it executes every third of this; a run whose holder stopped renewing is taken over (scheduled) or ended failed (on-demand) after it.',
    }),
    NETDOCTOR_JOB_HEARTBEAT_SECONDS: Type.Integer({
      minimum: 10,
      maximum: 3600,
      default: 30,
      description: "PostgreSQL: a scheduled run's job whose replica has not heartbeated for this long is retried on another replica.",
    }),
    NETDOCTOR_QUEUE_SUPERVISE_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 30, description: 'PostgreSQL: how often the job queue looks for jobs whose replica died.' }),
    NETDOCTOR_SCHEDULER_BATCH: Type.Integer({ minimum: 1, maximum: 10_000, default: 200, description: 'Most due schedules claimed per tick (and scheduled runs taken per queue batch); a batch is one sweep.' }),
    NETDOCTOR_SWEEP_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 256, default: 8, description: 'Diagnoses run at once within a sweep.' }),
    NETDOCTOR_SHUTDOWN_GRACE_MS: Type.Integer({
      minimum: 0,
      maximum: 600_000,
      default: 10_000,
      description: 'On SIGTERM/SIGINT, how long running scheduled work may go on before it is handed back (queued again for another replica or the next start).',
    }),
    NETDOCTOR_AUTH: Type.Optional(
      Type.Enum([...AUTH_MODES], {
        description:
          'How API callers authenticate: entra (Microsoft Entra ID bearer tokens), api-keys (NETDOCTOR_API_KEYS_FILE), entra+api-keys, or off (no authentication). The server refuses to start without it.',
      }),
    ),
    NETDOCTOR_ENTRA_TENANT_ID: Type.Optional(
      Type.String({ pattern: '^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+)$', description: 'Entra ID tenant (id or verified domain) whose tokens are accepted.' }),
    ),
    NETDOCTOR_ENTRA_AUDIENCE: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: "Accepted token audiences, comma-separated: the API's application id URI (api://...) and/or its client id." }),
    ),
    NETDOCTOR_ENTRA_AUTHORITY: Type.Optional(
      Type.String({ description: "Entra ID authority host (default: the cloud's, e.g. https://login.microsoftonline.com); https, or http only on a loopback address." }),
    ),
    NETDOCTOR_API_KEYS_FILE: Type.Optional(Type.String({ minLength: 1, description: 'JSON file of API key hashes and their roles; re-read when it changes.' })),
    NETDOCTOR_WEBHOOK_ALLOWED_HOSTS: Type.Array(Type.String({ pattern: '^(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\\.?$' }), {
      default: [],
      description:
        'Host names schedules may send webhooks to, comma-separated: exact (hooks.example.com) or a subdomain wildcard (*.example.com). Empty (the default): webhooks are refused. Targets must be https, and never resolve to a private, loopback or link-local address.',
    }),
    NETDOCTOR_WEBHOOK_ALLOW_LOOPBACK: Type.Enum(['on', 'off'], { default: 'off', description: 'on: webhooks may also go to 127.0.0.1/localhost over http (local receivers, tests).' }),
    NETDOCTOR_METRICS_PUBLIC: Type.Enum(['on', 'off'], { default: 'off', description: 'on: GET /metrics needs no credentials (off: it needs Reports.Read).' }),
    NETDOCTOR_ARM_BURST: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100_000, description: "ARM requests per subscription allowed at once after a quiet period (token bucket size). Default 250, ARM's documented read bucket." }),
    ),
  },
  { additionalProperties: false },
);
export type Config = Static<typeof Config>;

type ConfigKey = keyof Config & string;
const KEYS = Object.keys(Config.properties) as ConfigKey[];
/** Variables whose value must never appear in a message. */
const SECRET: ReadonlySet<string> = new Set(['NETDOCTOR_ACCESS_TOKEN', 'DATABASE_URL']);

export interface ConfigProblem {
  variable: string;
  message: string;
}

export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export class DnsServerError extends Error {
  override name = 'DnsServerError';
}

/**
 * Validates one DNS server entry and returns it in the form `dns.Resolver#setServers` accepts:
 * `1.2.3.4`, `1.2.3.4:5353`, `fd00::10`, `[fd00::10]:5353`.
 */
export function parseDnsServer(input: string): string {
  const s = input.trim();
  const bad = (why: string) => new DnsServerError(`'${s}' ${why}`);
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (bracketed) {
    host = bracketed[1] as string;
    portText = bracketed[2];
    if (!isIPv6(host)) throw bad('is not a valid [IPv6]:port address');
  } else if (isIPv6(s)) {
    host = s;
  } else {
    const colon = s.lastIndexOf(':');
    host = colon === -1 ? s : s.slice(0, colon);
    portText = colon === -1 ? undefined : s.slice(colon + 1);
    if (!isIPv4(host)) throw bad('is not an IPv4 address, IPv6 address, ipv4:port or [ipv6]:port');
  }
  if (portText === undefined) return host;
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) throw bad(`has an invalid port '${portText}' (expected 1-65535)`);
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses a comma-separated list of DNS servers (blank entries are ignored). */
export function parseDnsServerList(input: string): string[] {
  return input
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')
    .map((e, i) => {
      try {
        return parseDnsServer(e);
      } catch (err) {
        throw new DnsServerError(`entry ${i + 1}: ${(err as Error).message}`);
      }
    });
}

const validator = Compile(Config);

export interface LoadConfigOptions {
  /**
   * The service (src/server.ts) is starting: NETDOCTOR_AUTH must then be set, so nobody serves the
   * API without authentication by accident. Tests and the OpenAPI generator build the app without it.
   */
  service?: boolean;
}

/** Reads, converts and validates the configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>, options: LoadConfigOptions = {}): Config {
  const problems: ConfigProblem[] = [];
  const raw: Record<string, unknown> = {};
  for (const key of KEYS) {
    const value = env[key]?.trim();
    if (value === undefined || value === '') continue;
    const schema = Config.properties[key] as { type?: string };
    if (key === 'NETDOCTOR_DNS_SERVERS') {
      try {
        raw[key] = parseDnsServerList(value);
      } catch (err) {
        problems.push({ variable: key, message: (err as Error).message });
      }
    } else if (key === 'NETDOCTOR_ENTRA_AUDIENCE' || key === 'NETDOCTOR_WEBHOOK_ALLOWED_HOSTS') {
      raw[key] = value
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a !== '');
    } else if (schema.type === 'integer') {
      // Strict: digits only, so '1e3' or '0x10' are reported rather than silently converted.
      raw[key] = /^\d+$/.test(value) ? Number(value) : value;
    } else if (schema.type === 'number') {
      raw[key] = /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
    } else {
      raw[key] = value;
    }
  }
  const config = validator.Default(raw) as Record<string, unknown>;
  const seen = new Set(problems.map((p) => p.variable));
  for (const error of validator.Errors(config)) {
    const variable = error.instancePath.split('/')[1];
    if (variable === undefined || seen.has(variable)) continue;
    seen.add(variable);
    problems.push({ variable, message: describe(variable, error.message, error.params, raw[variable]) });
  }
  const endpoint = config.NETDOCTOR_ARM_ENDPOINT;
  if (typeof endpoint === 'string' && !seen.has('NETDOCTOR_ARM_ENDPOINT') && !URL.canParse(endpoint)) {
    problems.push({ variable: 'NETDOCTOR_ARM_ENDPOINT', message: 'is not a valid https URL' });
  }
  problems.push(...authProblems(config as Config, seen, options.service === true));
  if (problems.length > 0) throw new ConfigError(problems);
  return config as Config;
}

/** The authentication settings that only make sense together. */
function authProblems(config: Config, seen: ReadonlySet<string>, service: boolean): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const need = (variable: keyof Config & string, why: string) => {
    if (config[variable] === undefined && !seen.has(variable)) problems.push({ variable, message: `is required when ${why}` });
  };
  const authority = config.NETDOCTOR_ENTRA_AUTHORITY;
  if (authority !== undefined && !seen.has('NETDOCTOR_ENTRA_AUTHORITY') && !isAllowedAuthorityUrl(authority)) {
    problems.push({ variable: 'NETDOCTOR_ENTRA_AUTHORITY', message: `must be an https URL without credentials, query or fragment (http only on 127.0.0.1, [::1] or localhost) (got '${authority}')` });
  }
  const mode = config.NETDOCTOR_AUTH;
  if (mode === undefined) {
    if (service && !seen.has('NETDOCTOR_AUTH')) {
      problems.push({ variable: 'NETDOCTOR_AUTH', message: `must be set: ${AUTH_MODES.join(', ')} (off serves the API to anyone who can reach it, without authentication)` });
    }
    return problems;
  }
  if (mode === 'entra' || mode === 'entra+api-keys') {
    need('NETDOCTOR_ENTRA_TENANT_ID', `NETDOCTOR_AUTH is ${mode}`);
    need('NETDOCTOR_ENTRA_AUDIENCE', `NETDOCTOR_AUTH is ${mode}`);
  }
  if (mode === 'api-keys' || mode === 'entra+api-keys') need('NETDOCTOR_API_KEYS_FILE', `NETDOCTOR_AUTH is ${mode}`);
  return problems;
}

function describe(variable: string, message: string, params: object, value: unknown): string {
  const allowed = (params as { allowedValues?: unknown[] }).allowedValues;
  const expectation = allowed
    ? `must be one of ${allowed.join(', ')}`
    : variable === 'NETDOCTOR_ARM_ENDPOINT'
      ? 'must be an https URL without credentials'
      : variable === 'NETDOCTOR_ENTRA_TENANT_ID'
        ? 'must be the tenant id (a GUID) or a verified domain of one tenant (common, organizations and consumers are not accepted)'
        : message;
  // The ARM endpoint may carry credentials (https://user:pass@host), the token always is one.
  if (SECRET.has(variable) || variable === 'NETDOCTOR_ARM_ENDPOINT') return variable === 'DATABASE_URL' ? 'must be a postgres:// or postgresql:// URL' : expectation;
  return `${expectation} (got '${String(value)}')`;
}
