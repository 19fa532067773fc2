/**
 * Everything the hops of one compute subnet need, gathered once: the subnet and its VNet, the
 * routes (effective through a vantage VM, or computed from configuration), the NSGs that apply,
 * the service tags. A piece that could not be read is a `Missing` naming what and why, so the hop
 * that needs it says so instead of guessing.
 */
import { nameOf, parentId, sameId } from '../model/arm-id.ts';
import type { CloudProfile } from '../model/cloud.ts';
import type { ComputeObs, EffectiveRouteObs, NatGatewayObs, NsgObs, Observed, PeeringObs, RouteTableObs, SecurityRuleObs, Snapshot, SubnetObs, SubnetPoliciesObs, VantageObs, VnetObs, WorkspaceObs } from '../model/snapshot.ts';
import { parseCidr, type Cidr } from '../net/cidr.ts';
import { defaultSecurityRules, type NsgContext } from '../net/nsg.ts';
import { routesFromConfig, routesFromEffective, type RouteEntry, type UnresolvedRoute } from '../net/routes.ts';
import type { ServiceTagIndex } from '../net/service-tags.ts';
import type { NsgFn, Primitives, RouteFn } from './primitives.ts';

export interface Missing {
  missing: string;
  resourceId?: string;
}
export const isMissing = (v: unknown): v is Missing => typeof v === 'object' && v !== null && typeof (v as Missing).missing === 'string';

export interface Routing {
  entries: RouteEntry[];
  lookup: RouteFn;
  /** User routes whose prefix is a service tag that could not be expanded. */
  unresolved: UnresolvedRoute[];
  routeTable?: RouteTableObs;
}

export interface NsgEval {
  id?: string;
  name: string;
  evaluate: NsgFn;
  /** See NsgEvaluator.addressClass (indexed primitives only). */
  addressClass?: (ip: number) => number;
}

export interface Tags {
  index: ServiceTagIndex;
  /** Why tag prefixes are unknown (the serviceTags probe failed or did not run). */
  missing?: string;
}

export interface SubnetContext extends ContextInput {
  subnetName: string;
  vnet: VnetObs | Missing;
  subnet: SubnetObs | Missing;
  subnetCidr?: Cidr;
  /** The compute VNet's own prefixes and its peerings' remote prefixes, parsed once. */
  vnetCidrs: Cidr[];
  peerings: Array<{ peering: PeeringObs; cidrs: Cidr[] }>;
  source: 'azure' | 'computed';
  /** Set when routes and NSGs are computed from configuration. */
  assumption?: string;
  routing: Routing | Missing;
  nsgs: NsgEval[] | Missing;
  /** The compute VNet's VirtualNetwork tag. */
  nsgCtx: NsgContext;
  vantage?: VantageObs;
  /** Notes every flow of the subnet carries. */
  notes: string[];
}

const why = (o: Observed<unknown> | undefined, probe: string): string => (!o ? `the ${probe} probe did not run` : !o.ok ? o.error.message : '');

/** The compute subnet's VNet (and the subnet in it), or why they are unknown. */
export function findVnet(s: Snapshot, vnetId: string): VnetObs | Missing {
  if (!s.networks?.ok) return { missing: `virtual network ${nameOf(vnetId)} could not be read (${why(s.networks, 'networks')})`, resourceId: vnetId };
  const entry = s.networks.value.vnets.find((v) => sameId(v.id, vnetId));
  if (!entry) return { missing: `virtual network ${nameOf(vnetId)} was not read`, resourceId: vnetId };
  if (!entry.observed.ok) return { missing: `virtual network ${nameOf(vnetId)} could not be read (${entry.observed.error.message})`, resourceId: vnetId };
  return entry.observed.value;
}

export function findSubnet(s: Snapshot, subnetId: string): SubnetObs | Missing {
  const vnet = findVnet(s, parentId(subnetId));
  if (isMissing(vnet)) return vnet;
  return vnet.subnets.find((x) => sameId(x.id, subnetId)) ?? { missing: `subnet ${nameOf(subnetId)} is not in virtual network ${vnet.name}`, resourceId: subnetId };
}

type PolicyKind = 'routeTables' | 'nsgs' | 'natGateways';
type PolicyValue<K extends PolicyKind> = SubnetPoliciesObs[K][number]['observed'] extends Observed<infer T> ? T : never;
const POLICY_WHAT: Record<PolicyKind, string> = { routeTables: 'route table', nsgs: 'NSG', natGateways: 'NAT gateway' };

