/**
 * Request ids: every request gets one (the caller's `x-request-id` when it is a plain token, else
 * a fresh UUID), answered in `x-request-id`, and carried by every log line logged while serving
 * it: Fastify's request logger binds it as `reqId`, and `requestIdMixin` adds it to the lines of
 * other loggers (the diagnosis and its probes log through the service's logger, not the request's).
 *
 * Where it is wired: `registerRequestIds` (called by src/app.ts) installs the id generator, the
 * response header and the async scope on whichever Fastify instance registers the app, so tests
 * and the server behave alike; src/server.ts also passes `requestIdOptions` to Fastify() and
 * `requestIdMixin` to pino. An app test that wants the id on its own logger's lines builds its
 * pino logger with `mixin: requestIdMixin` too.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

export const REQUEST_ID_HEADER = 'x-request-id';
/** The log field, as Fastify names it on the request logger. */
export const REQUEST_ID_LOG_KEY = 'reqId';
/** What a caller's id may look like: short, and nothing a log viewer or header could misread. */
const ACCEPTED = /^[A-Za-z0-9._-]{1,128}$/;

/** The caller's `x-request-id` when acceptable, else a new UUID. */
export function requestIdOf(req: { headers: IncomingHttpHeaders }): string {
  const given = req.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && ACCEPTED.test(given) ? given : randomUUID();
}

/**
 * Fastify constructor options. `requestIdHeader: false` matters: with a header name set, Fastify
 * would take the header's value as the id without asking `genReqId`, unvalidated.
 */
export const requestIdOptions = { requestIdHeader: false, genReqId: requestIdOf } as const;

const scope = new AsyncLocalStorage<string>();

/**
 * A pino `mixin`: the current request's id on every line, except on loggers that already bind it
 * (Fastify's request logger), which would otherwise print the key twice.
 */
export function requestIdMixin(_obj: object, _level: number, logger: Logger): object {
  const id = scope.getStore();
  if (id === undefined || REQUEST_ID_LOG_KEY in logger.bindings()) return {};
  return { [REQUEST_ID_LOG_KEY]: id };
}

export function registerRequestIds(fastify: FastifyInstance): void {
  if (fastify.initialConfig.requestIdHeader) {
    throw new Error(`Fastify was built with requestIdHeader '${String(fastify.initialConfig.requestIdHeader)}', which bypasses the x-request-id validation: use requestIdOptions`);
  }
  fastify.setGenReqId(requestIdOf);
  // The rest of the request (body parsing included: Fastify runs its parsers in the request's async
  // scope) and everything it starts run inside this scope.
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    scope.run(request.id, done);
  });
}
