/**
 * A diagnosis running in the background: GET its status (or its report once succeeded), DELETE to
 * cancel it, GET .../events to follow it as server-sent events.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { HttpProblem, problemResponses } from '../errors.ts';
import { FORMATS, MEDIA_TYPES, renderReport } from '../report/render.ts';
import { type DiagnosisRun, type DiagnosisRuns, type RunEvent } from '../service/runs.ts';

export const DiagnosisAccepted = Type.Object(
  {
    id: Type.String(),
    status: Type.Ref('RunStatus'),
    links: Type.Object(
      {
        self: Type.String({ description: 'GET: status, progress and, once succeeded, the report. DELETE: cancel.' }),
        events: Type.String({ description: 'GET: the progress as server-sent events, ending when the run ends.' }),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'DiagnosisAccepted', additionalProperties: false, description: 'The diagnosis runs in the background; follow it at links.self or links.events.' },
);

export const runPath = (id: string): string => `/v1/diagnoses/${encodeURIComponent(id)}`;
export const eventsPath = (id: string): string => `${runPath(id)}/events`;

/** Comment lines that keep proxies and load balancers from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

export interface RunRoutesOptions {
  runs: DiagnosisRuns;
  /** The message a DELETE records on the run. */
  cancelledMessage: string;
}

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'The id POST /v1/diagnoses answered.' }) }, { additionalProperties: false });

const RunQuery = Type.Object(
  {
    format: Type.Optional(
      Type.Enum([...FORMATS], { description: "The report of a succeeded run in this format (json: the Report itself) instead of the run's status; 409 while the run has no report." }),
    ),
  },
  { additionalProperties: false },
);

function unknownRun(id: string): HttpProblem {
  return new HttpProblem(404, `No diagnosis '${id}': it never existed or finished long enough ago to be forgotten.`);
}

/** One server-sent event; `data` is JSON on one line. */
export function sseEvent(e: RunEvent, runId: string): string {
  const data = e.type === 'progress' ? e.progress : { id: runId, status: e.status };
  return `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Last-Event-ID as a sequence number; anything else means from the start. */
function lastEventId(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value.trim()) : 0;
}

export default async function runRoutes(instance: FastifyInstance, opts: RunRoutesOptions): Promise<void> {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { runs } = opts;

  fastify.get(
    '/v1/diagnoses/:id',
    {
      config: { permission: 'Reports.Read' },
      schema: {
        summary: 'Status of a diagnosis',
        description: 'Status, per-probe progress and, once succeeded, the report. With `?format=`, the report alone in that format.',
        tags: ['diagnoses'],
        params: IdParams,
        querystring: RunQuery,
        response: {
          200: {
            description: 'Without `?format=`: the run (DiagnosisRun). With `?format=`: its report in that format.',
            content: {
              'application/json': { schema: Type.Union([Type.Ref('DiagnosisRun'), Type.Ref('Report')]) },
              'application/sarif+json': { schema: Type.String({ description: 'SARIF 2.1.0 log.' }) },
              'text/html': { schema: Type.String({ description: 'A self-contained HTML page.' }) },
              'text/markdown': { schema: Type.String({ description: 'Markdown for a ticket.' }) },
              'text/plain': { schema: Type.String({ description: 'The terminal rendering.' }) },
            },
          },
          ...problemResponses(400, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const run = await runs.get(request.params.id);
      if (!run) throw unknownRun(request.params.id);
      const format = request.query.format;
      if (format === undefined) return reply.type('application/json; charset=utf-8').send(run);
      if (!run.report) throw new HttpProblem(409, `The diagnosis is ${run.status}; a report exists only once it has succeeded.`);
      if (format === 'json') return reply.type('application/json; charset=utf-8').send(run.report);
      return reply.type(`${MEDIA_TYPES[format]}; charset=utf-8`).send(renderReport(run.report, format));
    },
  );

  fastify.delete(
    '/v1/diagnoses/:id',
    {
      config: { permission: 'Diagnoses.Run' },
      schema: {
        summary: 'Cancel a diagnosis',
        description: 'Cancels a queued or running diagnosis: it is marked cancelled at once (no report) and its ARM and DNS calls are aborted.',
        tags: ['diagnoses'],
        params: IdParams,
        response: {
          202: { description: 'Cancelled; the run as it now is (status cancelled).', content: { 'application/json': { schema: Type.Ref('DiagnosisRun') } } },
          ...problemResponses(400, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const result = await runs.cancel(request.params.id, opts.cancelledMessage);
      if (result.outcome === 'unknown') throw unknownRun(request.params.id);
      if (result.outcome === 'already-finished') throw new HttpProblem(409, `The diagnosis already ${result.run.status === 'cancelled' ? 'was cancelled' : result.run.status}; there is nothing to cancel.`);
      return reply.code(202).type('application/json; charset=utf-8').send(result.run);
    },
  );

  fastify.get(
    '/v1/diagnoses/:id/events',
    {
      config: { permission: 'Reports.Read' },
      schema: {
        summary: 'Follow a diagnosis',
        description:
          'Server-sent events: `progress` for each probe start and end (data: ProbeProgress), then `done` (data: `{"id","status"}`) and the stream ends. ' +
          'Each event has an `id`; reconnecting with `Last-Event-ID` resumes after it. A client connecting late first gets the events so far. ' +
          `A comment line is sent every ${HEARTBEAT_MS / 1000} s while nothing happens.`,
        tags: ['diagnoses'],
        params: IdParams,
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ description: 'The id of the last event received: resume after it.' })) }),
        response: {
          200: { description: 'The event stream.', content: { 'text/event-stream': { schema: Type.String() } } },
          ...problemResponses(400, 404),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const run = await runs.get(id);
      if (!run) throw unknownRun(id);
      stream(reply, run, runs, lastEventId(request.headers['last-event-id']));
    },
  );
}

/** Takes over the response and writes the run's events until `done` or until the client leaves. */
function stream(reply: FastifyReply, run: DiagnosisRun, runs: DiagnosisRuns, afterSeq: number): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // nginx buffers responses unless told not to, which would hold the events back.
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  let unsubscribe: (() => void) | undefined;
  const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
  const stop = () => {
    clearInterval(heartbeat);
    unsubscribe?.();
  };
  res.on('close', stop);
  const onEvent = (e: RunEvent) => {
    if (res.writableEnded) return;
    res.write(sseEvent(e, run.id));
    if (e.type === 'done') {
      stop();
      res.end();
    }
  };
  runs.subscribe(run.id, afterSeq, onEvent).then(
    (unsub) => {
      unsubscribe = unsub;
      // Forgotten between the GET and the subscription, or already over: nothing more will come.
      if (!unsub) res.end();
      if (res.writableEnded) stop();
    },
    () => {
      stop();
      res.end();
    },
  );
}
