/**
 * POST /v1/diagnoses: runs one diagnosis. It answers the report when the diagnosis finishes within
 * the synchronous budget, otherwise (or at once with `Prefer: respond-async`) 202 Accepted with the
 * run to follow (src/routes/runs.ts). The caller names only the target; where ARM and DNS are
 * (endpoint, resolvers, credential) is server configuration, so a body carrying such fields is rejected.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ArmIdError, isVantageId, parseWorkspaceId } from '../model/arm-id.ts';
import type { DiagnoseFn } from '../diagnose.ts';
import { HttpProblem, problemResponses } from '../errors.ts';
import { FORMATS, MEDIA_TYPES, renderReport, type Format } from '../report/render.ts';
import { rules } from '../rules/index.ts';
import { createMemoryRuns, RunsClosedError, type DiagnosisRuns, type FinishedRun, type StartedRun } from '../service/runs.ts';
import runRoutes, { eventsPath, runPath } from './runs.ts';

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
  /** How long a request without `Prefer: respond-async` waits for the report before answering 202. */
  syncBudgetMs: number;
  /** How long the in-memory registry keeps a finished run (ignored when `runs` is given). */
  retainMs: number;
  /** Where runs live; default an in-memory registry running `diagnose`. */
  runs?: DiagnosisRuns;
  /** At shutdown, how long unfinished runs may go on before they are cancelled (default 0). */
  shutdownGraceMs?: number;
}

/** Why a run was cancelled, as its error message says. */
const CANCELLED = {
  byClient: 'Cancelled by a DELETE request.',
  clientGone: 'Cancelled: the client closed the request before the diagnosis finished.',
  shutdown: 'Cancelled: the server shut down.',
};

const shuttingDown = () => new HttpProblem(503, 'The server is shutting down; retry the request.');

/** The preferences of RFC 7240 this route honours: respond-async, and wait=<seconds> (shortens the budget). */
export function parsePrefer(header: string | string[] | undefined): { respondAsync: boolean; waitMs?: number } {
  const prefs = [header ?? []]
    .flat()
    .flatMap((h) => h.split(','))
    .map((p) => (p.split(';')[0] ?? '').trim().toLowerCase());
  const wait = prefs.map((p) => /^wait\s*=\s*"?(\d+)"?$/.exec(p)?.[1]).find((w) => w !== undefined);
  return { respondAsync: prefs.includes('respond-async'), ...(wait !== undefined ? { waitMs: Number(wait) * 1000 } : {}) };
}