/** A route table, NSG or NAT gateway from the subnetPolicies probe, or why it is unknown. */
export function findPolicy<K extends PolicyKind>(s: Snapshot, kind: K, id: string): PolicyValue<K> | Missing {
  const what = `${POLICY_WHAT[kind]} ${nameOf(id)}`;
  if (!s.subnetPolicies?.ok) return { missing: `${what} could not be read (${why(s.subnetPolicies, 'subnet policies')})`, resourceId: id };
  const list = s.subnetPolicies.value[kind] as Array<{ id: string; observed: Observed<PolicyValue<K>> }>;
  const entry = list.find((e) => sameId(e.id, id));
  if (!entry) return { missing: `${what} was not read`, resourceId: id };
  if (!entry.observed.ok) return { missing: `${what} could not be read (${entry.observed.error.message})`, resourceId: id };
  return entry.observed.value;
}

export const findNat = (s: Snapshot, id: string): NatGatewayObs | Missing => findPolicy(s, 'natGateways', id);

/**
 * The VirtualNetwork tag of a VNet: its prefixes plus the remote prefixes of its peerings. Azure
 * counts only Connected peerings, but a destination behind a peering that is not Connected is
 * blocked at the peering hop; evaluating the NSG as the peering will be once fixed keeps a
 * DenyAllOutBound consequence from hiding that cause. Other destinations are unaffected.
 */
export function virtualNetworkOf(vnet: VnetObs | Missing): Cidr[] {
  if (isMissing(vnet)) return [];
  const texts = [...vnet.addressPrefixes, ...vnet.peerings.flatMap((p) => p.remoteAddressPrefixes)];
  return texts.map(parseCidr).filter((c): c is Cidr => !!c);
}

/** Configured NSG rules, with Azure's defaults appended when ARM gave none. */
export function configuredRules(nsg: NsgObs): SecurityRuleObs[] {
  return nsg.rules.some((r) => r.isDefault) ? nsg.rules : [...nsg.rules, ...defaultSecurityRules()];
}

function configuredNsg(s: Snapshot, prim: Primitives, nsgId: string, ctx: NsgContext): NsgEval | Missing {
  const nsg = findPolicy(s, 'nsgs', nsgId);
  if (isMissing(nsg)) return nsg;
  return { id: nsg.id, name: nsg.name, ...prim.nsg(configuredRules(nsg), ctx) };
}

function computedRouting(s: Snapshot, prim: Primitives, vnet: VnetObs, subnet: SubnetObs, region: string, tags: Tags): { routing: Routing | Missing; notes: string[] } {
  let routeTable: RouteTableObs | undefined;
  if (subnet.routeTableId) {
    const rt = findPolicy(s, 'routeTables', subnet.routeTableId);
    if (isMissing(rt)) return { routing: rt, notes: [] };
    routeTable = rt;
  }
  const out = routesFromConfig({ vnet, subnet, ...(routeTable ? { routeTable } : {}), region, tags: tags.index });
  const unresolved = out.unresolved.map((u) => {
    const r = routeTable?.routes.find((x) => x.name === u.route);
    return { ...u, nextHopType: r?.nextHopType ?? 'Unknown', ...(r?.nextHopIpAddress ? { nextHopIp: r.nextHopIpAddress } : {}) };
  });
  return { routing: { entries: out.routes, lookup: prim.routes(out.routes), unresolved, ...(routeTable ? { routeTable } : {}) }, notes: out.notes };
}

/**
 * Per run: effective routes are read into entries once per observation (10,000 on a big estate),
 * keyed by the snapshot's own array like the indexes in ./primitives.ts (a shallow check of its
 * elements catches an array reused with routes added, removed or replaced).
 */
const EFFECTIVE_ROUTES = new WeakMap<EffectiveRouteObs[], { routes: EffectiveRouteObs[]; entries: RouteEntry[] }>();

function effectiveEntries(routes: EffectiveRouteObs[]): RouteEntry[] {
  const known = EFFECTIVE_ROUTES.get(routes);
  if (known && known.routes.length === routes.length && known.routes.every((r, i) => r === routes[i])) return known.entries;
  const entries = routesFromEffective(routes);
  EFFECTIVE_ROUTES.set(routes, { routes: routes.slice(), entries });
  return entries;
}

export interface ContextInput {
  snapshot: Snapshot;
  prim: Primitives;
  ws: WorkspaceObs;
  cloud: CloudProfile;
  region: string;
  subnetId: string;
  computes: ComputeObs[];
  tags: Tags;
}

