/**
 * The hops at either end of a path: the live DNS answer for a private endpoint name (§2.1), the
 * peering into the destination's VNet (§2.5), and the destination itself (§2.6): endpoint approval,
 * dependency network rules and SKU, the workspace's public access.
 */
import { idKey, nameOf, sameId } from '../model/arm-id.ts';
import type { DependencyObs, PeeringObs, WorkspaceObs } from '../model/snapshot.ts';
import { ipToInt, isPrivateAddress } from '../net/cidr.ts';
import type { RouteEntry } from '../net/routes.ts';
import type { FlowHop } from '../report/schema.ts';
import { findVnet, isMissing, type SubnetContext } from './context.ts';
import type { EndpointCandidate, EndpointTarget } from './model.ts';
import { peeringFor } from './route-hop.ts';

export interface DnsResult {
  hop: FlowHop;
  /** Addresses the lookups answered. */
  answers: string[];
}

/** The live lookups of `fqdn` judged against the endpoint addresses it must resolve to. */
export function dnsHop(ctx: SubnetContext, fqdn: string, expected: string[], unreadable?: string): DnsResult {
  const dns = ctx.snapshot.dns;
  const base = { kind: 'dns' as const, element: fqdn };
  if (!dns?.ok) return { hop: { ...base, detail: `Live DNS for ${fqdn} is unknown: ${dns ? dns.error.message : 'the DNS probe did not run'}.`, verdict: 'undetermined', reason: 'evidence-missing' }, answers: [] };
  const name = fqdn.toLowerCase();
  const lookups = dns.value.lookups.filter((l) => l.name.toLowerCase() === name);
  if (lookups.length === 0) return { hop: { ...base, detail: `No live lookup of ${fqdn} was made.`, verdict: 'undetermined', reason: 'evidence-missing' }, answers: [] };
  const answers = [...new Set(lookups.flatMap((l) => l.addresses))];
  for (const l of lookups) {
    const via = `resolver ${l.resolver}`;
    if (l.status !== 'ok' || l.addresses.length === 0) {
      return { hop: { ...base, detail: `${fqdn} does not resolve through ${via}: ${l.status}${l.message ? ` (${l.message})` : ''}.`, verdict: 'blocked', reason: 'dns-failed' }, answers };
    }
    const isPublic = l.addresses.some((a) => {
      const n = ipToInt(a);
      return n !== undefined && !isPrivateAddress(n);
    });
    if (isPublic) return { hop: { ...base, detail: `${fqdn} resolves to public address ${l.addresses.join(', ')} through ${via}, not to its private endpoint${expected.length > 0 ? ` (${expected.join(', ')})` : ''}.`, verdict: 'blocked', reason: 'dns-wrong-address' }, answers };
    if (expected.length > 0 && !l.addresses.some((a) => expected.includes(a))) {
      return { hop: { ...base, detail: `${fqdn} resolves to ${l.addresses.join(', ')} through ${via}, not to its private endpoint address ${expected.join(', ')}.`, verdict: 'blocked', reason: 'dns-wrong-address' }, answers };
    }
  }
  if (expected.length === 0) return { hop: { ...base, detail: `${fqdn} resolves to ${answers.join(', ')}, but the endpoint address it should resolve to is unknown: ${unreadable ?? 'no endpoint serves it'}.`, verdict: 'undetermined', reason: 'evidence-missing' }, answers };
  return { hop: { ...base, detail: `${fqdn} resolves to the private endpoint address ${answers.filter((a) => expected.includes(a)).join(', ')}.`, verdict: 'allowed' }, answers };
}

const peeringWorks = (p: PeeringObs | undefined): boolean => !!p && p.peeringState === 'Connected' && p.allowVirtualNetworkAccess !== false;
const peeringState = (p: PeeringObs): string => `${p.peeringState ?? 'in an unknown state'}${p.allowVirtualNetworkAccess === false ? ' with virtual network access disallowed' : ''}`;

