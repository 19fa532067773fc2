/**
 * Real reports from bundled scenarios, in-process: the simulated ARM and DNS server on 127.0.0.1,
 * the real SDK clients, every probe and rule. Renderer, ranking and recheck tests share these.
 */
import type { Test } from 'tap';
import { pino } from 'pino';
import { createAzureClients, staticTokenCredential } from '../../src/azure/clients.ts';
import { diagnose, type DiagnoseDeps, type DiagnoseRequest } from '../../src/diagnose.ts';
import type { ReportOptions } from '../../src/report/build.ts';
import type { Report } from '../../src/report/schema.ts';
import { startArmSimulator, type ArmSimulator } from '../../src/sim/arm-server.ts';
import { startDnsServer } from '../../src/sim/dns-server.ts';
import { loadScenario } from '../../src/sim/scenario-files.ts';
import type { Scenario } from '../../src/sim/scenario.ts';

export interface ScenarioRun {
  scenario: Scenario;
  arm: ArmSimulator;
  req: DiagnoseRequest;
  deps: DiagnoseDeps;
}

/** Starts a scenario's estate (torn down with the test) and the deps a diagnosis of it needs. */
export async function startScenario(t: Test, nameOrScenario: string | Scenario): Promise<ScenarioRun> {
  const scenario = typeof nameOrScenario === 'string' ? await loadScenario(nameOrScenario) : nameOrScenario;
  const arm = await startArmSimulator({ scenario });
  const dns = await startDnsServer({ answers: scenario.dns });
  t.teardown(async () => {
    await arm.close();
    await dns.close();
  });
  const cloud = scenario.target.cloud ?? 'AzureCloud';
  const req: DiagnoseRequest = {
    workspaceId: scenario.target.workspaceId,
    ...(scenario.target.computeName ? { computeName: scenario.target.computeName } : {}),
    subscriptions: scenario.target.subscriptions ?? [],
    ...(scenario.target.vantageVmId ? { vantageVmId: scenario.target.vantageVmId } : {}),
  };
  const deps: DiagnoseDeps = {
    cloud,
    azure: createAzureClients({ cloud, armEndpoint: arm.url, ca: arm.caPem, credential: staticTokenCredential('test'), maxRetries: 2, retryDelayMs: 1, lroPollIntervalMs: 5, timeoutMs: 10_000 }),
    dns: { servers: [dns.address], timeoutMs: 400, tries: 1 },
    log: pino({ level: 'silent' }),
  };
  return { scenario, arm, req, deps };
}

/** The report of a bundled scenario. */
export async function scenarioReport(t: Test, name: string, options: ReportOptions = {}): Promise<Report> {
  const run = await startScenario(t, name);
  return diagnose(run.req, run.deps, AbortSignal.timeout(60_000), options);
}
