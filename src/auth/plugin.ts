/**
 * Authentication and authorization of the REST API, installed by src/app.ts on the instance that
 * registers the app (like the error handlers, so its hooks cover every route and the 404 handler).
 *
 * Credentials, one per request:
 *   Authorization: Bearer <Microsoft Entra ID access token>     (when `entra` is configured)
 *   Authorization: ApiKey <key>   or   X-API-Key: <key>         (when `apiKeys` is configured)
 * A route marked `config: { public: true }` needs none. Anything else needs a known caller (401
 * otherwise), and a route needs its declared `config.permission` among the caller's roles (403
 * otherwise); a route that declares no permission is refused to everyone. An unknown path answers
 * 401 to a caller without credentials and 404 to a known one. Problems never repeat the credential.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpProblem, problemResponses } from '../errors.ts';
import { MAX_KEY_LENGTH, type ApiKeyLookup } from './api-keys.ts';
import { allows, routeAccess, type Caller } from './authorize.ts';
import { IdentityProviderUnavailable, TokenRejected, type TokenVerifier } from './entra.ts';

export interface AuthOptions {
  /** Accept Entra ID bearer tokens (src/auth/entra.ts). */
  entra?: TokenVerifier;
  /** Accept API keys (src/auth/api-keys.ts). */
  apiKeys?: ApiKeyLookup;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; null on public routes and when authentication is off. */
    caller: Caller | null;
  }
}

const REALM = 'aml-netdoctor';

type Presented = { kind: 'bearer'; value: string } | { kind: 'api-key'; value: string };

/** The one credential of a request, undefined when there is none; throws 401 on a malformed or doubled one. */
export function presentedCredential(headers: FastifyRequest['headers']): Presented | undefined {
  const authorization = headers.authorization;
  const apiKeyHeader = headers['x-api-key'];
  if (Array.isArray(apiKeyHeader)) throw new HttpProblem(401, 'Send the X-API-Key header once.');
  if (authorization !== undefined && apiKeyHeader !== undefined) throw new HttpProblem(401, 'Send one credential: Authorization or X-API-Key, not both.');
  if (apiKeyHeader !== undefined) return { kind: 'api-key', value: apiKeyHeader.trim() };
  if (authorization === undefined) return undefined;
  const match = /^([A-Za-z]+) +(\S+) *$/.exec(authorization);
  const scheme = match?.[1]?.toLowerCase();
  if (!match || (scheme !== 'bearer' && scheme !== 'apikey')) throw new HttpProblem(401, "The Authorization header must be 'Bearer <token>' or 'ApiKey <key>'.");
  return { kind: scheme === 'bearer' ? 'bearer' : 'api-key', value: match[2] as string };
}

function challenge(opts: AuthOptions, error?: { code: 'invalid_token' | 'insufficient_scope'; description: string }): string {
  const challenges: string[] = [];
  if (opts.entra) challenges.push(`Bearer realm="${REALM}"${error ? `, error="${error.code}", error_description="${error.description.replace(/["\\]/g, '')}"` : ''}`);
  if (opts.apiKeys) challenges.push(`ApiKey realm="${REALM}", header="X-API-Key"`);
  return challenges.join(', ');
}

function accepted(opts: AuthOptions): string {
  const ways = [opts.entra ? 'Authorization: Bearer <Microsoft Entra ID access token>' : '', opts.apiKeys ? 'X-API-Key: <key> (or Authorization: ApiKey <key>)' : ''];
  return ways.filter(Boolean).join(', or ');
}

async function authenticate(request: FastifyRequest, reply: FastifyReply, opts: AuthOptions): Promise<Caller> {
  const unauthorized = (detail: string, error?: { code: 'invalid_token'; description: string }) => {
    reply.header('www-authenticate', challenge(opts, error));
    return new HttpProblem(401, detail);
  };
  let presented: Presented | undefined;
  try {
    presented = presentedCredential(request.headers);
  } catch (err) {
    if (err instanceof HttpProblem) throw unauthorized(err.message);
    throw err;
  }
  if (!presented) throw unauthorized(`Credentials are required: ${accepted(opts)}.`);

  if (presented.kind === 'bearer') {
    if (!opts.entra) throw unauthorized(`Bearer tokens are not accepted by this server: ${accepted(opts)}.`);
    try {
      return await opts.entra.verify(presented.value);
    } catch (err) {
      if (err instanceof TokenRejected) {
        request.log.info({ reason: err.message }, 'bearer token rejected');
        throw unauthorized(`The bearer token was rejected: ${err.message}.`, { code: 'invalid_token', description: err.message });
      }
      if (err instanceof IdentityProviderUnavailable) {
        reply.header('retry-after', '5');
        throw new HttpProblem(503, `Bearer tokens cannot be checked right now (${err.message}); retry later.`);
      }
      throw err;
    }
  }

  if (!opts.apiKeys) throw unauthorized(`API keys are not accepted by this server: ${accepted(opts)}.`);
  const caller = presented.value.length > 0 && presented.value.length <= MAX_KEY_LENGTH ? await opts.apiKeys.lookup(presented.value) : undefined;
  if (!caller) {
    request.log.info('unknown API key');
    throw unauthorized('The API key is not valid.');
  }
  return caller;
}

export function registerAuth(fastify: FastifyInstance, opts: AuthOptions | undefined): void {
  fastify.decorateRequest('caller', null);
  if (!opts) return;
  if (!opts.entra && !opts.apiKeys) throw new Error('authentication needs entra, apiKeys or both');
  // onRequest: before the body is read, so nobody unauthenticated gets a request body parsed.
  fastify.addHook('onRequest', async (request, reply) => {
    if (request.is404) {
      // Unknown paths are told apart from protected ones only to known callers.
      request.caller = await authenticate(request, reply, opts);
      return;
    }
    const access = routeAccess(request.routeOptions.config);
    if (access === 'public') return;
    const caller = await authenticate(request, reply, opts);
    request.caller = caller;
    if (access === undefined) {
      request.log.error({ route: request.routeOptions.url }, 'route declares no permission: refused to every caller');
      throw new HttpProblem(403, 'This route declares no permission, so nobody may call it.');
    }
    if (!allows(caller, access)) {
      if (caller.kind === 'entra') reply.header('www-authenticate', `Bearer realm="${REALM}", error="insufficient_scope", scope="${access}"`);
      request.log.info({ caller: { kind: caller.kind, id: caller.id }, permission: access }, 'caller lacks the permission');
      throw new HttpProblem(403, `The caller lacks the ${access} permission (an app role or scope of the API's app registration, or a role of the API key).`);
    }
  });
}

/**
 * OpenAPI for the security model: public routes say `security: []` (the document's default asks for
 * a bearer token or an API key), and the others list the 401 and 403 answers, naming the permission.
 * Installed whether or not authentication is on, so the document describes the deployed service.
 */
export function documentSecurity(fastify: FastifyInstance): void {
  fastify.addHook('onRoute', (route) => {
    const schema = route.schema as (Record<string, unknown> & { response?: Record<string, unknown>; hide?: boolean }) | undefined;
    if (!schema || schema.hide) return;
    const access = routeAccess(route.config);
    if (access === 'public') {
      route.schema = { ...schema, security: [] };
      return;
    }
    const problems = problemResponses(401, 403);
    const response = {
      ...schema.response,
      401: { ...problems[401], description: 'No valid credentials: a bearer token or API key is missing, expired or not valid for this API.' },
      403: { ...problems[403], description: access ? `The caller lacks the ${access} permission.` : 'This route declares no permission.' },
    };
    route.schema = { ...schema, response };
  });
}
