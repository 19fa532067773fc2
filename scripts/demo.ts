/**
 * npm run demo [-- <scenario> [--format text|json|markdown|sarif|html] [--output <file>]]: diagnoses a bundled broken scenario end to end, with no
 * Azure account. Starts the simulated ARM (HTTPS on 127.0.0.1 with its own CA) and the simulated
 * DNS server in this process, runs the real probes (real Azure SDK clients, real DNS queries)
 * and prints the report.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createAzureClients, staticTokenCredential } from '../src/azure/clients.ts';
import { diagnose } from '../src/diagnose.ts';
import { exitCodeOf } from '../src/report/build.ts';
import { FORMATS, isFormat, renderReport } from '../src/report/render.ts';
import { writeFile } from 'node:fs/promises';
import { startArmSimulator } from '../src/sim/arm-server.ts';
import { startDnsServer } from '../src/sim/dns-server.ts';
import { listScenarios, loadScenario } from '../src/sim/scenario-files.ts';

const DEFAULT_SCENARIO = 'zone-not-linked-hub-spoke';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { json: { type: 'boolean' }, list: { type: 'boolean' }, format: { type: 'string', short: 'f' }, output: { type: 'string', short: 'o' } },
});
const format = values.json ? 'json' : (values.format ?? 'text');
if (!isFormat(format)) {
  console.error(`--format: '${format}' is not one of ${FORMATS.join(', ')}`);
  process.exit(2);
}
if (values.list) {
  for (const name of await listScenarios()) {
    const s = await loadScenario(name);
    console.log(`${name.padEnd(36)} ${s.title}`);
  }
  process.exit(0);
}
const name = positionals[0] ?? DEFAULT_SCENARIO;
const scenario = await loadScenario(name);
const arm = await startArmSimulator({ scenario });
const dns = await startDnsServer({ answers: scenario.dns });
try {
  const cloud = scenario.target.cloud ?? 'AzureCloud';
  process.stderr.write(
    `Scenario: ${scenario.name} — ${scenario.title}\n` +
      `Simulated ARM at ${arm.url}, simulated DNS at ${dns.address} (both in this process; no Azure account used).\n\n`,
  );
  const report = await diagnose(
    {
      workspaceId: scenario.target.workspaceId,
      ...(scenario.target.computeName ? { computeName: scenario.target.computeName } : {}),
      subscriptions: scenario.target.subscriptions ?? [],
      ...(scenario.target.vantageVmId ? { vantageVmId: scenario.target.vantageVmId } : {}),
    },
    {
      cloud,
      azure: createAzureClients({ cloud, armEndpoint: arm.url, ca: arm.caPem, credential: staticTokenCredential('demo'), retryDelayMs: 200, lroPollIntervalMs: 100 }),
      dns: { servers: [dns.address], timeoutMs: 1000, tries: 1 },
      log: pino({ level: 'warn' }, pino.destination(2)),
      onProgress: (e) => {
        if (e.phase === 'done') process.stderr.write(`${e.ok ? '✓' : '✗'} ${e.title} (${e.ms ?? 0} ms)\n`);
      },
    },
    AbortSignal.timeout(120_000),
  );
  process.stderr.write('\n');
  const text = renderReport(report, format);
  if (values.output) {
    await writeFile(values.output, text);
    process.stderr.write(`report written to ${values.output}\n`);
  } else process.stdout.write(text);
  process.stderr.write(
    `\n(aml-netdoctor diagnose would exit ${exitCodeOf(report)}. Other scenarios: npm run demo -- --list; npm run demo -- <name>)\n`,
  );
} finally {
  await arm.close();
  await dns.close();
}
