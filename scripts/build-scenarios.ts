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
  recommendedNsgRules,
  removeResources,
  scenarioJson,
  setARecord,
  toScenario,
  type ComputeSpec,
  type Estate,
  type FirewallRuleSpec,
  type RuleCollectionGroupSpec,
} from '../src/sim/scenario-builder.ts';
import { regionalTag } from '../src/sim/service-tag-data.ts';
import type { Scenario, ScenarioDnsAnswer, ScenarioExpectation, ScenarioFault } from '../src/sim/scenario.ts';

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
  egressMissing: 'EGRESS_MISSING',
  nsgEntraId: 'NSG_BLOCKS_ENTRA_ID',
  nsgAmlService: 'NSG_BLOCKS_AML_SERVICE',
  nsgPrivateEndpoint: 'NSG_BLOCKS_PRIVATE_ENDPOINT',
  firewallBlocks: 'FIREWALL_BLOCKS_REQUIRED_DESTINATION',
  routeUnreachable: 'ROUTE_NEXT_HOP_UNREACHABLE',
  routeAsymmetric: 'ROUTE_ASYMMETRIC_FORCED_TUNNEL',
  nsgOutbound: 'NSG_BLOCKS_REQUIRED_OUTBOUND',
  nsgInbound: 'NSG_BLOCKS_REQUIRED_INBOUND',
  fqdnWithoutProxy: 'FIREWALL_FQDN_RULE_WITHOUT_DNS_PROXY',
  storageNetwork: 'STORAGE_NETWORK_BLOCKS_COMPUTE',
  keyVaultNetwork: 'KEY_VAULT_NETWORK_BLOCKS_COMPUTE',
  registryUnreachable: 'CONTAINER_REGISTRY_UNREACHABLE',
  imageBuildCompute: 'IMAGE_BUILD_COMPUTE_MISSING',
  managedNetwork: 'MANAGED_NETWORK_NOT_READY',
} as const;
const C = CODES;
export const ALL_CODES: string[] = Object.values(CODES);

/** For the flow-analysis scenarios: every code but the expected ones must stay silent. */
const allBut = (...expected: string[]): string[] => ALL_CODES.filter((c) => !expected.includes(c));

type FlowIntent = NonNullable<ScenarioExpectation['flows']>;
type BlockedFlow = NonNullable<FlowIntent['blocked']>[number];

/** Flows blocked at one hop for one reason. */
const at = (hop: string, reason: string, ...ids: string[]): BlockedFlow[] => ids.map((id) => ({ id, hop, reason }));
/** The flows that go to the workspace private endpoint. */
const PE_FLOWS = ['workspace-api', 'workspace-cert', 'notebooks', 'instance-name'];
/** The flows that leave for public service-tag destinations (no dependency private endpoints). */
const INTERNET_FLOWS = ['aml-service', 'entra-id', 'arm', 'storage', 'key-vault', 'container-registry', 'mcr', 'batch'];

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
    // The registry is private too, reached through its own private endpoint (approved).
    dependencies: { registry: { sku: 'Premium', publicNetworkAccess: 'Disabled', privateEndpoint: { name: 'pe-cr-fraud-weu' } } },
  });
  // VNets created before custom DNS was ever set carry no dhcpOptions at all.
  patchProperties(e, e.ids.computeVnet, (p) => void delete p.dhcpOptions);
  return toScenario(e, {
    name: 'healthy-single-vnet',
    title: 'Healthy: private workspace, compute and private endpoint in one VNet',
    description:
      'A private workspace (public network access disabled) in westeurope. The compute instance, a build cluster and the workspace private endpoint share one VNet that uses Azure DNS. Both private DNS zones exist in the same subscription, are linked to the VNet and hold the records the zone group created. The container registry is private as well and reached through its own approved private endpoint; the build cluster builds images. Nothing is wrong: sign-in works.',
    computeName: 'ci-anna-weu',
    expect: { exitCode: 0, verdict: 'no-cause-found', absentCodes: ALL_CODES, flows: {} },
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
    expect: { exitCode: 0, verdict: 'no-cause-found', absentCodes: ALL_CODES, flows: {} },
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
      // Only the placement is wrong: the NSG default deny and the None route it hits are not causes of their own.
      absentCodes: allBut(C.peMissing),
      // DNS answers the endpoint's address, but nothing routes there: 172.24.2.4 is in no VNet the compute VNet holds or peers with.
      flows: { blocked: at('route', 'no-path', ...PE_FLOWS) },
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
      flows: { blocked: at('destination', 'endpoint-not-approved', ...PE_FLOWS) },
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
      topFinding: { code: C.zoneMissing, resourceId: e.ids.privateEndpoint as string, symptoms: [C.zoneGroupMissing, C.dnsPublic] },
      alsoFinds: [C.instanceName],
      absentCodes: [C.peMissing, C.peNotApproved, C.recordStale, C.zoneNotLinked, C.customDns, C.dnsFailed, C.peering, C.sso],
      flows: { blocked: at('dns', 'dns-wrong-address', ...PE_FLOWS) },
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
      flows: {},
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
      topFinding: { code: C.recordMissing, resourceId: e.ids.zones.api as string, symptoms: [C.dnsFailed] },
      alsoFinds: [C.instanceName],
      absentCodes: [C.peMissing, C.peNotApproved, C.zoneMissing, C.zoneGroupMissing, C.recordStale, C.zoneNotLinked, C.customDns, C.dnsPublic, C.peering, C.sso],
      // The instance names follow the workspace API name into the same NXDOMAIN; cert and notebooks still resolve.
      flows: { blocked: at('dns', 'dns-failed', 'workspace-api', 'instance-name') },
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
      flows: { blocked: at('dns', 'dns-wrong-address', 'workspace-api', 'workspace-cert', 'instance-name') },
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
      topFinding: { code: C.zoneNotLinked, resourceId: e.ids.zones.api as string, symptoms: [C.dnsPublic] },
      alsoFinds: [C.instanceName],
      absentCodes: [C.peMissing, C.peNotApproved, C.zoneMissing, C.zoneGroupMissing, C.recordMissing, C.recordStale, C.customDns, C.dnsFailed, C.peering, C.sso],
      flows: { blocked: at('dns', 'dns-wrong-address', ...PE_FLOWS) },
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
      topFinding: { code: C.customDns, resourceId: e.ids.computeVnet, symptoms: [C.dnsPublic] },
      alsoFinds: [C.instanceName],
      absentCodes: [C.peMissing, C.peNotApproved, C.zoneMissing, C.zoneGroupMissing, C.recordMissing, C.recordStale, C.zoneNotLinked, C.dnsFailed, C.peering, C.sso],
      flows: { blocked: at('dns', 'dns-wrong-address', ...PE_FLOWS) },
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
      topFinding: { code: C.zoneNotLinked, resourceId: e.ids.zones.api as string, symptoms: [C.dnsPublic] },
      alsoFinds: [C.instanceName],
      absentCodes: [C.peMissing, C.peNotApproved, C.zoneMissing, C.zoneGroupMissing, C.recordMissing, C.recordStale, C.customDns, C.dnsFailed, C.peering, C.sso],
      flows: { blocked: at('dns', 'dns-wrong-address', ...PE_FLOWS) },
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
      // The endpoint's address lies in the hub, behind the Disconnected peering.
      flows: { blocked: at('peering', 'peering-not-connected', ...PE_FLOWS) },
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
      flows: { blocked: at('dns', 'dns-failed', 'workspace-api', 'workspace-cert', 'notebooks') },
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
      flows: { blocked: at('dns', 'dns-failed', 'instance-name') },
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
      flows: {},
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
    // The endpoint and the hub cannot be read: the flows to it are undetermined, never allowed.
    expect: { exitCode: 3, verdict: 'undetermined', absentCodes: ALL_CODES, flows: { undetermined: PE_FLOWS } },
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
    expect: { exitCode: 0, verdict: 'no-cause-found', absentCodes: ALL_CODES, flows: {} },
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
    expect: { exitCode: 0, verdict: 'no-cause-found', absentCodes: ALL_CODES, flows: {} },
  });
}

