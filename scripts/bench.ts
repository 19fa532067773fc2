/**
 * npm run bench [-- --runs N --latency MS --only scenarios|flows]:
 *  - scenarios: diagnosis wall time and ARM request count per bundled scenario, in process,
 *    against the simulated ARM (with per-request latency, like a real region) and the simulated
 *    DNS server;
 *  - flows: flow analysis of one workspace on a synthetic big estate (10,000 effective routes,
 *    2 x 1,000 NSG rules, 30,000 service-tag prefixes), indexed primitives against a naive
 *    linear scan in the same process.
 * Performance targets live here, not in timed tests.
 */
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { analyzeFlows } from '../src/flows/analyze.ts';
import { DEFAULT_SIZE, sizeOf, syntheticSnapshot } from '../src/sim/synthetic.ts';
import { pino } from 'pino';
import { createAzureClients, staticTokenCredential } from '../src/azure/clients.ts';
import { diagnose } from '../src/diagnose.ts';
import { startArmSimulator } from '../src/sim/arm-server.ts';
import { generateTls } from '../src/sim/ca.ts';
import { startDnsServer } from '../src/sim/dns-server.ts';
import { listScenarios, loadScenario } from '../src/sim/scenario-files.ts';

/** Target: a diagnosis finishes within this many ARM round trips' worth of time (probes run in parallel where they can). */
const TARGET_ROUND_TRIPS = 40;

/** Target: every flow of one workspace on the synthetic big estate analysed within this time. */
const FLOW_TARGET_MS = 50;

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, latency: { type: 'string', default: '25' }, only: { type: 'string' } },
});
if (values.only !== undefined && values.only !== 'scenarios' && values.only !== 'flows') {
  console.error(`--only: '${values.only}' is not one of scenarios, flows`);
  process.exit(2);
}
const runs = Number(values.runs);
const latencyMs = Number(values.latency);
const tls = await generateTls();
const log = pino({ level: 'silent' });
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
  const snapshot = syntheticSnapshot(DEFAULT_SIZE);
  const size = sizeOf(snapshot);
  const time = (primitives: 'indexed' | 'linear', n: number) => {
    const ms: number[] = [];
    let result = analyzeFlows(snapshot, { primitives }); // warm-up (JIT, caches are per run)
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      result = analyzeFlows(snapshot, { primitives });
      ms.push(performance.now() - start);
    }
    ms.sort((a, b) => a - b);
    return { median: ms[Math.floor(ms.length / 2)] ?? 0, result };
  };
  const indexed = time('indexed', Math.max(5, runs * 2));
  const linear = time('linear', Math.max(3, Math.ceil(runs / 2)));
  const same = isDeepStrictEqual(indexed.result, linear.result);
  const verdicts = indexed.result.flows.map((f) => `${f.id}=${f.verdict}`).join(' ');
  console.log('');
  console.log(
    `flow analysis, synthetic estate: ${size.routes} effective routes, ${size.nsgRules.length} x ${size.nsgRules.join('/')} NSG rules, ${size.tagPrefixes} service-tag prefixes, ${indexed.result.flows.length} flows`,
  );
  console.log(`  indexed (prefix trie, indexed NSG)  ${indexed.median.toFixed(1).padStart(8)} ms median`);
  console.log(`  naive linear scan                   ${linear.median.toFixed(1).padStart(8)} ms median`);
  console.log(`  ratio naive / indexed               ${(linear.median / Math.max(indexed.median, 0.001)).toFixed(1).padStart(8)} x`);
  console.log(`  same results: ${same ? 'yes' : 'NO'}; target ${FLOW_TARGET_MS} ms: ${indexed.median <= FLOW_TARGET_MS ? 'ok' : 'MISSED'}`);
  console.log(`  verdicts: ${verdicts}`);
  if (!same || indexed.median > FLOW_TARGET_MS) {
    misses++;
    process.exitCode = 1;
  }
}
if (misses) {
  console.error(`${misses} benchmark(s) over target`);
  process.exitCode = 1;
}
