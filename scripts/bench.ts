/**
 * npm run bench [-- --runs N --latency MS --only scenarios|flows]
 * npm run bench -- fleet [--workspaces N --subscriptions N --hubs N --latency MS --concurrency N]:
 *  - scenarios: diagnosis wall time and ARM request count per bundled scenario, in process,
 *    against the simulated ARM (with per-request latency, like a real region) and the simulated
 *    DNS server;
 *  - flows: flow analysis of one workspace on a synthetic big estate (10,000 effective routes,
 *    2 x 1,000 NSG rules, 30,000 service-tag prefixes), indexed primitives against a naive
 *    linear scan in the same process. The indexed path is timed cold (a new snapshot: every
 *    index built) and in steady state (the run's indexes built once); the 50 ms target is the
 *    steady-state median. The linear baseline runs once, cold.
 *  - fleet: one sweep (src/service/sweep.ts) of a generated fleet (src/sim/fleet.ts, default 1,000
 *    workspaces in 50 subscriptions sharing 4 hubs) against the simulated ARM with per-request
 *    latency, throttled per subscription at ARM's documented read limits: sweep time, ARM calls
 *    per workspace (from the simulated ARM's request log), shared-read hits and peak memory. It
 *    fails when a diagnosis fails or any ARM read but an LRO poll is repeated within the sweep.
 * Performance targets live here, not in timed tests.
 */
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { analyzeFlows } from '../src/flows/analyze.ts';
import { DEFAULT_SIZE, sizeOf, syntheticSnapshot } from '../src/sim/synthetic.ts';
import { pino } from 'pino';
import { createAzureClients, staticTokenCredential } from '../src/azure/clients.ts';
import { diagnose } from '../src/diagnose.ts';
import { startArmSimulator } from '../src/sim/arm-server.ts';
import { generateTls } from '../src/sim/ca.ts';
import { startDnsServer } from '../src/sim/dns-server.ts';
import { listScenarios, loadScenario } from '../src/sim/scenario-files.ts';
import { ArmThrottle } from '../src/azure/throttle.ts';
import { createSweepDiagnose, runSweep, DEFAULT_SWEEP_CONCURRENCY } from '../src/service/sweep.ts';
import { fleetScenario } from '../src/sim/fleet.ts';

/** Target: a diagnosis finishes within this many ARM round trips' worth of time (probes run in parallel where they can). */
const TARGET_ROUND_TRIPS = 40;

/** Target: every flow of one workspace on the synthetic big estate analysed within this time (steady state within a run). */
const FLOW_TARGET_MS = 50;

const { values, positionals } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    latency: { type: 'string', default: '25' },
    only: { type: 'string' },
    workspaces: { type: 'string', default: '1000' },
    subscriptions: { type: 'string', default: '50' },
    hubs: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: String(DEFAULT_SWEEP_CONCURRENCY) },
  },
  allowPositionals: true,
});
const mode = positionals[0];
if (positionals.length > 1 || (mode !== undefined && mode !== 'fleet')) {
  console.error(`unknown mode '${positionals.join(' ')}': the only mode is 'fleet' (without one: --only scenarios|flows, or both)`);
  process.exit(2);
}
if (values.only !== undefined && values.only !== 'scenarios' && values.only !== 'flows') {
  console.error(`--only: '${values.only}' is not one of scenarios, flows`);
  process.exit(2);
}
const runs = Number(values.runs);
const latencyMs = Number(values.latency);
const tls = await generateTls();
const log = pino({ level: 'silent' });

process.exitCode = mode === 'fleet' ? await benchFleet() : await benchScenariosAndFlows();

