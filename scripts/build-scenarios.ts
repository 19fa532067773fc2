/**
 * The bundled scenario catalogue: every estate the tests, the demo and the benchmarks share.
 *
 *   node scripts/build-scenarios.ts          writes test/fixtures/scenarios/<name>.json
 *   node scripts/build-scenarios.ts --check  exits 1 listing the files that differ (or are stale)
 *
 * Each scenario is one `buildEstate` call plus one small mutation. Names, regions, subscriptions,
 * resource groups and address plans differ on purpose so the product cannot overfit one estate.
 */
import { readdir, readFile, unlink, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildEstate,
  guidFrom,
  patchProperties,
  removeResources,
  scenarioJson,
  setARecord,
  toScenario,
  type ComputeSpec,
  type Estate,
} from '../src/sim/scenario-builder.ts';
import type { Scenario, ScenarioDnsAnswer, ScenarioFault } from '../src/sim/scenario.ts';

export const SCENARIO_DIR = fileURLToPath(new URL('../test/fixtures/scenarios/', import.meta.url));

export const CODES = {
  peMissing: 'WORKSPACE_PRIVATE_ENDPOINT_MISSING',
  peNotApproved: 'WORKSPACE_PRIVATE_ENDPOINT_NOT_APPROVED',
  zoneMissing: 'PRIVATE_DNS_ZONE_MISSING',
  zoneGroupMissing: 'PRIVATE_DNS_ZONE_GROUP_MISSING',
  recordMissing: 'PRIVATE_DNS_RECORD_MISSING',
  recordStale: 'PRIVATE_DNS_RECORD_STALE',
  zoneNotLinked: 'PRIVATE_DNS_ZONE_NOT_LINKED',
  customDns: 'CUSTOM_DNS_NOT_FORWARDING',
  dnsPublic: 'DNS_RESOLVES_PUBLIC_ADDRESS',
  dnsFailed: 'DNS_RESOLUTION_FAILED',
  peering: 'VNET_PEERING_NOT_CONNECTED',
  instanceName: 'COMPUTE_INSTANCE_NAME_UNRESOLVABLE',
  sso: 'COMPUTE_SSO_DISABLED',
} as const;
const C = CODES;
export const ALL_CODES: string[] = Object.values(CODES);

/** The private-link and DNS configuration codes: none may fire when that part of the estate is right. */
const CONFIG_CAUSES = [C.peMissing, C.peNotApproved, C.zoneMissing, C.zoneGroupMissing, C.recordMissing, C.recordStale, C.zoneNotLinked, C.customDns, C.peering];

const without = (codes: readonly string[], ...drop: string[]): string[] => codes.filter((c) => !drop.includes(c));

const instance = (name: string, extra: Partial<ComputeSpec> = {}): ComputeSpec => ({ name, kind: 'instance', ...extra });
const cluster = (name: string, extra: Partial<ComputeSpec> = {}): ComputeSpec => ({ name, kind: 'cluster', ...extra });

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The same answer for several names. */
function answers(names: string[], answer: ScenarioDnsAnswer): Record<string, ScenarioDnsAnswer> {
  return Object.fromEntries(names.map((n) => [n, answer]));
}

function wsNames(e: Estate): string[] {
  return [e.fqdns.api, e.fqdns.cert, e.fqdns.notebooks];
}

// ------------------------------------------------------------------------------------ scenarios

function healthySingleVnet(): Scenario {
  const e = buildEstate({
    seed: 'healthy-single-vnet',
    region: 'westeurope',
    topology: 'single-vnet',
    workspace: { name: 'mlw-fraud-weu', resourceGroup: 'rg-fraud-ml-weu', imageBuildCompute: 'cpu-image-build' },
    computeVnet: { name: 'vnet-fraud-ml-weu', resourceGroup: 'rg-fraud-network-weu', base: '10.41', computeSubnet: 'snet-aml-compute', endpointSubnet: 'snet-aml-pe' },
    privateEndpoint: { name: 'pe-mlw-fraud-weu' },
    zones: { resourceGroup: 'rg-fraud-dns-weu' },
    computes: [instance('ci-anna-weu'), cluster('cpu-image-build')],
  });
  // VNets created before custom DNS was ever set carry no dhcpOptions at all.
  patchProperties(e, e.ids.computeVnet, (p) => void delete p.dhcpOptions);
  return toScenario(e, {
    name: 'healthy-single-vnet',
    title: 'Healthy: private workspace, compute and private endpoint in one VNet',
    description:
      'A private workspace (public network access disabled) in westeurope. The compute instance, a build cluster and the workspace private endpoint share one VNet that uses Azure DNS. Both private DNS zones exist in the same subscription, are linked to the VNet and hold the records the zone group created. Nothing is wrong: sign-in works.',
    computeName: 'ci-anna-weu',
    expect: { exitCode: 0, verdict: 'no-cause-found', absentCodes: ALL_CODES },
  });
}

