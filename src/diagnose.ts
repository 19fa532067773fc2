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
import type { Report } from './report/schema.ts';

export interface DiagnoseRequest {
  workspaceId: string;
  computeName?: string;
  subscriptions?: string[];
  /** A VM or NIC id in the compute subnet to read effective routes and NSGs through. */
  vantageVmId?: string;
}

export type DiagnoseFn = (req: DiagnoseRequest, signal: AbortSignal, options?: ReportOptions) => Promise<Report>;

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
  return (req, signal, options) => diagnose(req, deps, signal, options);
}
