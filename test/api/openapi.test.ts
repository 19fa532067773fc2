import t from 'tap';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { firstDifference, OPENAPI_PATH, renderOpenApi } from '../../scripts/gen-openapi.ts';

t.test('the committed openapi.yaml matches the routes', async (t) => {
  const generated = await renderOpenApi();
  const committed = await readFile(OPENAPI_PATH, 'utf8');
  const diff = firstDifference(generated, committed);
  t.notOk(diff, diff ? `openapi.yaml is out of date at line ${diff.line} (generated '${diff.expected}', committed '${diff.actual}'): run \`npm run openapi\`` : 'up to date');
});

t.test('the document describes the diagnoses API', async (t) => {
  const doc = parse(await renderOpenApi()) as {
    openapi: string;
    info: { title: string };
    components: { schemas: Record<string, unknown> };
    paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown>; additionalProperties: boolean } }> }; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
  };
  t.equal(doc.openapi, '3.1.0');
  t.equal(doc.info.title, 'aml-netdoctor');
  for (const name of ['Report', 'Finding', 'Evidence', 'Remediation', 'CoverageItem', 'Tier', 'Severity', 'Confidence', 'VerdictStatus', 'Problem']) {
    t.ok(doc.components.schemas[name], `components.schemas.${name}`);
  }
  const post = doc.paths['/v1/diagnoses']?.post;
  t.same(post?.responses['200']?.content?.['application/json']?.schema, { $ref: '#/components/schemas/Report' });
  t.same(post?.responses['400']?.content?.['application/problem+json']?.schema, { $ref: '#/components/schemas/Problem' });
  const body = post?.requestBody?.content['application/json']?.schema;
  t.same(Object.keys(body?.properties ?? {}).sort(), ['computeName', 'exclude', 'minTier', 'subscriptions', 'vantageVmId', 'workspaceId'], 'the caller names the target and the filters only (no endpoints, resolvers or credentials)');
  t.same(Object.keys(post?.responses['200']?.content ?? {}).sort(), ['application/json', 'application/sarif+json', 'text/html', 'text/markdown', 'text/plain'], 'every report format is documented');
  t.equal(body?.additionalProperties, false);
  t.ok(doc.paths['/healthz']?.get, 'GET /healthz');
});
