/**
 * The API serves one report in every format, chosen by `?format=` or the Accept header, and
 * takes the operator filters (minTier, exclude) in the body. Real diagnoses of a bundled scenario.
 */
import t from 'tap';
import Fastify from 'fastify';
import app from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { diagnose } from '../../src/diagnose.ts';
import type { Report } from '../../src/report/schema.ts';
import { startScenario } from '../helpers/reports.ts';

const run = await startScenario(t, 'zone-not-linked-hub-spoke');
const fastify = Fastify();
await fastify.register(app, { config: loadConfig({}), diagnose: (req, signal, options) => diagnose(req, run.deps, signal, options) });
t.teardown(() => fastify.close());

const post = (url: string, headers: Record<string, string> = {}, body: object = run.req) => fastify.inject({ method: 'POST', url, headers, payload: body });

t.test('JSON by default and for Accept: application/json or */*', async (t) => {
  for (const accept of [undefined, 'application/json', '*/*']) {
    const res = await post('/v1/diagnoses', accept ? { accept } : {});
    t.equal(res.statusCode, 200, `${accept}: ${res.body.slice(0, 300)}`);
    t.match(res.headers['content-type'], /^application\/json/);
    t.equal(res.json<Report>().findings[0]?.code, 'PRIVATE_DNS_ZONE_NOT_LINKED');
  }
});

const FORMATS: Array<[string, string, RegExp]> = [
  ['markdown', 'text/markdown', /^# /],
  ['sarif', 'application/sarif+json', /"version": "2\.1\.0"/],
  ['html', 'text/html', /^<!doctype html>/i],
  ['text', 'text/plain', /^aml-netdoctor /],
];

for (const [format, media, start] of FORMATS) {
  t.test(`${format}: by ?format= and by Accept, the same report`, async (t) => {
    const byQuery = await post(`/v1/diagnoses?format=${format}`);
    t.equal(byQuery.statusCode, 200, byQuery.body.slice(0, 300));
    t.match(byQuery.headers['content-type'], new RegExp(`^${media.replace(/[+/]/g, '\\$&')}; charset=utf-8`));
    t.match(byQuery.body, start);
    t.match(byQuery.body, 'PRIVATE_DNS_ZONE_NOT_LINKED', 'the top finding is in it');
    const byAccept = await post('/v1/diagnoses', { accept: `${media}, application/json;q=0.5` });
    t.equal(byAccept.statusCode, 200);
    t.match(byAccept.headers['content-type'], media);
  });
}

t.test('?format= wins over Accept', async (t) => {
  const res = await post('/v1/diagnoses?format=markdown', { accept: 'text/html' });
  t.match(res.headers['content-type'], /^text\/markdown/);
});

t.test('an Accept nothing matches is a 406 problem naming what is available; a bad ?format= is a 400', async (t) => {
  const res = await post('/v1/diagnoses', { accept: 'application/xml' });
  t.equal(res.statusCode, 406);
  t.match(res.headers['content-type'], /^application\/problem\+json/);
  t.match(res.json<{ detail: string }>().detail, /application\/sarif\+json/);
  const bad = await post('/v1/diagnoses?format=pdf');
  t.equal(bad.statusCode, 400);
  t.match(bad.body, /format/);
});

t.test('minTier and exclude filter the report and are recorded in it', async (t) => {
  const all = (await post('/v1/diagnoses')).json<Report>();
  t.ok(all.findings.some((f) => f.tier === 3), 'the scenario has a tier 3 finding');
  const tier1 = (await post('/v1/diagnoses', {}, { ...run.req, minTier: 1 })).json<Report>();
  t.ok(tier1.findings.length > 0 && tier1.findings.every((f) => f.tier === 1), 'only tier 1 findings');
  t.same(tier1.findings.map((f) => f.rank), tier1.findings.map((_, i) => i + 1), 'ranks are renumbered');
  t.same(tier1.filters, { minTier: 1, exclude: [] });
  const excluded = (await post('/v1/diagnoses', {}, { ...run.req, exclude: ['PRIVATE_DNS_ZONE_NOT_LINKED'] })).json<Report>();
  t.notOk(excluded.findings.some((f) => f.code === 'PRIVATE_DNS_ZONE_NOT_LINKED'));
  t.equal(excluded.findings[0]?.code, 'DNS_RESOLVES_PUBLIC_ADDRESS', 'without its cause the symptom stands on its own');
  t.match(excluded.verdict.summary, /were not run \(--exclude\)/);
  const bad = await post('/v1/diagnoses', {}, { ...run.req, exclude: ['NOT_A_CODE'] });
  t.equal(bad.statusCode, 400);
  t.same(bad.json<{ errors: unknown[] }>().errors, [{ field: '/exclude/0', message: "'NOT_A_CODE' is not a finding code" }]);
  const badTier = await post('/v1/diagnoses', {}, { ...run.req, minTier: 0 });
  t.equal(badTier.statusCode, 400);
});
