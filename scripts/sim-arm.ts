/**
 * Runs the simulated ARM for one scenario until Ctrl-C:
 *   node scripts/sim-arm.ts --scenario <name|path> [--port N] [--latency ms]
 * Prints the URL, the CA file and the environment to point aml-netdoctor at it.
 */
import { parseArgs } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startArmSimulator } from '../src/sim/arm-server.ts';
import { listScenarios, loadScenario } from '../src/sim/scenario-files.ts';

const USAGE = 'usage: node scripts/sim-arm.ts --scenario <name|path> [--port N] [--latency ms]';

function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got '${value}'`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', short: 's' },
      port: { type: 'string', short: 'p' },
      latency: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help || !values.scenario) {
    const names = await listScenarios();
    console.log(`${USAGE}\nscenarios: ${names.length ? names.join(', ') : '(none found)'}`);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const port = intOption(values.port, 'port');
  const latencyMs = intOption(values.latency, 'latency');
  const scenario = await loadScenario(values.scenario);
  const sim = await startArmSimulator({ scenario, ...(port !== undefined ? { port } : {}), ...(latencyMs !== undefined ? { latencyMs } : {}) });
  const dir = await mkdtemp(join(tmpdir(), 'netdoctor-sim-arm-'));
  const caFile = await sim.writeCaFile(dir);

  console.log(`simulated ARM for scenario '${scenario.name}' (${scenario.resources.length} resources)`);
  console.log(`url:     ${sim.url}`);
  console.log(`ca file: ${caFile}`);
  console.log('environment:');
  console.log(`  NETDOCTOR_ARM_ENDPOINT=${sim.url} NODE_EXTRA_CA_CERTS=${caFile} NETDOCTOR_ACCESS_TOKEN=sim`);
  console.log('Ctrl-C to stop.');

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await sim.close();
    await rm(dir, { recursive: true, force: true });
    console.log(`stopped after ${sim.requests.length} requests`);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((e: unknown) => {
  console.error(`sim-arm: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
