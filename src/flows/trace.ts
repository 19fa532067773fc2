/**
 * Traces one target of a flow hop by hop, in the order of flows-semantics §2: dns, route, nsg
 * (compute side, then destination side), firewall, peering, destination. A tag destination is
 * traced from every prefix's first address (or by name when its prefixes are unknown); the trace
 * that decides (blocked before undetermined before allowed, first in order) is the one shown.
 */
import { cidrContainsIp, intToIp, ipToInt, isPrivateAddress } from '../net/cidr.ts';
import type { Endpoint, Packet } from '../net/nsg.ts';
import type { RouteEntry } from '../net/routes.ts';
import type { FlowHop, FlowVerdict } from '../report/schema.ts';
import { isMissing, type NsgEval, type SubnetContext } from './context.ts';
import { dependencyDestinationHop, dnsHop, endpointDestinationHop, peeringHop, workspaceDestinationHop } from './destination-hops.ts';
import { firewallHop } from './firewall-hop.ts';
import type { EndpointTarget, FlowSpec, InboundTarget, TagTarget, Target } from './model.ts';
import { endpointNsgHops, sourceNsgHops } from './nsg-hop.ts';
import { peeringFor, replyRouteStep, routeStep, type Dest } from './route-hop.ts';

export interface Trace {
  /** What was traced: `AzureActiveDirectory address 20.190.128.0`, `blob 10.10.1.6`. */
  label: string;
  hops: FlowHop[];
  notes: string[];
}

export function verdictOf(hops: FlowHop[]): FlowVerdict {
  if (hops.some((h) => h.verdict === 'blocked')) return 'blocked';
  return hops.some((h) => h.verdict === 'undetermined') ? 'undetermined' : 'allowed';
}

const SEVERITY: Record<FlowVerdict, number> = { blocked: 0, undetermined: 1, allowed: 2 };
const signature = (t: Trace): string => t.hops.map((h) => [h.kind, h.verdict, h.reason, h.element, h.resourceId].join('|')).join('>');

/** The trace that decides a set of traces, and how many distinct paths they took. */
export function decidingTrace(traces: Trace[]): { trace: Trace; paths: number } {
  // Representatives that share a path share the trace object: judge each object once.
  const unique = [...new Set(traces)];
  let best = unique[0] as Trace;
  let bestSeverity = SEVERITY[verdictOf(best.hops)];
  for (const t of unique) {
    const severity = SEVERITY[verdictOf(t.hops)];
    if (severity < bestSeverity) [best, bestSeverity] = [t, severity];
  }
  return { trace: best, paths: new Set(unique.map(signature)).size };
}

const endpointOf = (d: Dest): Endpoint => ({ ...(d.ip !== undefined ? { ip: d.ip } : {}), ...(d.tag ? { tag: d.tag } : {}) });

/** Effective NSGs expand VirtualNetwork without a peering that is not Connected: say so on a deny. */
function withPeeringCaveat(ctx: SubnetContext, dest: Dest, hop: FlowHop): FlowHop {
  const p = hop.verdict === 'blocked' && dest.ip !== undefined ? peeringFor(ctx, dest.ip) : undefined;
  if (!p || (p.peeringState === 'Connected' && p.allowVirtualNetworkAccess !== false)) return hop;
  return { ...hop, detail: `${hop.detail} (The VirtualNetwork tag leaves out the peered network while peering ${p.name} is ${p.peeringState ?? 'not Connected'}.)` };
}

/** Route, compute-side NSGs, firewall and peering for an outbound destination. */
function outboundPath(ctx: SubnetContext, spec: FlowSpec, dest: Dest, fqdns: string[], notes: string[]) {
  const route = routeStep(ctx, dest);
  notes.push(...route.notes);
  const nsg = sourceNsgHops(ctx, spec.ports, 'Outbound', endpointOf(dest), dest.label).map((h) => withPeeringCaveat(ctx, dest, h));
  const firewall = route.appliance ? [firewallHop(ctx, route.appliance, dest, spec.ports, fqdns)] : [];
  const applianceIp = route.appliance ? ipToInt(route.appliance) : undefined;
  const peerAt = applianceIp ?? dest.ip;
  const peer = peerAt === undefined ? undefined : peeringHop(ctx, peerAt, applianceIp !== undefined ? `The appliance ${route.appliance}` : dest.label, notes);
  return { route, nsg, firewall, peering: peer ? [peer] : [] };
}