function healthyHubSpoke(): Scenario {
  const e = buildEstate({
    seed: 'healthy-hub-spoke',
    region: 'eastus2',
    topology: 'hub-spoke',
    workspace: { name: 'mlw-retail-forecast', resourceGroup: 'rg-retail-ml' },
    computeVnet: { name: 'vnet-spoke-retail-ml', resourceGroup: 'rg-retail-network', base: '10.112' },
    hub: { name: 'vnet-hub-eus2', resourceGroup: 'rg-connectivity-hub', base: '10.100' },
    privateEndpoint: { name: 'pe-mlw-retail-forecast', resourceGroup: 'rg-connectivity-privatelink', inference: true },
    zones: { resourceGroup: 'rg-connectivity-dns' },
    computes: [instance('ci-retail-dev-01'), cluster('gpu-train', { maxNodes: 8, vmSize: 'STANDARD_NC24ADS_A100_V4' })],
  });
  return toScenario(e, {
    name: 'healthy-hub-spoke',
    title: 'Healthy: hub-and-spoke across two subscriptions',
    description:
      'A private workspace in eastus2. The workspace private endpoint (api, notebooks and inference IPs) and both private DNS zones live in a connectivity hub in another subscription; the compute instance and a GPU cluster sit in a spoke in the workspace subscription, peered with the hub in both directions (Connected). The zones are linked to the hub and to the spoke, and the spoke uses Azure DNS. The hub subscription is passed with --subscription. Nothing is wrong. All computes are analysed.',
    expect: { exitCode: 0, verdict: 'no-cause-found', absentCodes: ALL_CODES },
  });
}

function privateEndpointMissing(): Scenario {
  const sub = guidFrom('private-endpoint-missing/subscription/workspace');
  const e = buildEstate({
    seed: 'private-endpoint-missing',
    region: 'northeurope',
    topology: 'hub-spoke',
    subscriptions: { workspace: sub, hub: sub },
    peered: false,
    workspace: { name: 'mlw-claims-neu', resourceGroup: 'rg-claims-ml' },
    computeVnet: { name: 'vnet-claims-compute-neu', resourceGroup: 'rg-claims-network', base: '172.20' },
    hub: { name: 'vnet-data-platform-neu', resourceGroup: 'rg-data-platform-network', base: '172.24' },
    privateEndpoint: { name: 'pe-mlw-claims-dataplatform' },
    zones: { resourceGroup: 'rg-claims-dns', linkTo: ['hub', 'compute'] },
    computes: [instance('ci-olsen')],
  });
  return toScenario(e, {
    name: 'private-endpoint-missing',
    title: 'The workspace private endpoint is in a VNet the compute cannot reach',
    description:
      "A private workspace in northeurope whose only private endpoint was created by the data-platform team in vnet-data-platform-neu. The compute instance sits in vnet-claims-compute-neu, which has no private endpoint of the workspace and no peering to the data-platform VNet. DNS is fine (the zones are linked to both VNets and answer 172.24.2.4), but that address is unreachable from the compute, so the workspace API call fails and the SDK falls back to device login. Fix: create a workspace private endpoint in the compute VNet (or peer the VNets).",
    computeName: 'ci-olsen',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.peMissing, resourceId: e.ids.computeVnet },
      absentCodes: [C.peNotApproved, C.zoneMissing, C.zoneGroupMissing, C.recordMissing, C.recordStale, C.zoneNotLinked, C.customDns, C.dnsPublic, C.dnsFailed, C.instanceName, C.sso],
    },
  });
}

function privateEndpointPending(): Scenario {
  const e = buildEstate({
    seed: 'private-endpoint-pending',
    region: 'uksouth',
    topology: 'single-vnet',
    workspace: { name: 'mlw-underwriting-uks', resourceGroup: 'rg-uw-ml-prod' },
    computeVnet: { name: 'vnet-uw-ml-uks', resourceGroup: 'rg-uw-network', base: '10.61' },
    privateEndpoint: { name: 'pe-uw-ml-uks', status: 'Pending', manual: true },
    zones: { resourceGroup: 'rg-uw-dns' },
    computes: [instance('ci-priya')],
  });
  return toScenario(e, {
    name: 'private-endpoint-pending',
    title: 'The workspace private endpoint connection is still Pending',
    description:
      'A private workspace in uksouth. Its private endpoint was requested by someone without rights on the workspace, so the connection is a manual one and is still Pending, both on the workspace (privateEndpointConnections) and on the endpoint (manualPrivateLinkServiceConnections). DNS zones, records and links are all correct, but traffic to the endpoint is not forwarded until the workspace owner approves it, so the compute cannot reach the workspace API and falls back to device login.',
    computeName: 'ci-priya',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.peNotApproved, resourceId: e.ids.privateEndpoint as string },
      absentCodes: [C.peMissing, C.zoneMissing, C.zoneGroupMissing, C.recordMissing, C.recordStale, C.zoneNotLinked, C.customDns, C.dnsPublic, C.dnsFailed, C.peering, C.sso],
    },
  });
}