// ------------------------------------------------------------------------------------ flow analysis: helpers

/** Azure Firewall rules that let a compute subnet reach everything Azure ML needs (facts §4), by service tag and FQDN. */
function requiredFirewallRules(region: string, sources: string[], omit: { entraId?: boolean } = {}): { network: FirewallRuleSpec[]; application: FirewallRuleSpec[] } {
  const net = (name: string, protocols: Array<'TCP' | 'UDP' | 'Any'>, destinations: string[], ports: string[]): FirewallRuleSpec => ({ kind: 'network', name, protocols, sources, destinations, ports });
  const app = (name: string, fqdns: string[], http = false): FirewallRuleSpec => ({
    kind: 'application', name, sources, fqdns, protocols: [...(http ? [{ protocolType: 'Http' as const, port: 80 }] : []), { protocolType: 'Https', port: 443 }],
  });
  return {
    network: [
      ...(omit.entraId ? [] : [net('AllowEntraId', ['TCP'], ['AzureActiveDirectory'], ['80', '443'])]),
      net('AllowAzureMLTcp', ['TCP'], ['AzureMachineLearning'], ['443', '8787', '18881']),
      net('AllowAzureMLUdp', ['UDP'], ['AzureMachineLearning'], ['5831']),
      net('AllowArm', ['TCP'], ['AzureResourceManager'], ['443']),
      net('AllowBatch', ['Any'], [regionalTag('BatchNodeManagement', region)], ['443']),
      net('AllowStorage', ['TCP'], [regionalTag('Storage', region)], ['443', '445']),
      net('AllowKeyVault', ['TCP'], [regionalTag('AzureKeyVault', region)], ['443']),
      net('AllowAcr', ['TCP'], [regionalTag('AzureContainerRegistry', region)], ['443']),
      net('AllowMcr', ['TCP'], ['MicrosoftContainerRegistry', 'AzureFrontDoor.FirstParty'], ['443']),
    ],
    application: [
      ...(omit.entraId ? [] : [app('AllowLogin', ['login.microsoftonline.com'], true)]),
      app('AllowArmHost', ['management.azure.com']),
      app('AllowAzureML', ['*.azureml.ms', '*.azureml.net', 'ml.azure.com', '*.notebooks.azure.net', '*.aznbcontent.net', 'graph.microsoft.com']),
      app('AllowImages', ['mcr.microsoft.com', '*.data.mcr.microsoft.com']),
      app('AllowPackages', ['pypi.org', '*.pythonhosted.org', '*.anaconda.com']),
    ],
  };
}

function amlRuleGroup(region: string, sources: string[], omit: { entraId?: boolean } = {}): RuleCollectionGroupSpec {
  const r = requiredFirewallRules(region, sources, omit);
  return {
    name: 'rcg-azureml-compute',
    priority: 300,
    collections: [
      { name: 'net-azureml-required', priority: 100, action: 'Allow', rules: r.network },
      { name: 'app-azureml-required', priority: 200, action: 'Allow', rules: r.application },
    ],
  };
}

// ------------------------------------------------------------------------------------ flow analysis: broken

function egressMissingPrivateSubnet(): Scenario {
  const e = buildEstate({
    seed: 'egress-missing-private-subnet',
    region: 'brazilsouth',
    topology: 'single-vnet',
    workspace: { name: 'mlw-credit-brs', resourceGroup: 'rg-credit-ml-brs', imageBuildCompute: 'cpu-scoring' },
    computeVnet: { name: 'vnet-credit-brs', resourceGroup: 'rg-credit-net-brs', base: '10.12', computeSubnet: 'snet-training' },
    privateEndpoint: { name: 'pe-mlw-credit-brs' },
    zones: { resourceGroup: 'rg-credit-dns-brs' },
    computes: [instance('ci-souza'), cluster('cpu-scoring', { maxNodes: 6 })],
    natGateway: false,
    defaultOutboundAccess: false,
  });
  return toScenario(e, {
    name: 'egress-missing-private-subnet',
    title: 'Private subnet without NAT gateway: no way to Entra ID or the Azure ML service',
    description:
      'A private workspace in brazilsouth. The compute subnet was created as a private subnet (defaultOutboundAccess false), the computes have no public IP, and there is neither a NAT gateway nor a default route to a firewall. The workspace private endpoint is reachable, but every public destination is not: Entra ID, the Azure ML service, ARM, storage, key vault, registries and Batch. The compute cannot get a token and falls back to device login, which then cannot complete either. Fix: attach a NAT gateway with a public IP (or route 0.0.0.0/0 to a firewall). Routes and NSGs are computed from configuration.',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.egressMissing, resourceId: e.ids.computeSubnet },
      absentCodes: allBut(C.egressMissing),
      flows: { blocked: at('route', 'no-egress', ...INTERNET_FLOWS) },
    },
  });
}

function nsgDeniesEntraId(): Scenario {
  const e = buildEstate({
    seed: 'nsg-denies-entra-id',
    region: 'norwayeast',
    topology: 'single-vnet',
    workspace: { name: 'mlw-energy-trading-noe', resourceGroup: 'rg-trading-ml-noe' },
    computeVnet: { name: 'vnet-trading-noe', resourceGroup: 'rg-trading-net-noe', base: '10.33', computeSubnet: 'snet-ml-compute' },
    privateEndpoint: { name: 'pe-mlw-trading-noe' },
    zones: { resourceGroup: 'rg-trading-dns-noe' },
    computes: [instance('ci-hansen')],
    computeNsg: {
      rules: [
        {
          name: 'Deny-AzureAD-Outbound', priority: 300, direction: 'Outbound', access: 'Deny', protocol: 'Tcp', destination: 'AzureActiveDirectory', ports: ['80', '443'],
          description: 'Block sign-in to consumer and guest tenants from servers (security baseline 4.2)',
        },
      ],
    },
    vantage: { vmName: 'vm-trading-jump01' },
  });
  return toScenario(e, {
    name: 'nsg-denies-entra-id',
    title: 'A security-baseline NSG rule denies outbound traffic to Entra ID',
    description:
      'A private workspace in norwayeast. A security baseline added Deny-AzureAD-Outbound (priority 300) to the compute subnet NSG, meant for servers, so the compute instance cannot reach login.microsoftonline.com: no token through the managed identity, and the device-login prompt it falls back to cannot complete. A jumpbox VM in the same subnet lets the diagnosis read the effective NSG rules from Azure. Fix: remove the rule or allow AzureActiveDirectory TCP 80/443 at a lower priority number.',
    computeName: 'ci-hansen',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.nsgEntraId, resourceId: e.ids.computeNsg },
      absentCodes: allBut(C.nsgEntraId),
      flows: { blocked: at('nsg', 'nsg-deny', 'entra-id') },
    },
  });
}

