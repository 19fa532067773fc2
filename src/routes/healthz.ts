/**
 * Liveness (/healthz: the process serves HTTP) and readiness (/readyz: the store answers, when the
 * service has one). Neither touches Azure; both are public (no credentials).
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { HttpProblem, problemResponses } from '../errors.ts';
import type { Store } from '../store/store.ts';
import { TOOL } from '../version.ts';

const Health = Type.Object({ status: Type.Literal('ok'), version: Type.String() }, { additionalProperties: false, description: 'The service is up.' });
const Ready = Type.Object({ status: Type.Literal('ready'), version: Type.String() }, { additionalProperties: false, description: 'The service can serve requests.' });

/** How long the store may take to answer the readiness probe. */
const STORE_PROBE_MS = 2_000;
/** A schedule id that never exists: reading it is a cheap round trip to the store. */
const PROBE_ID = '00000000-0000-0000-0000-000000000000';

export interface HealthRoutesOptions {
  store?: Store;
}

async function storeAnswers(store: Store): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), STORE_PROBE_MS)));
  try {
    return await Promise.race([store.getSchedule(PROBE_ID).then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export default async function healthz(instance: FastifyInstance, opts: HealthRoutesOptions = {}): Promise<void> {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  fastify.get(
    '/healthz',
    {
      // Probed every few seconds by orchestrators: keep it out of the info-level request log.
      logLevel: 'warn',
      config: { public: true },
      schema: { summary: 'Liveness check', tags: ['service'], response: { 200: Health } },
    },
    async () => ({ status: 'ok' as const, version: TOOL.version }),
  );

  fastify.get(
    '/readyz',
    {
      logLevel: 'warn',
      config: { public: true },
      schema: { summary: 'Readiness check', description: 'Ready when the store (schedules, runs, history) answers.', tags: ['service'], response: { 200: Ready, ...problemResponses(503) } },
    },
    async (request) => {
      if (opts.store) {
        const ok = await storeAnswers(opts.store).catch((err: unknown) => {
          request.log.warn({ err }, 'readiness: the store failed');
          return false;
        });
        if (!ok) throw new HttpProblem(503, 'The store does not answer; the service is not ready.');
      }
      return { status: 'ready' as const, version: TOOL.version };
    },
  );
}
