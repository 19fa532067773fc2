/**
 * The route hop (flows-semantics §2.2, §4): which route the destination takes from the compute
 * subnet, and what that means: stays in the VNet, crosses a peering, leaves for the internet
 * (egress must exist), goes through an appliance (a firewall hop follows), or goes nowhere.
 */
import { nameOf } from '../model/arm-id.ts';
import type { PeeringObs } from '../model/snapshot.ts';
import { cidrContainsIp, ipToInt, isPrivateAddress, parseCidr, type Cidr } from '../net/cidr.ts';
import type { RouteEntry, UnresolvedRoute } from '../net/routes.ts';
import { tagCovers } from '../net/service-tags.ts';
import type { FlowHop, HopReason } from '../report/schema.ts';
import { findNat, isMissing, type Missing, type Routing, type SubnetContext } from './context.ts';

/** What the packet is sent to: an address, and the service tag it stands for when it is a tag's. */
export interface Dest {
  ip?: number;
  tag?: string;
  /** `10.10.1.4` or `AzureActiveDirectory 20.190.128.0`. */
  label: string;
}

export interface RouteStep {
  hop: FlowHop;
  entry?: RouteEntry;
  /** Next-hop address of a VirtualAppliance route: the firewall hop evaluates it. */
  appliance?: string;
  notes: string[];
}

const hop = (verdict: FlowHop['verdict'], detail: string, extra: { reason?: HopReason; resourceId?: string; element?: string } = {}): FlowHop => ({
  kind: 'route', ...(extra.resourceId ? { resourceId: extra.resourceId } : {}), ...(extra.element ? { element: extra.element } : {}), detail, verdict, ...(extra.reason ? { reason: extra.reason } : {}),
});

export function routeTableIdOf(ctx: SubnetContext, e: RouteEntry): string | undefined {
  if (e.routeTableId) return e.routeTableId;
  if (e.source !== 'User') return undefined;
  return isMissing(ctx.subnet) ? undefined : ctx.subnet.routeTableId;
}

/** `"<route> <prefix> -> <nextHopType> [<ip>] (<route table | system route>)"`. */
export function routeText(ctx: SubnetContext, e: RouteEntry): string {
  const rt = routeTableIdOf(ctx, e);
  const table = rt ? `route table ${nameOf(rt)}` : e.source === 'VirtualNetworkGateway' ? 'BGP route' : 'system route';
  return `${e.name || 'system'} ${e.label} -> ${e.nextHopType}${e.nextHopIp ? ` ${e.nextHopIp}` : ''} (${table})`;
}

const routeRef = (ctx: SubnetContext, e: RouteEntry) => {
  const rt = routeTableIdOf(ctx, e);
  return { element: routeText(ctx, e), ...(rt ? { resourceId: rt } : {}) };
};

/** The compute VNet's peering whose remote prefixes hold `ip` (not for addresses in the VNet itself). */
export function peeringFor(ctx: SubnetContext, ip: number): PeeringObs | undefined {
  const inside = (cidrs: Cidr[]) => cidrs.some((c) => cidrContainsIp(c, ip));
  if (inside(ctx.vnetCidrs)) return undefined;
  return ctx.peerings.find((p) => inside(p.cidrs))?.peering;
}

const peeringWorks = (p: PeeringObs): boolean => p.peeringState === 'Connected' && p.allowVirtualNetworkAccess !== false;

const PRECEDENCE: Record<RouteEntry['source'], number> = { User: 0, VirtualNetworkGateway: 1, Default: 2 };

/** A route whose prefix is a tag that could not be expanded, used by name for that tag. */
function synthetic(u: UnresolvedRoute): RouteEntry {
  return { prefix: { base: 0, len: 0 }, source: u.source, nextHopType: u.nextHopType, ...(u.nextHopIp ? { nextHopIp: u.nextHopIp } : {}), name: u.route, ...(u.routeTableId ? { routeTableId: u.routeTableId } : {}), label: u.prefix };
}

const isPublicPrefix = (c: Cidr): boolean => !isPrivateAddress(c.base) || !isPrivateAddress((c.base + 2 ** (32 - c.len) - 1) >>> 0);