function nsgLegacyBlocksAmlService(): Scenario {
  const region = 'southindia';
  const legacy = recommendedNsgRules(region).filter((r) => !r.name.startsWith('AllowAzureML'));
  const e = buildEstate({
    seed: 'nsg-legacy-blocks-aml-service',
    region,
    topology: 'single-vnet',
    workspace: { name: 'mlw-claims-ocr-ins', resourceGroup: 'rg-claims-ocr-ml' },
    computeVnet: { name: 'vnet-claims-ocr-ins', resourceGroup: 'rg-claims-ocr-net', base: '172.18' },
    privateEndpoint: { name: 'pe-mlw-claims-ocr' },
    zones: { resourceGroup: 'rg-claims-ocr-dns' },
    computes: [instance('ci-iyer'), cluster('cpu-ocr-batch')],
    computeNsg: {
      rules: [
        ...legacy,
        { name: 'AllowAzureMLHttpsOutbound', priority: 110, direction: 'Outbound', access: 'Allow', protocol: 'Tcp', source: 'VirtualNetwork', destination: 'AzureMachineLearning', ports: '443' },
        { name: 'DenyInternetOutbound', priority: 4000, direction: 'Outbound', access: 'Deny', destination: 'Internet', description: 'Only the listed service tags may be reached' },
      ],
    },
  });
  return toScenario(e, {
    name: 'nsg-legacy-blocks-aml-service',
    title: 'An NSG copied from an old template allows AzureMachineLearning on 443 only',
    description:
      'A private workspace in southindia whose compute subnet NSG allows a list of service tags and denies the rest of the internet (DenyInternetOutbound, priority 4000). It was copied from a template written before no-public-IP computes went GA: AzureMachineLearning is allowed on TCP 443 only, not TCP 18881 and UDP 5831, which the compute instance agents need to talk to the Azure ML service. The token broker path breaks and the SDK falls back to device login. Evaluated from configuration (no VM in the subnet).',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.nsgAmlService, resourceId: e.ids.computeNsg },
      absentCodes: allBut(C.nsgAmlService),
      flows: { blocked: at('nsg', 'nsg-deny', 'aml-service') },
    },
  });
}

function nsgDeniesHubPrivateEndpoint(): Scenario {
  const e = buildEstate({
    seed: 'nsg-denies-hub-private-endpoint',
    region: 'southafricanorth',
    topology: 'hub-spoke',
    workspace: { name: 'mlw-mining-san', resourceGroup: 'rg-mining-ml-san' },
    computeVnet: { name: 'vnet-spoke-mining-san', resourceGroup: 'rg-mining-net-san', base: '10.23' },
    hub: { name: 'vnet-hub-san', resourceGroup: 'rg-hub-san', base: '10.22' },
    privateEndpoint: { name: 'pe-mlw-mining-san', resourceGroup: 'rg-hub-san-privatelink' },
    zones: { resourceGroup: 'rg-hub-san-dns' },
    computes: [instance('ci-ndlovu'), cluster('gpu-geology', { vmSize: 'STANDARD_NC24ADS_A100_V4' })],
    computeNsg: {
      rules: [{ name: 'Deny-Spoke-To-Hub', priority: 400, direction: 'Outbound', access: 'Deny', destination: '10.22.0.0/16', description: 'Spokes talk to the hub only through the firewall' }],
    },
    vantage: {},
  });
  return toScenario(e, {
    name: 'nsg-denies-hub-private-endpoint',
    title: 'The spoke NSG denies all traffic to the hub, where the workspace private endpoint lives',
    description:
      'A private workspace in southafricanorth, hub-and-spoke across two subscriptions. The network team added Deny-Spoke-To-Hub (priority 400, destination 10.22.0.0/16) to the compute subnet NSG, assuming all hub traffic goes through a firewall. The workspace private endpoint is in the hub (10.22.2.4), so the computes cannot reach the workspace API, cert or notebooks names although DNS is right. A jumpbox in the spoke gives the effective NSG rules. All computes are analysed.',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.nsgPrivateEndpoint, resourceId: e.ids.computeNsg },
      absentCodes: allBut(C.nsgPrivateEndpoint),
      flows: { blocked: at('nsg', 'nsg-deny', ...PE_FLOWS) },
    },
  });
}

function endpointSubnetNsgDeniesCompute(): Scenario {
  const e = buildEstate({
    seed: 'endpoint-subnet-nsg-denies-compute',
    region: 'uaenorth',
    topology: 'single-vnet',
    workspace: { name: 'mlw-logistics-uae', resourceGroup: 'rg-logistics-ml-uae' },
    computeVnet: { name: 'vnet-logistics-uae', resourceGroup: 'rg-logistics-net-uae', base: '10.66', endpointSubnet: 'snet-privatelink' },
    privateEndpoint: { name: 'pe-mlw-logistics-uae' },
    zones: { resourceGroup: 'rg-logistics-dns-uae' },
    computes: [instance('ci-almansoori')],
    endpointSubnet: {
      privateEndpointNetworkPolicies: 'Enabled',
      nsgRules: [
        { name: 'Allow-Analysts-Https', priority: 100, direction: 'Inbound', access: 'Allow', protocol: 'Tcp', source: '10.66.8.0/24', ports: '443' },
        { name: 'Deny-VNet-Inbound', priority: 4000, direction: 'Inbound', access: 'Deny', source: 'VirtualNetwork', description: 'Private endpoints: analysts subnet only' },
      ],
    },
  });
  return toScenario(e, {
    name: 'endpoint-subnet-nsg-denies-compute',
    title: 'Network policies on the private endpoint subnet: its NSG admits the analysts subnet only',
    description:
      'A private workspace in uaenorth. The private endpoint subnet has privateEndpointNetworkPolicies Enabled, so its NSG applies to the endpoints. That NSG allows HTTPS from the analysts subnet (10.66.8.0/24) and denies the rest of the VNet (Deny-VNet-Inbound, priority 4000), which includes the compute subnet. The compute instance resolves the workspace to 10.66.2.4 but its connections are dropped at the endpoint, so it falls back to device login. Evaluated from configuration.',
    computeName: 'ci-almansoori',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.nsgPrivateEndpoint, resourceId: e.ids.endpointNsg as string },
      absentCodes: allBut(C.nsgPrivateEndpoint),
      flows: { blocked: at('nsg', 'nsg-deny', ...PE_FLOWS) },
    },
  });
}

