/**
 * Request ids: the caller's x-request-id (when it is a plain token) or a fresh UUID, echoed in the
 * response, on problem+json answers too, and on every log line of the request, including those of
 * the diagnosis and its probes, which log through the service's logger rather than request.log.
 */
import t, { type Test } from 'tap';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { pino } from 'pino';
import app from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createDiagnose } from '../../src/diagnose.ts';
import { requestIdMixin, requestIdOptions } from '../../src/service/request-id.ts';
import { startScenario } from '../helpers/reports.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const run = await startScenario(t, 'zone-not-linked-hub-spoke');

interface Line {
  reqId?: string;
  probe?: string;
  msg?: string;
}

/** The app as src/server.ts builds it, logging at debug level into `lines`. */
async function build(t: Test) {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  const log = pino({ level: 'debug', mixin: requestIdMixin }, stream);
  const fastify = Fastify({ loggerInstance: log, ...requestIdOptions });
  await fastify.register(app, { config: loadConfig({}), diagnose: createDiagnose({ ...run.deps, log }) });
  await fastify.ready();
  t.teardown(() => fastify.close());
  lines.length = 0;
  return { fastify, lines };
}

t.test("the caller's id is echoed and is on every log line of the request, the probes' included", async (t) => {
  const { fastify, lines } = await build(t);
  // Over a real socket, as in production (the body arrives in socket events, after onRequest).
  const url = await fastify.listen({ host: '127.0.0.1', port: 0 });
  lines.length = 0;
  const id = 'ticket-4711.retry_2';
  const res = await fetch(`${url}/v1/diagnoses`, { method: 'POST', headers: { 'x-request-id': id, 'content-type': 'application/json' }, body: JSON.stringify(run.req) });
  t.equal(res.status, 200, (await res.text()).slice(0, 300));
  t.equal(res.headers.get('x-request-id'), id);
  t.ok(lines.some((l) => l.msg === 'incoming request') && lines.some((l) => l.msg === 'request completed'), 'the access log lines');
  t.ok(lines.filter((l) => l.probe !== undefined).length >= 11, 'the probes logged through the service logger');
  t.same(
    lines.filter((l) => l.reqId !== id),
    [],
    'no line without the id',
  );
  const raw = JSON.stringify(lines);
  t.notMatch(raw, /"reqId":"[^"]*","reqId"/, 'never twice on a line');
});

t.test('without a header, or with one that is not a plain token, a fresh UUID is used', async (t) => {
  const { fastify, lines } = await build(t);
  const hostile = ['has spaces', 'x'.repeat(129), '../../etc/passwd', '<script>alert(1)</script>', 'id\twith\ttabs', 'ünïcode', ''];
  const seen = new Set<string>();
  for (const given of [undefined, ...hostile]) {
    lines.length = 0;
    const res = await fastify.inject({ method: 'GET', url: '/healthz?verbose', headers: given === undefined ? {} : { 'x-request-id': given } });
    const id = String(res.headers['x-request-id']);
    t.match(id, UUID, `${JSON.stringify(given)} -> a UUID`);
    t.not(id, given);
    seen.add(id);
  }
  t.equal(seen.size, hostile.length + 1, 'a new one each time');
  t.equal(String(await fastify.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'x'.repeat(128) } }).then((r) => r.headers['x-request-id'])), 'x'.repeat(128), '128 characters are accepted');
});

t.test('a replaced id is the one logged; the hostile value is logged nowhere', async (t) => {
  const { fastify, lines } = await build(t);
  const res = await fastify.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'evil"}\n{"level":60' } });
  t.equal(res.statusCode, 404);
  const id = String(res.headers['x-request-id']);
  t.match(id, UUID);
  t.ok(lines.length > 0 && lines.every((l) => l.reqId === id), 'every line carries the generated id');
  t.notMatch(JSON.stringify(lines), /evil/);
});

t.test('problem+json answers keep working and carry the id', async (t) => {
  const { fastify } = await build(t);
  const notFound = await fastify.inject({ method: 'GET', url: '/v1/nothing-here', headers: { 'x-request-id': 'req-404' } });
  t.equal(notFound.statusCode, 404);
  t.match(notFound.headers['content-type'], /^application\/problem\+json/);
  t.equal(notFound.headers['x-request-id'], 'req-404');
  t.equal(notFound.json<{ instance: string }>().instance, '/v1/nothing-here');
  const invalid = await fastify.inject({ method: 'POST', url: '/v1/diagnoses', headers: { 'x-request-id': 'req-400' }, payload: { workspaceId: run.req.workspaceId, armEndpoint: 'https://evil.example' } });
  t.equal(invalid.statusCode, 400);
  t.match(invalid.headers['content-type'], /^application\/problem\+json/);
  t.equal(invalid.headers['x-request-id'], 'req-400');
  t.same(
    invalid.json<{ errors: Array<{ field: string }> }>().errors.map((e) => e.field),
    ['/armEndpoint'],
  );
});

t.test('concurrent requests keep their own ids on their lines', async (t) => {
  const { fastify, lines } = await build(t);
  const [a, b] = await Promise.all(
    ['req-a', 'req-b'].map((id) => fastify.inject({ method: 'POST', url: '/v1/diagnoses', headers: { 'x-request-id': id }, payload: run.req })),
  );
  t.equal(a?.statusCode, 200);
  t.equal(b?.statusCode, 200);
  const probeLines = lines.filter((l) => l.probe !== undefined);
  t.same([...new Set(probeLines.map((l) => l.reqId))].sort(), ['req-a', 'req-b'], 'both ids on probe lines');
  t.equal(probeLines.filter((l) => l.reqId === 'req-a').length, probeLines.filter((l) => l.reqId === 'req-b').length, 'each diagnosis logged its own probes');
  t.same(
    lines.filter((l) => l.reqId !== 'req-a' && l.reqId !== 'req-b'),
    [],
    'no line without an id',
  );
});

t.test('an app on a Fastify that takes request ids from a header unvalidated refuses to start', async (t) => {
  const fastify = Fastify({ requestIdHeader: 'x-request-id' });
  t.teardown(() => fastify.close());
  await t.rejects(
    (async () => {
      await fastify.register(app, { config: loadConfig({}), diagnose: createDiagnose(run.deps) });
      await fastify.ready();
    })(),
    /requestIdHeader/,
  );
});