/** The route of a tag destination whose prefixes are unknown: matched by name, else the default route. */
function symbolicRoute(routing: Routing, tag: string): { entry?: RouteEntry; ambiguous: RouteEntry[] } {
  const byName = routing.unresolved.find((u) => tagCovers(u.prefix, tag));
  if (byName) return { entry: synthetic(byName), ambiguous: [] };
  const tagged = routing.entries.find((e) => !parseCidr(e.label) && tagCovers(e.label, tag));
  if (tagged) return { entry: tagged, ambiguous: [] };
  const entry = routing.entries.filter((e) => e.prefix.len === 0).sort((a, b) => PRECEDENCE[a.source] - PRECEDENCE[b.source])[0];
  const ambiguous = routing.entries.filter((e) => e.source === 'User' && e.prefix.len > 0 && isPublicPrefix(e.prefix) && (e.nextHopType !== entry?.nextHopType || e.nextHopIp !== entry?.nextHopIp));
  return { ...(entry ? { entry } : {}), ambiguous };
}

/** The route the destination takes, or the hop that says why it cannot be told. */
function chooseRoute(ctx: SubnetContext, dest: Dest): { entry?: RouteEntry; early?: RouteStep } {
  const routing = ctx.routing;
  if (isMissing(routing)) return { early: { hop: hop('undetermined', `The route to ${dest.label} is unknown: ${routing.missing}.`, { reason: 'evidence-missing', ...(routing.resourceId ? { resourceId: routing.resourceId } : {}) }), notes: [] } };
  if (dest.ip === undefined) {
    const sym = symbolicRoute(routing, dest.tag ?? '');
    const entry = sym.entry;
    if (entry && sym.ambiguous.length > 0) {
      const which = sym.ambiguous.map((a) => routeText(ctx, a)).join('; ');
      return { entry, early: { hop: hop('undetermined', `The prefixes of ${dest.tag} are unknown, so it cannot be told whether ${which} covers some of them rather than ${routeText(ctx, entry)}.`, { reason: 'not-evaluable', ...routeRef(ctx, entry) }), entry, notes: [] } };
    }
    return entry ? { entry } : {};
  }
  const tag = dest.tag;
  const byName = tag ? routing.unresolved.find((u) => tagCovers(u.prefix, tag)) : undefined;
  if (byName) return { entry: synthetic(byName) };
  const unresolved = isPrivateAddress(dest.ip) ? undefined : routing.unresolved[0];
  if (unresolved) {
    return { early: { hop: hop('undetermined', `Route ${unresolved.route} uses service tag ${unresolved.prefix}, whose prefixes could not be read; it may cover ${dest.label}.`, { reason: 'not-evaluable', ...(routing.routeTable ? { resourceId: routing.routeTable.id } : {}), element: `${unresolved.route} ${unresolved.prefix} -> ${unresolved.nextHopType}` }), notes: [] } };
  }
  const entry = routing.lookup(dest.ip);
  return entry ? { entry } : {};
}

/** §4: how a public destination with next hop Internet gets out of the subnet. */
export function egress(ctx: SubnetContext, via: string): Omit<RouteStep, 'entry'> {
  const subnet = ctx.subnet;
  if (isMissing(subnet)) return { hop: hop('undetermined', `${via}; egress unknown: ${subnet.missing}.`, { reason: 'evidence-missing', ...(subnet.resourceId ? { resourceId: subnet.resourceId } : {}) }), notes: [] };
  const notes: string[] = [];
  if (subnet.natGatewayId) {
    const nat = findNat(ctx.snapshot, subnet.natGatewayId);
    if (isMissing(nat)) return { hop: hop('undetermined', `${via}; the subnet's ${nat.missing}, so its egress is unknown.`, { reason: 'evidence-missing', resourceId: subnet.natGatewayId }), notes };
    if (nat.publicIpAddressIds.length + nat.publicIpPrefixIds.length > 0) return { hop: hop('allowed', `${via}; egress through NAT gateway ${nat.name}.`, { resourceId: nat.id }), notes };
    notes.push(`NAT gateway ${nat.name} has no public IP or prefix: it gives no egress`);
  }
  const withIp = ctx.computes.filter((c) => c.enableNodePublicIp !== false);
  if (withIp.length > 0) return { hop: hop('allowed', `${via}; egress through the compute's public IP (${withIp.map((c) => c.name).join(', ')}).`), notes };
  if (subnet.defaultOutboundAccess === false) {
    return { hop: hop('blocked', `${via}, but subnet ${subnet.name} has no egress: no NAT gateway, no public IP on the compute, and default outbound access is off (defaultOutboundAccess false).`, { reason: 'no-egress', resourceId: subnet.id }), notes };
  }
  notes.push(subnet.defaultOutboundAccess === true ? 'default outbound access (being retired; not recommended)' : 'subnet predates private subnets: default outbound access assumed');
  return { hop: hop('allowed', `${via}; egress through Azure's default outbound access of subnet ${subnet.name}.`, { resourceId: subnet.id }), notes };
}

