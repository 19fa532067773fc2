/**
 * Entra ID bearer tokens against a stand-in tenant on 127.0.0.1 (real OpenID metadata and JWKS
 * endpoints, real RSA keys): every way a token can be wrong is a 401 problem, a caller without the
 * permission is a 403, keys rotate without a restart, and an unreachable identity provider is a
 * 503 (never a 500, never a hang).
 */
import t, { type Test } from 'tap';
import { exportSPKI, SignJWT } from 'jose';
import { createEntraVerifier, type EntraOptions } from '../../src/auth/entra.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { AUDIENCE, buildApp, CLIENT_ID, problem, signingKey, startIdp, TENANT, token, WS_ID, type Idp, type SigningKey } from './idp.ts';

const K1 = await signingKey('key-1');
const ROGUE = await signingKey('rogue');

function verifier(idp: Idp, extra: Partial<EntraOptions> = {}) {
  return createEntraVerifier({ authority: idp.url, tenant: TENANT, audience: [AUDIENCE, CLIENT_ID], timeoutMs: 1_000, ...extra });
}

async function setup(t: Test, extra: Partial<EntraOptions> = {}, keys: SigningKey[] = [K1]) {
  const idp = await startIdp(t, keys);
  const fastify = await buildApp(t, { auth: { entra: verifier(idp, extra) } });
  const diagnose = (bearer?: string, headers: Record<string, string> = {}) =>
    fastify.inject({ method: 'POST', url: '/v1/diagnoses', payload: { workspaceId: WS_ID }, headers: { ...(bearer !== undefined ? { authorization: `Bearer ${bearer}` } : {}), ...headers } });
  return { idp, fastify, diagnose };
}

const RUN = { roles: ['Diagnoses.Run'] };

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

t.test('a valid token with the role runs the diagnosis; the caller is on the request', async (t) => {
  const { idp, fastify, diagnose } = await setup(t);
  let seen: unknown;
  fastify.addHook('preHandler', async (request) => {
    seen = request.caller;
  });
  const res = await diagnose(await token(K1, idp, RUN));
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.json<{ workspace: { id: string } }>().workspace.id, WS_ID);
  t.same(seen, { kind: 'entra', id: 'caller-oid-1', tenant: TENANT, roles: ['Diagnoses.Run'] });
  t.equal(idp.requests.metadata, 1, 'metadata read once');

  const again = await diagnose(await token(K1, idp, { ...RUN, aud: CLIENT_ID }));
  t.equal(again.statusCode, 200, 'the client id is an accepted audience too');
  t.equal(idp.requests.metadata, 1, 'metadata cached');
  t.equal(idp.requests.jwks, 1, 'keys cached');
});

t.test('a delegated scope (scp) grants the permission like an app role', async (t) => {
  const { idp, diagnose } = await setup(t);
  t.equal((await diagnose(await token(K1, idp, { scp: 'Reports.Read Diagnoses.Run' }))).statusCode, 200);
});

t.test('no credentials: 401 with a Bearer challenge', async (t) => {
  const { diagnose } = await setup(t);
  const res = await diagnose();
  const body = problem(t, res, 401);
  t.equal(res.headers['www-authenticate'], 'Bearer realm="aml-netdoctor"');
  t.match(body.detail, /Authorization: Bearer/);
  t.notMatch(body.detail, /API key|X-API-Key/, 'API keys are not offered when they are not accepted');
});

