import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { collect, runOrder, type ProgressEvent } from '../src/collect.ts';
import { probes, probeById } from '../probes/index.ts';
import type { Probe } from '../probes/probe.ts';
import { PROBE_IDS } from '../src/model/snapshot.ts';
import { hubAndSpoke, withSim } from './helpers/sim.ts';
import { HUB_ID, PE_ID, SPOKE_ID, SUB } from './helpers/snapshot.ts';

/** The ARM probes plus a stand-in for the live DNS probe (no DNS server in these tests). */
const dnsStandIn = {
  id: 'dns',
  title: 'resolving names',
  needs: ['workspace', 'computes', 'privateEndpoints'],
  async run() {
    return { ok: true, value: { resolvers: [], lookups: [] } };
  },
} satisfies Probe<'dns'>;
const armProbes: readonly Probe[] = [...probes.filter((p) => p.id !== 'dns'), dnsStandIn];

t.test('the probe index lists every probe once, in run order', async (t) => {
  t.same(
    probes.map((p) => p.id),
    PROBE_IDS,
  );
  t.same(
    runOrder(probes).map((p) => p.id),
    PROBE_IDS,
    'no probe is listed before a probe it needs',
  );
  for (const p of probes) t.equal(probeById[p.id], p, `probeById.${p.id}`);
});

t.test('runs every probe after the probes it needs, independent ones together', async (t) => {
  const tags = { id: `/subscriptions/${SUB}/providers/Microsoft.Network/locations/eastus/serviceTags`, name: 'Public', values: [] };
  const { ctx } = await withSim(t, [...hubAndSpoke(), tags], { latencyMs: 5 });
  const events: ProgressEvent[] = [];
  const before = Date.now();
  const { target, ...rest } = ctx;
  const snapshot = await collect(target, rest, { probes: armProbes, onProgress: (e) => events.push(e) });

  t.equal(snapshot.target, target);
  t.ok(Date.parse(snapshot.collectedAt) >= before - 1000, 'collectedAt is set');
  for (const id of PROBE_IDS) t.equal(snapshot[id]?.ok, true, `${id} observed`);
  t.match(snapshot.networks, { ok: true, value: { vnets: [{ id: SPOKE_ID, roles: ['compute'] }, { id: HUB_ID, roles: ['private-endpoint', 'peer'] }] } });
  t.match(snapshot.privateEndpoints, { ok: true, value: { endpoints: [{ id: PE_ID, observed: { ok: true } }] } });

  const at = (id: string, phase: string): number => events.findIndex((e) => e.probe === id && e.phase === phase);
  for (const p of armProbes) {
    t.ok(at(p.id, 'start') >= 0 && at(p.id, 'done') > at(p.id, 'start'), `${p.id} started then finished`);
    for (const need of p.needs) t.ok(at(need, 'done') < at(p.id, 'start'), `${p.id} starts after ${need} is done`);
  }
  const firstDone = Math.min(at('computes', 'done'), at('privateEndpoints', 'done'));
  t.ok(at('computes', 'start') < firstDone && at('privateEndpoints', 'start') < firstDone, 'computes and privateEndpoints run together');
  t.match(events.find((e) => e.probe === 'networks' && e.phase === 'done'), { title: 'reading the virtual networks', ok: true, ms: Number });
  t.equal(events.length, armProbes.length * 2);
});

t.test('a probe that throws becomes a failed observation and the run goes on', async (t) => {
  const { ctx } = await withSim(t, hubAndSpoke());
  const broken = {
    id: 'computes',
    title: 'reading the computes',
    needs: ['workspace'],
    async run() {
      throw new TypeError("Cannot read properties of undefined (reading 'subnet')");
    },
  } satisfies Probe<'computes'>;
  const list = armProbes.map((p) => (p.id === 'computes' ? broken : p));
  const events: ProgressEvent[] = [];
  const { target, ...rest } = ctx;
  const snapshot = await collect(target, rest, { probes: list, onProgress: (e) => events.push(e) });
  t.match(snapshot.computes, { ok: false, error: { kind: 'unknown', message: /running probe computes: Cannot read properties/ } });
  t.match(events.find((e) => e.probe === 'computes' && e.phase === 'done'), { ok: false });
  t.equal(snapshot.workspace?.ok, true);
  t.equal(snapshot.privateDnsZones?.ok, true, 'later probes still ran');
  t.match(snapshot.networks, { ok: true, value: { vnets: [{ id: HUB_ID, roles: ['private-endpoint'] }] } }, 'networks worked with what it had');
});

t.test('a listener that throws does not stop the collection', async (t) => {
  const { ctx } = await withSim(t, hubAndSpoke());
  const { target, ...rest } = ctx;
  const snapshot = await collect(target, rest, {
    probes: armProbes,
    onProgress: () => {
      throw new Error('listener bug');
    },
  });
  t.equal(snapshot.privateDnsZones?.ok, true);
});

t.test('only the listed probes run; a need outside the list is not waited for', async (t) => {
  const { sim, ctx } = await withSim(t, hubAndSpoke());
  const { target, ...rest } = ctx;
  const snapshot = await collect(target, rest, { probes: [probeById.privateEndpoints] });
  t.same(Object.keys(snapshot).sort(), ['collectedAt', 'privateEndpoints', 'target']);
  t.match(snapshot.privateEndpoints, { ok: false, error: { kind: 'skipped' } }, 'without the workspace it has nothing to read');
  t.equal(sim.requests.length, 0);
});

t.test('logs each probe at debug level with its id, and never the token', async (t) => {
  const token = 'sim-secret-token-4d1f';
  const { ctx } = await withSim(t, hubAndSpoke(), { token, faults: [{ path: '/computes$', status: 403 }] });
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const { target, ...rest } = ctx;
  await collect(target, { ...rest, log: pino({ level: 'debug' }, sink) }, { probes: armProbes });
  const failedLine = lines.find((l) => l.probe === 'computes' && l.msg === 'probe failed');
  t.match(failedLine, { level: 20, error: { kind: 'forbidden', statusCode: 403 } });
  t.same(
    [...new Set(lines.map((l) => l.probe))].sort(),
    [...PROBE_IDS].sort(),
  );
  t.notMatch(JSON.stringify(lines), new RegExp(`${token}|Bearer`));
});

t.test('a cycle in needs is reported, not run', async (t) => {
  const a = { ...probeById.workspace, needs: ['dns' as const] };
  const b = { ...dnsStandIn, needs: ['workspace' as const] };
  t.throws(() => runOrder([a, b]), /cycle: workspace -> dns -> workspace/);
});