/** The appliance a VirtualAppliance route points at: owned, reachable across a peering? */
function applianceStep(ctx: SubnetContext, e: RouteEntry, via: string): RouteStep {
  const ip = e.nextHopIp ?? '';
  const ref = routeRef(ctx, e);
  const fw = ctx.snapshot.firewalls;
  if (!fw?.ok) return { hop: hop('undetermined', `${via}; who owns ${ip} is unknown: ${fw ? fw.error.message : 'the firewalls probe did not run'}.`, { reason: 'evidence-missing', ...ref }), entry: e, notes: [] };
  const owner = fw.value.appliances.find((a) => a.ip === ip);
  if (!owner) return { hop: hop('undetermined', `${via}; the appliance address ${ip} was not looked up.`, { reason: 'evidence-missing', ...ref }), entry: e, notes: [] };
  if (owner.owner === 'unknown') {
    return { hop: hop('undetermined', `${via}; no firewall or NIC was found with address ${ip}, but ${owner.why ?? 'part of its subnet could not be checked'}.`, { reason: 'evidence-missing', ...ref }), entry: e, notes: [] };
  }
  if (owner.owner === 'none') {
    const failed = fw.value.searches.filter((s) => !s.result.ok);
    if (failed.length > 0) return { hop: hop('undetermined', `${via}; no firewall or NIC found with address ${ip}, but the search failed in ${failed.map((f) => f.subscriptionId).join(', ')}.`, { reason: 'evidence-missing', ...ref }), entry: e, notes: [] };
    return { hop: hop('blocked', `${via}, but nothing owns ${ip}: no Azure Firewall or network interface has that address, so the traffic is dropped.`, { reason: 'route-unowned-appliance', ...ref }), entry: e, notes: [] };
  }
  const addr = ipToInt(ip);
  const peering = addr === undefined ? undefined : peeringFor(ctx, addr);
  if (peering && !(peeringWorks(peering) && peering.allowForwardedTraffic === true)) {
    const state = !peeringWorks(peering) ? `is ${peering.peeringState ?? 'in an unknown state'}${peering.allowVirtualNetworkAccess === false ? ' with virtual network access disallowed' : ''}` : 'does not allow forwarded traffic (the replies come back forwarded)';
    return { hop: hop('blocked', `${via}; the appliance lies across peering ${peering.name}, which ${state}.`, { reason: 'route-appliance-across-peering', resourceId: peering.id, element: ref.element }), entry: e, appliance: ip, notes: [] };
  }
  const what = owner.owner === 'firewall' ? `Azure Firewall ${owner.ownerId ? nameOf(owner.ownerId) : ip}` : `network interface ${owner.ownerId ? nameOf(owner.ownerId) : ip}`;
  return { hop: hop('allowed', `${via}: ${what}.`, ref), entry: e, appliance: ip, notes: [] };
}

