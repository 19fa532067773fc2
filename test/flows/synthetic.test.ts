import t from 'tap';
import { analyzeFlows } from '../../src/flows/analyze.ts';
import type { EffectiveNsgObs, EffectiveRouteObs, Snapshot } from '../../src/model/snapshot.ts';
import { syntheticSnapshot } from '../../src/sim/synthetic.ts';

const SMALL = { routes: 400, nsgRules: 80, tagPrefixes: 1500 };

const vantageOf = (s: Snapshot) => {
  const v = s.vantage?.ok ? s.vantage.value.subnets[0]?.vantage : undefined;
  if (!v?.effectiveNsgs.ok || !v.effectiveRoutes.ok) throw new Error('synthetic snapshot without a vantage');
  return { nsgs: v.effectiveNsgs.value, routes: v.effectiveRoutes.value };
};
const flow = (s: Snapshot, id: string) => analyzeFlows(s).flows.find((f) => f.id === id);

t.test('on a synthetic estate with tag expansions the indexed and linear analyses are deep-equal', async (t) => {
  for (const seed of [1, 2]) {
    const s = syntheticSnapshot(SMALL, seed);
    const indexed = analyzeFlows(s, { primitives: 'indexed' });
    t.same(analyzeFlows(s, { primitives: 'linear' }), indexed, `seed ${seed}`);
    t.ok(indexed.flows.length >= 8, `${indexed.flows.length} flows`);
  }
});

t.test('analysing the same snapshot again gives the same answer (indexes are kept per run)', async (t) => {
  const s = syntheticSnapshot(SMALL, 3);
  const first = analyzeFlows(s);
  t.same(analyzeFlows(s), first);
  t.same(analyzeFlows(s), first);
});

t.test('a rule or route added to the same arrays between analyses is seen', async (t) => {
  const s = syntheticSnapshot(SMALL, 4);
  t.equal(flow(s, 'entra-id')?.verdict, 'allowed');
  const { nsgs, routes } = vantageOf(s);
  const nic = nsgs[1] as EffectiveNsgObs;
  const deny = { ...(nic.rules[0] as EffectiveNsgObs['rules'][number]), name: 'securityRules/Deny-Aad-First', priority: 90, access: 'Deny' as const };
  nic.rules.unshift(deny);
  const blocked = flow(s, 'entra-id');
  t.equal(blocked?.verdict, 'blocked', 'the new NIC rule denies Entra ID');
  t.match(blocked?.hops.find((h) => h.verdict === 'blocked')?.element, /Deny-Aad-First/);
  nic.rules.shift();
  t.equal(flow(s, 'entra-id')?.verdict, 'allowed', 'and removing it again is seen too');

  const noInternet: EffectiveRouteObs = { source: 'User', state: 'Active', name: 'drop-all', addressPrefixes: ['0.0.0.0/0'], nextHopType: 'None', nextHopIpAddresses: [] };
  routes.push(noInternet);
  t.equal(flow(s, 'entra-id')?.verdict, 'blocked', 'a user route replacing the default route is seen');
});
