/**
 * A healthy snapshot to start rule tests from: a private workspace in eastus, one compute
 * instance in vnet-spoke (Azure DNS), peered both ways with vnet-hub, which holds the workspace
 * private endpoint; both private DNS zones in the hub, linked to hub and spoke, records correct,
 * live DNS answers correct. Tests copy it with `healthySnapshot()` and break one thing.
 */
import type { ARecordSetObs, DnsLookupObs, PrivateDnsZoneObs, PrivateEndpointObs, Snapshot, VnetLinkObs, VnetObs } from '../../src/model/snapshot.ts';

export const SUB = '11111111-1111-1111-1111-111111111111';
export const HUB_SUB = '22222222-2222-2222-2222-222222222222';
export const WS_GUID = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
export const WS_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws-demo`;
export const SPOKE_ID = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-spoke`;
export const SUBNET_ID = `${SPOKE_ID}/subnets/snet-compute`;
export const HUB_ID = `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/virtualNetworks/vnet-hub`;
export const PE_SUBNET_ID = `${HUB_ID}/subnets/snet-pe`;
export const PE_ID = `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/privateEndpoints/pe-ws-demo`;
export const NIC_ID = `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/networkInterfaces/pe-ws-demo.nic`;
export const ZONE_RG = `/subscriptions/${HUB_SUB}/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones`;
export const API_ZONE_ID = `${ZONE_RG}/privatelink.api.azureml.ms`;
export const NB_ZONE_ID = `${ZONE_RG}/privatelink.notebooks.azure.net`;
export const COMPUTE_ID = `${WS_ID}/computes/ci-alice`;
export const API_FQDN = `${WS_GUID}.workspace.eastus.api.azureml.ms`;
export const CERT_FQDN = `${WS_GUID}.workspace.eastus.cert.api.azureml.ms`;
export const NB_FQDN = `ml-ws-demo-eastus-${WS_GUID}.eastus.notebooks.azure.net`;
export const PE_IP = '10.10.1.4';
export const NB_IP = '10.10.1.5';
export const RESOLVER = '127.0.0.1:5353';

function record(zoneId: string, name: string, ips: string[]): ARecordSetObs {
  return { id: `${zoneId}/A/${name}`, name, fqdn: `${name}.${zoneId.split('/').pop()}.`, ttl: 10, ipv4Addresses: ips };
}

export function link(zoneId: string, vnetId: string, name: string): VnetLinkObs {
  return { id: `${zoneId}/virtualNetworkLinks/${name}`, name, virtualNetworkId: vnetId, registrationEnabled: false, virtualNetworkLinkState: 'Completed', provisioningState: 'Succeeded', resolutionPolicy: 'Default' };
}

function zone(id: string, records: ARecordSetObs[], links: VnetLinkObs[]): PrivateDnsZoneObs {
  return { id, name: id.split('/').pop() as string, subscriptionId: HUB_SUB, resourceGroup: 'rg-dns', aRecords: { ok: true, value: records }, links: { ok: true, value: links } };
}

export function lookup(name: string, purpose: DnsLookupObs['purpose'], addresses: string[], extra: Partial<DnsLookupObs> = {}): DnsLookupObs {
  return { name, purpose, resolver: RESOLVER, status: 'ok', cnames: [], addresses, ...extra };
}