/** The run's outcome if it arrives within `ms`, else undefined. */
async function within(finished: Promise<FinishedRun>, ms: number): Promise<FinishedRun | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([finished, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export default async function diagnoses(instance: FastifyInstance, opts: DiagnosesOptions): Promise<void> {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  // JSON only: without this, Fastify's built-in text/plain parser would turn a 415 into a 400.
  fastify.removeContentTypeParser('text/plain');
  const runs = opts.runs ?? createMemoryRuns({ diagnose: opts.diagnose, retainMs: opts.retainMs });
  let closing = false;
  // Closing waits for in-flight requests: unfinished runs get the grace period, then are cancelled.
  fastify.addHook('preClose', async () => {
    closing = true;
    await runs.close(CANCELLED.shutdown, opts.shutdownGraceMs ?? 0);
  });

  fastify.post(
    '/v1/diagnoses',
    {
      config: { permission: 'Diagnoses.Run' },
      bodyLimit: 16 * 1024,
      schema: {
        summary: 'Diagnose a workspace',
        description:
          'Explains why compute on a network-isolated Azure ML workspace falls back to device login. Answers the ranked report when the diagnosis finishes within ' +
          'the server\'s synchronous budget (NETDOCTOR_SYNC_BUDGET_MS, shortened by `Prefer: wait=<seconds>`); otherwise, or at once with `Prefer: respond-async`, ' +
          '202 Accepted: the diagnosis goes on in the background, to follow at the Location (status and report) or its /events (server-sent events).',
        tags: ['diagnoses'],
        headers: Type.Object({
          prefer: Type.Optional(Type.String({ description: '`respond-async`: answer 202 at once. `wait=<seconds>`: wait at most this long for the report.' })),
        }),
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
          202: {
            description: 'The diagnosis runs in the background (always JSON, whatever the Accept header).',
            headers: {
              Location: Type.String({ description: 'The run: /v1/diagnoses/{id}.' }),
              'Preference-Applied': Type.String({ description: '`respond-async` when the request asked for it.' }),
            },
            content: { 'application/json': { schema: Type.Ref('DiagnosisAccepted') } },
          },
          ...problemResponses(400, 406, 409, 413, 415, 500, 503),
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
      const prefer = parsePrefer(request.headers.prefer);
      // The 202 answer is always JSON; the format matters only to a synchronous answer.
      const format = prefer.respondAsync ? 'json' : (request.query.format ?? negotiate(request.accepts().type(NEGOTIABLE.map(([m]) => m))));
      const { minTier, exclude, ...target } = request.body;
      if (closing) throw shuttingDown();
      let started: StartedRun;
      try {
        started = await runs.start({ request: target, options: { ...(minTier !== undefined ? { minTier } : {}), ...(exclude ? { exclude } : {}) } });
      } catch (err) {
        throw err instanceof RunsClosedError ? shuttingDown() : err;
      }
      const { id } = started.run;

      if (!prefer.respondAsync) {
        let clientGone = false;
        const onClose = () => {
          if (reply.raw.writableFinished) return;
          clientGone = true;
          void runs.cancel(id, CANCELLED.clientGone);
        };
        reply.raw.on('close', onClose);
        let outcome: FinishedRun | undefined;
        try {
          outcome = await within(started.finished, Math.min(opts.syncBudgetMs, prefer.waitMs ?? Infinity));
        } finally {
          reply.raw.off('close', onClose);
        }
        if (outcome) {
          const { run, cause } = outcome;
          if (run.report) {
            if (format === 'json') return run.report;
            return reply.type(`${MEDIA_TYPES[format]}; charset=utf-8`).send(renderReport(run.report, format));
          }
          // The error handler logs the cause with this request and answers a generic 500.
          if (run.status === 'failed') throw cause ?? new Error(run.error);
          if (clientGone) throw new HttpProblem(499, 'Client closed the request; the diagnosis was cancelled.'); // 499 marks it in the access log
          if (closing) throw shuttingDown();
          throw new HttpProblem(409, `The diagnosis was cancelled (DELETE ${runPath(id)}).`);
        }
      }

      // Nobody waits for the answer any more: a failure is logged here, with the request that started it.
      void started.finished.then(({ run, cause }) => {
        if (run.status === 'failed') request.log.error({ err: cause, runId: id }, 'diagnosis failed');
      });
      const status = (await runs.get(id))?.status ?? started.run.status;
      reply.code(202).header('location', runPath(id));
      if (prefer.respondAsync) reply.header('preference-applied', 'respond-async');
      return reply.type('application/json; charset=utf-8').send({ id, status, links: { self: runPath(id), events: eventsPath(id) } });
    },
  );

  await fastify.register(runRoutes, { runs, cancelledMessage: CANCELLED.byClient });
}

/** The format for what `request.accepts().type(...)` chose; false (nothing acceptable) is a 406. */
function negotiate(chosen: string | false | string[]): Format {
  const hit = NEGOTIABLE.find(([m]) => m === chosen);
  if (!hit) {
    throw new HttpProblem(406, `None of the Accept header's media types can be produced. Available: ${NEGOTIABLE.map(([m]) => m).join(', ')} (or use ?format=${FORMATS.join('|')}).`);
  }
  return hit[1];
}