function dnsZoneMissing(): Scenario {
  const e = buildEstate({
    seed: 'dns-zone-missing',
    region: 'canadacentral',
    topology: 'single-vnet',
    workspace: { name: 'mlw-churn-cac', resourceGroup: 'rg-churn-ml' },
    computeVnet: { name: 'vnet-analytics-cac', resourceGroup: 'rg-analytics-net', base: '192.168', computeSubnet: 'snet-ml', endpointSubnet: 'snet-endpoints' },
    privateEndpoint: { name: 'pe-mlw-churn-cac', zoneGroup: false },
    zones: false,
    computes: [instance('ci-marc-tremblay'), cluster('cpu-etl', { maxNodes: 6 })],
  });
  return toScenario(e, {
    name: 'dns-zone-missing',
    title: 'No private DNS zones exist for the workspace',
    description:
      'A private workspace in canadacentral with an approved private endpoint created without private DNS integration: no zone group, and no privatelink.api.azureml.ms or privatelink.notebooks.azure.net zone anywhere. The compute VNet uses Azure DNS, so the workspace names resolve to the public front end (20.x), which rejects callers of a private workspace, and the SDK falls back to device login. All computes are analysed.',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.zoneMissing, resourceId: e.ids.privateEndpoint as string },
      alsoFinds: [C.zoneGroupMissing, C.dnsPublic, C.instanceName],
      absentCodes: [C.peMissing, C.peNotApproved, C.recordStale, C.zoneNotLinked, C.customDns, C.dnsFailed, C.peering, C.sso],
    },
  });
}

function dnsZoneGroupMissing(): Scenario {
  const dnsSub = guidFrom('dns-zone-group-missing/subscription/shared-dns');
  const e = buildEstate({
    seed: 'dns-zone-group-missing',
    region: 'japaneast',
    topology: 'single-vnet',
    workspace: { name: 'mlw-quality-jpe', resourceGroup: 'rg-quality-ml' },
    computeVnet: { name: 'vnet-factory-jpe', resourceGroup: 'rg-factory-net', base: '10.88' },
    privateEndpoint: { name: 'pe-mlw-quality-jpe', zoneGroup: false },
    zones: { resourceGroup: 'rg-shared-private-dns', subscription: dnsSub, linkTo: ['compute'] },
    computes: [instance('ci-sato')],
  });
  return toScenario(e, {
    name: 'dns-zone-group-missing',
    title: 'The private endpoint has no DNS zone group',
    description:
      'A private workspace in japaneast. Both private DNS zones exist in a shared DNS subscription (passed with --subscription), are linked to the compute VNet, and today hold correct A records that someone created by hand. The private endpoint has no private DNS zone group, so nothing keeps those records in step with the endpoint: any re-creation of the endpoint silently breaks sign-in. DNS resolves correctly right now.',
    computeName: 'ci-sato',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.zoneGroupMissing, resourceId: e.ids.privateEndpoint as string },
      absentCodes: [C.peMissing, C.peNotApproved, C.zoneMissing, C.recordMissing, C.recordStale, C.zoneNotLinked, C.customDns, C.dnsPublic, C.dnsFailed, C.peering, C.instanceName, C.sso],
    },
  });
}

