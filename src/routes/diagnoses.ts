/**
 * POST /v1/diagnoses: runs one diagnosis and answers the report (synchronously for now).
 * The caller names only the target; where ARM and DNS are (endpoint, resolvers, credential) is
 * server configuration, so a body carrying such fields is rejected.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ArmIdError, isVantageId, parseWorkspaceId } from '../model/arm-id.ts';
import type { DiagnoseFn } from '../diagnose.ts';
import { HttpProblem, problemResponses } from '../errors.ts';
import { FORMATS, MEDIA_TYPES, renderReport, type Format } from '../report/render.ts';
import { rules } from '../rules/index.ts';

const CODES = rules.map((r) => r.meta.code);

export const DiagnoseQuery = Type.Object(
  {
    format: Type.Optional(
      Type.Enum([...FORMATS], {
        description: 'Report format; overrides the Accept header. json (the Report schema), markdown, sarif (SARIF 2.1.0), html (a self-contained page), text.',
      }),
    ),
  },
  { additionalProperties: false },
);

/** Media types in the order the server prefers them when the client accepts several equally. */
const NEGOTIABLE: Array<[string, Format]> = [
  ['application/json', 'json'],
  ['application/sarif+json', 'sarif'],
  ['text/html', 'html'],
  ['text/markdown', 'markdown'],
  ['text/plain', 'text'],
];

export const DiagnoseBody = Type.Object(
  {
    workspaceId: Type.String({
      minLength: 1,
      maxLength: 2048,
      description: 'ARM id of the Azure ML workspace.',
      examples: ['/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-prod'],
    }),
    computeName: Type.Optional(
      Type.String({
        minLength: 2,
        maxLength: 24,
        pattern: '^[A-Za-z][A-Za-z0-9-]*$',
        description: 'Compute instance or cluster whose device-login prompt is being explained (letters, digits, hyphens; starts with a letter).',
      }),
    ),
    subscriptions: Type.Optional(
      Type.Array(Type.String({ format: 'uuid' }), {
        maxItems: 20,
        description: 'Extra subscription ids (GUIDs) to search for private DNS zones, hub VNets and firewalls.',
      }),
    ),
    vantageVmId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2048,
        description:
          'ARM id of a VM (or its NIC) in the compute subnet. Its effective routes, effective NSGs and Network Watcher next hops stand for the compute (Azure ML nodes cannot be read). Default: the first readable VM NIC found in the subnet.',
      }),
    ),
    minTier: Type.Optional(Type.Enum([1, 2, 3], { description: 'Report only findings of this tier or more severe: 1 = what breaks sign-in, 2 = also jobs and images, 3 = everything (default).' })),
    exclude: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z_]+$', maxLength: 64 }), { maxItems: 64, uniqueItems: true, description: 'Finding codes whose rules are not run.' }),
    ),
  },
  { additionalProperties: false },
);

export interface DiagnosesOptions {
  diagnose: DiagnoseFn;
}

/** Why a diagnosis was aborted; compared by identity with `signal.reason`. */
const CLIENT_GONE = new Error('client disconnected');
const SHUTTING_DOWN = new Error('server shutting down');

export default async function diagnoses(instance: FastifyInstance, opts: DiagnosesOptions): Promise<void> {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  // JSON only: without this, Fastify's built-in text/plain parser would turn a 415 into a 400.
  fastify.removeContentTypeParser('text/plain');
  const inFlight = new Set<AbortController>();
  // Closing waits for in-flight requests; cancel their diagnoses so shutdown is prompt.
  fastify.addHook('preClose', async () => {
    for (const c of inFlight) c.abort(SHUTTING_DOWN);
  });

  fastify.post(
    '/v1/diagnoses',
    {
      bodyLimit: 16 * 1024,
      schema: {
        summary: 'Diagnose a workspace',
        description: 'Explains why compute on a network-isolated Azure ML workspace falls back to device login. Answers the ranked report.',
        tags: ['diagnoses'],
        body: DiagnoseBody,
        querystring: DiagnoseQuery,
        response: {
          200: {
            description: 'The ranked report, in the format asked for by `?format=` or the Accept header (default JSON).',
            content: {
              'application/json': { schema: Type.Ref('Report') },
              'application/sarif+json': { schema: Type.String({ description: 'SARIF 2.1.0 log.' }) },
              'text/html': { schema: Type.String({ description: 'A self-contained HTML page.' }) },
              'text/markdown': { schema: Type.String({ description: 'Markdown for a ticket.' }) },
              'text/plain': { schema: Type.String({ description: 'The terminal rendering.' }) },
            },
          },
          ...problemResponses(400, 406, 413, 415, 500, 503),
        },
      },
    },
    async (request, reply) => {
      try {
        parseWorkspaceId(request.body.workspaceId);
      } catch (err) {
        if (!(err instanceof ArmIdError)) throw err;
        throw new HttpProblem(400, `workspaceId: ${err.message}`, [{ field: '/workspaceId', message: err.message }]);
      }
      const vantage = request.body.vantageVmId;
      if (vantage !== undefined && !isVantageId(vantage)) {
        const message = `'${vantage}' is not the ARM id of a virtual machine or network interface`;
        throw new HttpProblem(400, `vantageVmId: ${message}`, [{ field: '/vantageVmId', message }]);
      }
      const unknown = (request.body.exclude ?? []).map((c, i) => ({ c, i })).filter(({ c }) => !CODES.includes(c.toUpperCase()));
      if (unknown.length) {
        throw new HttpProblem(
          400,
          `exclude: ${unknown.map(({ c }) => `'${c}'`).join(', ')} ${unknown.length === 1 ? 'is not a finding code' : 'are not finding codes'}; see GET /docs or 'aml-netdoctor rules'`,
          unknown.map(({ c, i }) => ({ field: `/exclude/${i}`, message: `'${c}' is not a finding code` })),
        );
      }
      const format = request.query.format ?? negotiate(request.accepts().type(NEGOTIABLE.map(([m]) => m)));
      const controller = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) controller.abort(CLIENT_GONE);
      };
      reply.raw.on('close', onClose);
      inFlight.add(controller);
      try {
        const { minTier, exclude, ...target } = request.body;
        const report = await opts.diagnose(target, controller.signal, { ...(minTier !== undefined ? { minTier } : {}), ...(exclude ? { exclude } : {}) });
        if (format === 'json') return report;
        return reply.type(`${MEDIA_TYPES[format]}; charset=utf-8`).send(renderReport(report, format));
      } catch (err) {
        if (controller.signal.reason === SHUTTING_DOWN) throw new HttpProblem(503, 'The server is shutting down; retry the request.');
        if (controller.signal.reason === CLIENT_GONE) {
          // Nobody is listening any more; 499 (client closed request) marks it in the access log.
          throw new HttpProblem(499, 'Client closed the request; the diagnosis was cancelled.');
        }
        throw err;
      } finally {
        reply.raw.off('close', onClose);
        inFlight.delete(controller);
      }
    },
  );
}

/** The format for what `request.accepts().type(...)` chose; false (nothing acceptable) is a 406. */
function negotiate(chosen: string | false | string[]): Format {
  const hit = NEGOTIABLE.find(([m]) => m === chosen);
  if (!hit) {
    throw new HttpProblem(406, `None of the Accept header's media types can be produced. Available: ${NEGOTIABLE.map(([m]) => m).join(', ')} (or use ?format=${FORMATS.join('|')}).`);
  }
  return hit[1];
}
