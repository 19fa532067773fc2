import t from 'tap';
import { probe } from '../../probes/private-dns-zones.ts';
import { probe as workspace } from '../../probes/workspace.ts';
import { probe as computes } from '../../probes/computes.ts';
import { probe as privateEndpoints } from '../../probes/private-endpoints.ts';
import { probe as networks } from '../../probes/networks.ts';
import type { ProbeContext } from '../../probes/probe.ts';
import type { ScenarioResource } from '../../src/sim/scenario.ts';
import type { PrivateDnsZonesObs } from '../../src/model/snapshot.ts';
import { exactly, gets, hubAndSpoke, runProbes, wire, withSim } from '../helpers/sim.ts';
import { API_ZONE_ID, HUB_ID, HUB_SUB, NB_ZONE_ID, PE_ID, PE_IP, SPOKE_ID, SUB, WS_GUID } from '../helpers/snapshot.ts';

const DNS_SUB = '44444444-4444-4444-4444-444444444444';
const DNS_API_ZONE = `/subscriptions/${DNS_SUB}/resourceGroups/rg-central-dns/providers/Microsoft.Network/privateDnsZones/privatelink.api.azureml.ms`;
const BLOB_ZONE = `/subscriptions/${HUB_SUB}/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net`;
const REQUIRED = ['privatelink.api.azureml.ms', 'privatelink.notebooks.azure.net'];

async function run(ctx: ProbeContext): Promise<PrivateDnsZonesObs> {
  const snapshot = await runProbes(ctx, [workspace, computes, privateEndpoints, networks]);
  const out = await probe.run(ctx, snapshot);
  if (!out.ok) throw new Error(out.error.message);
  return out.value;
}

const zoneOf = (obs: PrivateDnsZonesObs, id: string) => obs.zones.find((z) => z.id.toLowerCase() === id.toLowerCase());

/** Replaces the endpoint's zone group with one pointing at `zoneIds`. */
function withZoneGroup(resources: ScenarioResource[], zoneIds: string[]): ScenarioResource[] {
  return [
    ...resources.filter((r) => !r.id.includes('/privateDnsZoneGroups/')),
    wire.zoneGroup(PE_ID, 'default', zoneIds.map((zoneId, i) => ({ name: `z${i}`, zoneId }))),
  ];
}

t.test('finds the required zones by zone group and by subscription listing, and reads records and links', async (t) => {
  const extra = [wire.zone(BLOB_ZONE), wire.link(BLOB_ZONE, 'hub', HUB_ID), wire.cnameRecord(API_ZONE_ID, 'alias', 'elsewhere.example.com')];
  const { sim, ctx } = await withSim(t, [...hubAndSpoke(), ...extra]);
  const obs = await run(ctx);
  t.same(obs.requiredZoneNames, REQUIRED);
  t.same(obs.searches, [
    { subscriptionId: SUB, why: 'workspace subscription; subscription of VNet vnet-spoke (compute)', result: { ok: true, value: { zoneIds: [] } } },
    { subscriptionId: HUB_SUB, why: 'subscription of VNet vnet-hub (private-endpoint, peer)', result: { ok: true, value: { zoneIds: [API_ZONE_ID, NB_ZONE_ID] } } },
  ]);
  t.same(
    obs.zones.map((z) => [z.id, z.name, z.foundBy]),
    [
      [API_ZONE_ID, 'privatelink.api.azureml.ms', ['zone-group', 'subscription-list']],
      [NB_ZONE_ID, 'privatelink.notebooks.azure.net', ['zone-group', 'subscription-list']],
    ],
    'the blob zone (another name) is ignored',
  );
  const api = zoneOf(obs, API_ZONE_ID)?.observed;
  if (!api?.ok) throw new Error('api zone not read');
  t.match(api.value, { id: API_ZONE_ID, name: 'privatelink.api.azureml.ms', subscriptionId: HUB_SUB, resourceGroup: 'rg-dns' });
  t.same(api.value.aRecords, {
    ok: true,
    value: [
      { id: `${API_ZONE_ID}/A/${WS_GUID}.workspace.eastus`, name: `${WS_GUID}.workspace.eastus`, fqdn: `${WS_GUID}.workspace.eastus.privatelink.api.azureml.ms.`, ttl: 10, ipv4Addresses: [PE_IP] },
      { id: `${API_ZONE_ID}/A/${WS_GUID}.workspace.eastus.cert`, name: `${WS_GUID}.workspace.eastus.cert`, fqdn: `${WS_GUID}.workspace.eastus.cert.privatelink.api.azureml.ms.`, ttl: 10, ipv4Addresses: [PE_IP] },
    ],
  }, 'A records only (the CNAME is not an A record)');
  t.same(api.value.links, {
    ok: true,
    value: [
      { id: `${API_ZONE_ID}/virtualNetworkLinks/hub`, name: 'hub', virtualNetworkId: HUB_ID, registrationEnabled: false, virtualNetworkLinkState: 'Completed', provisioningState: 'Succeeded', resolutionPolicy: undefined },
      { id: `${API_ZONE_ID}/virtualNetworkLinks/spoke`, name: 'spoke', virtualNetworkId: SPOKE_ID, registrationEnabled: false, virtualNetworkLinkState: 'Completed', provisioningState: 'Succeeded', resolutionPolicy: undefined },
    ],
  });
  t.equal(gets(sim, new RegExp(exactly(API_ZONE_ID), 'i')).length, 0, 'a zone the listing returned is not fetched again');
});

