/**
 * Starts a scenario's simulated estate for end-to-end tests: the simulated ARM (HTTPS, own CA)
 * and the simulated DNS server, both on 127.0.0.1, torn down with the test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { startArmSimulator, type ArmSimulator } from '../../src/sim/arm-server.ts';
import { startDnsServer, type SimDnsServer } from '../../src/sim/dns-server.ts';
import type { Scenario, ScenarioFault } from '../../src/sim/scenario.ts';
import type { Report } from '../../src/report/schema.ts';

export const BIN = fileURLToPath(new URL('../../bin/aml-netdoctor.js', import.meta.url));

export interface Estate {
  arm: ArmSimulator;
  dns: SimDnsServer;
  caFile: string;
}

export async function startEstate(t: Test, scenario: Scenario, extraFaults: ScenarioFault[] = []): Promise<Estate> {
  const arm = await startArmSimulator({ scenario: { ...scenario, faults: [...(scenario.faults ?? []), ...extraFaults] } });
  const dns = await startDnsServer({ answers: scenario.dns });
  const dir = await mkdtemp(join(tmpdir(), 'netdoctor-e2e-'));
  const caFile = await arm.writeCaFile(dir);
  t.teardown(async () => {
    await arm.close();
    await dns.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { arm, dns, caFile };
}

/** CLI arguments that diagnose the scenario's target against the estate. */
export function diagnoseArgs(scenario: Scenario, estate: Estate): string[] {
  const args = ['diagnose', '--workspace', scenario.target.workspaceId, '--dns-server', estate.dns.address, '--dns-timeout', '400', '--format', 'json'];
  if (scenario.target.computeName) args.push('--compute', scenario.target.computeName);
  for (const s of scenario.target.subscriptions ?? []) args.push('--subscription', s);
  if (scenario.target.cloud) args.push('--cloud', scenario.target.cloud);
  if (scenario.target.vantageVmId) args.push('--vantage-vm', scenario.target.vantageVmId);
  return args;
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  report?: Report;
}

/** Runs the real CLI in a child process, pointed at the estate through the documented env vars. */
export function runCli(args: string[], estate: Estate, env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: {
        NETDOCTOR_ARM_ENDPOINT: estate.arm.url,
        NODE_EXTRA_CA_CERTS: estate.caFile,
        NETDOCTOR_ACCESS_TOKEN: 'sim-token-not-a-secret',
        LOG_LEVEL: 'warn',
        // The simulated ARM answers Retry-After: 0, which the SDK's poller ignores (it would wait 2 s per poll).
        NETDOCTOR_LRO_POLL_MS: '20',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      let report: Report | undefined;
      try {
        report = stdout.trim() ? (JSON.parse(stdout) as Report) : undefined;
      } catch {
        report = undefined;
      }
      resolve({ code, stdout, stderr, ...(report ? { report } : {}) });
    });
  });
}
