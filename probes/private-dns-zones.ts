/**
 * Finds the private DNS zones that can answer the workspace names: every zone a workspace
 * private endpoint's zone group references, plus every zone of a required name
 * (`privatelink.api.azureml.ms`, `privatelink.notebooks.azure.net`, …) listed in the subscriptions
 * of the workspace, of the VNets read, and of any --subscription. For each zone it reads the A
 * record sets and the virtual network links. Each listing, zone, record list and link list fails
 * on its own.
 */
import type { PrivateZone, RecordSet, VirtualNetworkLink } from '@azure/arm-privatedns';
import type { Probe, ProbeContext } from './probe.ts';
import { idKey, nameOf, parentId, tryParseArmId } from '../src/model/arm-id.ts';
import { requiredZoneNames } from '../src/model/cloud.ts';
import {
  failed,
  observed,
  type ARecordSetObs,
  type Observed,
  type PrivateDnsZoneObs,
  type PrivateDnsZonesObs,
  type Snapshot,
  type VnetLinkObs,
} from '../src/model/snapshot.ts';
import { toProbeError } from '../src/azure/errors.ts';

type FoundBy = PrivateDnsZonesObs['zones'][number]['foundBy'][number];

interface ZoneRef {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
}

interface ZoneLead {
  id: string;
  foundBy: FoundBy[];
  /** The zone as a subscription listing returned it; absent when only a zone group named it. */
  listed?: PrivateZone;
}

export const probe = {
  id: 'privateDnsZones',
  title: 'reading the private DNS zones',
  needs: ['privateEndpoints', 'networks'],
  async run(ctx, snapshot) {
    const required = requiredZoneNames(ctx.cloud);
    const leads = new Map<string, ZoneLead>();
    const lead = (id: string, by: FoundBy, listed?: PrivateZone): void => {
      const entry = leads.get(idKey(id)) ?? { id, foundBy: [] };
      if (!entry.foundBy.includes(by)) entry.foundBy.push(by);
      if (listed) entry.listed = listed;
      leads.set(idKey(id), entry);
    };
    for (const id of zoneGroupZoneIds(snapshot)) lead(id, 'zone-group');

    const listings = await Promise.all(
      subscriptionsToSearch(ctx, snapshot).map(async (s) => ({ ...s, result: await listRequiredZones(ctx, s.subscriptionId, required) })),
    );
    // Leads are added in search order (not completion order) so the output is stable.
    for (const { result } of listings) if (result.ok) for (const z of result.value) lead(z.id ?? '', 'subscription-list', z);
    const searches = listings.map(({ subscriptionId, why, result }) => ({
      subscriptionId,
      why,
      result: result.ok ? observed({ zoneIds: result.value.map((z) => z.id ?? '') }) : result,
    }));

    const zones = await Promise.all(
      [...leads.values()].map(async (l) => ({ id: l.id, name: l.listed?.name ?? nameOf(l.id), foundBy: l.foundBy, observed: await readZone(ctx, l) })),
    );
    return observed({ requiredZoneNames: required, searches, zones });
  },
} satisfies Probe<'privateDnsZones'>;

/** Zones named by the zone groups of the workspace private endpoints. */
function zoneGroupZoneIds(snapshot: Readonly<Snapshot>): string[] {
  const pes = snapshot.privateEndpoints;
  if (!pes?.ok) return [];
  return pes.value.endpoints.flatMap((e) =>
    e.observed.ok && e.observed.value.zoneGroups.ok ? e.observed.value.zoneGroups.value.flatMap((g) => g.zoneConfigs.map((zc) => zc.privateDnsZoneId)) : [],
  );
}

/** Each subscription once, with every reason it is searched. */
export function subscriptionsToSearch(ctx: Pick<ProbeContext, 'target'>, snapshot: Readonly<Snapshot>): Array<{ subscriptionId: string; why: string }> {
  const subs = new Map<string, { subscriptionId: string; why: string[] }>();
  const add = (sub: string | undefined, why: string): void => {
    if (!sub) return;
    const entry = subs.get(sub.toLowerCase()) ?? { subscriptionId: sub.toLowerCase(), why: [] };
    if (!entry.why.includes(why)) entry.why.push(why);
    subs.set(sub.toLowerCase(), entry);
  };
  const ws = snapshot.workspace;
  add(ws?.ok ? ws.value.subscriptionId : tryParseArmId(ctx.target.workspaceId)?.subscriptionId, 'workspace subscription');
  // The compute VNets come from the computes too, so they are searched even when networks failed.
  const vnets = new Map<string, { id: string; roles: string[] }>();
  const vnet = (id: string, roles: string[]): void => {
    const entry = vnets.get(idKey(id)) ?? { id, roles: [] };
    for (const r of roles) if (!entry.roles.includes(r)) entry.roles.push(r);
    vnets.set(idKey(id), entry);
  };
  const computes = snapshot.computes;
  for (const c of computes?.ok ? computes.value.computes : []) if (c.subnetId) vnet(parentId(c.subnetId), ['compute']);
  const networks = snapshot.networks;
  for (const v of networks?.ok ? networks.value.vnets : []) vnet(v.id, v.roles);
  for (const v of vnets.values()) add(tryParseArmId(v.id)?.subscriptionId, `subscription of VNet ${nameOf(v.id)} (${v.roles.join(', ')})`);
  for (const sub of ctx.target.subscriptions) add(sub, 'requested with --subscription');
  return [...subs.values()].map((s) => ({ subscriptionId: s.subscriptionId, why: s.why.join('; ') }));
}

