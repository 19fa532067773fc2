/**
 * Test helpers for authentication: a stand-in Entra ID tenant on 127.0.0.1 (OpenID metadata and
 * JWKS over plain node:http, with real RSA keys), tokens signed like Entra's, and the app built as
 * test/api/app.test.ts builds it, with a stub diagnosis answering a canned report.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import app, { type AppOptions } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import type { Report } from '../../src/report/schema.ts';
import { TOOL } from '../../src/version.ts';

export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const AUDIENCE = 'api://aml-netdoctor';
export const CLIENT_ID = '3f4e5d6c-1111-4a4a-8b8b-123456789abc';
export const SUB = '11111111-1111-1111-1111-111111111111';
export const WS_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws-demo`;

export const REPORT: Report = {
  workspace: { id: WS_ID, name: 'ws-demo', location: 'eastus' },
  generatedAt: '2025-01-02T03:04:05.000Z',
  tool: { name: TOOL.name, version: TOOL.version },
  scope: { subscriptions: [] },
  verdict: { status: 'no-cause-found', summary: 'Nothing found.', chain: [], assumptions: [], nextSteps: [] },
  findings: [],
  flows: [],
  coverage: [{ item: 'rule PRIVATE_DNS_ZONE_NOT_LINKED', status: 'ok' }],
};

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: Record<string, unknown>;
}

export async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, publicKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

export type IdpMode = 'ok' | 'error' | 'hang';

export interface Idp {
  /** The authority: http://127.0.0.1:<port> */
  url: string;
  issuer: string;
  /** The keys the JWKS endpoint serves (replace to rotate). */
  keys: SigningKey[];
  /** How the metadata and JWKS endpoints answer. */
  metadataMode: IdpMode;
  jwksMode: IdpMode;
  requests: { metadata: number; jwks: number };
  close(): Promise<void>;
}

export async function startIdp(t: Test, keys: SigningKey[]): Promise<Idp> {
  const hanging = new Set<ServerResponse>();
  const answer = (mode: IdpMode, res: ServerResponse, body: unknown) => {
    if (mode === 'hang') {
      hanging.add(res);
      return;
    }
    if (mode === 'error') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === `/${TENANT}/v2.0/.well-known/openid-configuration`) {
      idp.requests.metadata++;
      answer(idp.metadataMode, res, { issuer: idp.issuer, jwks_uri: `${idp.url}/${TENANT}/discovery/v2.0/keys`, id_token_signing_alg_values_supported: ['RS256'] });
    } else if (req.url === `/${TENANT}/discovery/v2.0/keys`) {
      idp.requests.jwks++;
      answer(idp.jwksMode, res, { keys: idp.keys.map((k) => k.publicJwk) });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closed = false;
  const idp: Idp = {
    url,
    issuer: `${url}/${TENANT}/v2.0`,
    keys,
    metadataMode: 'ok',
    jwksMode: 'ok',
    requests: { metadata: 0, jwks: 0 },
    async close() {
      if (closed) return;
      closed = true;
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  t.teardown(() => idp.close());
  return idp;
}

export interface TokenClaims extends JWTPayload {
  roles?: string[];
  scp?: string;
  oid?: string;
  tid?: string;
}

/** An access token as Entra issues it: RS256, kid, iss, aud, iat, nbf, exp (10 minutes), oid, tid. */
export async function token(key: SigningKey, idp: Pick<Idp, 'issuer'>, claims: TokenClaims = {}, opts: { exp?: number; nbf?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ oid: 'caller-oid-1', tid: TENANT, ver: '2.0', ...claims })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid })
    .setIssuer(claims.iss ?? idp.issuer)
    .setAudience(claims.aud ?? AUDIENCE)
    .setSubject('caller-sub-1')
    .setIssuedAt(now - 5)
    .setNotBefore(opts.nbf ?? now - 5)
    .setExpirationTime(opts.exp ?? now + 600)
    .sign(key.privateKey);
}

/** The app with `auth` (and optionally a store), a stub diagnosis answering REPORT. */
export async function buildApp(t: Test, options: Pick<AppOptions, 'auth' | 'store'> & { env?: Record<string, string> } = {}): Promise<FastifyInstance> {
  const fastify = Fastify({ logger: false });
  await fastify.register(app, {
    config: loadConfig({ NETDOCTOR_SHUTDOWN_GRACE_MS: '0', ...options.env }),
    diagnose: async () => structuredClone(REPORT),
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.store ? { store: options.store } : {}),
  });
  t.teardown(() => fastify.close());
  return fastify;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
}

/** Asserts a problem+json answer of `status` and returns its body. */
export function problem(t: Test, res: { statusCode: number; headers: Record<string, unknown>; json(): unknown; body: string }, status: number, what?: string): ProblemBody {
  t.equal(res.statusCode, status, what ?? `answers ${status}`);
  t.match(String(res.headers['content-type']), /^application\/problem\+json/, 'as problem+json');
  const body = res.json() as ProblemBody;
  t.equal(body.status, status);
  return body;
}
