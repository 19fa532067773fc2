import t from 'tap';
import { rankFindings, type RankInput } from '../../src/report/rank.ts';

function input(code: string, over: Partial<RankInput> = {}): RankInput {
  return {
    code, tier: 1, severity: 'critical', confidence: 'medium', title: code, resourceId: `/r/${code}`,
    explanation: `${code} explained`, evidence: [], remediation: { summary: '', azCli: [], bicep: '', verify: '' }, docs: `docs/rules/${code}.md`,
    role: 'cause', subjects: [], order: 0, ...over,
  };
}

const ZONE = 'zone:privatelink.api.azureml.ms';

t.test('tier first, then confidence, then catalogue order', async (t) => {
  const ranked = rankFindings([
    input('C', { tier: 3, confidence: 'high', order: 0 }),
    input('B', { tier: 1, confidence: 'medium', order: 1 }),
    input('A', { tier: 1, confidence: 'medium', order: 0 }),
    input('D', { tier: 1, confidence: 'high', order: 5 }),
  ]);
  t.same(ranked.map((f) => [f.code, f.rank]), [['D', 1], ['A', 2], ['B', 3], ['C', 4]]);
  t.match(ranked[0]?.rankReason, /^tier 1 \(auth path\); observed live or computed by Azure$/);
  t.match(ranked[3]?.rankReason, /^tier 3 \(client access or hygiene\); observed live/);
});

t.test('an observed symptom is folded into the cause sharing its subject: one finding, not two of equal rank', async (t) => {
  const ranked = rankFindings([
    input('DNS_RESOLVES_PUBLIC_ADDRESS', { role: 'symptom', confidence: 'high', order: 8, subjects: ['name:ws.api.azureml.ms', ZONE], evidence: [{ observed: '20.1.2.3', expected: '10.0.0.4' }] }),
    input('PRIVATE_DNS_ZONE_NOT_LINKED', { confidence: 'medium', order: 6, subjects: [ZONE] }),
  ]);
  t.equal(ranked.length, 1, 'the symptom is not a finding of its own');
  const top = ranked[0];
  t.equal(top?.code, 'PRIVATE_DNS_ZONE_NOT_LINKED');
  t.same(top?.symptoms?.map((s) => s.code), ['DNS_RESOLVES_PUBLIC_ADDRESS']);
  t.same(top?.symptoms?.[0]?.evidence, [{ observed: '20.1.2.3', expected: '10.0.0.4' }], 'the symptom keeps its evidence');
  t.equal(top?.confidence, 'high', 'a configuration finding whose effect was observed live counts as observed');
  t.match(top?.rankReason, /read from configuration, corroborated live by DNS_RESOLVES_PUBLIC_ADDRESS; root cause of DNS_RESOLVES_PUBLIC_ADDRESS/);
});

t.test('a corroborated cause outranks an uncorroborated one of the same tier', async (t) => {
  const ranked = rankFindings([
    input('NSG_BLOCKS_PRIVATE_ENDPOINT', { confidence: 'medium', order: 13, subjects: ['nsg:x'] }),
    input('PRIVATE_DNS_ZONE_NOT_LINKED', { confidence: 'medium', order: 6, subjects: [ZONE] }),
    input('DNS_RESOLVES_PUBLIC_ADDRESS', { role: 'symptom', confidence: 'high', order: 8, subjects: [ZONE] }),
  ]);
  t.same(ranked.map((f) => f.code), ['PRIVATE_DNS_ZONE_NOT_LINKED', 'NSG_BLOCKS_PRIVATE_ENDPOINT']);
});