function traceEndpoint(ctx: SubnetContext, spec: FlowSpec, target: EndpointTarget): Trace[] {
  const notes: string[] = [];
  const expected = target.candidates.map((c) => c.ip);
  const dns = target.fqdns.map((f) => dnsHop(ctx, f, expected, target.unreadable));
  const answered = new Set(dns.flatMap((d) => d.answers));
  const candidate = target.candidates.find((c) => answered.has(c.ip)) ?? target.candidates[0];
  const ip = candidate ? ipToInt(candidate.ip) : undefined;
  if (!candidate || ip === undefined) return [{ label: target.label, hops: [...dns.map((d) => d.hop), endpointDestinationHop(target, undefined)], notes }];
  const dest: Dest = { ip, label: `${candidate.ip} (private endpoint ${candidate.name})` };
  const path = outboundPath(ctx, spec, dest, target.fqdns, notes);
  const unreachable = noPathHop(ctx, path.route.hop, ip, candidate);
  if (unreachable) return [{ label: `${target.label} ${candidate.ip}`, hops: [...dns.map((d) => d.hop), unreachable, endpointDestinationHop(target, candidate)], notes }];
  const destNsg = endpointNsgHops(ctx, candidate.subnetId, ip, dest.label, spec.ports);
  const hops = [...dns.map((d) => d.hop), path.route.hop, ...path.nsg, ...destNsg, ...path.firewall, ...path.peering, endpointDestinationHop(target, candidate)];
  return [{ label: `${target.label} ${candidate.ip}`, hops, notes }];
}

/**
 * A private endpoint outside the compute VNet and every VNet peered with it, whose address the
 * routes drop: there is no path at all. That is the endpoint's placement (the endpoint and peering
 * rules report it), not a route or NSG to fix, so the trace stops here instead of listing the NSG
 * default deny and the `None` route as causes of their own.
 */
function noPathHop(ctx: SubnetContext, route: FlowHop, ip: number, candidate: { ip: string; name: string; subnetId?: string }): FlowHop | undefined {
  if (route.verdict !== 'blocked' || route.reason !== 'route-none' || isMissing(ctx.vnet)) return undefined;
  if (ctx.vnetCidrs.some((c) => cidrContainsIp(c, ip))) return undefined;
  const where = candidate.subnetId ? ` in VNet ${candidate.subnetId.split('/').slice(-3, -2)[0] ?? '?'}` : '';
  return {
    ...route,
    reason: 'no-path',
    detail: `${candidate.ip} (private endpoint ${candidate.name}${where}) is neither in VNet ${ctx.vnet.name} nor in a VNet peered with it, so no route reaches it (${route.element ?? 'no route'}).`,
  };
}

/** The addresses a tag is traced from: each prefix's first address, or none (by name) when unknown. */
function representatives(ctx: SubnetContext, tag: string): { reps: Array<number | undefined>; note?: string } {
  const prefixes = ctx.tags.index.prefixesView(tag);
  if (prefixes && prefixes.length > 0) {
    const seen = new Set<number>();
    const reps: number[] = [];
    for (const c of prefixes) {
      if (seen.has(c.base)) continue;
      seen.add(c.base);
      reps.push(c.base);
    }
    return { reps };
  }
  const why = ctx.tags.missing ? `service tag prefixes were not read (${ctx.tags.missing})` : `service tag ${tag} is not in the service tag list`;
  return { reps: [undefined], note: `${why}: ${tag} matched by name against rules and routes` };
}

const tagDest = (tag: string, rep: number | undefined): Dest => (rep === undefined ? { tag, label: tag } : { ip: rep, tag, label: `${tag} address ${intToIp(rep)}` });