function firewallBlocksEntraId(): Scenario {
  const region = 'westcentralus';
  const e = buildEstate({
    seed: 'firewall-blocks-entra-id',
    region,
    topology: 'hub-spoke',
    workspace: { name: 'mlw-telemetry-wcus', resourceGroup: 'rg-telemetry-ml' },
    computeVnet: { name: 'vnet-spoke-telemetry', resourceGroup: 'rg-telemetry-net', base: '10.130' },
    hub: { name: 'vnet-hub-wcus', resourceGroup: 'rg-hub-wcus', base: '10.128' },
    privateEndpoint: { name: 'pe-mlw-telemetry', resourceGroup: 'rg-hub-wcus-privatelink' },
    zones: { resourceGroup: 'rg-hub-wcus-dns' },
    computes: [instance('ci-walker'), cluster('cpu-ingest')],
    natGateway: false,
    routeTable: { routes: [{ name: 'default-to-firewall', prefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIp: 'firewall' }], disableBgpRoutePropagation: true },
    firewall: {
      name: 'afw-hub-wcus',
      policy: { name: 'afwp-hub-wcus', dnsProxy: true, groups: [amlRuleGroup(region, ['10.130.0.0/16'], { entraId: true })] },
    },
  });
  return toScenario(e, {
    name: 'firewall-blocks-entra-id',
    title: 'Forced tunnel to a hub firewall whose policy has no rule for Entra ID',
    description:
      "A private workspace in westcentralus, hub-and-spoke. The spoke routes 0.0.0.0/0 to the hub's Azure Firewall (10.128.3.4). Its policy allows the Azure ML service tags, ARM, storage, registries and Batch, but nobody added login.microsoftonline.com or the AzureActiveDirectory tag, so the firewall drops every Entra ID request (no matching rule). Managed identity tokens and the device-login prompt both fail. Evaluated from configuration.",
    computeName: 'ci-walker',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.firewallBlocks, resourceId: e.ids.firewallPolicy as string },
      absentCodes: allBut(C.firewallBlocks),
      flows: { blocked: at('firewall', 'firewall-no-matching-rule', 'entra-id') },
    },
  });
}

function routeToDecommissionedAppliance(): Scenario {
  const e = buildEstate({
    seed: 'route-to-decommissioned-appliance',
    region: 'japanwest',
    topology: 'hub-spoke',
    workspace: { name: 'mlw-robotics-jpw', resourceGroup: 'rg-robotics-ml-jpw' },
    computeVnet: { name: 'vnet-spoke-robotics-jpw', resourceGroup: 'rg-robotics-net-jpw', base: '10.145' },
    hub: { name: 'vnet-hub-jpw', resourceGroup: 'rg-hub-jpw', base: '10.144' },
    privateEndpoint: { name: 'pe-mlw-robotics-jpw', resourceGroup: 'rg-hub-jpw' },
    zones: { resourceGroup: 'rg-hub-jpw-dns' },
    computes: [instance('ci-kimura')],
    natGateway: false,
    routeTable: { name: 'rt-spoke-robotics-egress', routes: [{ name: 'default-via-hub-fw', prefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIp: '10.144.3.4' }] },
    vantage: { vmName: 'vm-robotics-bastion' },
  });
  return toScenario(e, {
    name: 'route-to-decommissioned-appliance',
    title: 'Default route to a firewall address that nothing owns any more',
    description:
      'A private workspace in japanwest, hub-and-spoke. The spoke route table still sends 0.0.0.0/0 to 10.144.3.4, the private IP of a hub firewall that was decommissioned; no firewall or NIC in the searched subscriptions holds that address now, so every packet to a public destination is dropped: Entra ID, the Azure ML service, ARM, storage, registries, Batch. A jumpbox in the spoke gives the effective routes and Network Watcher next hops. Fix: point the route at the new firewall or remove it and add a NAT gateway.',
    computeName: 'ci-kimura',
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.routeUnreachable, resourceId: e.ids.routeTable as string },
      absentCodes: allBut(C.routeUnreachable),
      flows: { blocked: at('route', 'route-unowned-appliance', ...INTERNET_FLOWS) },
    },
  });
}

function forwardedTrafficDisallowed(): Scenario {
  const region = 'eastasia';
  const e = buildEstate({
    seed: 'firewall-across-peering-no-forwarded-traffic',
    region,
    topology: 'hub-spoke',
    workspace: { name: 'mlw-fx-pricing-hk', resourceGroup: 'rg-fx-ml-hk' },
    computeVnet: { name: 'vnet-spoke-fx-hk', resourceGroup: 'rg-fx-net-hk', base: '10.171' },
    hub: { name: 'vnet-hub-hk', resourceGroup: 'rg-hub-hk', base: '10.170' },
    privateEndpoint: { name: 'pe-mlw-fx-pricing', resourceGroup: 'rg-hub-hk' },
    zones: { resourceGroup: 'rg-hub-hk-dns' },
    computes: [instance('ci-chan'), cluster('cpu-montecarlo', { maxNodes: 16 })],
    natGateway: false,
    routeTable: { routes: [{ name: 'to-hub-firewall', prefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIp: 'firewall' }] },
    firewall: { name: 'afw-hub-hk', policy: { name: 'afwp-hub-hk', dnsProxy: true, groups: [amlRuleGroup(region, ['10.171.0.0/16'])] } },
  });
  patchProperties(e, e.ids.peerings.computeToHub, (p) => void (p.allowForwardedTraffic = false));
  return toScenario(e, {
    name: 'firewall-across-peering-no-forwarded-traffic',
    title: 'Default route to the hub firewall over a peering that refuses forwarded traffic',
    description:
      "A private workspace in eastasia, hub-and-spoke. The spoke routes 0.0.0.0/0 to the hub's Azure Firewall, whose policy allows everything Azure ML needs, but the spoke's peering to the hub was recreated with allowForwardedTraffic false. Replies from the internet come back through the firewall as forwarded traffic and are dropped, so no public destination works: Entra ID, the Azure ML service, ARM, storage, registries, Batch. The workspace private endpoint in the hub is still reachable. Evaluated from configuration. All computes are analysed.",
    expect: {
      exitCode: 1,
      verdict: 'cause-found',
      topFinding: { code: C.routeUnreachable, resourceId: e.ids.peerings.computeToHub as string },
      absentCodes: allBut(C.routeUnreachable),
      flows: { blocked: at('route', 'route-appliance-across-peering', ...INTERNET_FLOWS) },
    },
  });
}

function forcedTunnelAsymmetric(): Scenario {
  const region = 'australiasoutheast';
  const e = buildEstate({
    seed: 'forced-tunnel-asymmetric',
    region,
    topology: 'hub-spoke',
    workspace: { name: 'mlw-agritech-ause', resourceGroup: 'rg-agritech-ml' },
    computeVnet: { name: 'vnet-spoke-agritech', resourceGroup: 'rg-agritech-net', base: '10.81' },
    hub: { name: 'vnet-hub-ause', resourceGroup: 'rg-hub-ause', base: '10.80' },
    privateEndpoint: { name: 'pe-mlw-agritech', resourceGroup: 'rg-hub-ause' },
    zones: { resourceGroup: 'rg-hub-ause-dns' },
    computes: [instance('ci-nguyen', { publicIp: true }), cluster('cpu-yield', { publicIp: true })],
    natGateway: false,
    computeNsg: { rules: recommendedNsgRules(region, { inbound: true }) },
    routeTable: { routes: [{ name: 'forced-tunnel', prefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIp: 'firewall' }] },
    firewall: { name: 'afw-hub-ause', policy: { name: 'afwp-hub-ause', dnsProxy: true, groups: [amlRuleGroup(region, ['10.81.0.0/16'])] } },
    vantage: {},
  });
  return toScenario(e, {
    name: 'forced-tunnel-asymmetric',
    title: 'Public-IP computes behind a forced tunnel without the AzureMachineLearning route',
    description:
      "A private workspace in australiasoutheast, hub-and-spoke. The compute instance and cluster were created with public IPs, and the spoke forces 0.0.0.0/0 through the hub firewall (which allows everything Azure ML needs outbound). There is no AzureMachineLearning (or BatchNodeManagement) route to Internet, so the service's inbound calls on TCP 44224 arrive at the computes' public IPs but the replies leave through the firewall, which drops them: compute creation, start and updates fail. Sign-in itself works. A jumpbox gives the effective routes. All computes are analysed.",
    expect: {
      exitCode: 1,
      verdict: 'no-cause-found',
      topFinding: { code: C.routeAsymmetric, resourceId: e.ids.routeTable as string },
      absentCodes: allBut(C.routeAsymmetric),
      flows: { blocked: at('route', 'route-asymmetric', 'aml-inbound') },
    },
  });
}

