/**
 * Fleet efficiency, end to end: a generated fleet (200 workspaces in 10 subscriptions sharing 2
 * hubs, src/sim/fleet.ts) served by the simulated ARM and DNS on 127.0.0.1, swept with the real
 * SDK clients through createSweepDiagnose + runSweep. The simulated ARM's request log must show
 * every shared resource read once per sweep, and no subscription's requests above its bucket.
 */
import t, { type Test } from 'tap';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { staticTokenCredential, type AzureAccessOptions } from '../../src/azure/clients.ts';
import { ArmThrottle } from '../../src/azure/throttle.ts';
import type { DiagnoseDeps } from '../../src/diagnose.ts';
import { sameId } from '../../src/model/arm-id.ts';
import { createSweepDiagnose, runSweep, type SweepOutcome } from '../../src/service/sweep.ts';
import { startArmSimulator, type ArmSimulator, type RecordedRequest } from '../../src/sim/arm-server.ts';
import { startDnsServer, type SimDnsServer } from '../../src/sim/dns-server.ts';
import { FLEET_BREAK_FINDING, fleetScenario, type Fleet } from '../../src/sim/fleet.ts';

/**
 * Deliberately below what this sweep sends per subscription unthrottled (about 30 requests a
 * second under tap on 2 cores, more on a faster machine), so the bucket, not the machine, sets
 * the pace: without the throttle the busiest window here breaks the bound by about 60 requests.
 */
const RATE = 20;
const BURST = 10;
/**
 * How much closer together than their tokens were taken requests may reach the log. The log stamps
 * a request when the simulator has received it (Date.now(), 1 ms steps); between its token and
 * that stamp a request crosses the one event loop client and simulator share at least twice (the
 * client's send, the simulator's receive; a new TLS connection more), and each crossing can wait
 * out a stall (a long task, GC, the machine busy with other tests). So: twice the longest stall
 * measured during the sweep, plus a margin for sockets, TLS and the 1 ms stamps.
 */
const arrivalJitterMs = (maxStallMs: number): number => 2 * maxStallMs + 200;
/** ARM's page size for these listings (the simulator's default of 2 is for paging tests). */
const PAGE_SIZE = 100;

const lower = (s: string) => s.toLowerCase();
const subscriptionOf = (r: RecordedRequest): string => lower(/^\/subscriptions\/([^/]+)/i.exec(r.path)?.[1] ?? '');
const isPoll = (r: RecordedRequest): boolean => /\/locations\/[^/]+\/(operations|operationresults)\/[^/]+$/i.test(r.path);
const readKey = (r: RecordedRequest): string => `${lower(r.path)}?${Object.entries(r.query).map(([k, v]) => `${k}=${v}`).sort().join('&')}`;
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Estate {
  fleet: Fleet;
  arm: ArmSimulator;
  dns: SimDnsServer;
  base: AzureAccessOptions;
  deps: Omit<DiagnoseDeps, 'azure'>;
}

async function startFleet(t: Test, fleet: Fleet, throttle: ArmThrottle): Promise<Estate> {
  const arm = await startArmSimulator({ scenario: fleet.scenario, pageSize: PAGE_SIZE });
  const dns = await startDnsServer({ answers: fleet.scenario.dns });
  t.teardown(async () => {
    await arm.close();
    await dns.close();
  });
  const base: AzureAccessOptions = { armEndpoint: arm.url, ca: arm.caPem, credential: staticTokenCredential('fleet'), retryDelayMs: 5, lroPollIntervalMs: 5, timeoutMs: 60_000, throttle };
  const deps = { cloud: 'AzureCloud' as const, dns: { servers: [dns.address], timeoutMs: 2000, tries: 2 }, log: pino({ level: 'silent' }) };
  return { fleet, arm, dns, base, deps };
}

/** One sweep (of the whole fleet by default): its outcomes, the requests it sent, its shared-read counters, time and longest event-loop stall. */
async function sweep(e: Estate, workspaces = e.fleet.workspaces) {
  const { diagnose, sharedReads } = createSweepDiagnose(e.base, e.deps);
  const from = e.arm.requests.length;
  const stalls = monitorEventLoopDelay({ resolution: 5 });
  stalls.enable();
  const started = performance.now();
  const outcomes = await runSweep(
    workspaces.map((w) => w.request),
    { diagnose },
  );
  const ms = Math.round(performance.now() - started);
  stalls.disable();
  return { outcomes, log: e.arm.requests.slice(from), stats: sharedReads.stats(), ms, maxStallMs: Math.round(stalls.max / 1e6) };
}