/** What pathKey remembers within one tag's representatives (same tag, direction, ports and subnet). */
interface KeyMemo {
  /** The compute side of the packets. */
  subnet?: Endpoint;
  /** Parts of keys (route and decision texts), numbered. */
  partIds: Map<string, number>;
  parts: string[];
  /** Per route entry: its numbered text, and whether it goes through an appliance. */
  routes: Map<RouteEntry, { id: number; appliance: boolean }>;
  /** Peering objects numbered in order of appearance. */
  peerings: Map<object, number>;
  /** Per NSG (by position): the numbered decisions text, per address class. */
  decisions: Array<Map<number, number>>;
  /** Keys by their parts' numbers, so a key's text is built once. */
  keys: Map<number, string>;
}

const newKeyMemo = (ctx: SubnetContext): KeyMemo => ({ ...(ctx.subnetCidr ? { subnet: { cidr: ctx.subnetCidr } } : {}), partIds: new Map(), parts: [], routes: new Map(), peerings: new Map(), decisions: [], keys: new Map() });

function partId(memo: KeyMemo, text: string): number {
  let id = memo.partIds.get(text);
  if (id === undefined) {
    id = memo.parts.length;
    memo.partIds.set(text, id);
    memo.parts.push(text);
  }
  return id;
}

/** The decisions of one NSG for every port of the flow: `verdict:rule@priority` per port, comma-separated. */
function decisionsText(nsg: NsgEval, spec: FlowSpec, direction: 'Outbound' | 'Inbound', other: Endpoint, subnet: Endpoint): string {
  const parts: string[] = [];
  for (const port of spec.ports) {
    const packet: Packet = { direction, protocol: port.protocol, source: direction === 'Outbound' ? subnet : other, destination: direction === 'Outbound' ? other : subnet, port: port.port };
    // The decision's content, not its identity: the linear baseline builds a new object per call.
    const d = nsg.evaluate(packet);
    parts.push(`${d.verdict}:${d.rule ? `${d.rule.name}@${d.rule.priority}` : ''}`);
  }
  return parts.join(',');
}

/** Numbers below this fit a key number: five of them take 50 bits. */
const PART_RADIX = 1024;

/**
 * A key shared by representatives that cannot take different paths: same kind of route, same peering,
 * same public/private side, same NSG decisions (verdict and deciding rule). Undefined keeps the address apart: a route through an appliance, whose
 * firewall sees each address. Thousands of tag prefixes then cost a handful of traces.
 *
 * The key is the text `route,side,peering,decisions...`; its parts are numbered so that the text
 * of each distinct key is built once. With the indexed primitives, an NSG's decisions are looked
 * up by the address's class (same class, same decisions) instead of evaluated per address; the
 * linear baseline evaluates every address.
 */
function pathKey(ctx: SubnetContext, spec: FlowSpec, direction: 'Outbound' | 'Inbound', tag: string, rep: number | undefined, memo: KeyMemo): string | undefined {
  if (rep === undefined) return undefined;
  const entry = isMissing(ctx.routing) ? undefined : ctx.routing.lookup(rep);
  let route = entry && memo.routes.get(entry);
  if (entry && !route) {
    // The route's prefix only shows in the text; what it does is its kind, next hop and table.
    const text = `${entry.source} ${entry.nextHopType} ${entry.nextHopIp ?? ''} ${entry.name} ${entry.routeTableId ?? ''}`;
    route = { id: partId(memo, text), appliance: entry.nextHopType.toLowerCase() === 'virtualappliance' };
    memo.routes.set(entry, route);
  }
  if (direction === 'Outbound' && route?.appliance) return undefined;
  const peering = peeringFor(ctx, rep);
  let peeringId = -1;
  if (peering) {
    peeringId = memo.peerings.get(peering) ?? memo.peerings.size;
    memo.peerings.set(peering, peeringId);
  }
  const ids = [route ? route.id : partId(memo, 'no route'), isPrivateAddress(rep) ? 1 : 0, peeringId + 1];
  const subnet = memo.subnet;
  if (!isMissing(ctx.nsgs) && subnet && spec.ports.length > 0) {
    ctx.nsgs.forEach((nsg, i) => {
      if (!nsg.addressClass) {
        ids.push(partId(memo, decisionsText(nsg, spec, direction, { ip: rep, tag }, subnet)));
        return;
      }
      const byClass = (memo.decisions[i] ??= new Map<number, number>());
      const cls = nsg.addressClass(rep);
      let id = byClass.get(cls);
      if (id === undefined) {
        id = partId(memo, decisionsText(nsg, spec, direction, { ip: rep, tag }, subnet));
        byClass.set(cls, id);
      }
      ids.push(id);
    });
  }
  const text = () => [memo.parts[ids[0] as number], ids[1] === 1 ? 'private' : 'public', peeringId, ...ids.slice(3).map((id) => memo.parts[id])].join(',');
  if (ids.length > 5 || ids.some((id) => id >= PART_RADIX)) return text();
  let n = 0;
  for (const id of ids) n = n * PART_RADIX + id;
  let key = memo.keys.get(n);
  if (key === undefined) {
    key = text();
    memo.keys.set(n, key);
  }
  return key;
}