async function listRequiredZones(ctx: ProbeContext, subscriptionId: string, required: string[]): Promise<Observed<PrivateZone[]>> {
  const names = new Set(required.map((n) => n.toLowerCase()));
  const found: PrivateZone[] = [];
  try {
    for await (const zone of ctx.azure.privateDns(subscriptionId).privateZones.list({ ...ctx.azure.call(ctx.signal) })) {
      if (zone.id && zone.name && names.has(zone.name.toLowerCase())) found.push(zone);
    }
  } catch (err) {
    return failed(toProbeError(err, `listing the private DNS zones of subscription ${subscriptionId}`, `/subscriptions/${subscriptionId}`));
  }
  return observed(found);
}

async function readZone(ctx: ProbeContext, lead: ZoneLead): Promise<Observed<PrivateDnsZoneObs>> {
  const p = tryParseArmId(lead.id);
  if (!p) return failed({ kind: 'unknown', message: `'${lead.id}' is not a private DNS zone resource id`, resourceId: lead.id });
  const client = ctx.azure.privateDns(p.subscriptionId);
  let zone = lead.listed;
  if (!zone) {
    try {
      zone = await client.privateZones.get(p.resourceGroup, nameOf(lead.id), { ...ctx.azure.call(ctx.signal) });
    } catch (err) {
      return failed(toProbeError(err, `reading private DNS zone ${lead.id}`, lead.id));
    }
  }
  const ref: ZoneRef = { id: zone.id ?? lead.id, name: zone.name ?? nameOf(lead.id), subscriptionId: p.subscriptionId, resourceGroup: p.resourceGroup };
  const [aRecords, links] = await Promise.all([readARecords(ctx, ref), readLinks(ctx, ref)]);
  return observed({ ...ref, aRecords, links });
}

async function readARecords(ctx: ProbeContext, zone: ZoneRef): Promise<Observed<ARecordSetObs[]>> {
  const out: ARecordSetObs[] = [];
  try {
    const records = ctx.azure.privateDns(zone.subscriptionId).recordSets.listByType(zone.resourceGroup, zone.name, 'A', { ...ctx.azure.call(ctx.signal) });
    for await (const rs of records) out.push(toARecordSet(rs, zone.id));
  } catch (err) {
    return failed(toProbeError(err, `listing the A records of private DNS zone ${zone.id}`, zone.id));
  }
  return observed(out);
}

async function readLinks(ctx: ProbeContext, zone: ZoneRef): Promise<Observed<VnetLinkObs[]>> {
  const out: VnetLinkObs[] = [];
  try {
    const links = ctx.azure.privateDns(zone.subscriptionId).virtualNetworkLinks.list(zone.resourceGroup, zone.name, { ...ctx.azure.call(ctx.signal) });
    for await (const link of links) out.push(toVnetLink(link, zone.id));
  } catch (err) {
    return failed(toProbeError(err, `listing the virtual network links of private DNS zone ${zone.id}`, zone.id));
  }
  return observed(out);
}

export function toARecordSet(rs: RecordSet, zoneId: string): ARecordSetObs {
  const name = rs.name ?? '';
  return {
    id: rs.id ?? `${zoneId}/A/${name}`,
    name,
    fqdn: rs.fqdn,
    ttl: rs.ttl,
    ipv4Addresses: (rs.aRecords ?? []).flatMap((a) => (a.ipv4Address ? [a.ipv4Address] : [])),
  };
}

export function toVnetLink(l: VirtualNetworkLink, zoneId: string): VnetLinkObs {
  const name = l.name ?? '';
  return {
    id: l.id ?? `${zoneId}/virtualNetworkLinks/${name}`,
    name,
    virtualNetworkId: l.virtualNetwork?.id,
    registrationEnabled: l.registrationEnabled,
    virtualNetworkLinkState: l.virtualNetworkLinkState,
    provisioningState: l.provisioningState,
    resolutionPolicy: l.resolutionPolicy,
  };
}
