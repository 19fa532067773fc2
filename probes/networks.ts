/**
 * Reads the virtual networks that decide the compute's path to the workspace: the VNet of every
 * compute subnet, the VNet of every workspace private endpoint, and every VNet a compute VNet
 * peers with. Each VNet is read once, in its own subscription, with its subnets and peerings;
 * a VNet that cannot be read (e.g. a hub in a subscription the caller cannot see) fails alone.
 */
import type { Subnet, VirtualNetwork, VirtualNetworkPeering } from '@azure/arm-network';
import type { Probe, ProbeContext } from './probe.ts';
import { idKey, parentId, tryParseArmId } from '../src/model/arm-id.ts';
import { normalizeRegion } from '../src/model/cloud.ts';
import { failed, observed, type NetworksObs, type Observed, type PeeringObs, type SubnetObs, type VnetObs } from '../src/model/snapshot.ts';
import { skipped, toProbeError } from '../src/azure/errors.ts';

type Role = NetworksObs['vnets'][number]['roles'][number];

interface Wanted {
  id: string;
  roles: Role[];
  observed?: Observed<VnetObs>;
}

export const probe = {
  id: 'networks',
  title: 'reading the virtual networks',
  needs: ['computes', 'privateEndpoints'],
  async run(ctx, snapshot) {
    const { computes, privateEndpoints } = snapshot;
    if (!computes?.ok && !privateEndpoints?.ok) {
      return failed(skipped('reading the virtual networks', 'neither the computes nor the private endpoints could be read', ctx.target.workspaceId));
    }
    const wanted = new Map<string, Wanted>();
    const want = (id: string, role: Role): void => {
      const entry = wanted.get(idKey(id)) ?? { id, roles: [] };
      if (!entry.roles.includes(role)) entry.roles.push(role);
      wanted.set(idKey(id), entry);
    };
    const readMissing = async (): Promise<void> => {
      const todo = [...wanted.values()].filter((w) => !w.observed);
      await Promise.all(todo.map(async (w) => (w.observed = await readVnet(ctx, w.id))));
    };

    for (const c of computes?.ok ? computes.value.computes : []) {
      if (c.subnetId) want(parentId(c.subnetId), 'compute');
    }
    for (const e of privateEndpoints?.ok ? privateEndpoints.value.endpoints : []) {
      if (e.observed.ok && e.observed.value.vnetId) want(e.observed.value.vnetId, 'private-endpoint');
    }
    await readMissing();

    // Peers of the compute VNets (a hub holding the private endpoint or the DNS resolver).
    for (const w of [...wanted.values()]) {
      if (!w.roles.includes('compute') || !w.observed?.ok) continue;
      for (const peering of w.observed.value.peerings) {
        if (peering.remoteVirtualNetworkId) want(peering.remoteVirtualNetworkId, 'peer');
      }
    }
    await readMissing();

    return observed({ vnets: [...wanted.values()].flatMap((w) => (w.observed ? [{ id: w.id, roles: w.roles, observed: w.observed }] : [])) });
  },
} satisfies Probe<'networks'>;

async function readVnet(ctx: ProbeContext, id: string): Promise<Observed<VnetObs>> {
  const p = tryParseArmId(id);
  if (!p) return failed({ kind: 'unknown', message: `'${id}' is not a virtual network resource id`, resourceId: id });
  const client = ctx.azure.network(p.subscriptionId);
  const name = p.names[p.names.length - 1] ?? '';
  let what = `reading virtual network ${id}`;
  try {
    const vnet = await client.virtualNetworks.get(p.resourceGroup, name, { ...ctx.azure.call(ctx.signal) });
    // GET embeds subnets and peerings; list them separately only when the body had none.
    what = `listing the subnets of virtual network ${id}`;
    const subnets = vnet.subnets ?? (await drain(client.subnets.list(p.resourceGroup, name, { ...ctx.azure.call(ctx.signal) })));
    what = `listing the peerings of virtual network ${id}`;
    const peerings = vnet.virtualNetworkPeerings ?? (await drain(client.virtualNetworkPeerings.list(p.resourceGroup, name, { ...ctx.azure.call(ctx.signal) })));
    const vnetId = vnet.id ?? id;
    return observed(toVnetObs(vnet, vnetId, p.subscriptionId, p.resourceGroup, subnets, peerings));
  } catch (err) {
    return failed(toProbeError(err, what, id));
  }
}

async function drain<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const ids = (refs: Array<{ id?: string }> | undefined): string[] => (refs ?? []).flatMap((r) => (r.id ? [r.id] : []));

function toVnetObs(v: VirtualNetwork, id: string, subscriptionId: string, resourceGroup: string, subnets: Subnet[], peerings: VirtualNetworkPeering[]): VnetObs {
  return {
    id,
    name: v.name ?? id.split('/').pop() ?? '',
    subscriptionId,
    resourceGroup,
    location: v.location ? normalizeRegion(v.location) : undefined,
    addressPrefixes: v.addressSpace?.addressPrefixes ?? [],
    dnsServers: v.dhcpOptions?.dnsServers ?? [],
    subnets: subnets.map((s) => toSubnetObs(s, id)),
    peerings: peerings.map(toPeeringObs),
  };
}

export function toSubnetObs(s: Subnet, vnetId: string): SubnetObs {
  return {
    id: s.id ?? `${vnetId}/subnets/${s.name ?? ''}`,
    name: s.name ?? '',
    vnetId,
    addressPrefixes: s.addressPrefixes?.length ? s.addressPrefixes : s.addressPrefix ? [s.addressPrefix] : [],
    networkSecurityGroupId: s.networkSecurityGroup?.id,
    routeTableId: s.routeTable?.id,
    natGatewayId: s.natGateway?.id,
    defaultOutboundAccess: s.defaultOutboundAccess,
    privateEndpointNetworkPolicies: s.privateEndpointNetworkPolicies,
    serviceEndpoints: (s.serviceEndpoints ?? []).flatMap((e) => (e.service ? [e.service] : [])),
    delegations: (s.delegations ?? []).flatMap((d) => (d.serviceName ? [d.serviceName] : d.name ? [d.name] : [])),
    privateEndpointIds: ids(s.privateEndpoints),
    ipConfigurationIds: ids(s.ipConfigurations),
  };
}

export function toPeeringObs(p: VirtualNetworkPeering): PeeringObs {
  return {
    id: p.id ?? '',
    name: p.name ?? '',
    remoteVirtualNetworkId: p.remoteVirtualNetwork?.id,
    peeringState: p.peeringState,
    peeringSyncLevel: p.peeringSyncLevel,
    allowVirtualNetworkAccess: p.allowVirtualNetworkAccess,
    allowForwardedTraffic: p.allowForwardedTraffic,
    allowGatewayTransit: p.allowGatewayTransit,
    useRemoteGateways: p.useRemoteGateways,
    // remoteAddressSpace is the peered address space as synced; the other is the remote VNet's own.
    remoteAddressPrefixes: p.remoteAddressSpace?.addressPrefixes ?? p.remoteVirtualNetworkAddressSpace?.addressPrefixes ?? [],
  };
}