function dnsRecordMissing(): Scenario {
  const e = buildEstate({
    seed: 'dns-record-missing',
    cloud: 'AzureUSGovernment',
    region: 'usgovvirginia',
    topology: 'single-vnet',
    workspace: { name: 'mlw-benefits-va', resourceGroup: 'rg-benefits-ml', imageBuildCompute: 'cpu-batch' },
    computeVnet: { name: 'vnet-benefits-va', resourceGroup: 'rg-benefits-network', base: '10.140' },
    privateEndpoint: { name: 'pe-mlw-benefits-va' },
    zones: { resourceGroup: 'rg-benefits-dns' },
    computes: [instance('ci-jwashington'), cluster('cpu-batch')],
  });
  removeResources(e, e.ids.records.api);
  return toScenario(e, {
    name: 'dns-record-missing',
    title: 'The workspace API record was deleted from the private zone (Azure Government)',
    description:
      'A private workspace in Azure Government (usgovvirginia). The zone privatelink.api.ml.azure.us is linked to the compute VNet but its A record for <guid>.workspace.usgovvirginia was deleted (the cert record is still there). Azure DNS answers NXDOMAIN for the workspace API name, so the compute cannot reach the workspace and falls back to device login.',
    computeName: 'ci-jwashington',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.recordMissing, resourceId: e.ids.zones.api as string },
      alsoFinds: [C.dnsFailed, C.instanceName],
      absentCodes: [C.peMissing, C.peNotApproved, C.zoneMissing, C.zoneGroupMissing, C.recordStale, C.zoneNotLinked, C.customDns, C.dnsPublic, C.peering, C.sso],
    },
  });
}

function dnsRecordStale(): Scenario {
  const e = buildEstate({
    seed: 'dns-record-stale',
    region: 'australiaeast',
    topology: 'hub-spoke',
    workspace: { name: 'mlw-contoso-research-platform-prod', resourceGroup: 'rg-research-ml-prod' },
    computeVnet: { name: 'vnet-spoke-research-aue', resourceGroup: 'rg-research-net', base: '10.30' },
    hub: { name: 'vnet-hub-aue', resourceGroup: 'rg-hub-aue', base: '10.0' },
    // The endpoint was re-created and got .7; the records still say .4.
    privateEndpoint: { name: 'pe-mlw-research-aue', resourceGroup: 'rg-hub-privatelink', firstHost: 7 },
    zones: { resourceGroup: 'rg-hub-dns' },
    computes: [instance('ci-research-gpu-01', { vmSize: 'STANDARD_NC6S_V3' })],
  });
  setARecord(e, e.ids.records.api, ['10.0.2.4']);
  setARecord(e, e.ids.records.cert, ['10.0.2.4']);
  return toScenario(e, {
    name: 'dns-record-stale',
    title: 'Workspace A records point at the old private endpoint address',
    description:
      'A private workspace in australiaeast, hub-and-spoke across two subscriptions. The workspace private endpoint in the hub was re-created and now serves the workspace API on 10.0.2.7, but a DNS pipeline re-applied old records: the api and cert A records in privatelink.api.azureml.ms still say 10.0.2.4, where nothing listens. The compute resolves the workspace API to 10.0.2.4, the connection fails, and the SDK falls back to device login.',
    computeName: 'ci-research-gpu-01',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.recordStale, resourceId: e.ids.records.api as string },
      alsoFinds: [C.instanceName],
      absentCodes: [C.peMissing, C.peNotApproved, C.zoneMissing, C.zoneGroupMissing, C.recordMissing, C.zoneNotLinked, C.customDns, C.dnsPublic, C.dnsFailed, C.peering, C.sso],
    },
  });
}

function zoneNotLinkedHubSpoke(): Scenario {
  const e = buildEstate({
    seed: 'zone-not-linked-hub-spoke',
    region: 'eastus',
    topology: 'hub-spoke',
    workspace: { name: 'mlw-marketing-eus', resourceGroup: 'rg-marketing-ml' },
    computeVnet: { name: 'vnet-spoke-marketing', resourceGroup: 'rg-marketing-net', base: '10.52' },
    hub: { name: 'vnet-hub-eastus', resourceGroup: 'rg-net-hub', base: '10.50' },
    privateEndpoint: { name: 'pe-mlw-marketing-eus', resourceGroup: 'rg-net-hub' },
    zones: { resourceGroup: 'rg-dns-zones', linkTo: ['hub'] },
    computes: [instance('ci-lee-marketing')],
  });
  return toScenario(e, {
    name: 'zone-not-linked-hub-spoke',
    title: 'Private DNS zones linked to the hub only; the spoke uses Azure DNS',
    description:
      'A private workspace in eastus, hub-and-spoke. The private endpoint and both zones live in the hub subscription and the zones are linked to the hub VNet only. The compute sits in a peered spoke that uses Azure DNS; peering does not carry zone links, so the spoke resolves the workspace names publicly (20.x) and the workspace rejects the call, which shows up as the device-login prompt. Fix: link both zones to the spoke.',
    computeName: 'ci-lee-marketing',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.zoneNotLinked, resourceId: e.ids.zones.api as string },
      alsoFinds: [C.dnsPublic, C.instanceName],
      absentCodes: [C.peMissing, C.peNotApproved, C.zoneMissing, C.zoneGroupMissing, C.recordMissing, C.recordStale, C.customDns, C.dnsFailed, C.peering, C.sso],
    },
  });
}