t.test('a zone only a zone group names is read with its own GET', async (t) => {
  const resources = withZoneGroup(hubAndSpoke(), [DNS_API_ZONE]);
  resources.push(wire.zone(DNS_API_ZONE), wire.aRecord(DNS_API_ZONE, `${WS_GUID}.workspace.eastus`, ['10.99.0.4']), wire.link(DNS_API_ZONE, 'spoke', SPOKE_ID, 'InProgress', { resolutionPolicy: 'NxDomainRedirect' }));
  const { sim, ctx } = await withSim(t, resources);
  const obs = await run(ctx);
  const zone = zoneOf(obs, DNS_API_ZONE);
  t.same(zone?.foundBy, ['zone-group'], 'its subscription was not searched');
  t.equal(obs.searches.some((s) => s.subscriptionId === DNS_SUB), false);
  if (!zone?.observed.ok) throw new Error('zone not read');
  t.match(zone.observed.value, { subscriptionId: DNS_SUB, resourceGroup: 'rg-central-dns' });
  t.match(zone.observed.value.aRecords, { ok: true, value: [{ name: `${WS_GUID}.workspace.eastus`, ipv4Addresses: ['10.99.0.4'] }] });
  t.match(zone.observed.value.links, { ok: true, value: [{ name: 'spoke', virtualNetworkLinkState: 'InProgress', resolutionPolicy: 'NxDomainRedirect' }] });
  t.equal(gets(sim, new RegExp(exactly(DNS_API_ZONE), 'i')).length, 1);
  t.ok(zoneOf(obs, API_ZONE_ID), 'zones of the hub subscription are still found by listing');
});

t.test('a zone group naming a zone that does not exist keeps a not-found for that zone', async (t) => {
  const { ctx } = await withSim(t, withZoneGroup(hubAndSpoke(), [DNS_API_ZONE]));
  const obs = await run(ctx);
  t.match(zoneOf(obs, DNS_API_ZONE), { foundBy: ['zone-group'], observed: { ok: false, error: { kind: 'not-found', resourceId: DNS_API_ZONE } } });
});

t.test('a forbidden subscription listing is recorded and the other subscriptions are still searched', async (t) => {
  const { ctx } = await withSim(t, hubAndSpoke(), {
    faults: [{ path: `^/subscriptions/${SUB}/providers/Microsoft.Network/privateDnsZones$`, status: 403 }],
  });
  const obs = await run(ctx);
  t.match(obs.searches.find((s) => s.subscriptionId === SUB)?.result, { ok: false, error: { kind: 'forbidden', resourceId: `/subscriptions/${SUB}` } });
  t.match(obs.searches.find((s) => s.subscriptionId === HUB_SUB)?.result, { ok: true, value: { zoneIds: [API_ZONE_ID, NB_ZONE_ID] } });
  t.equal(obs.zones.length, 2);
});

t.test('--subscription adds a search; a subscription named twice is searched once', async (t) => {
  const resources = [...hubAndSpoke(), wire.zone(DNS_API_ZONE), wire.link(DNS_API_ZONE, 'spoke', SPOKE_ID)];
  const { sim, ctx } = await withSim(t, resources, { target: { subscriptions: [DNS_SUB, HUB_SUB] } });
  const obs = await run(ctx);
  t.same(obs.searches.map((s) => [s.subscriptionId, s.why]), [
    [SUB, 'workspace subscription; subscription of VNet vnet-spoke (compute)'],
    [HUB_SUB, 'subscription of VNet vnet-hub (private-endpoint, peer); requested with --subscription'],
    [DNS_SUB, 'requested with --subscription'],
  ]);
  t.same(zoneOf(obs, DNS_API_ZONE)?.foundBy, ['subscription-list']);
  t.equal(gets(sim, new RegExp(`^/subscriptions/${HUB_SUB}/providers/Microsoft.Network/privateDnsZones$`, 'i')).length, 1);
});

t.test('record sets and zone listings are read across pages', async (t) => {
  const resources = [
    ...hubAndSpoke(),
    wire.aRecord(API_ZONE_ID, 'a1', ['10.10.1.10']),
    wire.aRecord(API_ZONE_ID, 'a2', ['10.10.1.11']),
    wire.zone(BLOB_ZONE),
    wire.zone(`/subscriptions/${HUB_SUB}/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/contoso.internal`),
  ];
  const { ctx } = await withSim(t, resources, { pageSize: 2 });
  const obs = await run(ctx);
  const api = zoneOf(obs, API_ZONE_ID)?.observed;
  if (!api?.ok || !api.value.aRecords.ok) throw new Error('records not read');
  t.equal(api.value.aRecords.value.length, 4);
  t.same(obs.zones.map((z) => z.name), REQUIRED);
});

t.test('an unreadable record listing fails only that zone\'s records', async (t) => {
  const { ctx } = await withSim(t, hubAndSpoke(), { faults: [{ path: `${exactly(API_ZONE_ID).slice(0, -1)}/A$`, status: 403 }] });
  const obs = await run(ctx);
  const api = zoneOf(obs, API_ZONE_ID)?.observed;
  if (!api?.ok) throw new Error('zone not read');
  t.match(api.value.aRecords, { ok: false, error: { kind: 'forbidden', resourceId: API_ZONE_ID } });
  t.equal(api.value.links.ok, true, 'links kept');
  const nb = zoneOf(obs, NB_ZONE_ID)?.observed;
  t.equal(nb?.ok && nb.value.aRecords.ok, true, 'the other zone is untouched');
});
