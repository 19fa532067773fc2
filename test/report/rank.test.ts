import t from 'tap';
import { rankFindings, type RankInput } from '../../src/report/rank.ts';

function input(code: string, over: Partial<RankInput> = {}): RankInput {
  return {
    code, tier: 1, severity: 'critical', confidence: 'medium', title: code, resourceId: `/r/${code}`,
    explanation: '', evidence: [], remediation: { summary: '', azCli: [] }, docs: `docs/rules/${code}.md`,
    role: 'cause', subjects: [], order: 0, ...over,
  };
}

t.test('tier first, then confidence, then catalogue order', async (t) => {
  const ranked = rankFindings([
    input('C', { tier: 3, confidence: 'high', order: 0 }),
    input('B', { tier: 1, confidence: 'medium', order: 1 }),
    input('A', { tier: 1, confidence: 'medium', order: 0 }),
    input('D', { tier: 1, confidence: 'high', order: 5 }),
  ]);
  t.same(ranked.map((f) => [f.code, f.rank]), [['D', 1], ['A', 2], ['B', 3], ['C', 4]]);
});

t.test('an observed symptom sharing a subject with a cause is folded after it, even with higher confidence', async (t) => {
  const ranked = rankFindings([
    input('DNS_RESOLVES_PUBLIC_ADDRESS', { role: 'symptom', confidence: 'high', order: 8, subjects: ['name:ws.api.azureml.ms', 'zone:privatelink.api.azureml.ms'] }),
    input('PRIVATE_DNS_ZONE_NOT_LINKED', { confidence: 'medium', order: 6, subjects: ['zone:privatelink.api.azureml.ms'] }),
  ]);
  t.equal(ranked[0]?.code, 'PRIVATE_DNS_ZONE_NOT_LINKED');
  t.same(ranked[0]?.explains, ['DNS_RESOLVES_PUBLIC_ADDRESS']);
  t.equal(ranked[1]?.explains, undefined);
});

t.test('a symptom with no cause keeps its place by confidence', async (t) => {
  const ranked = rankFindings([
    input('COMPUTE_SSO_DISABLED', { tier: 3 }),
    input('DNS_RESOLUTION_FAILED', { role: 'symptom', confidence: 'high', subjects: ['name:x'] }),
    input('PRIVATE_DNS_ZONE_NOT_LINKED', { subjects: ['zone:y'] }),
  ]);
  t.same(ranked.map((f) => f.code), ['DNS_RESOLUTION_FAILED', 'PRIVATE_DNS_ZONE_NOT_LINKED', 'COMPUTE_SSO_DISABLED']);
});

t.test('a tier 3 cause does not absorb a tier 1 symptom', async (t) => {
  const ranked = rankFindings([
    input('COMPUTE_INSTANCE_NAME_UNRESOLVABLE', { tier: 3, subjects: ['name:x'] }),
    input('DNS_RESOLUTION_FAILED', { role: 'symptom', confidence: 'high', subjects: ['name:x'] }),
  ]);
  t.equal(ranked[0]?.code, 'DNS_RESOLUTION_FAILED');
  t.equal(ranked[1]?.explains, undefined);
});

t.test('ties break by resource id, deterministically', async (t) => {
  const a = rankFindings([input('X', { resourceId: '/b' }), input('X', { resourceId: '/A' })]);
  const b = rankFindings([input('X', { resourceId: '/A' }), input('X', { resourceId: '/b' })]);
  t.same(a.map((f) => f.resourceId), ['/A', '/b']);
  t.same(a, b);
});