function customDnsNoForwarder(): Scenario {
  const e = buildEstate({
    seed: 'custom-dns-no-forwarder',
    region: 'southeastasia',
    topology: 'single-vnet',
    workspace: { name: 'mlw-logistics-sea', resourceGroup: 'rg-logistics-ml' },
    computeVnet: { name: 'vnet-logistics-sea', resourceGroup: 'rg-logistics-net', base: '10.77', dnsServers: ['192.168.200.53', '192.168.200.54'] },
    privateEndpoint: { name: 'pe-mlw-logistics-sea' },
    zones: { resourceGroup: 'rg-logistics-dns' },
    computes: [instance('ci-tan-wei')],
  });
  return toScenario(e, {
    name: 'custom-dns-no-forwarder',
    title: 'Custom DNS on-premises without conditional forwarders',
    description:
      'A private workspace in southeastasia. Zones, records and links in Azure are correct, but the compute VNet sends DNS to two on-premises servers (192.168.200.53/54, in no Azure VNet) that have no conditional forwarders for api.azureml.ms and notebooks.azure.net. They resolve the workspace names on the internet (20.x), the private workspace rejects the call and the SDK falls back to device login. Fix: forward the zones to a DNS resolver inside a linked VNet.',
    computeName: 'ci-tan-wei',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.customDns, resourceId: e.ids.computeVnet },
      alsoFinds: [C.dnsPublic, C.instanceName],
      absentCodes: [C.peMissing, C.peNotApproved, C.zoneMissing, C.zoneGroupMissing, C.recordMissing, C.recordStale, C.zoneNotLinked, C.dnsFailed, C.peering, C.sso],
    },
  });
}

function customDnsServerVnetNotLinked(): Scenario {
  const e = buildEstate({
    seed: 'custom-dns-server-vnet-not-linked',
    region: 'francecentral',
    topology: 'hub-spoke',
    workspace: { name: 'mlw-energy-frc', resourceGroup: 'rg-energy-ml' },
    computeVnet: { name: 'vnet-spoke-energy-frc', resourceGroup: 'rg-energy-net', base: '10.91', dnsServers: ['10.90.0.4'] },
    hub: { name: 'vnet-hub-frc', resourceGroup: 'rg-hub-frc', base: '10.90', dnsServerIp: '10.90.0.4' },
    privateEndpoint: { name: 'pe-mlw-energy-frc' },
    zones: { resourceGroup: 'rg-hub-frc-dns', linkTo: ['compute'] },
    computes: [instance('ci-dubois')],
  });
  return toScenario(e, {
    name: 'custom-dns-server-vnet-not-linked',
    title: "Zones linked to the spoke, but the spoke's DNS server lives in the hub",
    description:
      "A private workspace in francecentral, hub-and-spoke. The spoke's VNet DNS setting points at a DNS server VM in the hub (10.90.0.4), which forwards to Azure DNS. The private DNS zones are linked to the spoke only, so the forwarder's Azure DNS (the hub's view) does not see them and answers the public addresses. Fix: link both zones to the hub VNet that holds the DNS server.",
    computeName: 'ci-dubois',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.zoneNotLinked, resourceId: e.ids.zones.api as string },
      alsoFinds: [C.dnsPublic, C.instanceName],
      absentCodes: [C.peMissing, C.peNotApproved, C.zoneMissing, C.zoneGroupMissing, C.recordMissing, C.recordStale, C.customDns, C.dnsFailed, C.peering, C.sso],
    },
  });
}

function peeringDisconnected(): Scenario {
  const e = buildEstate({
    seed: 'peering-disconnected',
    region: 'westus3',
    topology: 'hub-spoke',
    workspace: { name: 'mlw-genomics-wus3', resourceGroup: 'rg-genomics-ml' },
    computeVnet: { name: 'vnet-genomics-wus3', resourceGroup: 'rg-genomics-net', base: '10.160' },
    hub: { name: 'vnet-hub-wus3', resourceGroup: 'rg-platform-hub', base: '10.150' },
    privateEndpoint: { name: 'pe-mlw-genomics', resourceGroup: 'rg-platform-privatelink' },
    zones: { resourceGroup: 'rg-platform-dns' },
    computes: [instance('ci-garcia'), cluster('cpu-align', { maxNodes: 20 })],
  });
  removeResources(e, e.ids.peerings.hubToCompute);
  patchProperties(e, e.ids.peerings.computeToHub, (p) => {
    p.peeringState = 'Disconnected';
    p.peeringSyncLevel = 'RemoteNotInSync';
  });
  return toScenario(e, {
    name: 'peering-disconnected',
    title: 'Spoke-to-hub peering Disconnected (the hub side was deleted)',
    description:
      "A private workspace in westus3, hub-and-spoke. The workspace private endpoint sits in the hub. The hub's peering back to the spoke was deleted during a hub rebuild, which left the spoke's peering to the hub Disconnected. DNS still answers the endpoint's private IP, but packets to the hub are not delivered, so the computes cannot reach the workspace and fall back to device login. All computes are analysed.",
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.peering, resourceId: e.ids.peerings.computeToHub as string },
      absentCodes: [C.peMissing, C.peNotApproved, C.zoneMissing, C.zoneGroupMissing, C.recordMissing, C.recordStale, C.zoneNotLinked, C.customDns, C.dnsPublic, C.dnsFailed, C.instanceName, C.sso],
    },
  });
}