function nsgBlocksInbound44224(): Scenario {
  const e = buildEstate({
    seed: 'nsg-blocks-inbound-44224',
    region: 'ukwest',
    topology: 'single-vnet',
    workspace: { name: 'mlw-nhs-imaging-ukw', resourceGroup: 'rg-imaging-ml-ukw' },
    computeVnet: { name: 'vnet-imaging-ukw', resourceGroup: 'rg-imaging-net-ukw', base: '10.95' },
    privateEndpoint: { name: 'pe-mlw-imaging-ukw' },
    zones: { resourceGroup: 'rg-imaging-dns-ukw' },
    computes: [cluster('gpu-segmentation', { publicIp: true, vmSize: 'STANDARD_NC6S_V3' }), instance('ci-patel-imaging', { publicIp: true })],
  });
  return toScenario(e, {
    name: 'nsg-blocks-inbound-44224',
    title: 'Public-IP computes behind an NSG that keeps only the default inbound rules',
    description:
      "A private workspace in ukwest. The platform team's compute subnet NSG has only Azure's default rules, and the GPU cluster and compute instance were created with public IPs. Public-IP computes are managed through inbound TCP 44224 from the AzureMachineLearning service tag, which DenyAllInBound drops, so node allocation and instance operations fail. Sign-in works. Evaluated from configuration. All computes are analysed.",
    expect: {
      exitCode: 1,
      verdict: 'no-cause-found',
      topFinding: { code: C.nsgInbound, resourceId: e.ids.computeNsg },
      absentCodes: allBut(C.nsgInbound),
      flows: { blocked: at('nsg', 'nsg-deny', 'aml-inbound') },
    },
  });
}

function nsgBlocksSmbOutbound(): Scenario {
  const e = buildEstate({
    seed: 'nsg-blocks-smb-outbound',
    region: 'southcentralus',
    topology: 'single-vnet',
    workspace: { name: 'mlw-refinery-scus', resourceGroup: 'rg-refinery-ml' },
    computeVnet: { name: 'vnet-refinery-scus', resourceGroup: 'rg-refinery-net', base: '10.105' },
    privateEndpoint: { name: 'pe-mlw-refinery-scus' },
    zones: { resourceGroup: 'rg-refinery-dns' },
    computes: [instance('ci-garza')],
    computeNsg: { rules: [{ name: 'Deny-SMB-Outbound', priority: 200, direction: 'Outbound', access: 'Deny', protocol: 'Tcp', ports: '445', description: 'CIS: block outbound SMB' }] },
    vantage: { vmName: 'vm-refinery-jump' },
  });
  return toScenario(e, {
    name: 'nsg-blocks-smb-outbound',
    title: 'An outbound SMB block breaks the workspace file share',
    description:
      "A private workspace in southcentralus. A CIS-style rule denies outbound TCP 445 everywhere (Deny-SMB-Outbound, priority 200). The compute instance mounts the workspace's default file share over SMB, so the notebooks file system and code uploads fail; sign-in works. The jumpbox gives the effective NSG rules.",
    computeName: 'ci-garza',
    expect: {
      exitCode: 1,
      verdict: 'no-cause-found',
      topFinding: { code: C.nsgOutbound, resourceId: e.ids.computeNsg },
      absentCodes: allBut(C.nsgOutbound),
      flows: { blocked: at('nsg', 'nsg-deny', 'storage') },
    },
  });
}

function firewallFqdnNetworkRuleWithoutProxy(): Scenario {
  const region = 'italynorth';
  const platform = requiredFirewallRules(region, ['*']);
  const e = buildEstate({
    seed: 'firewall-fqdn-network-rule-no-dns-proxy',
    region,
    topology: 'hub-spoke',
    workspace: { name: 'mlw-fashion-itn', resourceGroup: 'rg-fashion-ml-itn' },
    computeVnet: { name: 'vnet-spoke-fashion-itn', resourceGroup: 'rg-fashion-net-itn', base: '10.121' },
    hub: { name: 'vnet-hub-itn', resourceGroup: 'rg-hub-itn', base: '10.120' },
    privateEndpoint: { name: 'pe-mlw-fashion-itn', resourceGroup: 'rg-hub-itn' },
    zones: { resourceGroup: 'rg-hub-itn-dns' },
    computes: [instance('ci-rossi-fashion')],
    natGateway: false,
    routeTable: { routes: [{ name: 'default-firewall', prefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIp: 'firewall' }] },
    firewall: {
      name: 'afw-hub-itn',
      basePolicy: {
        name: 'afwp-platform-baseline',
        groups: [
          {
            name: 'rcg-platform-baseline',
            priority: 100,
            collections: [
              { name: 'net-platform', priority: 100, action: 'Allow', rules: platform.network.filter((r) => r.name !== 'AllowMcr') },
              { name: 'app-platform', priority: 200, action: 'Allow', rules: platform.application.filter((r) => r.name !== 'AllowImages') },
            ],
          },
        ],
      },
      policy: {
        name: 'afwp-ml-workloads-itn',
        dnsProxy: false,
        groups: [
          {
            name: 'rcg-ml-images',
            priority: 400,
            collections: [
              {
                name: 'net-ml-images',
                priority: 100,
                action: 'Allow',
                rules: [{ kind: 'network', name: 'AllowMcrByName', protocols: ['TCP'], sources: ['10.121.0.0/16'], fqdns: ['mcr.microsoft.com', `${region}.data.mcr.microsoft.com`], ports: ['443'] }],
              },
            ],
          },
        ],
      },
    },
  });
  return toScenario(e, {
    name: 'firewall-fqdn-network-rule-no-dns-proxy',
    title: 'Microsoft Container Registry allowed by FQDN in a network rule, with DNS proxy off',
    description:
      "A private workspace in italynorth. The hub firewall's workload policy (child of the platform baseline, which allows the Azure ML service tags, Entra ID and ARM) lets the ML spoke reach mcr.microsoft.com through a network rule with destination FQDNs. DNS proxy is off on the policy, so the firewall cannot resolve those FQDNs and the rule never matches: image pulls from MCR are dropped and environment builds fail. Sign-in works. Evaluated from configuration.",
    computeName: 'ci-rossi-fashion',
    expect: {
      exitCode: 1,
      verdict: 'no-cause-found',
      // The blocked flow's finding carries the FQDN assumption (low confidence); the policy setting itself is certain.
      topFinding: { code: C.fqdnWithoutProxy, resourceId: e.ids.firewallPolicy as string, symptoms: [C.firewallBlocks] },
      absentCodes: allBut(C.firewallBlocks, C.fqdnWithoutProxy),
      flows: { blocked: at('firewall', 'firewall-no-matching-rule', 'mcr') },
    },
  });
}

