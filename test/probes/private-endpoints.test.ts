import t from 'tap';
import { probe } from '../../probes/private-endpoints.ts';
import { probe as workspaceProbe } from '../../probes/workspace.ts';
import type { ProbeContext } from '../../probes/probe.ts';
import type { ScenarioResource } from '../../src/sim/scenario.ts';
import { exactly, gets, snapshotWith, wire, withSim } from '../helpers/sim.ts';
import { API_FQDN, API_ZONE_ID, CERT_FQDN, HUB_ID, HUB_SUB, NB_FQDN, NB_IP, NB_ZONE_ID, NIC_ID, PE_ID, PE_IP, PE_SUBNET_ID, WS_GUID, WS_ID } from '../helpers/snapshot.ts';

const OTHER_PE = `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/privateEndpoints/pe-ws-second`;

function estate(): ScenarioResource[] {
  return [
    wire.workspace({ workspaceId: WS_GUID, publicNetworkAccess: 'Disabled', privateEndpointConnections: [wire.wsConnection(PE_ID)] }),
    wire.privateEndpoint(PE_ID, PE_SUBNET_ID, {
      privateLinkServiceConnections: [wire.plsConnection('pe-ws-demo', WS_ID, ['amlworkspace'])],
      manualPrivateLinkServiceConnections: [wire.plsConnection('pe-ws-demo-manual', WS_ID, ['amlworkspace'], 'Pending')],
      customDnsConfigs: [
        { fqdn: API_FQDN, ipAddresses: [PE_IP] },
        { fqdn: CERT_FQDN, ipAddresses: [PE_IP] },
        { fqdn: NB_FQDN, ipAddresses: [NB_IP] },
      ],
      networkInterfaces: [{ id: NIC_ID }],
    }),
    wire.nic(NIC_ID, [
      { ip: PE_IP, fqdns: [API_FQDN, CERT_FQDN] },
      { ip: NB_IP, fqdns: [NB_FQDN] },
    ]),
    wire.zoneGroup(PE_ID, 'default', [
      { name: 'api', zoneId: API_ZONE_ID, records: [{ recordSetName: `${WS_GUID}.workspace.eastus`, fqdn: `${WS_GUID}.workspace.eastus.privatelink.api.azureml.ms`, ipAddresses: [PE_IP] }] },
      { name: 'notebooks', zoneId: NB_ZONE_ID },
    ]),
  ];
}

/** Runs the workspace probe first, as the runner would. */
async function run(ctx: ProbeContext) {
  const snapshot = snapshotWith(ctx, { workspace: await workspaceProbe.run(ctx) });
  return probe.run(ctx, snapshot);
}

t.test('maps connections, DNS configs, NIC FQDNs and zone groups of the workspace endpoint', async (t) => {
  const { sim, ctx } = await withSim(t, estate());
  const out = await run(ctx);
  if (!out.ok) throw new Error(out.error.message);
  t.equal(out.value.endpoints.length, 1);
  const entry = out.value.endpoints[0];
  t.equal(entry?.id, PE_ID);
  if (!entry?.observed.ok) throw new Error('endpoint not read');
  const pe = entry.observed.value;
  t.match(pe, { id: PE_ID, name: 'pe-ws-demo', subscriptionId: HUB_SUB, resourceGroup: 'rg-hub', location: 'eastus', provisioningState: 'Succeeded', subnetId: PE_SUBNET_ID, vnetId: HUB_ID });
  t.same(pe.connections, [
    { name: 'pe-ws-demo', privateLinkServiceId: WS_ID, groupIds: ['amlworkspace'], status: 'Approved', description: 'Auto-Approved', manual: false },
    { name: 'pe-ws-demo-manual', privateLinkServiceId: WS_ID, groupIds: ['amlworkspace'], status: 'Pending', description: 'Auto-Approved', manual: true },
  ]);
  t.same(pe.customDnsConfigs, [
    { fqdn: API_FQDN, ipAddresses: [PE_IP] },
    { fqdn: CERT_FQDN, ipAddresses: [PE_IP] },
    { fqdn: NB_FQDN, ipAddresses: [NB_IP] },
  ]);
  t.same(pe.networkInterfaceIds, [NIC_ID]);
  t.same(pe.nicIpConfigurations, {
    ok: true,
    value: [
      { nicId: NIC_ID, privateIPAddress: PE_IP, fqdns: [API_FQDN, CERT_FQDN] },
      { nicId: NIC_ID, privateIPAddress: NB_IP, fqdns: [NB_FQDN] },
    ],
  });
  t.same(pe.zoneGroups, {
    ok: true,
    value: [
      {
        id: `${PE_ID}/privateDnsZoneGroups/default`,
        name: 'default',
        zoneConfigs: [
          { name: 'api', privateDnsZoneId: API_ZONE_ID, recordSets: [{ recordSetName: `${WS_GUID}.workspace.eastus`, recordType: 'A', fqdn: `${WS_GUID}.workspace.eastus.privatelink.api.azureml.ms`, ipAddresses: [PE_IP] }] },
          { name: 'notebooks', privateDnsZoneId: NB_ZONE_ID, recordSets: [] },
        ],
      },
    ],
  });
  t.equal(gets(sim, new RegExp(`^/subscriptions/${HUB_SUB}/.*/privateEndpoints/pe-ws-demo$`)).length, 1, 'read in the endpoint\'s own subscription');
});