function dnsServfail(): Scenario {
  const e = buildEstate({
    seed: 'dns-servfail',
    region: 'swedencentral',
    topology: 'single-vnet',
    workspace: { name: 'mlw-payments-sdc', resourceGroup: 'rg-payments-ml' },
    computeVnet: { name: 'vnet-payments-sdc', resourceGroup: 'rg-payments-net', base: '10.200' },
    privateEndpoint: { name: 'pe-mlw-payments-sdc' },
    zones: { resourceGroup: 'rg-payments-dns' },
    computes: [instance('ci-lindqvist')],
  });
  return toScenario(e, {
    name: 'dns-servfail',
    title: 'The resolver answers SERVFAIL for the workspace names',
    description:
      'A private workspace in swedencentral whose Azure configuration is entirely correct (approved endpoint, zones, zone group, records, links). The resolver nevertheless answers SERVFAIL for the workspace api, cert and notebooks names (e.g. a DNS security policy or a broken forwarding rule in the path), so the SDK cannot reach the workspace and falls back to device login. Only the live DNS observation shows the problem.',
    computeName: 'ci-lindqvist',
    dns: answers(wsNames(e), { rcode: 'SERVFAIL' }),
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.dnsFailed, resourceId: e.ids.workspace },
      absentCodes: [...CONFIG_CAUSES, C.dnsPublic, C.instanceName, C.sso],
    },
  });
}

function computeInstanceNameUnresolvable(): Scenario {
  const sub = guidFrom('compute-instance-name-unresolvable/subscription/workspace');
  const e = buildEstate({
    seed: 'compute-instance-name-unresolvable',
    region: 'centralus',
    topology: 'hub-spoke',
    subscriptions: { workspace: sub, hub: sub },
    workspace: { name: 'mlw-pricing-cus', resourceGroup: 'rg-pricing-ml' },
    computeVnet: { name: 'vnet-pricing-cus', resourceGroup: 'rg-pricing-net', base: '10.220', dnsServers: ['10.216.0.10'] },
    hub: { name: 'vnet-shared-cus', resourceGroup: 'rg-shared-net', base: '10.216', dnsServerIp: '10.216.0.10' },
    privateEndpoint: { name: 'pe-mlw-pricing-cus' },
    zones: { resourceGroup: 'rg-shared-dns' },
    computes: [instance('ci-okafor'), instance('ci-build-bot', { state: 'Stopped' })],
  });
  const okafor = e.fqdns.instances['ci-okafor'] ?? [];
  return toScenario(e, {
    name: 'compute-instance-name-unresolvable',
    title: 'Compute instance names do not resolve (client access only)',
    description:
      "A private workspace in centralus. The compute VNet uses a DNS server in a peered shared-services VNet (same subscription) that is linked to both zones, so the workspace names resolve to the private endpoint and sign-in works. But the DNS server has a conditional forwarder for instances.azureml.ms to an internal zone without records, so ci-okafor's instance names answer NXDOMAIN: Jupyter/VS Code links to the instance fail from inside the network. Not a cause of device login.",
    computeName: 'ci-okafor',
    dns: answers(okafor, { rcode: 'NXDOMAIN' }),
    expect: {
      exitCode: 0,
      verdict: 'no-cause-found',
      topFinding: { code: C.instanceName, resourceId: e.ids.computes['ci-okafor'] as string },
      absentCodes: [...CONFIG_CAUSES, C.dnsPublic, C.dnsFailed, C.sso],
    },
  });
}