export function subnetContext(input: ContextInput): SubnetContext {
  const { snapshot: s, prim, subnetId } = input;
  const vnet = findVnet(s, parentId(subnetId));
  const subnet = isMissing(vnet) ? vnet : findSubnet(s, subnetId);
  const subnetName = isMissing(subnet) ? nameOf(subnetId) : subnet.name;
  const subnetCidr = isMissing(subnet) ? undefined : subnet.addressPrefixes.map(parseCidr).find((c): c is Cidr => !!c);
  const nsgCtx: NsgContext = { virtualNetwork: virtualNetworkOf(vnet), tags: input.tags.index };
  const parse = (texts: string[]) => texts.map(parseCidr).filter((c): c is Cidr => !!c);
  const vnetCidrs = isMissing(vnet) ? [] : parse(vnet.addressPrefixes);
  const peerings = isMissing(vnet) ? [] : vnet.peerings.map((peering) => ({ peering, cidrs: parse(peering.remoteAddressPrefixes) }));
  const vantageEntry = s.vantage?.ok ? s.vantage.value.subnets.find((v) => sameId(v.subnetId, subnetId)) : undefined;
  const vantage = vantageEntry?.vantage;
  const notes: string[] = [];

  if (vantage?.effectiveRoutes.ok && vantage.effectiveNsgs.ok) {
    const entries = effectiveEntries(vantage.effectiveRoutes.value);
    const routing: Routing = { entries, lookup: prim.routes(entries), unresolved: [] };
    const nsgs: NsgEval[] = vantage.effectiveNsgs.value.map((e) => ({
      ...(e.networkSecurityGroupId ? { id: e.networkSecurityGroupId } : {}),
      name: e.networkSecurityGroupId ? nameOf(e.networkSecurityGroupId) : `effective rules (${e.association})`,
      ...prim.nsg(e.rules, nsgCtx),
    }));
    return { ...input, vnet, subnet, subnetName, ...(subnetCidr ? { subnetCidr } : {}), vnetCidrs, peerings, source: 'azure', routing, nsgs, nsgCtx, vantage, notes };
  }

  const reason = !s.vantage
    ? `no readable VM in subnet ${subnetName} (the vantage probe did not run)`
    : !s.vantage.ok
      ? `no readable VM in subnet ${subnetName} (${s.vantage.error.message})`
      : !vantage
        ? `no readable VM in subnet ${subnetName}`
        : !vantage.effectiveRoutes.ok
          ? `the vantage VM's effective routes could not be read (${vantage.effectiveRoutes.error.message})`
          : `the vantage VM's effective NSGs could not be read (${vantage.effectiveNsgs.ok ? '' : vantage.effectiveNsgs.error.message})`;
  const assumption = `routes and NSGs computed from configuration: ${reason}`;
  notes.push('NIC-level NSGs of the Azure ML nodes cannot be read');

  let routing: Routing | Missing;
  let nsgs: NsgEval[] | Missing;
  if (isMissing(vnet) || isMissing(subnet)) {
    const m = isMissing(vnet) ? vnet : (subnet as Missing);
    routing = m;
    nsgs = m;
  } else {
    const computed = computedRouting(s, prim, vnet, subnet, input.region, input.tags);
    routing = computed.routing;
    notes.push(...computed.notes);
    if (!subnet.networkSecurityGroupId) nsgs = [];
    else {
      const one = configuredNsg(s, prim, subnet.networkSecurityGroupId, nsgCtx);
      nsgs = isMissing(one) ? one : [one];
    }
  }
  return { ...input, vnet, subnet, subnetName, ...(subnetCidr ? { subnetCidr } : {}), vnetCidrs, peerings, source: 'computed', assumption, routing, nsgs, nsgCtx, ...(vantage ? { vantage } : {}), notes };
}

/** The NSG on the subnet of a private endpoint, when the subnet applies NSGs to endpoints. */
export function destinationNsg(s: Snapshot, prim: Primitives, peSubnetId: string | undefined, tags: Tags): { nsg?: NsgEval; subnet?: SubnetObs } | Missing {
  if (!peSubnetId) return { missing: 'the private endpoint names no subnet' };
  const subnet = findSubnet(s, peSubnetId);
  if (isMissing(subnet)) return subnet;
  const policies = (subnet.privateEndpointNetworkPolicies ?? 'Disabled').toLowerCase();
  if (!subnet.networkSecurityGroupId || (policies !== 'enabled' && policies !== 'networksecuritygroupenabled')) return { subnet };
  const ctx: NsgContext = { virtualNetwork: virtualNetworkOf(findVnet(s, parentId(peSubnetId))), tags: tags.index };
  const nsg = configuredNsg(s, prim, subnet.networkSecurityGroupId, ctx);
  return isMissing(nsg) ? nsg : { nsg, subnet };
}