/**
 * The GET paths (lower case) that many workspaces share, with a label for messages. A firewall is
 * read through its subscription's firewall listing (the probe never GETs one by id).
 */
function sharedPaths(fleet: Fleet): Array<{ label: string; path: string }> {
  const out: Array<{ label: string; path: string }> = [];
  const sub = (s: string) => `/subscriptions/${s}/providers/Microsoft.Network`;
  for (const h of fleet.hubs) {
    out.push(
      { label: `hub ${h.index} VNet`, path: h.vnetId },
      { label: `hub ${h.index} firewalls (listing)`, path: `${sub(h.subscriptionId)}/azureFirewalls` },
      { label: `hub ${h.index} firewall policy`, path: h.firewallPolicyId },
      { label: `hub ${h.index} firewall policy rule collection groups`, path: `${h.firewallPolicyId}/ruleCollectionGroups` },
      { label: `hub ${h.index} private DNS zones (listing)`, path: `${sub(h.subscriptionId)}/privateDnsZones` },
      ...h.zoneIds.flatMap((z) => [
        { label: `hub ${h.index} ${z.split('/').pop()} A records`, path: `${z}/A` },
        { label: `hub ${h.index} ${z.split('/').pop()} virtual network links`, path: `${z}/virtualNetworkLinks` },
      ]),
    );
  }
  for (const s of fleet.subscriptions) {
    out.push({ label: `subscription ${s} firewalls (listing)`, path: `${sub(s)}/azureFirewalls` }, { label: `subscription ${s} private DNS zones (listing)`, path: `${sub(s)}/privateDnsZones` });
  }
  return out.map((x) => ({ ...x, path: lower(x.path) }));
}

/** Each shared resource (every page of a listing) exactly once, the service tags once per region. */
function assertSharedReadOnce(t: Test, fleet: Fleet, log: RecordedRequest[]): void {
  const gets = log.filter((r) => r.method === 'GET');
  for (const { label, path } of sharedPaths(fleet)) {
    const reads = gets.filter((r) => lower(r.path) === path);
    const pages = new Map<string, number>();
    for (const r of reads) pages.set(r.query.$skiptoken ?? 'first', (pages.get(r.query.$skiptoken ?? 'first') ?? 0) + 1);
    t.ok(pages.get('first') === 1 && [...pages.values()].every((n) => n === 1), `${label}: read once (${reads.length} request(s), ${pages.size} page(s))`);
  }
  for (const region of new Set(fleet.hubs.map((h) => h.region))) {
    const reads = gets.filter((r) => new RegExp(`/locations/${region}/servicetags$`, 'i').test(r.path));
    t.equal(reads.length, 1, `service tags of ${region}: read once, though ${fleet.subscriptions.length} subscriptions have workspaces there`);
  }
  // Beyond the list: no read at all repeats within a sweep, but the polls of long-running operations.
  const seen = new Map<string, number>();
  for (const r of gets) if (!isPoll(r)) seen.set(readKey(r), (seen.get(readKey(r)) ?? 0) + 1);
  const repeated = [...seen].filter(([, n]) => n > 1);
  t.same(repeated, [], 'no ARM read is repeated within the sweep');
}

/** The most requests any window of a subscription's log holds beyond burst + rate x (window + jitter). */
function worstExcess(log: RecordedRequest[], rate: number, burst: number, jitterMs: number): { subscription: string; excess: number; count: number; windowMs: number } {
  const bySub = new Map<string, number[]>();
  for (const r of log) {
    const list = bySub.get(subscriptionOf(r)) ?? [];
    list.push(r.at);
    bySub.set(subscriptionOf(r), list);
  }
  let worst = { subscription: '', excess: -Infinity, count: 0, windowMs: 0 };
  for (const [subscription, times] of bySub) {
    times.sort((a, b) => a - b);
    for (let i = 0; i < times.length; i++) {
      for (let j = i; j < times.length; j++) {
        const windowMs = (times[j] as number) - (times[i] as number);
        const count = j - i + 1;
        const excess = count - (burst + (rate * (windowMs + jitterMs)) / 1000);
        if (excess > worst.excess) worst = { subscription, excess, count, windowMs };
      }
    }
  }
  return worst;
}