function computeSsoDisabled(): Scenario {
  const e = buildEstate({
    seed: 'compute-sso-disabled',
    region: 'germanywestcentral',
    topology: 'single-vnet',
    workspace: { name: 'mlw-autonomy-gwc', resourceGroup: 'rg-autonomy-ml' },
    computeVnet: { name: 'vnet-autonomy-gwc', resourceGroup: 'rg-autonomy-net', base: '172.28' },
    privateEndpoint: { name: 'pe-mlw-autonomy-gwc' },
    zones: { resourceGroup: 'rg-autonomy-dns' },
    computes: [instance('ci-schmidt', { sso: false }), cluster('gpu-sim', { maxNodes: 2 })],
  });
  return toScenario(e, {
    name: 'compute-sso-disabled',
    title: 'Compute instance created with SSO disabled',
    description:
      'A private workspace in germanywestcentral with a correct private-link and DNS setup. The compute instance ci-schmidt was created with enableSSO false, so the first SDK call in a notebook asks the user to sign in interactively. Not a network failure (low severity).',
    computeName: 'ci-schmidt',
    expect: {
      exitCode: 0,
      verdict: 'no-cause-found',
      topFinding: { code: C.sso, resourceId: e.ids.computes['ci-schmidt'] as string },
      absentCodes: [...CONFIG_CAUSES, C.dnsPublic, C.dnsFailed, C.instanceName],
    },
  });
}

function hubSubscriptionForbidden(): Scenario {
  const e = buildEstate({
    seed: 'hub-subscription-forbidden',
    region: 'switzerlandnorth',
    topology: 'hub-spoke',
    workspace: { name: 'mlw-risk-chn', resourceGroup: 'rg-risk-ml' },
    computeVnet: { name: 'vnet-spoke-risk-chn', resourceGroup: 'rg-risk-network', base: '10.70' },
    hub: { name: 'vnet-hub-chn', resourceGroup: 'rg-hub-chn', base: '10.64' },
    privateEndpoint: { name: 'pe-mlw-risk-chn', resourceGroup: 'rg-hub-chn-privatelink' },
    zones: { resourceGroup: 'rg-hub-chn-dns' },
    computes: [instance('ci-meier')],
  });
  const hub = e.subscriptions.hub;
  return toScenario(e, {
    name: 'hub-subscription-forbidden',
    title: 'No read access to the hub subscription',
    description:
      'A healthy hub-and-spoke estate in switzerlandnorth, but the identity running the diagnosis has no Reader role on the hub subscription: every ARM request under it answers 403 AuthorizationFailed. The private endpoint, the zones and the hub VNet cannot be read, so the private-link checks are undetermined. The diagnosis must say so (exit 3) and must not invent a cause from missing evidence.',
    computeName: 'ci-meier',
    faults: [{ path: `^/subscriptions/${hub}(/|$)`, status: 403, code: 'AuthorizationFailed' }],
    expect: { exitCode: 3, verdict: 'undetermined', absentCodes: ALL_CODES },
  });
}

const USERS = [
  'adams', 'baker', 'chen', 'diaz', 'evans', 'fischer', 'gupta', 'hansen', 'ito', 'jensen', 'khan', 'lopez',
  'muller', 'nakamura', 'obrien', 'patel', 'quinn', 'rossi', 'silva', 'tanaka', 'ueda', 'volkov', 'wang', 'young',
];

function largeEstateThrottled(): Scenario {
  const ws = { name: 'mlw-enterprise-wus2', resourceGroup: 'rg-enterprise-ml' };
  const computes: ComputeSpec[] = [
    ...USERS.map((u, i) => instance(`ci-${u}`, i % 5 === 3 ? { state: 'Stopped' } : {})),
    ...['cpu-small', 'cpu-large', 'gpu-a100', 'gpu-t4', 'spark-prep', 'cpu-etl', 'cpu-score', 'gpu-finetune'].map((n) => cluster(n, { maxNodes: 10 })),
  ];
  const extra = [
    'privatelink.blob.core.windows.net', 'privatelink.file.core.windows.net', 'privatelink.queue.core.windows.net', 'privatelink.table.core.windows.net',
    'privatelink.dfs.core.windows.net', 'privatelink.vaultcore.azure.net', 'privatelink.azurecr.io', 'westus2.data.privatelink.azurecr.io',
    'privatelink.cognitiveservices.azure.com', 'privatelink.openai.azure.com', 'privatelink.services.ai.azure.com',
  ].map((name) => ({ name }));
  const e = buildEstate({
    seed: 'large-estate-throttled',
    region: 'westus2',
    topology: 'single-vnet',
    workspace: { ...ws, imageBuildCompute: 'cpu-small' },
    computeVnet: { name: 'vnet-enterprise-ml-wus2', resourceGroup: 'rg-enterprise-net', base: '10.180' },
    privateEndpoint: { name: 'pe-mlw-enterprise-wus2', inference: true },
    zones: { resourceGroup: 'rg-enterprise-dns' },
    extraZones: [...extra, { name: 'privatelink.monitor.azure.com', resourceGroup: 'rg-monitoring-dns' }, { name: 'corp.contoso.internal', resourceGroup: 'rg-corp-dns' }],
    computes,
  });
  const sub = e.subscriptions.workspace;
  return toScenario(e, {
    name: 'large-estate-throttled',
    title: 'Healthy large estate: 32 computes, 15 zones, throttled listings',
    description:
      'A healthy private workspace in westus2 with 24 compute instances, 8 clusters and 13 private DNS zones besides the two workspace zones, so every listing pages. ARM throttles the first two compute listings and the first two zone listings with 429 and Retry-After: 1. The diagnosis must retry, follow every page and still find nothing wrong for ci-nakamura.',
    computeName: 'ci-nakamura',
    faults: [
      {
        method: 'GET',
        path: `^/subscriptions/${sub}/resourceGroups/${escapeRe(ws.resourceGroup)}/providers/Microsoft\\.MachineLearningServices/workspaces/${escapeRe(ws.name)}/computes$`,
        status: 429,
        retryAfterSeconds: 1,
        times: 2,
      },
      { method: 'GET', path: `^/subscriptions/${sub}(/resourceGroups/[^/]+)?/providers/Microsoft\\.Network/privateDnsZones$`, status: 429, retryAfterSeconds: 1, times: 2 },
    ] satisfies ScenarioFault[],
    expect: { exitCode: 0, verdict: 'no-cause-found', absentCodes: ALL_CODES },
  });
}

