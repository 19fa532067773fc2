/**
 * Probe tests run the real SDK clients against the simulated ARM. `withSim` starts it with the
 * given wire-JSON resources and builds the ProbeContext the probes get in production (only the
 * endpoint, CA and token differ). `wire` builds resources exactly as ARM returns them
 * (`properties` not flattened), shaped after ../../../shared/azure-spec-examples.
 */
import type { Test } from 'tap';
import { pino } from 'pino';
import { startArmSimulator, type ArmSimulator, type RecordedRequest } from '../../src/sim/arm-server.ts';
import type { ScenarioFault, ScenarioOperation, ScenarioResource } from '../../src/sim/scenario.ts';
import { createAzureClients, staticTokenCredential } from '../../src/azure/clients.ts';
import { CLOUDS } from '../../src/model/cloud.ts';
import type { ProbeId, Snapshot, Target } from '../../src/model/snapshot.ts';
import type { Probe, ProbeContext } from '../../probes/probe.ts';
import {
  API_FQDN,
  API_ZONE_ID,
  CERT_FQDN,
  HUB_ID,
  NB_FQDN,
  NB_IP,
  NB_ZONE_ID,
  NIC_ID,
  PE_ID,
  PE_IP,
  PE_SUBNET_ID,
  SPOKE_ID,
  SUBNET_ID,
  WS_GUID,
  WS_ID,
} from './snapshot.ts';

export interface SimOptions {
  faults?: ScenarioFault[];
  /** Results of long-running POSTs (effective routes, next hop, …). */
  operations?: ScenarioOperation[];
  pageSize?: number;
  latencyMs?: number;
  /** Overrides of the default target (the workspace WS_ID, no extra subscriptions). */
  target?: Partial<Target>;
  /** The bearer token the clients send; default 'test'. */
  token?: string;
}

export interface SimRun {
  sim: ArmSimulator;
  ctx: ProbeContext;
}

export async function withSim(t: Test, resources: ScenarioResource[], opts: SimOptions = {}): Promise<SimRun> {
  const sim = await startArmSimulator({
    scenario: { resources, ...(opts.faults ? { faults: opts.faults } : {}), ...(opts.operations ? { operations: opts.operations } : {}) },
    ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
    ...(opts.latencyMs !== undefined ? { latencyMs: opts.latencyMs } : {}),
  });
  t.teardown(() => sim.close());
  const azure = createAzureClients({
    armEndpoint: sim.url,
    ca: sim.caPem,
    credential: staticTokenCredential(opts.token ?? 'test'),
    maxRetries: 1,
    retryDelayMs: 1,
    lroPollIntervalMs: 0,
    timeoutMs: 10_000,
  });
  const target: Target = { workspaceId: WS_ID, subscriptions: [], cloud: 'AzureCloud', dnsServers: [], ...opts.target };
  const ctx: ProbeContext = {
    target,
    cloud: CLOUDS.AzureCloud,
    azure,
    // A closed loopback port: should a test ever run the DNS probe here, no query leaves the machine.
    dns: { servers: ['127.0.0.1:9'], timeoutMs: 500, tries: 1 },
    log: pino({ level: 'silent' }),
    signal: new AbortController().signal,
  };
  return { sim, ctx };
}

/** A snapshot holding what earlier probes observed, as the runner would pass it. */
export function snapshotWith(ctx: ProbeContext, parts: Partial<Omit<Snapshot, 'target' | 'collectedAt'>> = {}): Snapshot {
  return { target: ctx.target, collectedAt: new Date(0).toISOString(), ...parts };
}