function assertReports(t: Test, fleet: Fleet, outcomes: SweepOutcome[]): void {
  t.equal(outcomes.length, fleet.workspaces.length, 'one outcome per workspace');
  let healthy = 0;
  let broken = 0;
  for (const [i, w] of fleet.workspaces.entries()) {
    const o = outcomes[i];
    if (o?.status !== 'done') {
      t.fail(`workspace ${i}: ${o?.status} ${o?.status === 'error' ? o.error : ''}`);
      continue;
    }
    const r = o.report;
    const gaps = r.coverage.filter((c) => c.status !== 'ok');
    if (gaps.length) t.fail(`workspace ${i}: evidence missing: ${gaps.map((c) => `${c.item} (${c.reason})`).join('; ')}`);
    if (!w.broken) {
      healthy++;
      if (r.verdict.status !== 'no-cause-found' || r.findings.length) t.fail(`healthy workspace ${i}: ${r.verdict.status}, ${r.findings.map((f) => f.code).join(', ')}`);
      continue;
    }
    broken++;
    const top = r.findings[0];
    const apiZone = fleet.hubs[w.hub]?.zoneIds[0];
    t.ok(r.verdict.status === 'cause-found' && top?.code === FLEET_BREAK_FINDING[w.broken] && sameId(top.resourceId, apiZone), `broken workspace ${i} (${w.broken}): ${top?.code} on ${top?.resourceId?.split('/').pop()}`);
  }
  t.ok(broken > 0 && healthy > broken, `${healthy} healthy and ${broken} broken workspaces, as generated`);
}

t.test('a sweep of 200 workspaces in 10 subscriptions sharing 2 hubs', async (t) => {
  const generated = performance.now();
  const fleet = fleetScenario({ workspaces: 200, subscriptions: 10, hubs: 2 });
  t.comment(`fleet generated in ${Math.round(performance.now() - generated)} ms: ${fleet.scenario.resources.length} resources`);
  const throttle = new ArmThrottle({ readsPerSecond: RATE, burst: BURST });
  const e = await startFleet(t, fleet, throttle);

  const first = await sweep(e);
  t.comment(`sweep 1: ${first.ms} ms, ${first.log.length} ARM requests (${(first.log.length / fleet.workspaces.length).toFixed(1)} per workspace), shared reads ${JSON.stringify(first.stats)}, longest stall ${first.maxStallMs} ms`);
  assertReports(t, fleet, first.outcomes);
  assertSharedReadOnce(t, fleet, first.log);
  const lro = first.log.filter((r) => r.method === 'POST' && /\/effectiveRouteTable$/i.test(r.path));
  t.equal(lro.length, fleet.workspaces.filter((w) => w.vantage).length, 'the effective-routes POSTs went to ARM for every jumpbox (never shared)');

  const jitter = arrivalJitterMs(first.maxStallMs);
  const worst = worstExcess(first.log, RATE, BURST, jitter);
  t.ok(worst.excess <= 0, `no subscription above ${BURST} + ${RATE}/s over any window, give or take ${jitter} ms of arrival jitter (busiest: ${worst.count} requests in ${worst.windowMs} ms to ${worst.subscription})`);

  // The cache is per sweep: the next sweep reads every shared resource again, once. (Of 40
  // workspaces, to keep the test short: 4 in each subscription, 20 behind each hub, 2 jumpboxes.)
  const again = fleet.workspaces.slice(0, 4 * fleet.subscriptions.length);
  const second = await sweep(e, again);
  t.comment(`sweep 2: ${second.ms} ms, ${second.log.length} ARM requests, longest stall ${second.maxStallMs} ms`);
  assertSharedReadOnce(t, fleet, second.log);
  for (const { label, path } of sharedPaths(fleet).slice(0, 3)) {
    const both = [...first.log, ...second.log].filter((r) => r.method === 'GET' && lower(r.path) === path && !r.query.$skiptoken);
    t.equal(both.length, 2, `${label}: once per sweep`);
  }
  assertReports(t, { ...fleet, workspaces: again }, second.outcomes);
  const overall = worstExcess([...first.log, ...second.log], RATE, BURST, arrivalJitterMs(Math.max(first.maxStallMs, second.maxStallMs)));
  t.ok(overall.excess <= 0, `the throttle holds across sweeps too (busiest: ${overall.count} requests in ${overall.windowMs} ms)`);
});

