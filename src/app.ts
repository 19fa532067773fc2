/**
 * The REST service as a Fastify plugin: shared schemas, OpenAPI document, error handling, routes.
 * It never listens (src/server.ts does), so tests and the OpenAPI generator build it in-process.
 */
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { Config } from './config.ts';
import type { DiagnoseFn } from './diagnose.ts';
import { Problem, registerErrorHandlers } from './errors.ts';
import accepts from '@fastify/accepts';
import {
  ChainStep,
  Confidence,
  CoverageItem,
  Evidence,
  Finding,
  Flow,
  FlowHop,
  FlowVerdict,
  HopKind,
  HopReason,
  RecheckResult,
  RecheckStatus,
  Remediation,
  Report,
  Severity,
  Symptom,
  Tier,
  Verdict,
  VerdictStatus,
} from './report/schema.ts';
import { TOOL } from './version.ts';
import healthz from './routes/healthz.ts';
import metricsRoute from './routes/metrics.ts';
import { createMetrics, type ServiceMetrics } from './service/metrics.ts';
import { registerRequestIds } from './service/request-id.ts';
import diagnoses from './routes/diagnoses.ts';
import schedules, { Schedule, WorkspaceHealth } from './routes/schedules.ts';
import type { WebhookPolicy } from './service/webhook.ts';

/** Where webhooks may go, from the service's configuration (the scheduler delivers under the same policy). */
export function webhookPolicyOf(config: Pick<Config, 'NETDOCTOR_WEBHOOK_ALLOWED_HOSTS' | 'NETDOCTOR_WEBHOOK_ALLOW_LOOPBACK'>): WebhookPolicy {
  return { allowedHosts: config.NETDOCTOR_WEBHOOK_ALLOWED_HOSTS, allowLoopback: config.NETDOCTOR_WEBHOOK_ALLOW_LOOPBACK === 'on' };
}
import type { Store } from './store/store.ts';
import { documentSecurity, registerAuth, type AuthOptions } from './auth/plugin.ts';
import { PERMISSIONS } from './auth/authorize.ts';
import { DiagnosisAccepted } from './routes/runs.ts';
import { DiagnosisRun, ProbeProgress, RunStatus, type DiagnosisRuns } from './service/runs.ts';

export interface AppOptions {
  config: Config;
  diagnose: DiagnoseFn;
  /**
   * The registry GET /metrics serves, shared with the diagnose function and the ARM clients that
   * record into it; a fresh one (process metrics only) when absent. Unused with NETDOCTOR_METRICS=off.
   */
  metrics?: ServiceMetrics;
  /** Where diagnosis runs live; default in memory (src/service/runs.ts). */
  runs?: DiagnosisRuns;
  /** Schedules and health history; without a store the /v1/schedules and health routes are absent. */
  store?: Store;
  /**
   * Who may call the API (src/auth/plugin.ts): Entra ID bearer tokens, API keys or both. Without
   * it the app is NOT authenticated: every route is open (tests, the OpenAPI generator, and the
   * server with the explicit NETDOCTOR_AUTH=off). src/server.ts builds it from the configuration.
   */
  auth?: AuthOptions;
}

/** Shared models, in dependency order; each becomes `#/components/schemas/<$id>`. */
const SHARED_SCHEMAS = [
  Tier,
  Severity,
  Confidence,
  VerdictStatus,
  Evidence,
  Remediation,
  Symptom,
  Finding,
  FlowVerdict,
  HopKind,
  HopReason,
  FlowHop,
  Flow,
  CoverageItem,
  ChainStep,
  Verdict,
  Report,
  RecheckStatus,
  RecheckResult,
  Problem,
  RunStatus,
  ProbeProgress,
  DiagnosisRun,
  DiagnosisAccepted,
  Schedule,
  WorkspaceHealth,
];

/**
 * A copy of `schema` in which nested schemas that carry an `$id` become `{ $ref: <$id> }`, so a model
 * is defined once (as its own component) instead of being inlined into every parent.
 */
export function toSharedSchema(schema: unknown, root = true): unknown {
  if (Array.isArray(schema)) return schema.map((s) => toSharedSchema(s, false));
  if (schema === null || typeof schema !== 'object') return schema;
  const o = schema as Record<string, unknown>;
  if (!root && typeof o.$id === 'string') return { $ref: o.$id };
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toSharedSchema(v, false)]));
}

export default async function app(fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  // TypeBox validation: additional properties are rejected (Ajv's Fastify defaults would strip them
  // silently) and nothing is coerced.
  fastify.setValidatorCompiler(TypeBoxValidatorCompiler);
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: TOOL.name,
        version: TOOL.version,
        description: 'Explains why compute on a network-isolated Azure Machine Learning workspace falls back to device login, and how to fix it.',
      },
      tags: [
        { name: 'diagnoses', description: 'Workspace diagnoses' },
        { name: 'schedules', description: 'Scheduled health checks, history and drift notifications' },
        { name: 'service', description: 'Service health' },
      ],
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: `A Microsoft Entra ID access token for the API's app registration, with the route's permission as an app role (roles) or delegated scope (scp): ${PERMISSIONS.join(', ')}.`,
          },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key (also accepted as `Authorization: ApiKey <key>`) whose roles include the route\'s permission.' },
        },
      },
      security: [{ bearer: [] }, { apiKey: [] }],
    },
    // Components are named after the models' $id instead of def-0, def-1, ...
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  for (const schema of SHARED_SCHEMAS) fastify.addSchema(toSharedSchema(schema) as Record<string, unknown>);
  registerErrorHandlers(fastify);
  // Request ids (x-request-id in and out, on every log line): src/service/request-id.ts.
  registerRequestIds(fastify);
  // Accept-header negotiation for the report formats (request.accepts()).
  await fastify.register(accepts);
  // Before any route: the hooks cover every route, and each route's permission is documented.
  registerAuth(fastify, opts.auth);
  documentSecurity(fastify);

  await fastify.register(healthz, { ...(opts.store ? { store: opts.store } : {}) });
  if (opts.config.NETDOCTOR_METRICS !== 'off') {
    await fastify.register(metricsRoute, { registry: (opts.metrics ?? createMetrics()).registry, public: opts.config.NETDOCTOR_METRICS_PUBLIC === 'on' });
  }
  await fastify.register(diagnoses, {
    diagnose: opts.diagnose,
    syncBudgetMs: opts.config.NETDOCTOR_SYNC_BUDGET_MS,
    retainMs: opts.config.NETDOCTOR_RUN_RETENTION_MS,
    shutdownGraceMs: opts.config.NETDOCTOR_SHUTDOWN_GRACE_MS,
    ...(opts.runs ? { runs: opts.runs } : {}),
  });
  if (opts.store) await fastify.register(schedules, { store: opts.store, webhookPolicy: webhookPolicyOf(opts.config) });
  fastify.log.debug(
    { cloud: opts.config.NETDOCTOR_CLOUD, armEndpoint: opts.config.NETDOCTOR_ARM_ENDPOINT, auth: opts.auth ? { entra: !!opts.auth.entra, apiKeys: !!opts.auth.apiKeys } : 'off' },
    'app registered',
  );
}

// What fastify-plugin does: the app's error handlers, schemas and `swagger()` decorator belong to
// the instance that registers it (tests, server, OpenAPI generator), not to a hidden child context.
Object.assign(app, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'aml-netdoctor' });