function storageFirewallBlocksCompute(): Scenario {
  const e = buildEstate({
    seed: 'storage-firewall-blocks-compute',
    region: 'centralindia',
    topology: 'single-vnet',
    workspace: { name: 'mlw-kyc-cin', resourceGroup: 'rg-kyc-ml-cin', imageBuildCompute: 'cpu-build' },
    computeVnet: { name: 'vnet-kyc-cin', resourceGroup: 'rg-kyc-net-cin', base: '10.135' },
    privateEndpoint: { name: 'pe-mlw-kyc-cin' },
    zones: { resourceGroup: 'rg-kyc-dns-cin' },
    computes: [instance('ci-sharma'), cluster('cpu-build', { vmSize: 'STANDARD_D4S_V3' })],
    dependencies: { storage: { defaultAction: 'Deny', computeSubnetRule: true, workspaceRule: true } },
  });
  return toScenario(e, {
    name: 'storage-firewall-blocks-compute',
    title: "The storage firewall names the compute subnet, but the subnet lost its service endpoint",
    description:
      "A private workspace in centralindia. The default storage account denies public traffic except from the compute subnet (a virtual network rule) and the workspace (a resource-instance rule). Someone removed the Microsoft.Storage service endpoint from the compute subnet, so the computes reach storage from the NAT gateway's public IP, which the rule does not admit: datastores, the notebook file share and job outputs fail. Sign-in works. Evaluated from configuration.",
    computeName: 'ci-sharma',
    expect: {
      exitCode: 1,
      verdict: 'no-cause-found',
      topFinding: { code: C.storageNetwork, resourceId: e.ids.storage },
      absentCodes: allBut(C.storageNetwork),
      flows: { blocked: at('destination', 'destination-network-rules', 'storage') },
    },
  });
}

function keyVaultFirewallBlocksCompute(): Scenario {
  const e = buildEstate({
    seed: 'key-vault-firewall-blocks-compute',
    region: 'polandcentral',
    topology: 'single-vnet',
    workspace: { name: 'mlw-retail-pl', resourceGroup: 'rg-retail-ml-pl' },
    computeVnet: { name: 'vnet-retail-pl', resourceGroup: 'rg-retail-net-pl', base: '172.26' },
    privateEndpoint: { name: 'pe-mlw-retail-pl' },
    zones: { resourceGroup: 'rg-retail-dns-pl' },
    computes: [instance('ci-kowalski')],
    dependencies: { keyVault: { defaultAction: 'Deny', bypass: 'AzureServices' } },
  });
  return toScenario(e, {
    name: 'key-vault-firewall-blocks-compute',
    title: 'The workspace key vault firewall admits trusted services only',
    description:
      "A private workspace in polandcentral. The workspace's key vault was locked down (default action Deny, trusted Microsoft services allowed) without a private endpoint, a virtual network rule or a service endpoint for the compute subnet. The workspace itself still works through the trusted-services bypass, but code on the compute instance that reads datastore secrets or connection strings from the vault is refused. Sign-in works. Evaluated from configuration.",
    computeName: 'ci-kowalski',
    expect: {
      exitCode: 1,
      verdict: 'no-cause-found',
      topFinding: { code: C.keyVaultNetwork, resourceId: e.ids.keyVault },
      absentCodes: allBut(C.keyVaultNetwork),
      flows: { blocked: at('destination', 'destination-network-rules', 'key-vault') },
    },
  });
}

function registryEndpointPending(): Scenario {
  const e = buildEstate({
    seed: 'container-registry-endpoint-pending',
    region: 'canadaeast',
    topology: 'hub-spoke',
    workspace: { name: 'mlw-hydro-cae', resourceGroup: 'rg-hydro-ml-cae', imageBuildCompute: 'cpu-envbuild' },
    computeVnet: { name: 'vnet-spoke-hydro-cae', resourceGroup: 'rg-hydro-net-cae', base: '10.191' },
    hub: { name: 'vnet-hub-cae', resourceGroup: 'rg-hub-cae', base: '10.190' },
    privateEndpoint: { name: 'pe-mlw-hydro-cae', resourceGroup: 'rg-hub-cae-privatelink' },
    zones: { resourceGroup: 'rg-hub-cae-dns' },
    computes: [instance('ci-tremblay-hydro'), cluster('cpu-envbuild')],
    dependencies: { registry: { sku: 'Premium', publicNetworkAccess: 'Disabled', privateEndpoint: { name: 'pe-cr-hydro-cae', status: 'Pending', resourceGroup: 'rg-hub-cae-privatelink' } } },
  });
  return toScenario(e, {
    name: 'container-registry-endpoint-pending',
    title: "The registry's public access is off and its private endpoint is still Pending",
    description:
      "A private workspace in canadaeast, hub-and-spoke. The workspace's Premium container registry has public network access disabled. A private endpoint for it was created in the hub by the network team, but the registry owner never approved the connection (Pending), so the computes have no path to the registry: environment images cannot be pulled or pushed, and jobs fail. The image-build cluster is set correctly. Sign-in works. Evaluated from configuration.",
    computeName: 'ci-tremblay-hydro',
    expect: {
      exitCode: 1,
      verdict: 'no-cause-found',
      topFinding: { code: C.registryUnreachable, resourceId: e.ids.registry },
      absentCodes: allBut(C.registryUnreachable),
      flows: { blocked: at('destination', 'destination-network-rules', 'container-registry') },
    },
  });
}

function imageBuildComputeIsGpu(): Scenario {
  const e = buildEstate({
    seed: 'image-build-compute-gpu',
    region: 'northcentralus',
    topology: 'single-vnet',
    workspace: { name: 'mlw-audio-ncus', resourceGroup: 'rg-audio-ml-ncus', imageBuildCompute: 'gpu-asr' },
    computeVnet: { name: 'vnet-audio-ncus', resourceGroup: 'rg-audio-net-ncus', base: '10.36' },
    privateEndpoint: { name: 'pe-mlw-audio-ncus' },
    zones: { resourceGroup: 'rg-audio-dns-ncus' },
    computes: [instance('ci-oconnor'), cluster('gpu-asr', { vmSize: 'STANDARD_NC6S_V3', maxNodes: 4 })],
    dependencies: { storage: { defaultAction: 'Deny', computeSubnetRule: true, serviceEndpoint: true, workspaceRule: true } },
    vantage: {},
  });
  return toScenario(e, {
    name: 'image-build-compute-gpu',
    title: 'Storage is network-restricted and the image-build compute is a GPU cluster',
    description:
      "A private workspace in northcentralus. The default storage account denies public access except from the compute subnet (virtual network rule plus the Microsoft.Storage service endpoint) and the workspace (resource-instance rule), so the computes reach it. Because storage is restricted, environment images must be built on a CPU cluster in the VNet, but imageBuildCompute names gpu-asr, a GPU cluster: image builds fail. Every flow is allowed; the jumpbox shows the service endpoint route.",
    computeName: 'ci-oconnor',
    expect: {
      exitCode: 1,
      verdict: 'no-cause-found',
      topFinding: { code: C.imageBuildCompute, resourceId: e.ids.workspace },
      absentCodes: allBut(C.imageBuildCompute),
      flows: {},
    },
  });
}