/** The peering into the VNet that holds `ip`, both directions; undefined when no peering is crossed. */
export function peeringHop(ctx: SubnetContext, ip: number, label: string, notes: string[]): FlowHop | undefined {
  const p = peeringFor(ctx, ip);
  if (!p || isMissing(ctx.vnet)) return undefined;
  const vnet = ctx.vnet;
  const remoteName = p.remoteVirtualNetworkId ? nameOf(p.remoteVirtualNetworkId) : 'the remote network';
  if (!peeringWorks(p)) {
    return { kind: 'peering', resourceId: p.id, element: `virtualNetworkPeerings/${p.name}`, detail: `${label} lies in ${remoteName}, but peering ${p.name} of ${vnet.name} is ${peeringState(p)}.`, verdict: 'blocked', reason: 'peering-not-connected' };
  }
  if (!p.remoteVirtualNetworkId) {
    notes.push(`peering ${p.name} names no remote virtual network: the peering back was not checked`);
    return { kind: 'peering', resourceId: p.id, element: `virtualNetworkPeerings/${p.name}`, detail: `Peering ${p.name} to ${remoteName} is Connected.`, verdict: 'allowed' };
  }
  const remote = findVnet(ctx.snapshot, p.remoteVirtualNetworkId);
  if (isMissing(remote)) {
    notes.push(`${remote.missing}: the peering back to ${vnet.name} was not checked`);
    return { kind: 'peering', resourceId: p.id, element: `virtualNetworkPeerings/${p.name}`, detail: `Peering ${p.name} to ${remoteName} is Connected with virtual network access allowed (the peering back could not be read).`, verdict: 'allowed' };
  }
  const back = remote.peerings.find((x) => sameId(x.remoteVirtualNetworkId, vnet.id));
  if (!back || !peeringWorks(back)) {
    const state = back ? `peering ${back.name} back is ${peeringState(back)}` : `${remote.name} has no peering back to ${vnet.name}`;
    return { kind: 'peering', resourceId: back?.id ?? remote.id, element: back ? `virtualNetworkPeerings/${back.name}` : `virtualNetworkPeerings (${remote.name})`, detail: `${label} lies in ${remote.name}: peering ${p.name} is Connected, but ${state}.`, verdict: 'blocked', reason: 'peering-not-connected' };
  }
  return { kind: 'peering', resourceId: p.id, element: `virtualNetworkPeerings/${p.name}`, detail: `Peering ${p.name} to ${remote.name} is Connected with virtual network access allowed, and so is ${back.name} back.`, verdict: 'allowed' };
}

/** A private endpoint destination: its connection must be Approved. */
export function endpointDestinationHop(target: EndpointTarget, candidate: EndpointCandidate | undefined): FlowHop {
  const owner = target.owner.kind === 'workspace' ? `workspace ${nameOf(target.owner.resourceId)}` : `${target.owner.dependency.name}`;
  if (!candidate) return { kind: 'destination', ...(target.owner.kind === 'workspace' ? { resourceId: target.owner.resourceId } : { resourceId: target.owner.dependency.id }), detail: `The private endpoint of ${owner} for ${target.fqdns.join(', ')} is unknown: ${target.unreadable ?? 'no endpoint serves it'}.`, verdict: 'undetermined', reason: 'evidence-missing' };
  const element = `privateEndpointConnections (${candidate.name}): ${candidate.status ?? 'unknown'}`;
  if (candidate.status !== 'Approved') {
    return { kind: 'destination', resourceId: candidate.id, element, detail: `The connection of private endpoint ${candidate.name} to ${owner} is ${candidate.status ?? 'in an unknown state'}, not Approved: it carries no traffic.`, verdict: 'blocked', reason: 'endpoint-not-approved' };
  }
  return { kind: 'destination', resourceId: candidate.id, element, detail: `Private endpoint ${candidate.name} (${candidate.ip}) of ${owner} is Approved.`, verdict: 'allowed' };
}

const SERVICE_ENDPOINT: Record<DependencyObs['kind'], string> = { storage: 'Microsoft.Storage', 'key-vault': 'Microsoft.KeyVault', 'container-registry': 'Microsoft.ContainerRegistry' };