/** The route hop of an outbound destination. */
export function routeStep(ctx: SubnetContext, dest: Dest): RouteStep {
  const chosen = chooseRoute(ctx, dest);
  if (chosen.early) return chosen.early;
  const entry = chosen.entry;
  const notes: string[] = [];
  const isPublic = dest.ip === undefined || !isPrivateAddress(dest.ip);
  const peering = dest.ip === undefined ? undefined : peeringFor(ctx, dest.ip);
  // A peering that is not Connected has its system route withdrawn: the peering hop names the cause.
  if (peering && !peeringWorks(peering) && (!entry || (entry.source === 'Default' && entry.nextHopType.toLowerCase() === 'none'))) {
    return { hop: hop('allowed', `${dest.label} lies in a peered network (peering ${peering.name}): its system route exists only while the peering is Connected (see the peering hop).`, { resourceId: peering.id }), ...(entry ? { entry } : {}), notes };
  }
  if (!entry) return { hop: hop('blocked', `No route matches ${dest.label}: the traffic is dropped.`, { reason: 'route-none', element: 'no route' }), notes };
  const ref = routeRef(ctx, entry);
  const via = `${dest.label} takes route ${ref.element}`;
  switch (entry.nextHopType.toLowerCase()) {
    case 'vnetlocal':
      if (isPublic) return { hop: hop('blocked', `${via}: a public address routed into the virtual network cannot get out.`, { reason: 'route-none', ...ref }), entry, notes };
      return { hop: hop('allowed', `${via}: stays in the virtual network.`, ref), entry, notes };
    case 'vnetpeering':
    case 'vnetglobalpeering':
      return { hop: hop('allowed', `${via}: crosses the peering.`, ref), entry, notes };
    case 'internet': {
      if (!isPublic) return { hop: hop('blocked', `${via}: a private address sent to the internet is dropped.`, { reason: 'route-none', ...ref }), entry, notes };
      const out = egress(ctx, via);
      return { hop: { ...out.hop, element: out.hop.element ?? ref.element }, entry, notes: out.notes };
    }
    case 'virtualappliance':
      return applianceStep(ctx, entry, via);
    case 'none':
      return { hop: hop('blocked', `${via}: next hop None drops the traffic.`, { reason: 'route-none', ...ref }), entry, notes };
    case 'virtualnetworkgateway':
      return { hop: hop('undetermined', `${via}: the path continues through the virtual network gateway (on-premises), which cannot be evaluated.`, { reason: 'not-evaluable', ...ref }), entry, notes };
    case 'virtualnetworkserviceendpoint':
      return { hop: hop('allowed', `${via}: reaches the service through the subnet's service endpoint.`, ref), entry, notes };
    default:
      return { hop: hop('undetermined', `${via}: next hop type ${entry.nextHopType} cannot be evaluated.`, { reason: 'not-evaluable', ...ref }), entry, notes };
  }
}

/** §4 asymmetric forced tunnel: the reply of an inbound flow must leave by the internet, not an appliance. */
export function replyRouteStep(ctx: SubnetContext, dest: Dest): RouteStep {
  const chosen = chooseRoute(ctx, dest);
  if (chosen.early) return chosen.early;
  const e = chosen.entry;
  if (!e) return { hop: hop('blocked', `No route matches replies to ${dest.label}: they are dropped.`, { reason: 'route-none', element: 'no route' }), notes: [] };
  const ref = routeRef(ctx, e);
  const via = `Replies to ${dest.label} take route ${ref.element}`;
  switch (e.nextHopType.toLowerCase()) {
    case 'virtualappliance':
      return { hop: hop('blocked', `${via}: they reach the appliance instead of the internet, and the stateful firewall drops them (asymmetric routing). A route ${dest.tag ?? 'AzureMachineLearning'} -> Internet fixes it.`, { reason: 'route-asymmetric', ...ref }), entry: e, notes: [] };
    case 'internet':
      return { hop: hop('allowed', `${via}: they leave through the compute's public IP.`, ref), entry: e, notes: [] };
    case 'none':
      return { hop: hop('blocked', `${via}: next hop None drops them.`, { reason: 'route-none', ...ref }), entry: e, notes: [] };
    case 'virtualnetworkgateway':
      return { hop: hop('undetermined', `${via}: they go to the virtual network gateway (on-premises), which cannot be evaluated.`, { reason: 'not-evaluable', ...ref }), entry: e, notes: [] };
    default:
      return { hop: hop('undetermined', `${via}: next hop type ${e.nextHopType} cannot be evaluated for replies.`, { reason: 'not-evaluable', ...ref }), entry: e, notes: [] };
  }
}

/** The route the lookup chooses for an address (for the Network Watcher cross-check). */
export function routeFor(ctx: SubnetContext, ip: number): RouteEntry | undefined | Missing {
  return isMissing(ctx.routing) ? ctx.routing : ctx.routing.lookup(ip);
}