export function healthySnapshot(): Snapshot {
  const spoke: VnetObs = {
    id: SPOKE_ID, name: 'vnet-spoke', subscriptionId: SUB, resourceGroup: 'rg-net', location: 'eastus',
    addressPrefixes: ['10.20.0.0/16'], dnsServers: [],
    subnets: [{ id: SUBNET_ID, name: 'snet-compute', vnetId: SPOKE_ID, addressPrefixes: ['10.20.1.0/24'], serviceEndpoints: [], delegations: [], privateEndpointIds: [], ipConfigurationIds: [] }],
    peerings: [{ id: `${SPOKE_ID}/virtualNetworkPeerings/spoke-to-hub`, name: 'spoke-to-hub', remoteVirtualNetworkId: HUB_ID, peeringState: 'Connected', peeringSyncLevel: 'FullyInSync', allowVirtualNetworkAccess: true, allowForwardedTraffic: true, useRemoteGateways: false, allowGatewayTransit: false, remoteAddressPrefixes: ['10.10.0.0/16'] }],
  };
  const hub: VnetObs = {
    id: HUB_ID, name: 'vnet-hub', subscriptionId: HUB_SUB, resourceGroup: 'rg-hub', location: 'eastus',
    addressPrefixes: ['10.10.0.0/16'], dnsServers: [],
    subnets: [{ id: PE_SUBNET_ID, name: 'snet-pe', vnetId: HUB_ID, addressPrefixes: ['10.10.1.0/24'], serviceEndpoints: [], delegations: [], privateEndpointIds: [PE_ID], ipConfigurationIds: [] }],
    peerings: [{ id: `${HUB_ID}/virtualNetworkPeerings/hub-to-spoke`, name: 'hub-to-spoke', remoteVirtualNetworkId: SPOKE_ID, peeringState: 'Connected', peeringSyncLevel: 'FullyInSync', allowVirtualNetworkAccess: true, allowForwardedTraffic: true, useRemoteGateways: false, allowGatewayTransit: true, remoteAddressPrefixes: ['10.20.0.0/16'] }],
  };
  const pe: PrivateEndpointObs = {
    id: PE_ID, name: 'pe-ws-demo', subscriptionId: HUB_SUB, resourceGroup: 'rg-hub', location: 'eastus', provisioningState: 'Succeeded',
    subnetId: PE_SUBNET_ID, vnetId: HUB_ID,
    connections: [{ name: 'pe-ws-demo', privateLinkServiceId: WS_ID, groupIds: ['amlworkspace'], status: 'Approved', manual: false }],
    customDnsConfigs: [{ fqdn: API_FQDN, ipAddresses: [PE_IP] }, { fqdn: CERT_FQDN, ipAddresses: [PE_IP] }, { fqdn: NB_FQDN, ipAddresses: [NB_IP] }],
    networkInterfaceIds: [NIC_ID],
    nicIpConfigurations: { ok: true, value: [{ nicId: NIC_ID, privateIPAddress: PE_IP, fqdns: [API_FQDN, CERT_FQDN] }, { nicId: NIC_ID, privateIPAddress: NB_IP, fqdns: [NB_FQDN] }] },
    zoneGroups: { ok: true, value: [{ id: `${PE_ID}/privateDnsZoneGroups/default`, name: 'default', zoneConfigs: [{ name: 'api', privateDnsZoneId: API_ZONE_ID, recordSets: [] }, { name: 'notebooks', privateDnsZoneId: NB_ZONE_ID, recordSets: [] }] }] },
  };
  const apiZone = zone(API_ZONE_ID, [record(API_ZONE_ID, `${WS_GUID}.workspace.eastus`, [PE_IP]), record(API_ZONE_ID, `${WS_GUID}.workspace.eastus.cert`, [PE_IP])], [link(API_ZONE_ID, HUB_ID, 'hub'), link(API_ZONE_ID, SPOKE_ID, 'spoke')]);
  const nbZone = zone(NB_ZONE_ID, [record(NB_ZONE_ID, `ml-ws-demo-eastus-${WS_GUID}.eastus`, [NB_IP])], [link(NB_ZONE_ID, HUB_ID, 'hub'), link(NB_ZONE_ID, SPOKE_ID, 'spoke')]);
  return {
    target: { workspaceId: WS_ID, computeName: 'ci-alice', subscriptions: [HUB_SUB], cloud: 'AzureCloud', dnsServers: [RESOLVER] },
    collectedAt: '2026-11-27T12:00:00.000Z',
    workspace: {
      ok: true,
      value: {
        id: WS_ID, name: 'ws-demo', subscriptionId: SUB, resourceGroup: 'rg-ml', location: 'eastus', workspaceGuid: WS_GUID,
        publicNetworkAccess: 'Disabled', allowPublicAccessWhenBehindVnet: false,
        privateEndpointConnections: [{ id: `${WS_ID}/privateEndpointConnections/pe-ws-demo`, name: 'pe-ws-demo', privateEndpointId: PE_ID, status: 'Approved', provisioningState: 'Succeeded' }],
        fqdns: { api: API_FQDN, cert: CERT_FQDN },
      },
    },
    computes: { ok: true, value: { computes: [{ id: COMPUTE_ID, name: 'ci-alice', computeType: 'ComputeInstance', location: 'eastus', provisioningState: 'Succeeded', state: 'Running', subnetId: SUBNET_ID, enableNodePublicIp: false, enableSSO: true }] } },
    privateEndpoints: { ok: true, value: { endpoints: [{ id: PE_ID, observed: { ok: true, value: pe } }] } },
    networks: { ok: true, value: { vnets: [{ id: SPOKE_ID, roles: ['compute'], observed: { ok: true, value: spoke } }, { id: HUB_ID, roles: ['private-endpoint', 'peer'], observed: { ok: true, value: hub } }] } },
    privateDnsZones: {
      ok: true,
      value: {
        requiredZoneNames: ['privatelink.api.azureml.ms', 'privatelink.notebooks.azure.net'],
        searches: [{ subscriptionId: SUB, why: 'workspace subscription', result: { ok: true, value: { zoneIds: [] } } }, { subscriptionId: HUB_SUB, why: 'private endpoint subscription', result: { ok: true, value: { zoneIds: [API_ZONE_ID, NB_ZONE_ID] } } }],
        zones: [
          { id: API_ZONE_ID, name: 'privatelink.api.azureml.ms', foundBy: ['zone-group', 'subscription-list'], observed: { ok: true, value: apiZone } },
          { id: NB_ZONE_ID, name: 'privatelink.notebooks.azure.net', foundBy: ['zone-group', 'subscription-list'], observed: { ok: true, value: nbZone } },
        ],
      },
    },
    dns: {
      ok: true,
      value: {
        resolvers: [RESOLVER],
        lookups: [
          lookup(API_FQDN, 'workspace-api', [PE_IP], { cnames: [`${WS_GUID}.workspace.eastus.privatelink.api.azureml.ms`] }),
          lookup(CERT_FQDN, 'workspace-cert', [PE_IP], { cnames: [`${WS_GUID}.workspace.eastus.cert.privatelink.api.azureml.ms`] }),
          lookup(NB_FQDN, 'notebooks', [NB_IP], { cnames: [`ml-ws-demo-eastus-${WS_GUID}.eastus.privatelink.notebooks.azure.net`] }),
          lookup('ci-alice.eastus.instances.azureml.ms', 'instance-name', [PE_IP], { computeName: 'ci-alice' }),
          lookup('ci-alice.eastus.instances.ml.azure.ms', 'instance-name', [PE_IP], { computeName: 'ci-alice' }),
        ],
      },
    },
  };
}

/** Deep copy, so a test can break one thing without touching the others. */
export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Narrowing helper for tests: the value of an Observed that must be ok. */
export function value<T>(o: { ok: true; value: T } | { ok: false } | undefined): T {
  if (!o || !o.ok) throw new Error('expected an ok observation');
  return o.value;
}
