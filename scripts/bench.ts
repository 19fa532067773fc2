/**
 * npm run bench [-- --runs N --latency MS]: diagnosis wall time and ARM request count per bundled
 * scenario, in process, against the simulated ARM (with per-request latency, like a real region)
 * and the simulated DNS server. Performance targets live here, not in timed tests.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createAzureClients, staticTokenCredential } from '../src/azure/clients.ts';
import { diagnose } from '../src/diagnose.ts';
import { startArmSimulator } from '../src/sim/arm-server.ts';
import { generateTls } from '../src/sim/ca.ts';
import { startDnsServer } from '../src/sim/dns-server.ts';
import { listScenarios, loadScenario } from '../src/sim/scenario-files.ts';

/** Target: a diagnosis finishes within this many ARM round trips' worth of time (probes run in parallel where they can). */
const TARGET_ROUND_TRIPS = 40;

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, latency: { type: 'string', default: '25' } } });
const runs = Number(values.runs);
const latencyMs = Number(values.latency);
const tls = await generateTls();
const log = pino({ level: 'silent' });
const rows: string[] = [];
let misses = 0;

for (const name of await listScenarios()) {
  const scenario = await loadScenario(name);
  const arm = await startArmSimulator({ scenario, latencyMs, tls });
  const dns = await startDnsServer({ answers: scenario.dns });
  const cloud = scenario.target.cloud ?? 'AzureCloud';
  const azure = createAzureClients({ cloud, armEndpoint: arm.url, ca: arm.caPem, credential: staticTokenCredential('bench'), retryDelayMs: 100 });
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

console.log(`diagnosis time, ${runs} runs per scenario, ${latencyMs} ms simulated ARM latency per request`);
console.log(`${'scenario'.padEnd(36)} ${'median'.padStart(9)}  ${'max'.padStart(9)}  ${'ARM requests'}  target`);
for (const r of rows) console.log(r);
if (misses) {
  console.error(`${misses} scenario(s) over target`);
  process.exitCode = 1;
}