function managedNetworkRuleInactive(): Scenario {
  const e = buildEstate({
    seed: 'managed-network-rule-inactive',
    region: 'qatarcentral',
    topology: 'single-vnet',
    workspace: {
      name: 'mlw-aviation-qac',
      resourceGroup: 'rg-aviation-ml-qac',
      managedNetwork: { isolationMode: 'AllowOnlyApprovedOutbound', status: 'Active', inactive: ['blob'], fqdnRules: { 'allow-pypi': 'pypi.org' } },
    },
    computeVnet: { name: 'vnet-aviation-clients-qac', resourceGroup: 'rg-aviation-net-qac', base: '10.56' },
    privateEndpoint: { name: 'pe-mlw-aviation-qac' },
    zones: { resourceGroup: 'rg-aviation-dns-qac' },
    computes: [instance('ci-al-thani')],
  });
  return toScenario(e, {
    name: 'managed-network-rule-inactive',
    title: 'Managed network: the required private endpoint rule to blob storage is not Active',
    description:
      "A workspace in qatarcentral with managed virtual network isolation (allow only approved outbound). The computes run in the managed network, so customer subnet routes and NSGs do not apply; users reach the workspace through a private endpoint in the client VNet, which is healthy. The required outbound private endpoint rule to the default storage account's blob service is Inactive (the storage owner never approved it), so the computes cannot reach blob storage: jobs and the file system fail.",
    computeName: 'ci-al-thani',
    expect: {
      exitCode: 1,
      verdict: 'no-cause-found',
      topFinding: { code: C.managedNetwork, resourceId: e.ids.workspace },
      absentCodes: allBut(C.managedNetwork),
    },
  });
}

function healthyManagedNetwork(): Scenario {
  const e = buildEstate({
    seed: 'healthy-managed-network',
    region: 'swedencentral',
    topology: 'single-vnet',
    workspace: {
      name: 'mlw-energy-sec',
      resourceGroup: 'rg-energy-ml-sec',
      managedNetwork: { isolationMode: 'AllowInternetOutbound', status: 'Active', inactive: [], fqdnRules: {} },
    },
    computeVnet: { name: 'vnet-energy-clients-sec', resourceGroup: 'rg-energy-net-sec', base: '10.57' },
    privateEndpoint: { name: 'pe-mlw-energy-sec' },
    zones: { resourceGroup: 'rg-energy-dns-sec' },
    computes: [instance('ci-lindqvist')],
  });
  return toScenario(e, {
    name: 'healthy-managed-network',
    title: 'Healthy: managed virtual network provisioned, every required outbound rule Active',
    description:
      'A workspace in swedencentral with managed virtual network isolation (allow internet outbound), provisioned, with the required private endpoint rules to its storage, key vault and registry all Active. Users reach the workspace through a private endpoint in the client VNet with linked zones. Nothing is broken.',
    computeName: 'ci-lindqvist',
    expect: { exitCode: 0, verdict: 'no-cause-found', absentCodes: ALL_CODES },
  });
}

// ------------------------------------------------------------------------------------ flow analysis: healthy and undecidable

function healthyForcedTunnelFirewall(): Scenario {
  const region = 'westus';
  const e = buildEstate({
    seed: 'healthy-forced-tunnel-firewall',
    region,
    topology: 'hub-spoke',
    workspace: { name: 'mlw-vision-wus', resourceGroup: 'rg-vision-ml-wus' },
    computeVnet: { name: 'vnet-spoke-vision-wus', resourceGroup: 'rg-vision-net-wus', base: '10.211' },
    hub: { name: 'vnet-hub-wus', resourceGroup: 'rg-hub-wus', base: '10.210' },
    privateEndpoint: { name: 'pe-mlw-vision-wus', resourceGroup: 'rg-hub-wus' },
    zones: { resourceGroup: 'rg-hub-wus-dns' },
    computes: [instance('ci-martinez', { publicIp: true }), cluster('gpu-detect', { publicIp: true, vmSize: 'STANDARD_NC24ADS_A100_V4' })],
    natGateway: false,
    computeNsg: { rules: recommendedNsgRules(region, { inbound: true }) },
    routeTable: {
      routes: [
        { name: 'forced-tunnel', prefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIp: 'firewall' },
        { name: 'AzureMLRoute', prefix: 'AzureMachineLearning', nextHopType: 'Internet' },
        { name: 'BatchRoute', prefix: regionalTag('BatchNodeManagement', region), nextHopType: 'Internet' },
      ],
      disableBgpRoutePropagation: true,
    },
    firewall: { name: 'afw-hub-wus', policy: { name: 'afwp-hub-wus', dnsProxy: true, groups: [amlRuleGroup(region, ['10.211.0.0/16'])] } },
    vantage: {},
  });
  return toScenario(e, {
    name: 'healthy-forced-tunnel-firewall',
    title: 'Healthy: public-IP computes, forced tunnel, service-tag routes to Internet',
    description:
      'A private workspace in westus, hub-and-spoke. The computes have public IPs; the spoke forces 0.0.0.0/0 through the hub Azure Firewall, whose policy allows Entra ID, ARM, the Azure ML service, storage, key vault, registries and Batch; AzureMachineLearning and BatchNodeManagement.WestUS are routed to Internet as the docs require, so inbound management traffic and its replies stay symmetric. The subnet NSG carries the recommended rules including inbound TCP 44224. A jumpbox gives the effective routes and NSGs. Nothing is wrong. All computes are analysed.',
    expect: { exitCode: 0, verdict: 'no-cause-found', absentCodes: ALL_CODES, flows: {} },
  });
}