t.test('an unreadable NIC fails only the NIC evidence', async (t) => {
  const { ctx } = await withSim(t, estate(), { faults: [{ path: exactly(NIC_ID), status: 403 }] });
  const out = await run(ctx);
  if (!out.ok) throw new Error(out.error.message);
  const pe = out.value.endpoints[0]?.observed;
  if (!pe?.ok) throw new Error('endpoint not read');
  t.match(pe.value.nicIpConfigurations, { ok: false, error: { kind: 'forbidden', resourceId: NIC_ID } });
  t.equal(pe.value.connections.length, 2, 'connections kept');
  t.equal(pe.value.customDnsConfigs.length, 3, 'custom DNS configs kept');
  t.equal(pe.value.zoneGroups.ok, true, 'zone groups kept');
});

t.test('an unreadable zone-group listing fails only the zone groups', async (t) => {
  const { ctx } = await withSim(t, estate(), { faults: [{ path: 'privateDnsZoneGroups$', status: 403 }] });
  const out = await run(ctx);
  if (!out.ok) throw new Error(out.error.message);
  const pe = out.value.endpoints[0]?.observed;
  if (!pe?.ok) throw new Error('endpoint not read');
  t.match(pe.value.zoneGroups, { ok: false, error: { kind: 'forbidden', resourceId: PE_ID } });
  t.equal(pe.value.nicIpConfigurations.ok, true, 'NIC evidence kept');
});

t.test('zone groups are read across pages', async (t) => {
  const groups = ['default', 'second', 'third'].map((name) => wire.zoneGroup(PE_ID, name, [{ name: 'api', zoneId: API_ZONE_ID }]));
  const { ctx } = await withSim(t, [...estate().filter((r) => !r.id.includes('privateDnsZoneGroups')), ...groups], { pageSize: 2 });
  const out = await run(ctx);
  if (!out.ok) throw new Error(out.error.message);
  const pe = out.value.endpoints[0]?.observed;
  if (!pe?.ok || !pe.value.zoneGroups.ok) throw new Error('zone groups not read');
  t.same(pe.value.zoneGroups.value.map((g) => g.name), ['default', 'second', 'third']);
});

t.test('each endpoint fails on its own; an endpoint named twice is read once', async (t) => {
  const resources = estate();
  resources[0] = wire.workspace({
    workspaceId: WS_GUID,
    privateEndpointConnections: [wire.wsConnection(PE_ID), wire.wsConnection(OTHER_PE, 'Disconnected'), wire.wsConnection(PE_ID.toUpperCase())],
  });
  const { sim, ctx } = await withSim(t, resources);
  const out = await run(ctx);
  if (!out.ok) throw new Error(out.error.message);
  t.same(out.value.endpoints.map((e) => [e.id, e.observed.ok]), [[PE_ID, true], [OTHER_PE, false]]);
  t.match(out.value.endpoints[1]?.observed, { ok: false, error: { kind: 'not-found', resourceId: OTHER_PE } });
  t.equal(gets(sim, /privateEndpoints\/pe-ws-demo$/i).length, 1);
});

t.test('is not attempted when the workspace could not be read', async (t) => {
  const { sim, ctx } = await withSim(t, estate());
  const snapshot = snapshotWith(ctx, { workspace: { ok: false, error: { kind: 'forbidden', message: '403 reading workspace' } } });
  const out = await probe.run(ctx, snapshot);
  t.match(out, { ok: false, error: { kind: 'skipped' } });
  t.equal(sim.requests.length, 0);
});

t.test('a workspace without private endpoints has none to read', async (t) => {
  const { ctx } = await withSim(t, [wire.workspace({ workspaceId: WS_GUID, publicNetworkAccess: 'Enabled' })]);
  const out = await run(ctx);
  t.same(out, { ok: true, value: { endpoints: [] } });
});