/** Whole positive numbers from the command line, or exit 2 naming the bad one. */
function count(name: 'workspaces' | 'subscriptions' | 'hubs' | 'concurrency'): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name}: '${values[name]}' is not a whole number of at least 1`);
    process.exit(2);
  }
  return n;
}

async function benchFleet(): Promise<number> {
  const size = { workspaces: count('workspaces'), subscriptions: count('subscriptions'), hubs: count('hubs') };
  const concurrency = count('concurrency');
  const generatedAt = performance.now();
  const fleet = fleetScenario(size);
  const generateMs = performance.now() - generatedAt;
  // ARM's page size for these listings (the simulator's default of 2 is for paging tests).
  const arm = await startArmSimulator({ scenario: fleet.scenario, latencyMs, tls, pageSize: 100 });
  const dns = await startDnsServer({ answers: fleet.scenario.dns });
  const throttle = new ArmThrottle();
  const { diagnose, sharedReads } = createSweepDiagnose(
    { armEndpoint: arm.url, ca: arm.caPem, credential: staticTokenCredential('bench'), retryDelayMs: 100, lroPollIntervalMs: latencyMs, throttle },
    { cloud: 'AzureCloud', dns: { servers: [dns.address], timeoutMs: 2000, tries: 2 }, log },
  );
  let peakHeap = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 100);
  const started = performance.now();
  const outcomes = await runSweep(
    fleet.workspaces.map((w) => w.request),
    { diagnose, concurrency },
  );
  const sweepMs = performance.now() - started;
  clearInterval(sampler);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  const maxRssKb = process.resourceUsage().maxRSS;
  // What the sweep keeps alive (the shared reads, the reports, the simulator's estate and log), without
  // the garbage the sampled peak includes: the heap after a full collection.
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  const liveHeap = process.memoryUsage().heapUsed;
  await arm.close();
  await dns.close();

  const n = fleet.workspaces.length;
  const requests = arm.requests;
  const gets = requests.filter((r) => r.method === 'GET');
  const isPoll = (path: string) => /\/locations\/[^/]+\/(operations|operationresults)\/[^/]+$/i.test(path);
  const reads = new Map<string, number>();
  for (const r of gets) {
    if (isPoll(r.path)) continue;
    const key = `${r.path.toLowerCase()}?${Object.entries(r.query).map(([k, v]) => `${k}=${v}`).sort().join('&')}`;
    reads.set(key, (reads.get(key) ?? 0) + 1);
  }
  const repeated = [...reads.values()].filter((c) => c > 1).length;
  const by = (status: string) => outcomes.filter((o) => o.status === status).length;
  const verdicts = new Map<string, number>();
  for (const o of outcomes) if (o.status === 'done') verdicts.set(o.report.verdict.status, (verdicts.get(o.report.verdict.status) ?? 0) + 1);
  const stats = sharedReads.stats();
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  const perWs = (x: number) => (x / n).toFixed(1);

  console.log(`fleet sweep: ${n} workspaces in ${size.subscriptions} subscriptions sharing ${size.hubs} hubs (${fleet.scenario.resources.length} resources, generated in ${generateMs.toFixed(0)} ms)`);
  console.log(`  ${latencyMs} ms simulated ARM latency per request, ${concurrency} diagnoses at once, throttled at ARM's read limits (${throttle.burst} burst, ${throttle.readsPerSecond}/s per subscription)`);
  console.log(`  sweep time            ${(sweepMs / 1000).toFixed(1)} s (${(sweepMs / n).toFixed(0)} ms per workspace)`);
  console.log(`  outcomes              ${by('done')} done, ${by('error')} error, ${by('cancelled')} cancelled; verdicts ${[...verdicts].map(([v, c]) => `${v} ${c}`).join(', ')}`);
  console.log(`  ARM calls             ${requests.length} (${gets.length} GET, ${requests.length - gets.length} POST) = ${perWs(requests.length)} per workspace`);
  console.log(`  shared reads          ${stats.hits} hits (answered without ARM), ${stats.requests} sent; without sharing about ${perWs(requests.length + stats.hits)} calls per workspace`);
  console.log(`  repeated ARM reads    ${repeated} (LRO polls aside)`);
  console.log(`  peak memory           maxRSS ${mb(maxRssKb * 1024)}, heap used ${mb(peakHeap)} (sampled every 100 ms, garbage included); includes the in-process simulated ARM and DNS`);
  console.log(`  live heap after sweep ${mb(liveHeap)} (after a full GC, with the reports, shared reads, simulated estate and request log still held)`);
  const failed = by('error') + by('cancelled') > 0 || repeated > 0;
  if (failed) console.error('fleet sweep: a diagnosis did not complete, or an ARM read was repeated within the sweep');
  return failed ? 1 : 0;
}