/** A dependency reached on its public address (a tag, possibly through a service endpoint): its network rules. */
export function dependencyDestinationHop(ctx: SubnetContext, dep: DependencyObs, entry: RouteEntry | undefined): FlowHop {
  const base = { kind: 'destination' as const, resourceId: dep.id };
  const net = dep.network;
  const restricted = (net.publicNetworkAccess ?? 'Enabled').toLowerCase() !== 'enabled' || (net.defaultAction ?? 'Allow').toLowerCase() === 'deny' || dep.privateEndpoints.length > 0;
  if (dep.kind === 'container-registry' && restricted && dep.sku && dep.sku.toLowerCase() !== 'premium') {
    return { ...base, element: `sku ${dep.sku}`, detail: `Registry ${dep.name} is ${dep.sku}, but network restrictions and private endpoints need Premium.`, verdict: 'blocked', reason: 'destination-sku' };
  }
  if (net.publicNetworkAccess && net.publicNetworkAccess.toLowerCase() !== 'enabled') {
    return { ...base, element: `publicNetworkAccess ${net.publicNetworkAccess}`, detail: `${dep.name} has public network access ${net.publicNetworkAccess} and the compute reaches it on its public address (no approved private endpoint).`, verdict: 'blocked', reason: 'destination-network-rules' };
  }
  if ((net.defaultAction ?? 'Allow').toLowerCase() !== 'deny') return { ...base, element: `defaultAction ${net.defaultAction ?? 'Allow'}`, detail: `${dep.name} accepts traffic from all networks.`, verdict: 'allowed' };
  const se = SERVICE_ENDPOINT[dep.kind];
  const subnet = ctx.subnet;
  const ruled = net.virtualNetworkSubnetIds.some((id) => idKey(id) === idKey(ctx.subnetId));
  const hasSe = !isMissing(subnet) && subnet.serviceEndpoints.some((s) => s.toLowerCase() === se.toLowerCase());
  const viaSe = entry?.nextHopType.toLowerCase() === 'virtualnetworkserviceendpoint';
  if (ruled && hasSe && (viaSe || entry === undefined)) return { ...base, element: `virtualNetworkRules (${ctx.subnetName})`, detail: `${dep.name} denies by default but admits subnet ${ctx.subnetName}, which has the ${se} service endpoint.`, verdict: 'allowed' };
  if (isMissing(subnet) && ruled) return { ...base, detail: `${dep.name} admits subnet ${ctx.subnetName}, but whether the subnet has the ${se} service endpoint is unknown: ${subnet.missing}.`, verdict: 'undetermined', reason: 'evidence-missing' };
  const missingWhat = !ruled ? `no virtual network rule for subnet ${ctx.subnetName}` : !hasSe ? `subnet ${ctx.subnetName} has no ${se} service endpoint` : 'the traffic does not take the service endpoint route';
  if (net.ipRules.length > 0) {
    return { ...base, element: `ipRules (${net.ipRules.length})`, detail: `${dep.name} denies by default (${missingWhat}); its IP rules (${net.ipRules.join(', ')}) cannot be matched because the compute's egress address is unknown.`, verdict: 'undetermined', reason: 'not-evaluable' };
  }
  return { ...base, element: 'networkAcls.defaultAction Deny', detail: `${dep.name} denies traffic by default and nothing admits the compute: ${missingWhat}, and no approved private endpoint.`, verdict: 'blocked', reason: 'destination-network-rules' };
}

/** The workspace reached on its public address (no private endpoint). */
export function workspaceDestinationHop(ws: WorkspaceObs): FlowHop {
  if ((ws.publicNetworkAccess ?? 'Enabled').toLowerCase() === 'disabled') {
    return { kind: 'destination', resourceId: ws.id, element: 'publicNetworkAccess Disabled', detail: `Workspace ${ws.name} has public network access disabled and no private endpoint: its public address refuses the compute.`, verdict: 'blocked', reason: 'destination-network-rules' };
  }
  return { kind: 'destination', resourceId: ws.id, detail: `Workspace ${ws.name} accepts traffic on its public address.`, verdict: 'allowed' };
}
