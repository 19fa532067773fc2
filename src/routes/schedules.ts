/**
 * Scheduled health checks: /v1/schedules CRUD and GET /v1/workspaces/{workspaceId}/health (the
 * latest result and the history). Registered only when the service has a store.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { ArmIdError, parseWorkspaceId } from '../model/arm-id.ts';
import { HttpProblem, problemResponses } from '../errors.ts';
import { nextRunOf } from '../service/scheduler.ts';
import { CadenceError, validateCadence, type Cadence } from '../service/schedule-time.ts';
import { webhookUrlProblem, type WebhookPolicy } from '../service/webhook.ts';
import { publicSchedule, type HealthRecord, type NotifyTarget, type Store } from '../store/store.ts';

const NotifyIn = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, description: 'https URL that receives drift notifications (POST, JSON).' }),
    secret: Type.String({ minLength: 16, maxLength: 256, description: 'Shared secret for the x-netdoctor-signature HMAC-SHA256 header. Never returned.' }),
  },
  { additionalProperties: false },
);

const ScheduleFields = {
  computeName: Type.Optional(Type.String({ minLength: 2, maxLength: 24, pattern: '^[A-Za-z][A-Za-z0-9-]*$' })),
  subscriptions: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: 20, description: 'Extra subscriptions (hub, DNS).' })),
  intervalSeconds: Type.Optional(Type.Integer({ minimum: 60, description: 'Run every N seconds (at least 60). Give this or cron.' })),
  cron: Type.Optional(Type.String({ minLength: 9, maxLength: 120, description: "Cron expression (minute hour day-of-month month day-of-week), e.g. '0 6 * * 1-5'. Give this or intervalSeconds." })),
  timezone: Type.Optional(Type.String({ maxLength: 64, description: 'IANA time zone for cron (default UTC).' })),
  notify: Type.Optional(Type.Array(NotifyIn, { maxItems: 10 })),
  enabled: Type.Optional(Type.Boolean()),
};

export const ScheduleIn = Type.Object(
  {
    workspaceId: Type.String({ minLength: 1, maxLength: 2048, description: 'ARM id of the Azure ML workspace.' }),
    ...ScheduleFields,
  },
  { additionalProperties: false },
);
export const SchedulePatchIn = Type.Object(ScheduleFields, { additionalProperties: false, minProperties: 1 });

export const Schedule = Type.Object(
  {
    id: Type.String(),
    workspaceId: Type.String(),
    computeName: Type.Optional(Type.String()),
    subscriptions: Type.Array(Type.String()),
    intervalSeconds: Type.Optional(Type.Integer()),
    cron: Type.Optional(Type.String()),
    timezone: Type.Optional(Type.String()),
    notify: Type.Array(Type.Object({ url: Type.String(), hasSecret: Type.Boolean() }, { additionalProperties: false })),
    enabled: Type.Boolean(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    nextRunAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    lastRunAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { $id: 'Schedule', additionalProperties: false },
);
type ScheduleOut = Static<typeof Schedule>;

const HealthEntry = Type.Object(
  {
    at: Type.String({ format: 'date-time' }),
    runId: Type.String(),
    scheduleId: Type.String(),
    status: Type.Ref('VerdictStatus'),
    findings: Type.Array(Type.Object({ code: Type.String(), resourceId: Type.String() }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export const WorkspaceHealth = Type.Object(
  {
    workspaceId: Type.String(),
    latest: Type.Object({ ...HealthEntry.properties, report: Type.Ref('Report') }, { additionalProperties: false }),
    history: Type.Array(HealthEntry, { description: 'Newest first.' }),
  },
  { $id: 'WorkspaceHealth', additionalProperties: false },
);

function toOut(s: ReturnType<typeof publicSchedule>): ScheduleOut {
  return {
    id: s.id,
    workspaceId: s.workspaceId,
    ...(s.computeName ? { computeName: s.computeName } : {}),
    subscriptions: s.subscriptions,
    ...('intervalSeconds' in s.cadence ? { intervalSeconds: s.cadence.intervalSeconds } : { cron: s.cadence.cron, ...(s.cadence.timezone ? { timezone: s.cadence.timezone } : {}) }),
    notify: s.notify,
    enabled: s.enabled,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
    nextRunAt: s.nextRunAt ? s.nextRunAt.toISOString() : null,
    ...(s.lastRunAt ? { lastRunAt: s.lastRunAt.toISOString() } : {}),
  };
}

function entry(h: HealthRecord) {
  return { at: h.at.toISOString(), runId: h.runId, scheduleId: h.scheduleId, status: h.status, findings: h.findings };
}

/** The cadence of a body, or a 400 naming the field at fault. */
function cadenceOf(body: { intervalSeconds?: number; cron?: string; timezone?: string }, required: boolean): Cadence | undefined {
  if (body.intervalSeconds !== undefined && body.cron !== undefined) {
    throw new HttpProblem(400, 'Give intervalSeconds or cron, not both', [{ field: '/cron', message: 'not allowed together with intervalSeconds' }]);
  }
  const cadence: Cadence | undefined =
    body.intervalSeconds !== undefined ? { intervalSeconds: body.intervalSeconds } : body.cron !== undefined ? { cron: body.cron, ...(body.timezone ? { timezone: body.timezone } : {}) } : undefined;
  if (!cadence) {
    if (required) throw new HttpProblem(400, 'A schedule needs intervalSeconds or cron', [{ field: '/intervalSeconds', message: 'give intervalSeconds or cron' }]);
    if (body.timezone !== undefined) throw new HttpProblem(400, 'timezone goes with cron', [{ field: '/timezone', message: 'give cron too' }]);
    return undefined;
  }
  try {
    validateCadence(cadence);
  } catch (err) {
    if (!(err instanceof CadenceError)) throw err;
    const field = 'intervalSeconds' in cadence ? '/intervalSeconds' : /time zone/.test(err.message) ? '/timezone' : '/cron';
    throw new HttpProblem(400, err.message, [{ field, message: err.message }]);
  }
  return cadence;
}