t.test('a 429 with Retry-After on a shared read slows the sweep, every report still has its evidence', async (t) => {
  const fleet = fleetScenario({ workspaces: 30, subscriptions: 3, hubs: 1, brokenEvery: 10, vantageEvery: 0 });
  const hub = fleet.hubs[0];
  if (!hub) throw new Error('no hub');
  const records = `${hub.zoneIds[0]}/A`;
  fleet.scenario.faults = [{ method: 'GET', path: `^${escapeRe(records)}$`, status: 429, retryAfterSeconds: 1, times: 2 }];
  const e = await startFleet(t, fleet, new ArmThrottle());
  const run = await sweep(e);
  t.comment(`sweep: ${run.ms} ms, ${run.log.length} ARM requests`);

  const reads = run.log.filter((r) => r.method === 'GET' && lower(r.path) === lower(records));
  t.same(reads.map((r) => r.status), [429, 429, 200], 'the record listing was throttled twice, then read once for every workspace');
  t.ok(run.ms >= 1900, `the sweep waited out both Retry-After seconds (${run.ms} ms)`);
  const first429 = reads[0]?.at ?? 0;
  const hubSub = lower(hub.subscriptionId);
  const during = run.log.filter((r) => subscriptionOf(r) === hubSub && r.at > first429 + 150 && r.at < first429 + 900);
  t.same(during.map((r) => r.path), [], 'nothing else went to the hub subscription while it was paused');
  assertReports(t, fleet, run.outcomes);
});

t.test('runSweep: bounded concurrency, a failing diagnosis is an outcome, cancellation stops new ones', async (t) => {
  const fleet = fleetScenario({ workspaces: 12, subscriptions: 2, hubs: 1, brokenEvery: 0, vantageEvery: 0 });
  const e = await startFleet(t, fleet, new ArmThrottle());
  const { diagnose } = createSweepDiagnose(e.base, e.deps);
  let running = 0;
  let most = 0;
  const counted: typeof diagnose = async (...args) => {
    most = Math.max(most, ++running);
    try {
      return await diagnose(...args);
    } finally {
      running--;
    }
  };
  const requests = fleet.workspaces.map((w) => w.request);
  requests.splice(3, 0, { workspaceId: 'not-an-arm-id' });
  const done: number[] = [];
  const outcomes = await runSweep(requests, { diagnose: counted, concurrency: 3, onDone: (i) => void done.push(i) });
  t.ok(most > 1 && most <= 3, `at most 3 at once (${most})`);
  t.equal(outcomes[3]?.status, 'error', 'the bad request ends in an error outcome');
  t.match(outcomes[3]?.status === 'error' ? outcomes[3].error : '', /not-an-arm-id|workspace/i);
  t.same(outcomes.filter((_, i) => i !== 3).map((o) => o.status), fleet.workspaces.map(() => 'done'), 'every other diagnosis completed');
  t.same(outcomes.map((o) => o.request), requests, 'outcomes in request order');
  t.same([...done].sort((a, b) => a - b), requests.map((_, i) => i), 'onDone once per request');

  const abort = new AbortController();
  const cancelled = await runSweep(requests, { diagnose, concurrency: 2, signal: abort.signal, onDone: () => abort.abort() });
  const statuses = cancelled.map((o) => o.status);
  t.equal(statuses.length, requests.length, 'an outcome for every request');
  // Aborted as the first one ends: only the two started by then may have completed.
  t.ok(statuses.filter((s) => s === 'done').length <= 2 && statuses.filter((s) => s === 'cancelled').length >= requests.length - 2, `none started after the abort (${statuses.join(', ')})`);
});
