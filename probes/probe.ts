/**
 * The fixed shape of a probe. One module per probe in probes/, exported as
 * `export const probe = { ... } satisfies Probe<'<id>'>`, listed in probes/index.ts.
 *
 * A probe does I/O only through the Azure SDK clients of `ctx.azure` or `node:dns`, and returns
 * typed observations (never findings). It must not throw for Azure errors: a failed read becomes
 * `{ ok: false, error }` at the finest level that keeps the rest of the evidence (one zone, one
 * VNet, one listing), using `toProbeError` from src/azure/errors.ts.
 */
import type { Logger } from 'pino';
import type { AzureClients } from '../src/azure/clients.ts';
import type { CloudProfile } from '../src/model/cloud.ts';
import type { ProbeId, Snapshot, Target } from '../src/model/snapshot.ts';

export interface DnsSettings {
  /** `ip` or `ip:port`; empty = system resolver. */
  servers: string[];
  timeoutMs: number;
  tries: number;
}

export interface ProbeContext {
  target: Target;
  cloud: CloudProfile;
  azure: AzureClients;
  dns: DnsSettings;
  log: Logger;
  signal: AbortSignal;
}

export interface Probe<K extends ProbeId = ProbeId> {
  id: K;
  /** Short present-tense description for progress output ("reading private DNS zones"). */
  title: string;
  /** Probes whose output this one reads from the snapshot; the runner orders by this. */
  needs: ProbeId[];
  run(ctx: ProbeContext, snapshot: Readonly<Snapshot>): Promise<NonNullable<Snapshot[K]>>;
}