/** GET requests whose path matches (case-insensitive). */
export function gets(sim: ArmSimulator, path: RegExp): RecordedRequest[] {
  return sim.requests.filter((r) => r.method === 'GET' && path.test(r.path));
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A fault path pattern matching exactly this resource (and nothing below it). */
export function exactly(id: string): string {
  return `^${escape(id)}$`;
}

// ------------------------------------------------------------------------------ wire builders

const last = (id: string): string => id.split('/').pop() ?? id;

export const wire = {
  workspace(props: Record<string, unknown> = {}, id = WS_ID, location = 'East US'): ScenarioResource {
    return { id, name: last(id), type: 'Microsoft.MachineLearningServices/workspaces', location, properties: props };
  },
  /** A workspace private endpoint connection as the workspace lists it. */
  wsConnection(peId: string, status = 'Approved', wsId = WS_ID): Record<string, unknown> {
    return {
      id: `${wsId}/privateEndpointConnections/${last(peId)}`,
      name: last(peId),
      type: 'Microsoft.MachineLearningServices/workspaces/privateEndpointConnections',
      properties: { provisioningState: 'Succeeded', privateEndpoint: { id: peId }, privateLinkServiceConnectionState: { status, description: 'Auto-Approved', actionsRequired: 'None' } },
    };
  },
  compute(name: string, computeType: string, inner: Record<string, unknown>, wsId = WS_ID): ScenarioResource {
    return {
      id: `${wsId}/computes/${name}`,
      name,
      type: 'Microsoft.MachineLearningServices/workspaces/computes',
      location: 'eastus',
      properties: { computeType, provisioningState: 'Succeeded', properties: inner },
    };
  },
  vnet(id: string, prefixes: string[], props: Record<string, unknown> = {}): ScenarioResource {
    return { id, location: 'eastus', properties: { addressSpace: { addressPrefixes: prefixes }, provisioningState: 'Succeeded', ...props } };
  },
  subnet(vnetId: string, name: string, prefix: string, props: Record<string, unknown> = {}): ScenarioResource {
    return { id: `${vnetId}/subnets/${name}`, properties: { addressPrefix: prefix, provisioningState: 'Succeeded', ...props } };
  },
  peering(vnetId: string, name: string, remoteId: string, remotePrefixes: string[], props: Record<string, unknown> = {}): ScenarioResource {
    return {
      id: `${vnetId}/virtualNetworkPeerings/${name}`,
      properties: {
        remoteVirtualNetwork: { id: remoteId },
        remoteAddressSpace: { addressPrefixes: remotePrefixes },
        peeringState: 'Connected',
        peeringSyncLevel: 'FullyInSync',
        allowVirtualNetworkAccess: true,
        allowForwardedTraffic: false,
        allowGatewayTransit: false,
        useRemoteGateways: false,
        provisioningState: 'Succeeded',
        ...props,
      },
    };
  },
  /** A private link service connection inside a private endpoint. */
  plsConnection(name: string, serviceId: string, groupIds: string[], status = 'Approved'): Record<string, unknown> {
    return { name, properties: { privateLinkServiceId: serviceId, groupIds, privateLinkServiceConnectionState: { status, description: 'Auto-Approved', actionsRequired: 'None' } } };
  },
  privateEndpoint(id: string, subnetId: string, props: Record<string, unknown>): ScenarioResource {
    return { id, location: 'eastus', properties: { provisioningState: 'Succeeded', subnet: { id: subnetId }, privateLinkServiceConnections: [], manualPrivateLinkServiceConnections: [], customDnsConfigs: [], networkInterfaces: [], ...props } };
  },
  nic(id: string, ipConfigs: Array<{ ip: string; fqdns: string[] }>): ScenarioResource {
    return {
      id,
      location: 'eastus',
      properties: {
        ipConfigurations: ipConfigs.map((c, i) => ({
          name: `ipconfig${i}`,
          id: `${id}/ipConfigurations/ipconfig${i}`,
          properties: { privateIPAddress: c.ip, privateIPAllocationMethod: 'Dynamic', privateLinkConnectionProperties: { groupId: 'amlworkspace', requiredMemberName: 'default', fqdns: c.fqdns } },
        })),
      },
    };
  },
  zoneGroup(peId: string, name: string, zones: Array<{ name: string; zoneId: string; records?: Array<{ recordSetName: string; fqdn: string; ipAddresses: string[] }> }>): ScenarioResource {
    return {
      id: `${peId}/privateDnsZoneGroups/${name}`,
      properties: {
        provisioningState: 'Succeeded',
        privateDnsZoneConfigs: zones.map((z) => ({ name: z.name, properties: { privateDnsZoneId: z.zoneId, recordSets: (z.records ?? []).map((r) => ({ recordType: 'A', ttl: 10, ...r })) } })),
      },
    };
  },
  zone(id: string): ScenarioResource {
    return { id, location: 'global', properties: { provisioningState: 'Succeeded', numberOfRecordSets: 1 } };
  },
  aRecord(zoneId: string, name: string, ips: string[], ttl = 10): ScenarioResource {
    return { id: `${zoneId}/A/${name}`, properties: { ttl, fqdn: `${name}.${last(zoneId)}.`, isAutoRegistered: false, aRecords: ips.map((ipv4Address) => ({ ipv4Address })) } };
  },
  cnameRecord(zoneId: string, name: string, cname: string): ScenarioResource {
    return { id: `${zoneId}/CNAME/${name}`, properties: { ttl: 10, fqdn: `${name}.${last(zoneId)}.`, cnameRecord: { cname } } };
  },
  link(zoneId: string, name: string, vnetId: string, state = 'Completed', props: Record<string, unknown> = {}): ScenarioResource {
    return {
      id: `${zoneId}/virtualNetworkLinks/${name}`,
      location: 'global',
      properties: { virtualNetwork: { id: vnetId }, registrationEnabled: false, virtualNetworkLinkState: state, provisioningState: 'Succeeded', ...props },
    };
  },
};

/**
 * The estate of test/helpers/snapshot.ts healthySnapshot() on the wire: private workspace,
 * compute instance ci-alice in vnet-spoke, peered both ways with vnet-hub (another subscription)
 * which holds the workspace private endpoint; both zones in the hub subscription, linked to hub
 * and spoke, with correct records.
 */
export function hubAndSpoke(): ScenarioResource[] {
  return [
    wire.workspace({ workspaceId: WS_GUID, publicNetworkAccess: 'Disabled', allowPublicAccessWhenBehindVnet: false, privateEndpointConnections: [wire.wsConnection(PE_ID)] }),
    wire.compute('ci-alice', 'ComputeInstance', { subnet: { id: SUBNET_ID }, enableNodePublicIp: false, enableSSO: true, state: 'Running' }),
    wire.vnet(SPOKE_ID, ['10.20.0.0/16']),
    wire.subnet(SPOKE_ID, 'snet-compute', '10.20.1.0/24'),
    wire.peering(SPOKE_ID, 'spoke-to-hub', HUB_ID, ['10.10.0.0/16'], { allowForwardedTraffic: true }),
    wire.vnet(HUB_ID, ['10.10.0.0/16']),
    wire.subnet(HUB_ID, 'snet-pe', '10.10.1.0/24', { privateEndpoints: [{ id: PE_ID }] }),
    wire.peering(HUB_ID, 'hub-to-spoke', SPOKE_ID, ['10.20.0.0/16'], { allowForwardedTraffic: true, allowGatewayTransit: true }),
    wire.privateEndpoint(PE_ID, PE_SUBNET_ID, {
      privateLinkServiceConnections: [wire.plsConnection('pe-ws-demo', WS_ID, ['amlworkspace'])],
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
      { name: 'api', zoneId: API_ZONE_ID },
      { name: 'notebooks', zoneId: NB_ZONE_ID },
    ]),
    wire.zone(API_ZONE_ID),
    wire.aRecord(API_ZONE_ID, `${WS_GUID}.workspace.eastus`, [PE_IP]),
    wire.aRecord(API_ZONE_ID, `${WS_GUID}.workspace.eastus.cert`, [PE_IP]),
    wire.link(API_ZONE_ID, 'hub', HUB_ID),
    wire.link(API_ZONE_ID, 'spoke', SPOKE_ID),
    wire.zone(NB_ZONE_ID),
    wire.aRecord(NB_ZONE_ID, `ml-ws-demo-eastus-${WS_GUID}.eastus`, [NB_IP]),
    wire.link(NB_ZONE_ID, 'hub', HUB_ID),
    wire.link(NB_ZONE_ID, 'spoke', SPOKE_ID),
  ];
}

/** Runs probes one after another into one snapshot (the order given must respect `needs`). */
export async function runProbes(ctx: ProbeContext, list: readonly Probe[]): Promise<Snapshot> {
  const snapshot = snapshotWith(ctx);
  for (const p of list) store(snapshot, p.id, await p.run(ctx, snapshot));
  return snapshot;
}

function store<K extends ProbeId>(snapshot: Snapshot, id: K, value: Snapshot[K]): void {
  snapshot[id] = value;
}