/** The scenario and flow benchmarks (the default modes): 1 when one is over its target. */
async function benchScenariosAndFlows(): Promise<number> {
  const rows: string[] = [];
  let misses = 0;

  for (const name of values.only === 'flows' ? [] : await listScenarios()) {
    const scenario = await loadScenario(name);
    const arm = await startArmSimulator({ scenario, latencyMs, tls });
    const dns = await startDnsServer({ answers: scenario.dns });
    const cloud = scenario.target.cloud ?? 'AzureCloud';
    const azure = createAzureClients({ cloud, armEndpoint: arm.url, ca: arm.caPem, credential: staticTokenCredential('bench'), retryDelayMs: 100, lroPollIntervalMs: latencyMs });
    const times: number[] = [];
    let requests = 0;
    for (let i = 0; i < runs; i++) {
      const before = arm.requests.length;
      const start = performance.now();
      await diagnose(
        { workspaceId: scenario.target.workspaceId, ...(scenario.target.computeName ? { computeName: scenario.target.computeName } : {}), subscriptions: scenario.target.subscriptions ?? [] },
        { cloud, azure, dns: { servers: [dns.address], timeoutMs: 500, tries: 1 }, log },
        AbortSignal.timeout(60_000),
      );
      times.push(performance.now() - start);
      requests = arm.requests.length - before;
    }
    await arm.close();
    await dns.close();
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)] ?? 0;
    const budget = TARGET_ROUND_TRIPS * latencyMs + 1000 * (scenario.faults?.filter((f) => f.status === 429).length ?? 0) * 2;
    const ok = median <= budget;
    if (!ok) misses++;
    rows.push(`${name.padEnd(36)} ${median.toFixed(0).padStart(6)} ms  ${(times[times.length - 1] ?? 0).toFixed(0).padStart(6)} ms  ${String(requests).padStart(4)}  ${ok ? 'ok' : `over ${budget} ms`}`);
  }

  if (rows.length) {
    console.log(`diagnosis time, ${runs} runs per scenario, ${latencyMs} ms simulated ARM latency per request`);
    console.log(`${'scenario'.padEnd(36)} ${'median'.padStart(9)}  ${'max'.padStart(9)}  ${'ARM requests'}  target`);
    for (const r of rows) console.log(r);
  }

  if (values.only !== 'scenarios') {
    const timed = <T>(f: () => T): { ms: number; result: T } => {
      const start = performance.now();
      const result = f();
      return { ms: performance.now() - start, result };
    };
    // Built first, so it is settled in memory like a collected snapshot by the time it is analysed.
    const snapshot = syntheticSnapshot(DEFAULT_SIZE);
    const size = sizeOf(snapshot);
    // JIT warm-up on snapshots of their own (one cold analysis and seven steady ones each): indexes
    // are kept per run, keyed by the observations, so nothing built here is reused below.
    for (const warm of [syntheticSnapshot(DEFAULT_SIZE), syntheticSnapshot(DEFAULT_SIZE)]) for (let i = 0; i < 8; i++) analyzeFlows(warm);
    // Cold: the first analysis of the snapshot builds every index (service tags, routes, NSGs).
    const cold = timed(() => analyzeFlows(snapshot, { primitives: 'indexed' }));
    // Steady state: the same run's observations analysed again (as each rule that needs flows does).
    const steady: number[] = [];
    let indexed = cold.result;
    for (let i = 0; i < Math.max(5, runs * 2); i++) {
      const r = timed(() => analyzeFlows(snapshot, { primitives: 'indexed' }));
      steady.push(r.ms);
      indexed = r.result;
    }
    steady.sort((a, b) => a - b);
    const median = steady[Math.floor(steady.length / 2)] ?? 0;
    // Another workspace of the same region in the same run: the region's service tags are indexed
    // once per run and region; its own routes and NSGs are built for it.
    const fresh: number[] = [];
    for (let i = 0; i < Math.max(3, runs); i++) {
      const other = syntheticSnapshot(DEFAULT_SIZE, 1000 + i);
      if (other.serviceTags?.ok && snapshot.serviceTags?.ok) other.serviceTags.value.tags = snapshot.serviceTags.value.tags;
      fresh.push(timed(() => analyzeFlows(other, { primitives: 'indexed' })).ms);
    }
    fresh.sort((a, b) => a - b);
    const freshMedian = fresh[Math.floor(fresh.length / 2)] ?? 0;
    // The naive baseline scans every route and NSG rule per address: seconds, so one cold run on a
    // snapshot of its own, no warm-up.
    const linear = timed(() => analyzeFlows(syntheticSnapshot(DEFAULT_SIZE), { primitives: 'linear' }));
    const same = isDeepStrictEqual(indexed, linear.result) && isDeepStrictEqual(cold.result, indexed);
    const ok = median <= FLOW_TARGET_MS;
    const ms = (n: number) => `${n.toFixed(1).padStart(9)} ms`;
    const ratio = (n: number) => `${(linear.ms / Math.max(n, 0.001)).toFixed(0)} x`;
    console.log('');
    console.log(`flow analysis, synthetic estate: ${size.routes} effective routes, ${size.nsgRules.length} x ${size.nsgRules.join('/')} NSG rules, ${size.tagPrefixes} service-tag prefixes, ${indexed.flows.length} flows`);
    console.log(`  indexed, cold: first analysis, every index built    ${ms(cold.ms)}`);
    console.log(`  indexed, another workspace, region's tags indexed  ${ms(freshMedian)}  (median of ${fresh.length})`);
    console.log(`  indexed, steady state: median of ${String(steady.length).padEnd(3)}               ${ms(median)}  target ${FLOW_TARGET_MS} ms: ${ok ? 'ok' : 'MISSED'}`);
    console.log(`  naive linear scan: 1 cold run                       ${ms(linear.ms)}`);
    console.log(`  naive / indexed: ${ratio(cold.ms)} (cold run vs cold run), ${ratio(median)} (vs steady median)`);
    console.log(`  same results: ${same ? 'yes' : 'NO'}; the target is for the steady state (a run's indexes built once)`);
    console.log(`  verdicts: ${indexed.flows.map((f) => `${f.id}=${f.verdict}`).join(' ')}`);
    if (!same || !ok) {
      misses++;
      process.exitCode = 1;
    }
  }
  if (misses) {
    console.error(`${misses} benchmark(s) over target`);
    process.exitCode = 1;
  }
  return misses ? 1 : 0;
}