function publicWorkspace(): Scenario {
  const e = buildEstate({
    seed: 'public-workspace-no-private-link',
    region: 'koreacentral',
    topology: 'single-vnet',
    workspace: { name: 'mlw-sandbox-krc', resourceGroup: 'rg-sandbox-ml', publicNetworkAccess: 'Enabled' },
    computeVnet: { name: 'vnet-sandbox-krc', resourceGroup: 'rg-sandbox-net', base: '10.250' },
    privateEndpoint: false,
    zones: false,
    computes: [instance('ci-park')],
  });
  return toScenario(e, {
    name: 'public-workspace-no-private-link',
    title: 'Healthy: public workspace without private link',
    description:
      'A workspace in koreacentral with public network access enabled and no private endpoint; the compute instance sits in a customer VNet with a NAT gateway and resolves the workspace names publicly, which is correct here. The private-endpoint and DNS rules do not apply and must not fire.',
    computeName: 'ci-park',
    expect: { exitCode: 0, verdict: 'no-cause-found', absentCodes: ALL_CODES },
  });
}

/** Every bundled scenario, in catalogue order. */
export function buildScenarios(): Scenario[] {
  return [
    healthySingleVnet(),
    healthyHubSpoke(),
    privateEndpointMissing(),
    privateEndpointPending(),
    dnsZoneMissing(),
    dnsZoneGroupMissing(),
    dnsRecordMissing(),
    dnsRecordStale(),
    zoneNotLinkedHubSpoke(),
    customDnsNoForwarder(),
    customDnsServerVnetNotLinked(),
    peeringDisconnected(),
    dnsServfail(),
    computeInstanceNameUnresolvable(),
    computeSsoDisabled(),
    hubSubscriptionForbidden(),
    largeEstateThrottled(),
    publicWorkspace(),
  ];
}

// ------------------------------------------------------------------------------------ main

async function readOrUndefined(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes('--check');
  const scenarios = buildScenarios();
  const wanted = new Map(scenarios.map((s) => [`${s.name}.json`, scenarioJson(s)]));
  await mkdir(SCENARIO_DIR, { recursive: true });
  const present = (await readdir(SCENARIO_DIR)).filter((f) => f.endsWith('.json'));
  const differing: string[] = [];
  for (const [file, text] of wanted) {
    const path = join(SCENARIO_DIR, file);
    if ((await readOrUndefined(path)) === text) continue;
    differing.push(file);
    if (!check) await writeFile(path, text);
  }
  const stale = present.filter((f) => !wanted.has(f));
  for (const f of stale) if (!check) await unlink(join(SCENARIO_DIR, f));
  if (check) {
    if (differing.length || stale.length) {
      for (const f of differing) console.error(`differs: test/fixtures/scenarios/${f}`);
      for (const f of stale) console.error(`stale (no longer built): test/fixtures/scenarios/${f}`);
      console.error('Run `node scripts/build-scenarios.ts` and commit the result.');
      return 1;
    }
    console.log(`${wanted.size} scenario files are up to date.`);
    return 0;
  }
  console.log(`${wanted.size} scenarios: ${differing.length} written, ${stale.length} stale removed, ${wanted.size - differing.length} unchanged.`);
  return 0;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