function healthyHubFirewallNoPublicIp(): Scenario {
  const region = 'eastus';
  const e = buildEstate({
    seed: 'healthy-hub-firewall-no-public-ip',
    region,
    topology: 'hub-spoke',
    workspace: { name: 'mlw-underwriting-eus', resourceGroup: 'rg-underwriting-ml-eus', imageBuildCompute: 'cpu-images' },
    computeVnet: { name: 'vnet-spoke-underwriting', resourceGroup: 'rg-underwriting-net-eus', base: '10.231' },
    hub: { name: 'vnet-hub-eus-prod', resourceGroup: 'rg-hub-eus-prod', base: '10.230' },
    privateEndpoint: { name: 'pe-mlw-underwriting-eus', resourceGroup: 'rg-hub-eus-prod' },
    zones: { resourceGroup: 'rg-hub-eus-prod-dns' },
    computes: [instance('ci-johnson'), cluster('cpu-images'), cluster('cpu-risk', { maxNodes: 12 })],
    natGateway: false,
    defaultOutboundAccess: false,
    computeNsg: { rules: recommendedNsgRules(region) },
    routeTable: { routes: [{ name: 'default-to-hub-firewall', prefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIp: 'firewall' }], disableBgpRoutePropagation: true },
    firewall: { name: 'afw-hub-eus-prod', policy: { name: 'afwp-hub-eus-prod', dnsProxy: true, groups: [amlRuleGroup(region, ['10.231.0.0/16'])] } },
    dependencies: {
      storage: { defaultAction: 'Deny', computeSubnetRule: true, serviceEndpoint: true, workspaceRule: true },
      keyVault: { defaultAction: 'Deny', computeSubnetRule: true, serviceEndpoint: true },
    },
  });
  return toScenario(e, {
    name: 'healthy-hub-firewall-no-public-ip',
    title: 'Healthy: no-public-IP computes, egress through the hub firewall, locked-down storage and key vault',
    description:
      'A private workspace in eastus, hub-and-spoke. The computes have no public IP, the compute subnet is a private subnet without NAT, and 0.0.0.0/0 goes to the hub Azure Firewall, whose policy allows every destination Azure ML needs. Storage and key vault deny public access except from the compute subnet through service endpoints (storage also admits the workspace by a resource-instance rule), and the image-build cluster is a CPU cluster in the VNet. Nothing is wrong. Evaluated from configuration.',
    computeName: 'ci-johnson',
    expect: { exitCode: 0, verdict: 'no-cause-found', absentCodes: ALL_CODES, flows: {} },
  });
}

function healthyNatGatewayVantage(): Scenario {
  const region = 'westeurope';
  const e = buildEstate({
    seed: 'healthy-nat-gateway-vantage',
    region,
    topology: 'single-vnet',
    workspace: { name: 'mlw-pharma-weu', resourceGroup: 'rg-pharma-ml-weu' },
    computeVnet: { name: 'vnet-pharma-weu', resourceGroup: 'rg-pharma-net-weu', base: '10.46', computeSubnet: 'snet-aml' },
    privateEndpoint: { name: 'pe-mlw-pharma-weu' },
    zones: { resourceGroup: 'rg-pharma-dns-weu' },
    computes: [instance('ci-de-vries'), cluster('cpu-assay')],
    defaultOutboundAccess: false,
    computeNsg: { rules: recommendedNsgRules(region) },
    vantage: { vmName: 'vm-pharma-tools01' },
  });
  return toScenario(e, {
    name: 'healthy-nat-gateway-vantage',
    title: 'Healthy: private subnet with a NAT gateway, read through a VM given with --vantage-vm',
    description:
      'A private workspace in westeurope. The compute subnet is a private subnet whose egress is a NAT gateway with a public IP; its NSG carries the rules the Azure ML docs recommend. A tools VM in the same subnet is passed with --vantage-vm, so the effective routes, effective NSG rules and Network Watcher next hops come from Azure. Nothing is wrong.',
    computeName: 'ci-de-vries',
    vantageFlag: true,
    expect: { exitCode: 0, verdict: 'no-cause-found', absentCodes: ALL_CODES, flows: {} },
  });
}

function networkWatcherDisagrees(): Scenario {
  const e = buildEstate({
    seed: 'network-watcher-disagrees',
    region: 'northeurope',
    topology: 'single-vnet',
    workspace: { name: 'mlw-betting-neu', resourceGroup: 'rg-betting-ml-neu' },
    computeVnet: { name: 'vnet-betting-neu', resourceGroup: 'rg-betting-net-neu', base: '172.30' },
    privateEndpoint: { name: 'pe-mlw-betting-neu' },
    zones: { resourceGroup: 'rg-betting-dns-neu' },
    computes: [instance('ci-murphy')],
    vantage: { vmName: 'vm-betting-jump', disagree: { tag: 'AzureActiveDirectory', nextHopType: 'VirtualAppliance', nextHopIp: '172.30.9.4' } },
  });
  return toScenario(e, {
    name: 'network-watcher-disagrees',
    title: 'Network Watcher and the effective routes disagree about the way to Entra ID',
    description:
      "A private workspace in northeurope with a NAT gateway. The jumpbox's effective routes send Entra ID's addresses to Internet, but Network Watcher's next hop for the same address says VirtualAppliance 172.30.9.4 (for instance a route being changed while the diagnosis ran). The diagnosis cannot tell which is right, so the entra-id flow is undetermined and the result is incomplete, never healthy. Every other flow is allowed.",
    computeName: 'ci-murphy',
    expect: { exitCode: 3, verdict: 'undetermined', absentCodes: ALL_CODES, flows: { undetermined: ['entra-id'] } },
  });
}

function thirdPartyApplianceNotEvaluable(): Scenario {
  const e = buildEstate({
    seed: 'third-party-appliance-not-evaluable',
    region: 'swedencentral',
    topology: 'hub-spoke',
    workspace: { name: 'mlw-steel-sdc', resourceGroup: 'rg-steel-ml-sdc' },
    computeVnet: { name: 'vnet-spoke-steel-sdc', resourceGroup: 'rg-steel-net-sdc', base: '10.241' },
    hub: { name: 'vnet-hub-sdc', resourceGroup: 'rg-hub-sdc', base: '10.240' },
    privateEndpoint: { name: 'pe-mlw-steel-sdc', resourceGroup: 'rg-hub-sdc' },
    zones: { resourceGroup: 'rg-hub-sdc-dns' },
    computes: [instance('ci-lindgren')],
    natGateway: false,
    routeTable: { routes: [{ name: 'default-to-nva', prefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIp: 'nva' }] },
    nva: { name: 'vm-paloalto-fw01' },
  });
  return toScenario(e, {
    name: 'third-party-appliance-not-evaluable',
    title: 'Egress through a third-party firewall appliance whose rules cannot be read',
    description:
      'A private workspace in swedencentral, hub-and-spoke. The spoke routes 0.0.0.0/0 to 10.240.4.4, the trusted NIC of a third-party firewall VM in the hub (IP forwarding on). Azure cannot show that appliance\'s rules, so every flow to a public destination is undetermined: the diagnosis must say so (exit 3) and must not call them allowed. The workspace private endpoint path is fine.',
    computeName: 'ci-lindgren',
    expect: { exitCode: 3, verdict: 'undetermined', absentCodes: ALL_CODES, flows: { undetermined: INTERNET_FLOWS } },
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
    egressMissingPrivateSubnet(),
    nsgDeniesEntraId(),
    nsgLegacyBlocksAmlService(),
    nsgDeniesHubPrivateEndpoint(),
    endpointSubnetNsgDeniesCompute(),
    firewallBlocksEntraId(),
    routeToDecommissionedAppliance(),
    forwardedTrafficDisallowed(),
    forcedTunnelAsymmetric(),
    nsgBlocksInbound44224(),
    nsgBlocksSmbOutbound(),
    firewallFqdnNetworkRuleWithoutProxy(),
    storageFirewallBlocksCompute(),
    keyVaultFirewallBlocksCompute(),
    registryEndpointPending(),
    imageBuildComputeIsGpu(),
    managedNetworkRuleInactive(),
    healthyManagedNetwork(),
    healthyForcedTunnelFirewall(),
    healthyHubFirewallNoPublicIp(),
    healthyNatGatewayVantage(),
    networkWatcherDisagrees(),
    thirdPartyApplianceNotEvaluable(),
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