t.test('a cause absorbs another cause only when its rule says so, and chains fold into the root', async (t) => {
  const zoneMissing = input('PRIVATE_DNS_ZONE_MISSING', { order: 2, subjects: [ZONE], absorbs: ['PRIVATE_DNS_ZONE_GROUP_MISSING', 'PRIVATE_DNS_RECORD_MISSING'] });
  const groupMissing = input('PRIVATE_DNS_ZONE_GROUP_MISSING', { order: 3, subjects: [ZONE, 'name:a'], absorbs: ['PRIVATE_DNS_RECORD_MISSING'] });
  const recordMissing = input('PRIVATE_DNS_RECORD_MISSING', { order: 4, subjects: ['name:a'] });
  const unrelated = input('NSG_BLOCKS_ENTRA_ID', { order: 11, subjects: [ZONE] });
  const ranked = rankFindings([recordMissing, unrelated, groupMissing, zoneMissing]);
  t.same(ranked.map((f) => f.code), ['PRIVATE_DNS_ZONE_MISSING', 'NSG_BLOCKS_ENTRA_ID'], 'an unrelated cause sharing a subject is not absorbed');
  t.same(ranked[0]?.symptoms?.map((s) => s.code).sort(), ['PRIVATE_DNS_RECORD_MISSING', 'PRIVATE_DNS_ZONE_GROUP_MISSING'], 'the record folds through the group into the zone');
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
  t.same(ranked.map((f) => f.code), ['DNS_RESOLUTION_FAILED', 'COMPUTE_INSTANCE_NAME_UNRESOLVABLE']);
  t.equal(ranked[1]?.symptoms, undefined);
});

t.test('within a tier and confidence, the earlier auth-path flow comes first (workspace-api before entra-id)', async (t) => {
  const ranked = rankFindings([
    input('NSG_BLOCKS_ENTRA_ID', { order: 11, flows: ['entra-id'] }),
    input('NSG_BLOCKS_PRIVATE_ENDPOINT', { order: 13, flows: ['workspace-api', 'workspace-cert'] }),
  ]);
  t.same(ranked.map((f) => f.code), ['NSG_BLOCKS_PRIVATE_ENDPOINT', 'NSG_BLOCKS_ENTRA_ID']);
  t.match(ranked[0]?.rankReason, /auth path: breaks workspace-api, workspace-cert/);
});

t.test('a tier 1 finding that breaks only flows off the auth path says so, and ranks after the auth path', async (t) => {
  const ranked = rankFindings([
    input('PRIVATE_DNS_ZONE_NOT_LINKED', { order: 6, flows: ['notebooks'], resourceId: '/zones/nb' }),
    input('PRIVATE_DNS_ZONE_NOT_LINKED', { order: 6, flows: ['workspace-api'], resourceId: '/zones/z-api' }),
  ]);
  t.same(ranked.map((f) => f.resourceId), ['/zones/z-api', '/zones/nb']);
  t.match(ranked[1]?.rankReason, /^tier 1 by its rule \(breaks notebooks, off the auth path\)/);
});

t.test('ties break by resource id, and any input order gives the same ranks', async (t) => {
  const a = rankFindings([input('X', { resourceId: '/b' }), input('X', { resourceId: '/A' })]);
  const b = rankFindings([input('X', { resourceId: '/A' }), input('X', { resourceId: '/b' })]);
  t.same(a.map((f) => f.resourceId), ['/A', '/b']);
  t.same(a, b);

  const pool = [
    input('PRIVATE_DNS_ZONE_MISSING', { order: 2, subjects: [ZONE], absorbs: ['PRIVATE_DNS_ZONE_GROUP_MISSING'] }),
    input('PRIVATE_DNS_ZONE_GROUP_MISSING', { order: 3, subjects: [ZONE] }),
    input('DNS_RESOLVES_PUBLIC_ADDRESS', { role: 'symptom', confidence: 'high', order: 8, subjects: [ZONE] }),
    input('NSG_BLOCKS_ENTRA_ID', { order: 11, flows: ['entra-id'], resourceId: '/nsg/1' }),
    input('NSG_BLOCKS_ENTRA_ID', { order: 11, flows: ['entra-id'], resourceId: '/nsg/2' }),
    input('COMPUTE_SSO_DISABLED', { tier: 3, order: 27 }),
    input('STORAGE_NETWORK_BLOCKS_COMPUTE', { tier: 2, confidence: 'low', order: 21 }),
  ];
  const expected = rankFindings(pool);
  let seed = 7;
  for (let i = 0; i < 50; i++) {
    const shuffled = pool.map((p) => ({ p, k: (seed = (seed * 48271) % 2147483647) })).sort((x, y) => x.k - y.k).map((x) => x.p);
    const got = rankFindings(shuffled);
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      t.fail(`permutation ${i} ranks differently: ${got.map((f) => f.code).join(', ')}`);
      return;
    }
  }
  t.pass('50 permutations give identical reports');
});
