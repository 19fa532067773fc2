/**
 * One diagnosis: probes -> snapshot -> rules -> ranked report. Used by the CLI, the API and the demo.
 */
import type { Logger } from 'pino';
import { parseWorkspaceId } from './model/arm-id.ts';
import { CLOUDS, type CloudName } from './model/cloud.ts';
import type { ProbeId, Target } from './model/snapshot.ts';
import type { AzureClients } from './azure/clients.ts';
import type { DnsSettings } from '../probes/probe.ts';
import { collect } from './collect.ts';
import { rules } from './rules/index.ts';
import { buildReport, type ReportOptions } from './report/build.ts';
import type { Finding, Report, VerdictStatus } from './report/schema.ts';

export interface DiagnoseRequest {
  workspaceId: string;
  computeName?: string;
  subscriptions?: string[];
  /** A VM or NIC id in the compute subnet to read effective routes and NSGs through. */
  vantageVmId?: string;
}

/** `onProgress` receives this diagnosis's probe events (in addition to the deps' listener, if any). */
export type DiagnoseFn = (req: DiagnoseRequest, signal: AbortSignal, options?: ReportOptions, onProgress?: (e: ProgressEvent) => void) => Promise<Report>;

export interface ProgressEvent {
  probe: ProbeId;
  title: string;
  phase: 'start' | 'done';
  ok?: boolean;
  ms?: number;
}

export interface DiagnoseDeps {
  cloud: CloudName;
  azure: AzureClients;
  dns: DnsSettings;
  log: Logger;
  onProgress?: (e: ProgressEvent) => void;
  /** Counts diagnoses, probe latencies and findings (the service's /metrics); the CLI passes none. */
  metrics?: DiagnoseMetrics;
}

/** How a diagnosis ended: its verdict, or an error, or cancelled through its signal. */
export type DiagnosisOutcome = VerdictStatus | 'error' | 'cancelled';

/** The metrics a diagnosis records, kept this small so callers need no metrics library. */
export interface DiagnoseMetrics {
  probeDone(probe: ProbeId, ok: boolean, ms: number): void;
  /** `findings` are those of the report (none unless the diagnosis completed). */
  diagnosisDone(outcome: DiagnosisOutcome, findings: ReadonlyArray<Pick<Finding, 'code' | 'tier'>>): void;
}

export function targetOf(req: DiagnoseRequest, deps: Pick<DiagnoseDeps, 'cloud' | 'dns'>): Target {
  parseWorkspaceId(req.workspaceId);
  const subscriptions = [...new Set((req.subscriptions ?? []).map((s) => s.trim().toLowerCase()))];
  return {
    workspaceId: req.workspaceId.trim(),
    ...(req.computeName ? { computeName: req.computeName } : {}),
    subscriptions,
    cloud: deps.cloud,
    dnsServers: deps.dns.servers,
    ...(req.vantageVmId ? { vantageVmId: req.vantageVmId.trim() } : {}),
  };
}

export async function diagnose(req: DiagnoseRequest, deps: DiagnoseDeps, signal: AbortSignal, options: ReportOptions = {}): Promise<Report> {
  const metrics = deps.metrics;
  if (!metrics) return run(req, deps, signal, options);
  const onProbeDone = (e: ProgressEvent) => {
    if (e.phase === 'done') metrics.probeDone(e.probe, e.ok === true, e.ms ?? 0);
  };
  let report: Report;
  try {
    report = await run(req, { ...deps, onProgress: both(deps.onProgress, onProbeDone) }, signal, options);
  } catch (err) {
    metrics.diagnosisDone(signal.aborted ? 'cancelled' : 'error', []);
    throw err;
  }
  // Probes turn an abort into failed observations, so a cancelled run still ends with a report.
  if (signal.aborted) metrics.diagnosisDone('cancelled', []);
  else metrics.diagnosisDone(report.verdict.status, report.findings);
  return report;
}

async function run(req: DiagnoseRequest, deps: DiagnoseDeps, signal: AbortSignal, options: ReportOptions): Promise<Report> {
  const target = targetOf(req, deps);
  const log = deps.log.child({ workspace: target.workspaceId });
  const snapshot = await collect(
    target,
    { cloud: CLOUDS[deps.cloud], azure: deps.azure, dns: deps.dns, log, signal },
    deps.onProgress ? { onProgress: deps.onProgress } : {},
  );
  return buildReport(snapshot, rules, options);
}

export function createDiagnose(deps: DiagnoseDeps): DiagnoseFn {
  return (req, signal, options, onProgress) => diagnose(req, onProgress ? { ...deps, onProgress: both(deps.onProgress, onProgress) } : deps, signal, options);
}

function both(first: ((e: ProgressEvent) => void) | undefined, second: (e: ProgressEvent) => void): (e: ProgressEvent) => void {
  if (!first) return second;
  return (e) => {
    first(e);
    second(e);
  };
}