/** One trace per representative, built once per path key (the first representative's). */
function perRepresentative(ctx: SubnetContext, spec: FlowSpec, direction: 'Outbound' | 'Inbound', tag: string, build: (rep: number | undefined) => Trace): Trace[] {
  const { reps, note } = representatives(ctx, tag);
  const memo = newKeyMemo(ctx);
  const built = new Map<string, Trace>();
  return reps.map((rep) => {
    const key = pathKey(ctx, spec, direction, tag, rep, memo);
    const known = key === undefined ? undefined : built.get(key);
    if (known) return known;
    const trace = build(rep);
    if (note) trace.notes.unshift(note);
    if (key !== undefined) built.set(key, trace);
    return trace;
  });
}

function traceTag(ctx: SubnetContext, spec: FlowSpec, target: TagTarget): Trace[] {
  return perRepresentative(ctx, spec, 'Outbound', target.tag, (rep) => {
    const notes: string[] = [];
    const dest = tagDest(target.tag, rep);
    const path = outboundPath(ctx, spec, dest, target.fqdns, notes);
    const destination = target.dependency ? [dependencyDestinationHop(ctx, target.dependency, path.route.entry)] : target.workspace ? [workspaceDestinationHop(target.workspace)] : [];
    return { label: dest.label, hops: [path.route.hop, ...path.nsg, ...path.firewall, ...path.peering, ...destination], notes };
  });
}

function traceInbound(ctx: SubnetContext, spec: FlowSpec, target: InboundTarget): Trace[] {
  return perRepresentative(ctx, spec, 'Inbound', target.tag, (rep) => {
    const dest = tagDest(target.tag, rep);
    const route = replyRouteStep(ctx, dest);
    const nsg = sourceNsgHops(ctx, spec.ports, 'Inbound', endpointOf(dest), dest.label);
    return { label: dest.label, hops: [route.hop, ...nsg], notes: [...route.notes] };
  });
}

/** Every trace of one target (several for a tag with known prefixes). */
export function traceTarget(ctx: SubnetContext, spec: FlowSpec, target: Target): Trace[] {
  switch (target.kind) {
    case 'private-endpoint':
      return traceEndpoint(ctx, spec, target);
    case 'tag':
      return traceTag(ctx, spec, target);
    case 'inbound':
      return traceInbound(ctx, spec, target);
    case 'fixed':
      return [{ label: target.label, hops: [target.hop], notes: [] }];
  }
}

/** The hops shown for a flow: the deciding trace over all targets, with notes on the others. */
export function traceFlow(ctx: SubnetContext, spec: FlowSpec): Trace {
  const perTarget = spec.targets.map((t) => {
    const traces = traceTarget(ctx, spec, t);
    const { trace, paths } = decidingTrace(traces);
    // Representatives that share a path share the trace object: its notes count once.
    const notes = [...new Set([...new Set(traces)].flatMap((x) => x.notes))];
    if (traces.length > 1 && paths > 1) notes.push(`${traces.length} addresses of ${trace.label.split(' ')[0]} were traced and took ${paths} different paths; the hops shown are for ${trace.label}`);
    return { ...trace, notes };
  });
  const { trace } = decidingTrace(perTarget);
  const notes = [...new Set(perTarget.flatMap((t) => t.notes))];
  if (perTarget.length > 1) notes.push(`${perTarget.length} destinations traced (${perTarget.map((t) => `${t.label}: ${verdictOf(t.hops)}`).join('; ')}); the hops shown are for ${trace.label}`);
  return { ...trace, notes };
}
