/**
 * A sweep: many diagnoses run together, at most `concurrency` at once, sharing one set of SDK
 * clients whose GET answers are shared (src/azure/shared-reads.ts): a hub VNet, its private DNS
 * zones, a firewall policy or a region's service tags are read from ARM once per sweep, however
 * many workspaces need them. The per-subscription throttle and the ARM metrics are the caller's,
 * shared with everything else the process runs.
 */
import { createAzureClients, type AzureAccessOptions } from '../azure/clients.ts';
import { SharedReads } from '../azure/shared-reads.ts';
import { createDiagnose, type DiagnoseDeps, type DiagnoseFn, type DiagnoseRequest } from '../diagnose.ts';
import type { Report } from '../report/schema.ts';

/** How one diagnosis of a sweep ended. `ms` is its wall time (0 when it never started). */
export type SweepOutcome =
  | { status: 'done'; request: DiagnoseRequest; report: Report; ms: number }
  | { status: 'error'; request: DiagnoseRequest; error: string; ms: number }
  /** The sweep's signal aborted before it started, or while it ran. */
  | { status: 'cancelled'; request: DiagnoseRequest; ms: number };

export interface SweepOptions {
  diagnose: DiagnoseFn;
  /** Diagnoses at once. Default 8. */
  concurrency?: number;
  signal?: AbortSignal;
  /** Called as each diagnosis ends (in completion order); a listener that throws is ignored. */
  onDone?: (index: number, outcome: SweepOutcome) => void;
}

export const DEFAULT_SWEEP_CONCURRENCY = 8;

/**
 * Runs every request, at most `concurrency` at once, and returns one outcome per request in request
 * order. A diagnosis that throws becomes an `error` outcome; the sweep never stops for it. Once
 * `signal` aborts no new diagnosis starts, and those running get the abort through their signal.
 */
export async function runSweep(requests: readonly DiagnoseRequest[], options: SweepOptions): Promise<SweepOutcome[]> {
  const signal = options.signal ?? new AbortController().signal;
  const outcomes: SweepOutcome[] = new Array<SweepOutcome>(requests.length);
  const finish = (i: number, outcome: SweepOutcome): void => {
    outcomes[i] = outcome;
    try {
      options.onDone?.(i, outcome);
    } catch {
      // ignored on purpose: a listener must not stop the sweep
    }
  };
  await pool([...requests.keys()], options.concurrency ?? DEFAULT_SWEEP_CONCURRENCY, async (i) => {
    const request = requests[i] as DiagnoseRequest;
    finish(i, signal.aborted ? { status: 'cancelled', request, ms: 0 } : await runOne(options.diagnose, request, signal));
  });
  return outcomes;
}

/** Runs `work` over `items` in order, at most `limit` at a time (at least one). */
export async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(Math.max(1, Math.floor(limit)), items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(lanes);
}

async function runOne(diagnose: DiagnoseFn, request: DiagnoseRequest, signal: AbortSignal): Promise<SweepOutcome> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const report = await diagnose(request, signal);
    // Probes turn an abort into failed observations: a report made while cancelled is not evidence.
    return signal.aborted ? { status: 'cancelled', request, ms: ms() } : { status: 'done', request, report, ms: ms() };
  } catch (err) {
    if (signal.aborted) return { status: 'cancelled', request, ms: ms() };
    return { status: 'error', request, error: err instanceof Error ? err.message : String(err), ms: ms() };
  }
}

/**
 * The DiagnoseFn of one sweep: fresh SDK clients over a fresh SharedReads, with the throttle and
 * metrics of `base` (shared with the rest of the process). Call it once per sweep; the reads it
 * shares are as fresh as the sweep. One credential per sweep (`base.credential`): see SharedReads.
 */
export function createSweepDiagnose(base: AzureAccessOptions, deps: Omit<DiagnoseDeps, 'azure'>): { diagnose: DiagnoseFn; sharedReads: SharedReads } {
  const sharedReads = new SharedReads();
  const azure = createAzureClients({ ...base, sharedReads });
  return { diagnose: createDiagnose({ ...deps, azure }), sharedReads };
}
