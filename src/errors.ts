/**
 * The one error path of the API: every failure is answered as `application/problem+json`
 * (RFC 9457). Client errors say precisely what to fix; server errors say nothing about internals
 * (the message and stack go to the log only).
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';

export const FieldError = Type.Object(
  {
    field: Type.String({ description: 'JSON pointer into the request body, e.g. /workspaceId or /subscriptions/0.' }),
    message: Type.String(),
  },
  { additionalProperties: false },
);
export type FieldError = Static<typeof FieldError>;

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'Problem type URI; about:blank means the HTTP status says it all.' }),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    detail: Type.String(),
    instance: Type.String({ description: 'Path of the request that failed.' }),
    errors: Type.Optional(Type.Array(FieldError)),
  },
  { $id: 'Problem', additionalProperties: false, description: 'RFC 9457 problem details.' },
);
export type Problem = Static<typeof Problem>;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** An error a route throws on purpose: its status, detail and field errors go to the client as is. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  constructor(status: number, detail: string, errors?: FieldError[]) {
    super(detail);
    this.name = 'HttpProblem';
    this.status = status;
    this.errors = errors;
  }
}

/** OpenAPI response entries for problem answers, for a route's `schema.response`. */
export function problemResponses(...statuses: number[]): Record<number, { description: string; content: Record<string, { schema: { $ref: string } }> }> {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: STATUS_CODES[s] ?? 'Error', content: { [PROBLEM_CONTENT_TYPE]: { schema: Type.Ref('Problem') } } }]),
  );
}

/** Fixed client-facing details for Fastify's own request errors. */
const FASTIFY_DETAILS: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'Body is not valid JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'Body is empty but Content-Type is application/json',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Unsupported Content-Type: send application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length does not match the body',
  FST_ERR_CTP_BODY_TOO_LARGE: 'Request body is too large',
};

/** One validation error as reported by the TypeBox compiler (or Ajv, whose shape is close). */
interface SchemaError {
  keyword: string;
  instancePath: string;
  schemaPath?: string;
  params?: Record<string, unknown>;
  message?: string;
}

function pointer(base: string, property: string): string {
  return `${base}/${property.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** Turns schema errors into one entry per field, naming unexpected and missing properties. */
export function fieldErrors(errors: readonly SchemaError[]): FieldError[] {
  const out: FieldError[] = [];
  const add = (field: string, message: string) => {
    if (!out.some((e) => e.field === field && e.message === message)) out.push({ field, message });
  };
  for (const e of errors) {
    const params = e.params ?? {};
    if (e.keyword === 'additionalProperties') {
      const names = Array.isArray(params.additionalProperties) ? params.additionalProperties : [params.additionalProperty];
      for (const name of names) if (typeof name === 'string') add(pointer(e.instancePath, name), `unexpected property '${name}' is not accepted`);
    } else if (e.keyword === 'required') {
      const names = Array.isArray(params.requiredProperties) ? params.requiredProperties : [params.missingProperty];
      for (const name of names) if (typeof name === 'string') add(pointer(e.instancePath, name), 'is required');
    } else if (e.keyword === 'boolean' && e.schemaPath?.endsWith('/additionalProperties')) {
      continue; // TypeBox repeats each unexpected property this way; the entry above names it.
    } else if (e.keyword === 'anyOf' || e.keyword === 'oneOf') {
      continue; // The branch errors are more precise.
    } else if (e.keyword === 'format' && params.format === 'uuid') {
      add(e.instancePath, 'must be a GUID');
    } else {
      add(e.instancePath, e.message ?? `fails ${e.keyword}`);
    }
  }
  return out;
}

function instanceOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? '/';
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, status: number, detail: string, errors?: FieldError[]): FastifyReply {
  const body: Problem = {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    instance: instanceOf(request),
    ...(errors && errors.length > 0 ? { errors } : {}),
  };
  return reply.code(status).type(PROBLEM_CONTENT_TYPE).send(body);
}

function isClientStatus(n: unknown): n is number {
  return typeof n === 'number' && n >= 400 && n < 500;
}

export function errorHandler(error: FastifyError | HttpProblem, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof HttpProblem) {
    request.log.info({ status: error.status, detail: error.message }, 'request rejected');
    return sendProblem(request, reply, error.status, error.message, error.errors);
  }
  if (error.validation) {
    const errors = fieldErrors(error.validation as SchemaError[]);
    const detail = `Invalid request ${error.validationContext ?? 'body'}: ${errors.map((e) => `${e.field || '(body)'} ${e.message}`).join('; ')}`;
    request.log.info({ errors }, 'request rejected by schema');
    return sendProblem(request, reply, 400, detail, errors);
  }
  const known = error.code ? FASTIFY_DETAILS[error.code] : undefined;
  if (known !== undefined || (isClientStatus(error.statusCode) && error.code?.startsWith('FST_'))) {
    const status = isClientStatus(error.statusCode) ? error.statusCode : 400;
    request.log.info({ code: error.code }, 'request rejected');
    return sendProblem(request, reply, status, known ?? error.message);
  }
  request.log.error({ err: error, req: request }, 'request failed');
  return sendProblem(request, reply, 500, 'The server could not complete the request; the cause is in the server log.');
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(request, reply, 404, `No route for ${request.method} ${instanceOf(request)}`);
}

/** Installs the problem+json error and not-found handlers on `fastify`. */
export function registerErrorHandlers(fastify: FastifyInstance): void {
  fastify.setErrorHandler(errorHandler);
  fastify.setNotFoundHandler(notFoundHandler);
}
