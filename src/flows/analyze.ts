/**
 * Flow analysis: every flow of the catalogue (./catalogue.ts) traced from every compute subnet,
 * hop by hop (flows-semantics §1, §2, §4). Pure: no I/O, no clock. Subnets in id order, flows in
 * catalogue order. `primitives: 'linear'` runs the naive route lookup and NSG evaluation instead
 * of the indexed ones (the benchmark compares both); the analysis is the same.
 */
import { idKey, parentId } from '../model/arm-id.ts';
import { CLOUDS, normalizeRegion } from '../model/cloud.ts';
import type { ComputeObs, ServiceTagObs, Snapshot } from '../model/snapshot.ts';
import { ipToInt } from '../net/cidr.ts';
import { ServiceTagIndex } from '../net/service-tags.ts';
import type { FlowHop } from '../report/schema.ts';
import { FLOW_CATALOGUE } from './catalogue.ts';
import { isMissing, subnetContext, type SubnetContext, type Tags } from './context.ts';
import { portText, type FlowSpec } from './model.ts';
import { primitivesOf, type PrimitivesKind } from './primitives.ts';
import { routeFor, routeText } from './route-hop.ts';
import { traceFlow, verdictOf } from './trace.ts';
import type { FlowAnalysis, FlowResult } from './types.ts';

export interface AnalyzeOptions {
  primitives?: PrimitivesKind;
}

export const MANAGED_NETWORK_ASSUMPTION = "managed virtual network: the compute runs in Azure ML's managed VNet; compute-subnet checks do not apply";

const why = (o: { ok: false; error: { message: string } } | undefined, probe: string): string => (o ? o.error.message : `the ${probe} probe did not run`);

/** Computes with a subnet (the image-build compute too), grouped by subnet, subnets in id order. */
function computesBySubnet(s: Snapshot): Array<{ subnetId: string; computes: ComputeObs[] }> | string {
  if (!s.computes?.ok) return `flows not traced: the computes could not be read (${why(s.computes, 'computes')})`;
  const all = [...s.computes.value.computes];
  const ib = s.computes.value.imageBuildCompute;
  if (ib?.ok && !all.some((c) => idKey(c.id) === idKey(ib.value.id))) all.push(ib.value);
  const groups = new Map<string, { subnetId: string; computes: ComputeObs[] }>();
  for (const c of all) {
    if (!c.subnetId) continue;
    const key = idKey(c.subnetId);
    const g = groups.get(key) ?? { subnetId: c.subnetId, computes: [] };
    g.computes.push(c);
    groups.set(key, g);
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, g]) => g);
}

/**
 * One index per service-tag list (a run reads a region's tags once; a fleet sweep shares them
 * between workspaces), keyed by the observation itself so a new run never sees stale prefixes.
 */
const TAG_INDEXES = new WeakMap<object, ServiceTagIndex>();

function tagIndexOf(tags: ServiceTagObs[]): ServiceTagIndex {
  let index = TAG_INDEXES.get(tags);
  if (!index) {
    index = new ServiceTagIndex(tags);
    TAG_INDEXES.set(tags, index);
  }
  return index;
}

function tagsOf(s: Snapshot): Tags {
  if (s.serviceTags?.ok) return { index: tagIndexOf(s.serviceTags.value.tags) };
  return { index: ServiceTagIndex.empty(), missing: why(s.serviceTags, 'service tags') };
}

const HOP_CLASS: Record<string, string> = { vnetlocal: 'vnet', vnetpeering: 'vnet', vnetglobalpeering: 'vnet', internet: 'internet', virtualnetworkserviceendpoint: 'internet' };
const hopClass = (type: string | undefined): string => (type ? (HOP_CLASS[type.toLowerCase()] ?? type.toLowerCase()) : 'none');

/**
 * Network Watcher's next hop against the route the lookup chose for the same address. When they
 * disagree the configuration reading is suspect: the route hop becomes undetermined and the
 * firewall hop that followed from it is dropped.
 */
