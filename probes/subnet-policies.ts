/**
 * Reads what decides traffic leaving the compute subnets and reaching the private endpoint
 * subnets: each subnet's route table, network security group and NAT gateway. Every resource is
 * read once (subnets often share them), in its own subscription and resource group; a resource
 * that cannot be read fails alone.
 */
import type { NatGateway, NetworkSecurityGroup, Route, RouteTable, SecurityRule } from '@azure/arm-network';
import type { Probe, ProbeContext } from './probe.ts';
import { idKey, tryParseArmId, type ArmId } from '../src/model/arm-id.ts';
import { normalizeRegion } from '../src/model/cloud.ts';
import {
  failed,
  observed,
  type NatGatewayObs,
  type NsgObs,
  type Observed,
  type RouteObs,
  type RouteTableObs,
  type SecurityRuleObs,
  type Snapshot,
  type SubnetObs,
} from '../src/model/snapshot.ts';
import { skipped, toProbeError } from '../src/azure/errors.ts';

export const probe = {
  id: 'subnetPolicies',
  title: 'reading route tables, network security groups and NAT gateways',
  needs: ['networks'],
  async run(ctx, snapshot) {
    if (!snapshot.networks?.ok) {
      return failed(skipped('reading the subnet route tables, NSGs and NAT gateways', 'the virtual networks could not be read', ctx.target.workspaceId));
    }
    const subnets = wantedSubnets(snapshot);
    const routeTableIds = unique(subnets.map((s) => s.routeTableId));
    const nsgIds = unique(subnets.map((s) => s.networkSecurityGroupId));
    const natIds = unique(subnets.map((s) => s.natGatewayId));
    const [routeTables, nsgs, natGateways] = await Promise.all([
      Promise.all(routeTableIds.map(async (id) => ({ id, observed: await read(ctx, id, 'route table', readRouteTable) }))),
      Promise.all(nsgIds.map(async (id) => ({ id, observed: await read(ctx, id, 'network security group', readNsg) }))),
      Promise.all(natIds.map(async (id) => ({ id, observed: await read(ctx, id, 'NAT gateway', readNatGateway) }))),
    ]);
    return observed({ routeTables, nsgs, natGateways });
  },
} satisfies Probe<'subnetPolicies'>;

/**
 * The subnets whose policies matter: those of the compute VNets that a compute uses, and those
 * holding a workspace private endpoint. Only subnets of VNets that were read (others have no
 * known attachments).
 */
function wantedSubnets(snapshot: Readonly<Snapshot>): SubnetObs[] {
  const computes = snapshot.computes?.ok ? snapshot.computes.value : undefined;
  const computeSubnets = new Set<string>();
  for (const c of [...(computes?.computes ?? []), ...(computes?.imageBuildCompute?.ok ? [computes.imageBuildCompute.value] : [])]) {
    if (c.subnetId) computeSubnets.add(idKey(c.subnetId));
  }
  const endpointSubnets = new Set<string>();
  for (const e of snapshot.privateEndpoints?.ok ? snapshot.privateEndpoints.value.endpoints : []) {
    if (e.observed.ok && e.observed.value.subnetId) endpointSubnets.add(idKey(e.observed.value.subnetId));
  }
  const out = new Map<string, SubnetObs>();
  for (const vnet of snapshot.networks?.ok ? snapshot.networks.value.vnets : []) {
    if (!vnet.observed.ok) continue;
    for (const s of vnet.observed.value.subnets) {
      const key = idKey(s.id);
      const isCompute = vnet.roles.includes('compute') && computeSubnets.has(key);
      if ((isCompute || endpointSubnets.has(key)) && !out.has(key)) out.set(key, s);
    }
  }
  return [...out.values()];
}

/** Distinct ids (ARM ids compare case-insensitively), first spelling kept. */
function unique(ids: Array<string | undefined>): string[] {
  const out = new Map<string, string>();
  for (const id of ids) if (id && !out.has(idKey(id))) out.set(idKey(id), id);
  return [...out.values()];
}

type Reader<T> = (ctx: ProbeContext, p: ArmId, name: string, id: string) => Promise<T>;

async function read<T>(ctx: ProbeContext, id: string, what: string, reader: Reader<T>): Promise<Observed<T>> {
  const p = tryParseArmId(id);
  if (!p) return failed({ kind: 'unknown', message: `'${id}' is not a ${what} resource id`, resourceId: id });
  try {
    return observed(await reader(ctx, p, p.names[p.names.length - 1] ?? '', id));
  } catch (err) {
    return failed(toProbeError(err, `reading ${what} ${id}`, id));
  }
}

async function readRouteTable(ctx: ProbeContext, p: ArmId, name: string, id: string): Promise<RouteTableObs> {
  const rt = await ctx.azure.network(p.subscriptionId).routeTables.get(p.resourceGroup, name, { ...ctx.azure.call(ctx.signal) });
  return toRouteTableObs(rt, id);
}