t.test('tokens that must be refused answer 401, saying why without echoing the token', async (t) => {
  const { idp, diagnose } = await setup(t);
  const now = Math.floor(Date.now() / 1000);
  const valid = await token(K1, idp, RUN);
  const [h, p, s] = valid.split('.') as [string, string, string];
  const pem = await exportSPKI(K1.publicKey);
  const cases: Array<[string, string, RegExp]> = [
    ['expired', await token(K1, idp, RUN, { exp: now - 600, nbf: now - 1200 }), /expired/],
    ['not yet valid', await token(K1, idp, RUN, { nbf: now + 600, exp: now + 1200 }), /not valid yet/],
    ['wrong audience', await token(K1, idp, { ...RUN, aud: 'api://another-api' }), /another audience/],
    ['wrong issuer (another tenant)', await token(K1, idp, { ...RUN, iss: 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0' }), /not issued by the configured tenant/],
    ['signed by an unknown key', await token(ROGUE, idp, RUN), /not signed by one of the tenant's keys/],
    ['signed by an unknown key under a known kid', await token({ ...ROGUE, kid: K1.kid }, idp, RUN), /signature does not verify/],
    ['alg none', `${b64url({ alg: 'none', typ: 'JWT' })}.${p}.`, /not accepted|malformed/],
    [
      'HS256 with the public key as the secret',
      await new SignJWT({ ...RUN, oid: 'x', tid: TENANT })
        .setProtectedHeader({ alg: 'HS256', kid: K1.kid })
        .setIssuer(idp.issuer)
        .setAudience(AUDIENCE)
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode(pem)),
      /algorithm is not accepted/,
    ],
    ['tampered payload', `${h}.${b64url({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), roles: ['Diagnoses.Run', 'Schedules.Manage'], oid: 'admin' })}.${s}`, /signature does not verify/],
    ['no exp', await new SignJWT({ ...RUN, oid: 'x' }).setProtectedHeader({ alg: 'RS256', kid: K1.kid }).setIssuer(idp.issuer).setAudience(AUDIENCE).sign(K1.privateKey), /exp claim/],
    ['not a JWT', 'not-a-jwt', /malformed/],
  ];
  for (const [what, bearer, reason] of cases) {
    const res = await diagnose(bearer);
    const body = problem(t, res, 401, `${what}: 401`);
    t.match(body.detail, reason, `${what}: ${body.detail}`);
    t.match(String(res.headers['www-authenticate']), /^Bearer realm="aml-netdoctor", error="invalid_token", error_description="/, `${what}: invalid_token challenge`);
    t.notOk(res.body.includes(bearer), `${what}: the token is not echoed`);
    t.notOk(res.body.includes(p), `${what}: not even its payload`);
  }
});

t.test('a valid caller without the permission: 403 naming the permission', async (t) => {
  const { idp, fastify, diagnose } = await setup(t);
  const reader = await token(K1, idp, { roles: ['Reports.Read'] });
  const res = await diagnose(reader);
  const body = problem(t, res, 403);
  t.match(body.detail, /lacks the Diagnoses\.Run permission/);
  t.equal(res.headers['www-authenticate'], 'Bearer realm="aml-netdoctor", error="insufficient_scope", scope="Diagnoses.Run"');
  const nothing = await diagnose(await token(K1, idp, {}));
  problem(t, nothing, 403, 'no roles at all: 403');
  // Reading is allowed to the reader: an unknown run is a 404, not a 403.
  const read = await fastify.inject({ method: 'GET', url: '/v1/diagnoses/no-such-run', headers: { authorization: `Bearer ${reader}` } });
  problem(t, read, 404, 'Reports.Read passes to the route');
  const cancel = await fastify.inject({ method: 'DELETE', url: '/v1/diagnoses/no-such-run', headers: { authorization: `Bearer ${reader}` } });
  problem(t, cancel, 403, 'cancelling needs Diagnoses.Run');
});

t.test('schedules need Schedules.Manage to change and Reports.Read to read', async (t) => {
  const idp = await startIdp(t, [K1]);
  const store = await openSqliteStore(':memory:');
  t.teardown(() => store.close());
  const fastify = await buildApp(t, { auth: { entra: verifier(idp) }, store });
  const as = async (roles: string[]) => ({ authorization: `Bearer ${await token(K1, idp, { roles })}` });
  const body = { workspaceId: WS_ID, intervalSeconds: 3600 };
  problem(t, await fastify.inject({ method: 'POST', url: '/v1/schedules', payload: body, headers: await as(['Reports.Read', 'Diagnoses.Run']) }), 403);
  const created = await fastify.inject({ method: 'POST', url: '/v1/schedules', payload: body, headers: await as(['Schedules.Manage']) });
  t.equal(created.statusCode, 201, created.body);
  const id = created.json<{ id: string }>().id;
  problem(t, await fastify.inject({ method: 'GET', url: `/v1/schedules/${id}`, headers: await as(['Schedules.Manage']) }), 403, 'managing is not reading');
  t.equal((await fastify.inject({ method: 'GET', url: '/v1/schedules', headers: await as(['Reports.Read']) })).statusCode, 200);
  problem(t, await fastify.inject({ method: 'PATCH', url: `/v1/schedules/${id}`, payload: { enabled: false }, headers: await as(['Reports.Read']) }), 403);
  problem(t, await fastify.inject({ method: 'DELETE', url: `/v1/schedules/${id}`, headers: await as(['Reports.Read']) }), 403);
  t.equal((await fastify.inject({ method: 'DELETE', url: `/v1/schedules/${id}`, headers: await as(['Schedules.Manage']) })).statusCode, 204);
});

t.test('key rotation: a token signed with a newly published key is accepted without a restart', async (t) => {
  const K2 = await signingKey('key-2');
  const { idp, diagnose } = await setup(t, { keyCooldownMs: 200 });
  t.equal((await diagnose(await token(K1, idp, RUN))).statusCode, 200);
  t.equal(idp.requests.jwks, 1);
  idp.keys = [K2];
  await new Promise((r) => setTimeout(r, 250));
  const res = await diagnose(await token(K2, idp, RUN));
  t.equal(res.statusCode, 200, res.body);
  t.equal(idp.requests.jwks, 2, 'the unknown kid made the keys be read again');
});

t.test('unknown kids do not make every request fetch the keys (cooldown)', async (t) => {
  const { idp, diagnose } = await setup(t);
  t.equal((await diagnose(await token(K1, idp, RUN))).statusCode, 200);
  const rogue = await token(ROGUE, idp, RUN);
  for (let i = 0; i < 10; i++) problem(t, await diagnose(rogue), 401, `rogue token ${i}: 401`);
  t.equal(idp.requests.jwks, 1, 'within the cooldown, no refetch');
});

t.test('identity provider unreachable: 503, never 500, never a hang', async (t) => {
  await t.test('metadata endpoint down (connection refused)', async (t) => {
    const { idp, diagnose } = await setup(t);
    const bearer = await token(K1, idp, RUN);
    await idp.close();
    const res = await diagnose(bearer);
    const body = problem(t, res, 503);
    t.match(body.detail, /cannot be checked right now/);
    t.equal(res.headers['retry-after'], '5');
    t.notOk(res.body.includes(bearer));
  });
  await t.test('metadata endpoint answering 500, then recovering', async (t) => {
    const { idp, diagnose } = await setup(t, { retryAfterMs: 100 });
    idp.metadataMode = 'error';
    problem(t, await diagnose(await token(K1, idp, RUN)), 503);
    problem(t, await diagnose(await token(K1, idp, RUN)), 503, 'answered at once during the retry pause');
    t.equal(idp.requests.metadata, 1, 'not asked again during the pause');
    idp.metadataMode = 'ok';
    await new Promise((r) => setTimeout(r, 150));
    t.equal((await diagnose(await token(K1, idp, RUN))).statusCode, 200, 'recovers without a restart');
  });
  await t.test('metadata endpoint hanging: 503 within the timeout', async (t) => {
    const { idp, diagnose } = await setup(t, { timeoutMs: 300 });
    idp.metadataMode = 'hang';
    const started = Date.now();
    problem(t, await diagnose(await token(K1, idp, RUN)), 503);
    t.ok(Date.now() - started < 2_000, `answered after ${Date.now() - started} ms`);
  });
  await t.test('JWKS endpoint failing or hanging before any key is known', async (t) => {
    const { idp, diagnose } = await setup(t, { timeoutMs: 300, retryAfterMs: 0 });
    idp.jwksMode = 'error';
    problem(t, await diagnose(await token(K1, idp, RUN)), 503, 'JWKS 500: 503');
    idp.jwksMode = 'hang';
    const started = Date.now();
    problem(t, await diagnose(await token(K1, idp, RUN)), 503, 'JWKS hanging: 503');
    t.ok(Date.now() - started < 2_000, `answered after ${Date.now() - started} ms`);
  });
  await t.test('keys that can no longer be refreshed keep serving', async (t) => {
    const { idp, diagnose } = await setup(t, { keysMaxAgeMs: 100, timeoutMs: 300 });
    t.equal((await diagnose(await token(K1, idp, RUN))).statusCode, 200);
    idp.jwksMode = 'hang';
    await new Promise((r) => setTimeout(r, 150));
    const started = Date.now();
    t.equal((await diagnose(await token(K1, idp, RUN))).statusCode, 200, 'stale keys: still 200');
    t.equal((await diagnose(await token(K1, idp, RUN))).statusCode, 200, 'and again');
    t.ok(Date.now() - started < 1_500, `without waiting for the identity provider each time (${Date.now() - started} ms)`);
    t.equal(idp.requests.jwks, 2, 'one failed refresh, then a pause');
    problem(t, await diagnose(await token(ROGUE, idp, RUN)), 401, 'an unknown key is still refused');
  });
  await t.test('a bad token is still a 401 once the keys are known, whatever the identity provider does', async (t) => {
    const { idp, diagnose } = await setup(t);
    t.equal((await diagnose(await token(K1, idp, RUN))).statusCode, 200);
    await idp.close();
    problem(t, await diagnose(await token(K1, idp, { ...RUN, aud: 'api://other' })), 401);
    t.equal((await diagnose(await token(K1, idp, RUN))).statusCode, 200, 'and a good one still passes on the cached keys');
  });
});

t.test('credentials the server does not accept', async (t) => {
  const { idp, diagnose } = await setup(t);
  const apiKey = await diagnose(undefined, { 'x-api-key': 'some-key-of-enough-length-123' });
  t.match(problem(t, apiKey, 401).detail, /API keys are not accepted/);
  t.match(problem(t, await diagnose(undefined, { authorization: 'Basic dXNlcjpwYXNz' }), 401).detail, /must be 'Bearer <token>'/);
  const both = await diagnose(await token(K1, idp, RUN), { 'x-api-key': 'some-key-of-enough-length-123' });
  t.match(problem(t, both, 401).detail, /one credential/);
});

t.test('the verifier refuses an authority that is neither https nor loopback http', async (t) => {
  for (const authority of ['http://login.example.com', 'ftp://127.0.0.1', 'https://user:pw@login.example.com', 'not a url']) {
    t.throws(() => createEntraVerifier({ authority, tenant: TENANT, audience: [AUDIENCE] }), /authority/, authority);
  }
  t.doesNotThrow(() => createEntraVerifier({ authority: 'https://login.microsoftonline.com', tenant: TENANT, audience: [AUDIENCE] }));
});
