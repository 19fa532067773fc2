/**
 * Coverage from the snapshot: one `ok` line per probe that ran, one `undetermined` line per read
 * that failed anywhere in the evidence (a VNet, a zone's records, a subscription listing, …).
 */
import { PROBE_IDS, type ProbeError, type Snapshot } from '../model/snapshot.ts';
import type { CoverageItem } from './schema.ts';

const PROBE_LABEL: Record<(typeof PROBE_IDS)[number], string> = {
  workspace: 'read the workspace',
  computes: 'read the computes',
  privateEndpoints: 'read the workspace private endpoints',
  networks: 'read the virtual networks and peerings',
  privateDnsZones: 'read the private DNS zones, records and links',
  dns: 'resolve the workspace and compute names live',
  serviceTags: 'read the service tag prefixes of the region',
  subnetPolicies: 'read the route tables, NSGs and NAT gateways of the compute and endpoint subnets',
  vantage: 'read effective routes and NSGs through a VM in the compute subnet',
  firewalls: 'read the firewalls behind virtual-appliance routes and their policies',
  dependencies: 'read the network rules of the storage account, key vault and container registry',
};

function collectErrors(node: unknown, out: ProbeError[]): void {
  if (Array.isArray(node)) {
    for (const n of node) collectErrors(n, out);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const o = node as { ok?: unknown; error?: unknown };
  if (o.ok === false && typeof o.error === 'object' && o.error !== null) {
    out.push(o.error as ProbeError);
    return;
  }
  for (const v of Object.values(node)) collectErrors(v, out);
}

export function coverageOfSnapshot(snapshot: Snapshot): CoverageItem[] {
  const items: CoverageItem[] = [];
  for (const id of PROBE_IDS) {
    const o = snapshot[id];
    if (!o) {
      items.push({ item: PROBE_LABEL[id], status: 'undetermined', reason: 'probe did not run' });
      continue;
    }
    const errors: ProbeError[] = [];
    collectErrors(o, errors);
    if (errors.length === 0) {
      items.push({ item: PROBE_LABEL[id], status: 'ok' });
      continue;
    }
    const seen = new Set<string>();
    for (const e of errors) {
      if (seen.has(e.message)) continue;
      seen.add(e.message);
      items.push({
        item: PROBE_LABEL[id],
        status: 'undetermined',
        reason: e.message,
        probe: id,
        ...(e.resourceId ? { resourceId: e.resourceId } : {}),
        ...(e.statusCode !== undefined ? { statusCode: e.statusCode } : {}),
        ...(e.code ? { errorCode: e.code } : {}),
      });
    }
  }
  return items;
}