async function readNsg(ctx: ProbeContext, p: ArmId, name: string, id: string): Promise<NsgObs> {
  const nsg = await ctx.azure.network(p.subscriptionId).networkSecurityGroups.get(p.resourceGroup, name, { ...ctx.azure.call(ctx.signal) });
  return toNsgObs(nsg, id);
}

async function readNatGateway(ctx: ProbeContext, p: ArmId, name: string, id: string): Promise<NatGatewayObs> {
  const ngw = await ctx.azure.network(p.subscriptionId).natGateways.get(p.resourceGroup, name, { ...ctx.azure.call(ctx.signal) });
  return toNatGatewayObs(ngw, id);
}

const lastName = (id: string): string => id.split('/').pop() ?? '';
const refIds = (refs: Array<{ id?: string }> | undefined): string[] => (refs ?? []).flatMap((r) => (r.id ? [r.id] : []));

export function toRouteTableObs(rt: RouteTable, requestedId: string): RouteTableObs {
  const id = rt.id ?? requestedId;
  return {
    id,
    name: rt.name ?? lastName(id),
    ...(rt.location ? { location: normalizeRegion(rt.location) } : {}),
    ...(rt.disableBgpRoutePropagation !== undefined ? { disableBgpRoutePropagation: rt.disableBgpRoutePropagation } : {}),
    routes: (rt.routes ?? []).map(toRouteObs),
  };
}

export function toRouteObs(r: Route): RouteObs {
  return {
    name: r.name ?? '',
    addressPrefix: r.addressPrefix ?? '',
    nextHopType: r.nextHopType ?? '',
    ...(r.nextHopIpAddress ? { nextHopIpAddress: r.nextHopIpAddress } : {}),
  };
}

/** Custom rules, then the defaults, as ARM returned them (an NSG without defaults keeps none: the engine adds them). */
export function toNsgObs(nsg: NetworkSecurityGroup, requestedId: string): NsgObs {
  const id = nsg.id ?? requestedId;
  return {
    id,
    name: nsg.name ?? lastName(id),
    ...(nsg.location ? { location: normalizeRegion(nsg.location) } : {}),
    rules: [...(nsg.securityRules ?? []).flatMap((r) => toSecurityRuleObs(r, false)), ...(nsg.defaultSecurityRules ?? []).flatMap((r) => toSecurityRuleObs(r, true))],
  };
}

const PROTOCOLS: Record<string, string> = { '*': '*', asterisk: '*', all: '*', any: '*', tcp: 'Tcp', udp: 'Udp', icmp: 'Icmp', esp: 'Esp', ah: 'Ah' };

export function normalizeProtocol(protocol: string | undefined): string {
  if (protocol === undefined) return '*';
  return PROTOCOLS[protocol.toLowerCase()] ?? protocol;
}

/** ARM splits each list into a singular and a plural field; one of them is set. */
function merged(single: string | undefined, plural: string[] | undefined): string[] {
  const out: string[] = [];
  for (const v of [...(single ? [single] : []), ...(plural ?? [])]) if (v && !out.includes(v)) out.push(v);
  return out;
}

function direction(d: string | undefined): SecurityRuleObs['direction'] | undefined {
  const v = d?.toLowerCase();
  return v === 'inbound' ? 'Inbound' : v === 'outbound' ? 'Outbound' : undefined;
}

function access(a: string | undefined): SecurityRuleObs['access'] | undefined {
  const v = a?.toLowerCase();
  return v === 'allow' ? 'Allow' : v === 'deny' ? 'Deny' : undefined;
}

/** One rule; ARM requires access, direction and priority, so a rule without them cannot occur and is left out. */
export function toSecurityRuleObs(r: SecurityRule, isDefault: boolean): SecurityRuleObs[] {
  const dir = direction(r.direction);
  const acc = access(r.access);
  if (!dir || !acc || r.priority === undefined) return [];
  return [
    {
      name: r.name ?? '',
      priority: r.priority,
      direction: dir,
      access: acc,
      protocol: normalizeProtocol(r.protocol),
      sourceAddressPrefixes: merged(r.sourceAddressPrefix, r.sourceAddressPrefixes),
      destinationAddressPrefixes: merged(r.destinationAddressPrefix, r.destinationAddressPrefixes),
      sourcePortRanges: merged(r.sourcePortRange, r.sourcePortRanges),
      destinationPortRanges: merged(r.destinationPortRange, r.destinationPortRanges),
      sourceApplicationSecurityGroupIds: refIds(r.sourceApplicationSecurityGroups),
      destinationApplicationSecurityGroupIds: refIds(r.destinationApplicationSecurityGroups),
      isDefault,
    },
  ];
}

export function toNatGatewayObs(ngw: NatGateway, requestedId: string): NatGatewayObs {
  const id = ngw.id ?? requestedId;
  return {
    id,
    name: ngw.name ?? lastName(id),
    ...(ngw.provisioningState ? { provisioningState: ngw.provisioningState } : {}),
    // IPv4 egress only: the V6 lists do not give the IPv4 flows a way out.
    publicIpAddressIds: refIds(ngw.publicIpAddresses),
    publicIpPrefixIds: refIds(ngw.publicIpPrefixes),
  };
}
