/**
 * Reads every private endpoint the workspace's private endpoint connections point at: its
 * connections, the FQDN -> IP pairs it serves (customDnsConfigs and its NICs), and its private
 * DNS zone groups. Each endpoint is read in its own subscription; a failed endpoint, NIC or
 * zone-group listing is recorded where it happened and the rest is kept.
 */
import type { NetworkInterface, PrivateDnsZoneGroup, PrivateEndpoint, PrivateLinkServiceConnection } from '@azure/arm-network';
import type { Probe, ProbeContext } from './probe.ts';
import { idKey, parentId, tryParseArmId, type ArmId } from '../src/model/arm-id.ts';
import { normalizeRegion } from '../src/model/cloud.ts';
import {
  failed,
  observed,
  type Observed,
  type PrivateDnsZoneGroupObs,
  type PrivateEndpointObs,
  type PrivateLinkConnectionObs,
} from '../src/model/snapshot.ts';
import { skipped, toProbeError } from '../src/azure/errors.ts';

type NicIpConfigurations = PrivateEndpointObs['nicIpConfigurations'];

export const probe = {
  id: 'privateEndpoints',
  title: 'reading the workspace private endpoints',
  needs: ['workspace'],
  async run(ctx, snapshot) {
    const workspace = snapshot.workspace;
    if (!workspace?.ok) {
      return failed(skipped('reading the workspace private endpoints', 'the workspace could not be read', ctx.target.workspaceId));
    }
    const ids = new Map<string, string>();
    for (const c of workspace.value.privateEndpointConnections) {
      if (c.privateEndpointId && !ids.has(idKey(c.privateEndpointId))) ids.set(idKey(c.privateEndpointId), c.privateEndpointId);
    }
    const endpoints = await Promise.all([...ids.values()].map(async (id) => ({ id, observed: await readEndpoint(ctx, id) })));
    return observed({ endpoints });
  },
} satisfies Probe<'privateEndpoints'>;

async function readEndpoint(ctx: ProbeContext, id: string): Promise<Observed<PrivateEndpointObs>> {
  const p = tryParseArmId(id);
  if (!p) return failed({ kind: 'unknown', message: `'${id}' is not a private endpoint resource id`, resourceId: id });
  const client = ctx.azure.network(p.subscriptionId);
  const name = p.names[p.names.length - 1] ?? '';
  let pe: PrivateEndpoint;
  try {
    pe = await client.privateEndpoints.get(p.resourceGroup, name, { ...ctx.azure.call(ctx.signal) });
  } catch (err) {
    return failed(toProbeError(err, `reading private endpoint ${id}`, id));
  }
  const nicIds = (pe.networkInterfaces ?? []).flatMap((n) => (n.id ? [n.id] : []));
  const [nicIpConfigurations, zoneGroups] = await Promise.all([readNics(ctx, nicIds), readZoneGroups(ctx, id, p)]);
  const subnetId = pe.subnet?.id;
  return observed({
    id: pe.id ?? id,
    name: pe.name ?? name,
    subscriptionId: p.subscriptionId,
    resourceGroup: p.resourceGroup,
    location: pe.location ? normalizeRegion(pe.location) : undefined,
    provisioningState: pe.provisioningState,
    subnetId,
    vnetId: subnetId ? parentId(subnetId) : undefined,
    connections: [
      ...(pe.privateLinkServiceConnections ?? []).map((c) => toConnection(c, false)),
      ...(pe.manualPrivateLinkServiceConnections ?? []).map((c) => toConnection(c, true)),
    ],
    customDnsConfigs: (pe.customDnsConfigs ?? []).flatMap((d) => (d.fqdn ? [{ fqdn: d.fqdn, ipAddresses: d.ipAddresses ?? [] }] : [])),
    networkInterfaceIds: nicIds,
    nicIpConfigurations,
    zoneGroups,
  });
}

function toConnection(c: PrivateLinkServiceConnection, manual: boolean): PrivateLinkConnectionObs {
  return {
    name: c.name ?? '',
    privateLinkServiceId: c.privateLinkServiceId,
    groupIds: c.groupIds ?? [],
    status: c.privateLinkServiceConnectionState?.status,
    description: c.privateLinkServiceConnectionState?.description,
    manual,
  };
}

/** The endpoint's NICs, each in its own subscription. One unreadable NIC fails the whole list (it would be incomplete). */
async function readNics(ctx: ProbeContext, nicIds: string[]): Promise<NicIpConfigurations> {
  const results = await Promise.all(nicIds.map((nicId) => readNic(ctx, nicId)));
  const configs: Array<{ nicId: string; privateIPAddress?: string; fqdns: string[] }> = [];
  for (const r of results) {
    if (!r.ok) return r;
    configs.push(...r.value);
  }
  return observed(configs);
}

async function readNic(ctx: ProbeContext, nicId: string): Promise<NicIpConfigurations> {
  const p = tryParseArmId(nicId);
  if (!p) return failed({ kind: 'unknown', message: `'${nicId}' is not a network interface resource id`, resourceId: nicId });
  let nic: NetworkInterface;
  try {
    nic = await ctx.azure.network(p.subscriptionId).networkInterfaces.get(p.resourceGroup, p.names[p.names.length - 1] ?? '', { ...ctx.azure.call(ctx.signal) });
  } catch (err) {
    return failed(toProbeError(err, `reading network interface ${nicId}`, nicId));
  }
  return observed(
    (nic.ipConfigurations ?? []).map((c) => ({
      nicId: nic.id ?? nicId,
      privateIPAddress: c.privateIPAddress,
      fqdns: c.privateLinkConnectionProperties?.fqdns ?? [],
    })),
  );
}

async function readZoneGroups(ctx: ProbeContext, peId: string, pe: ArmId): Promise<Observed<PrivateDnsZoneGroupObs[]>> {
  const groups: PrivateDnsZoneGroupObs[] = [];
  const peName = pe.names[pe.names.length - 1] ?? '';
  try {
    for await (const g of ctx.azure.network(pe.subscriptionId).privateDnsZoneGroups.list(pe.resourceGroup, peName, { ...ctx.azure.call(ctx.signal) })) {
      groups.push(toZoneGroup(g));
    }
  } catch (err) {
    return failed(toProbeError(err, `listing the private DNS zone groups of ${peId}`, peId));
  }
  return observed(groups);
}

function toZoneGroup(g: PrivateDnsZoneGroup): PrivateDnsZoneGroupObs {
  return {
    id: g.id ?? '',
    name: g.name ?? '',
    zoneConfigs: (g.privateDnsZoneConfigs ?? []).flatMap((zc) =>
      zc.privateDnsZoneId
        ? [
            {
              name: zc.name,
              privateDnsZoneId: zc.privateDnsZoneId,
              recordSets: (zc.recordSets ?? []).map((rs) => ({
                recordSetName: rs.recordSetName,
                recordType: rs.recordType,
                fqdn: rs.fqdn,
                ipAddresses: rs.ipAddresses ?? [],
              })),
            },
          ]
        : [],
    ),
  };
}
