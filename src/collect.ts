/**
 * The probe runner: runs every probe once, each as soon as the probes it needs are done (so
 * independent probes run together), and gathers their observations into one snapshot. A probe
 * that throws becomes `{ ok: false }` for its key; it never stops the others.
 */
import { probes as allProbes } from '../probes/index.ts';
import type { Probe, ProbeContext } from '../probes/probe.ts';
import { toProbeError } from './azure/errors.ts';
import type { ProbeId, Snapshot, Target } from './model/snapshot.ts';

export interface ProgressEvent {
  probe: ProbeId;
  title: string;
  phase: 'start' | 'done';
  /** With `done`: whether the probe's top-level observation is ok. */
  ok?: boolean;
  /** With `done`: how long the probe ran. */
  ms?: number;
}

export interface CollectOptions {
  onProgress?: (e: ProgressEvent) => void;
  /** The probes to run; default all of probes/index.ts. A need outside this list is not waited for. */
  probes?: readonly Probe[];
}

export async function collect(target: Target, ctx: Omit<ProbeContext, 'target'>, options: CollectOptions = {}): Promise<Snapshot> {
  const snapshot: Snapshot = { target, collectedAt: new Date().toISOString() };
  const done = new Map<ProbeId, Promise<void>>();
  for (const probe of runOrder(options.probes ?? allProbes)) {
    const needs = probe.needs.flatMap((id) => done.get(id) ?? []);
    done.set(
      probe.id,
      Promise.all(needs).then(() => runOne(probe, target, ctx, snapshot, options.onProgress)),
    );
  }
  await Promise.all(done.values());
  return snapshot;
}

async function runOne(probe: Probe, target: Target, ctx: Omit<ProbeContext, 'target'>, snapshot: Snapshot, onProgress: CollectOptions['onProgress']): Promise<void> {
  const log = ctx.log.child({ probe: probe.id });
  const started = performance.now();
  report(onProgress, { probe: probe.id, title: probe.title, phase: 'start' });
  log.debug('probe started');
  let result: NonNullable<Snapshot[ProbeId]>;
  try {
    result = await probe.run({ ...ctx, target, log }, snapshot);
  } catch (err) {
    // A bug in a probe, not an Azure error (those come back as observations).
    result = { ok: false, error: toProbeError(err, `running probe ${probe.id}`) };
  }
  store(snapshot, probe.id, result);
  const ms = Math.round(performance.now() - started);
  // Log the ProbeError, never the raw error: an SDK error carries the request and its headers.
  if (result.ok) log.debug({ ms }, 'probe done');
  else log.debug({ ms, error: result.error }, 'probe failed');
  report(onProgress, { probe: probe.id, title: probe.title, phase: 'done', ok: result.ok, ms });
}

function store<K extends ProbeId>(snapshot: Snapshot, id: K, value: Snapshot[K]): void {
  snapshot[id] = value;
}

/** A progress listener that throws must not stop the collection. */
function report(onProgress: CollectOptions['onProgress'], e: ProgressEvent): void {
  try {
    onProgress?.(e);
  } catch {
    // ignored on purpose
  }
}

/**
 * The probes with every probe after the probes it needs (stable: list order breaks ties).
 * Throws for duplicate ids or a cycle, which are programming errors in the probe list.
 */
export function runOrder(list: readonly Probe[]): Probe[] {
  const byId = new Map<ProbeId, Probe>();
  for (const p of list) {
    if (byId.has(p.id)) throw new Error(`probe '${p.id}' is listed twice`);
    byId.set(p.id, p);
  }
  const ordered: Probe[] = [];
  const state = new Map<ProbeId, 'visiting' | 'done'>();
  const visit = (p: Probe, path: ProbeId[]): void => {
    const s = state.get(p.id);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`probe needs form a cycle: ${[...path, p.id].join(' -> ')}`);
    state.set(p.id, 'visiting');
    for (const need of p.needs) {
      const dep = byId.get(need);
      if (dep) visit(dep, [...path, p.id]);
    }
    state.set(p.id, 'done');
    ordered.push(p);
  };
  for (const p of list) visit(p, []);
  return ordered;
}
