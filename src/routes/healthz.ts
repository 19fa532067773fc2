/** Liveness: answers as long as the process serves HTTP. Does not touch Azure. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { TOOL } from '../version.ts';

const Health = Type.Object({ status: Type.Literal('ok'), version: Type.String() }, { additionalProperties: false, description: 'The service is up.' });

export default async function healthz(instance: FastifyInstance): Promise<void> {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  fastify.get(
    '/healthz',
    {
      // Probed every few seconds by orchestrators: keep it out of the info-level request log.
      logLevel: 'warn',
      schema: { summary: 'Liveness check', tags: ['service'], response: { 200: Health } },
    },
    async () => ({ status: 'ok' as const, version: TOOL.version }),
  );
}
