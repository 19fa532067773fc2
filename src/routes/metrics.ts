/**
 * GET /metrics: the Prometheus text exposition of the app's registry (src/service/metrics.ts).
 * Registered unless NETDOCTOR_METRICS=off. Left out of the OpenAPI document: it is scraped by
 * Prometheus, not called by API clients, and its format is Prometheus's, not a JSON model.
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface MetricsRouteOptions {
  registry: Registry;
  /** Served without credentials (NETDOCTOR_METRICS_PUBLIC=on); otherwise it needs Reports.Read. */
  public?: boolean;
}

export default async function metrics(fastify: FastifyInstance, opts: MetricsRouteOptions): Promise<void> {
  fastify.get(
    '/metrics',
    {
      // Scraped every few seconds: keep it out of the info-level request log.
      logLevel: 'warn',
      config: opts.public ? { public: true } : { permission: 'Reports.Read' },
      schema: { hide: true },
    },
    async (_request, reply) => {
      const body = await opts.registry.metrics();
      return reply.type(opts.registry.contentType).send(body);
    },
  );
}