function notifyOf(list: Array<{ url: string; secret: string }> | undefined, policy: WebhookPolicy): NotifyTarget[] | undefined {
  if (!list) return undefined;
  list.forEach((n, i) => {
    const problem = webhookUrlProblem(n.url, policy);
    if (problem) throw new HttpProblem(400, `notify/${i}/url: ${problem}`, [{ field: `/notify/${i}/url`, message: problem }]);
  });
  return list.map((n) => ({ url: n.url, secret: n.secret }));
}

export interface SchedulesOptions {
  store: Store;
  /** Where webhooks may go (the service's configuration). */
  webhookPolicy: WebhookPolicy;
  now?: () => Date;
}

export default async function schedules(instance: FastifyInstance, opts: SchedulesOptions): Promise<void> {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  const now = opts.now ?? (() => new Date());
  const { store } = opts;
  const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
  const notFound = (id: string) => new HttpProblem(404, `No schedule ${id}`);

  fastify.post(
    '/v1/schedules',
    {
      config: { permission: 'Schedules.Manage' },
      bodyLimit: 32 * 1024,
      schema: {
        summary: 'Create a scheduled health check',
        tags: ['schedules'],
        body: ScheduleIn,
        response: { 201: Type.Ref('Schedule'), ...problemResponses(400, 413, 415) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      try {
        parseWorkspaceId(body.workspaceId);
      } catch (err) {
        if (!(err instanceof ArmIdError)) throw err;
        throw new HttpProblem(400, `workspaceId: ${err.message}`, [{ field: '/workspaceId', message: err.message }]);
      }
      const cadence = cadenceOf(body, true) as Cadence;
      const at = now();
      const created = await store.createSchedule({
        workspaceId: body.workspaceId.trim(),
        ...(body.computeName ? { computeName: body.computeName } : {}),
        subscriptions: [...new Set((body.subscriptions ?? []).map((s) => s.toLowerCase()))],
        cadence,
        notify: notifyOf(body.notify, opts.webhookPolicy) ?? [],
        enabled: body.enabled ?? true,
        nextRunAt: nextRunOf({ cadence }, at),
        createdAt: at,
      });
      reply.code(201).header('location', `/v1/schedules/${created.id}`);
      return toOut(publicSchedule(created));
    },
  );

  fastify.get(
    '/v1/schedules',
    {
      config: { permission: 'Reports.Read' },
      schema: {
        summary: 'List scheduled health checks',
        tags: ['schedules'],
        querystring: Type.Object({ workspaceId: Type.Optional(Type.String({ maxLength: 2048 })) }, { additionalProperties: false }),
        response: { 200: Type.Array(Type.Ref('Schedule')), ...problemResponses(400) },
      },
    },
    async (request) => (await store.listSchedules(request.query.workspaceId ? { workspaceId: request.query.workspaceId } : {})).map((s) => toOut(publicSchedule(s))),
  );

  fastify.get(
    '/v1/schedules/:id',
    { config: { permission: 'Reports.Read' }, schema: { summary: 'Get a scheduled health check', tags: ['schedules'], params: IdParams, response: { 200: Type.Ref('Schedule'), ...problemResponses(400, 404) } } },
    async (request) => {
      const s = await store.getSchedule(request.params.id);
      if (!s) throw notFound(request.params.id);
      return toOut(publicSchedule(s));
    },
  );

  fastify.patch(
    '/v1/schedules/:id',
    {
      config: { permission: 'Schedules.Manage' },
      bodyLimit: 32 * 1024,
      schema: { summary: 'Change a scheduled health check', tags: ['schedules'], params: IdParams, body: SchedulePatchIn, response: { 200: Type.Ref('Schedule'), ...problemResponses(400, 404, 413, 415) } },
    },
    async (request) => {
      const body = request.body;
      const cadence = cadenceOf(body, false);
      const notify = notifyOf(body.notify, opts.webhookPolicy);
      const at = now();
      const updated = await store.updateSchedule(
        request.params.id,
        {
          ...(body.computeName !== undefined ? { computeName: body.computeName } : {}),
          ...(body.subscriptions ? { subscriptions: [...new Set(body.subscriptions.map((s) => s.toLowerCase()))] } : {}),
          ...(cadence ? { cadence, nextRunAt: nextRunOf({ cadence }, at) } : {}),
          ...(notify ? { notify } : {}),
          ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
        },
        at,
      );
      if (!updated) throw notFound(request.params.id);
      return toOut(publicSchedule(updated));
    },
  );

  fastify.delete(
    '/v1/schedules/:id',
    { config: { permission: 'Schedules.Manage' }, schema: { summary: 'Delete a scheduled health check (its history stays)', tags: ['schedules'], params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 404) } } },
    async (request, reply) => {
      if (!(await store.deleteSchedule(request.params.id))) throw notFound(request.params.id);
      return reply.code(204).send(null);
    },
  );

  fastify.get(
    '/v1/workspaces/*',
    {
      config: { permission: 'Reports.Read' },
      schema: {
        summary: "A workspace's latest health check and its history",
        description:
          'GET /v1/workspaces/{workspaceId}/health, where {workspaceId} is the workspace ARM id without its leading slash (/v1/workspaces/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<name>/health) or URL-encoded as one segment.',
        tags: ['schedules'],
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }, { additionalProperties: false }),
        response: { 200: Type.Ref('WorkspaceHealth'), ...problemResponses(400, 404) },
      },
    },
    async (request) => {
      const rest = (request.params as { '*'?: string })['*'] ?? '';
      if (!rest.endsWith('/health')) throw new HttpProblem(404, `No such resource: /v1/workspaces/${rest}; use /v1/workspaces/{workspaceId}/health`);
      const raw = rest.slice(0, -'/health'.length);
      let id: string;
      try {
        id = decodeURIComponent(raw);
      } catch {
        throw new HttpProblem(400, 'workspaceId: not a valid URL encoding', [{ field: '/workspaceId', message: 'not a valid URL encoding' }]);
      }
      if (!id.startsWith('/')) id = `/${id}`;
      try {
        parseWorkspaceId(id);
      } catch (err) {
        if (!(err instanceof ArmIdError)) throw err;
        throw new HttpProblem(400, `workspaceId: ${err.message} (URL-encode the id)`, [{ field: '/workspaceId', message: err.message }]);
      }
      const latest = await store.latestHealth(id);
      if (!latest) throw new HttpProblem(404, `No health check has run for ${id} yet`);
      const history = await store.healthHistory(id, request.query.limit ?? 50);
      return { workspaceId: latest.workspaceId, latest: { ...entry(latest), report: latest.report }, history: history.map(entry) };
    },
  );
}