function crossCheck(ctx: SubnetContext, flowId: string, hops: FlowHop[], notes: string[]): FlowHop[] {
  if (!ctx.vantage) return hops;
  let disagree = false;
  for (const nh of ctx.vantage.nextHops.filter((n) => n.flow === flowId)) {
    if (!nh.result.ok) {
      notes.push(`Network Watcher next hop for ${nh.destinationIp} could not be read: ${nh.result.error.message}`);
      continue;
    }
    const ip = ipToInt(nh.destinationIp);
    const chosen = ip === undefined ? undefined : routeFor(ctx, ip);
    if (ip === undefined || isMissing(chosen)) continue;
    const nw = nh.result.value;
    const sameIp = hopClass(nw.nextHopType) !== 'virtualappliance' || (nw.nextHopIpAddress ?? '') === (chosen?.nextHopIp ?? '');
    if (hopClass(nw.nextHopType) === hopClass(chosen?.nextHopType) && sameIp) continue;
    disagree = true;
    const said = chosen ? `${chosen.nextHopType}${chosen.nextHopIp ? ` ${chosen.nextHopIp}` : ''} (${routeText(ctx, chosen)})` : 'None (no route)';
    notes.push(`Network Watcher next hop for ${nh.destinationIp} is ${nw.nextHopType}${nw.nextHopIpAddress ? ` ${nw.nextHopIpAddress}` : ''} but the routes say ${said}: the configuration reading is suspect`);
  }
  if (!disagree) return hops;
  return hops
    .filter((h) => h.kind !== 'firewall')
    .map((h): FlowHop => {
      if (h.kind !== 'route') return h;
      const { reason: _reason, ...rest } = h;
      return { ...rest, detail: `${h.detail} Network Watcher disagrees with this route (see the notes), so the route actually taken is unknown.`, verdict: 'undetermined', reason: 'not-evaluable' };
    });
}

export function analyzeFlows(snapshot: Snapshot, options: AnalyzeOptions = {}): FlowAnalysis {
  const ws = snapshot.workspace;
  if (!ws?.ok) return { flows: [], assumptions: [`flows not traced: the workspace could not be read (${why(ws, 'workspace')})`], managedNetwork: false };
  const workspace = ws.value;
  const mode = workspace.managedNetwork?.isolationMode;
  if (mode && mode.toLowerCase() !== 'disabled') return { flows: [], assumptions: [MANAGED_NETWORK_ASSUMPTION], managedNetwork: true };

  const groups = computesBySubnet(snapshot);
  if (typeof groups === 'string') return { flows: [], assumptions: [groups], managedNetwork: false };

  const prim = primitivesOf(options.primitives);
  const cloud = CLOUDS[snapshot.target.cloud];
  const region = normalizeRegion(workspace.location);
  const tags = tagsOf(snapshot);
  const assumptions: string[] = [];
  if (tags.missing && groups.length > 0) assumptions.push(`service tags could not be read (${tags.missing}): tag destinations are matched by name`);
  const flows: FlowResult[] = [];

  for (const group of groups) {
    const ctx = subnetContext({ snapshot, prim, ws: workspace, cloud, region, subnetId: group.subnetId, computes: group.computes, tags });
    if (ctx.assumption) assumptions.push(ctx.assumption);
    const vnetId = parentId(group.subnetId);
    const nearVnetIds = [vnetId, ...(isMissing(ctx.vnet) ? [] : ctx.vnet.peerings.flatMap((p) => (p.remoteVirtualNetworkId ? [p.remoteVirtualNetworkId] : [])))];
    for (const def of FLOW_CATALOGUE) {
      const built = def.build({ snapshot, ws: workspace, cloud, region, subnetId: group.subnetId, nearVnetIds, computes: group.computes });
      if (!built) continue;
      const computes = built.computes ?? group.computes;
      const spec: FlowSpec = { id: def.id, authPath: def.authPath, direction: def.direction, ports: def.ports, destination: built.destination, computes: computes.map((c) => c.name), targets: built.targets };
      const trace = traceFlow(ctx, spec);
      const notes = [...ctx.notes, ...(built.notes ?? []), ...trace.notes];
      const hops = crossCheck(ctx, def.id, trace.hops, notes);
      const unique = [...new Set(notes)];
      flows.push({
        id: def.id, subnetId: group.subnetId, computes: spec.computes, direction: def.direction, destination: built.destination,
        ports: def.ports.map(portText), authPath: def.authPath, verdict: verdictOf(hops), source: ctx.source, hops,
        ...(unique.length > 0 ? { notes: unique } : {}),
      });
    }
  }
  return { flows, assumptions: [...new Set(assumptions)], managedNetwork: false };
}
