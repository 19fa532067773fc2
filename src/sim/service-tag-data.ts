/**
 * The bundled service-tag data the simulated estates publish (`GET …/locations/<region>/serviceTags`):
 * a small, realistic subset of Azure's list for the tags the Azure ML flows need. Global tags carry
 * fixed public ranges; regional tags (`Storage.WestEurope`, …) get a few prefixes derived from the
 * region, so every region has its own ranges. A couple of IPv6 prefixes are included, as Azure
 * publishes them, for the probe to drop.
 *
 * Every address here is data only: nothing connects to it.
 */
import { createHash } from 'node:crypto';

/** One entry of the service tags list, as ARM returns it. */
export interface ServiceTagValue {
  name: string;
  id: string;
  properties: {
    addressPrefixes: string[];
    changeNumber: string;
    networkFeatures: string[];
    region: string;
    state: string;
    systemService: string;
  };
}

/** Region names as service tags spell them (`Storage.WestEurope`); unknown regions keep their spelling. */
const TAG_REGION: Record<string, string> = {
  australiaeast: 'AustraliaEast',
  australiasoutheast: 'AustraliaSoutheast',
  brazilsouth: 'BrazilSouth',
  canadacentral: 'CanadaCentral',
  canadaeast: 'CanadaEast',
  centralindia: 'CentralIndia',
  centralus: 'CentralUS',
  eastasia: 'EastAsia',
  eastus: 'EastUS',
  eastus2: 'EastUS2',
  francecentral: 'FranceCentral',
  germanywestcentral: 'GermanyWestCentral',
  italynorth: 'ItalyNorth',
  japaneast: 'JapanEast',
  japanwest: 'JapanWest',
  koreacentral: 'KoreaCentral',
  northcentralus: 'NorthCentralUS',
  northeurope: 'NorthEurope',
  norwayeast: 'NorwayEast',
  polandcentral: 'PolandCentral',
  qatarcentral: 'QatarCentral',
  southafricanorth: 'SouthAfricaNorth',
  southcentralus: 'SouthCentralUS',
  southeastasia: 'SoutheastAsia',
  southindia: 'SouthIndia',
  swedencentral: 'SwedenCentral',
  switzerlandnorth: 'SwitzerlandNorth',
  uaenorth: 'UAENorth',
  uksouth: 'UKSouth',
  ukwest: 'UKWest',
  usgovarizona: 'USGovArizona',
  usgovvirginia: 'USGovVirginia',
  westcentralus: 'WestCentralUS',
  westeurope: 'WestEurope',
  westus: 'WestUS',
  westus2: 'WestUS2',
  westus3: 'WestUS3',
};

/** `Storage` + `westeurope` -> `Storage.WestEurope`. */
export function regionalTag(family: string, region: string): string {
  const r = region.replace(/\s+/g, '').toLowerCase();
  return `${family}.${TAG_REGION[r] ?? r}`;
}

interface GlobalTag {
  name: string;
  systemService: string;
  v4: string[];
  v6?: string[];
}

const GLOBAL_TAGS: GlobalTag[] = [
  { name: 'AzureActiveDirectory', systemService: 'AzureAD', v4: ['20.190.128.0/18', '40.126.0.0/18', '20.20.32.0/19', '20.231.128.0/19'], v6: ['2603:1006:2000::/48', '2603:1007:200::/48'] },
  { name: 'AzureResourceManager', systemService: 'AzureResourceManager', v4: ['4.150.240.8/29', '13.66.141.176/28', '20.37.158.0/23', '40.79.131.240/28'], v6: ['2603:1030:a07::/48'] },
  { name: 'MicrosoftContainerRegistry', systemService: 'MicrosoftContainerRegistry', v4: ['13.69.64.80/29', '13.69.106.80/29', '20.38.146.144/29', '40.64.135.0/24'] },
  { name: 'AzureFrontDoor.FirstParty', systemService: 'AzureFrontDoor', v4: ['13.107.3.0/24', '13.107.4.0/22', '13.107.9.0/24', '150.171.32.0/22'] },
  { name: 'AzureFrontDoor.FrontEnd', systemService: 'AzureFrontDoor', v4: ['13.107.213.0/24', '13.107.246.0/24', '20.21.37.40/29', '147.243.0.0/16'] },
  { name: 'AzureMonitor', systemService: 'AzureMonitor', v4: ['13.69.229.64/29', '20.50.65.80/28', '40.78.196.64/27'] },
];

/** Regional families: first octet of their derived prefixes (all public ranges) and the system service. */
const REGIONAL_FAMILIES: Array<{ family: string; firstOctet: number; systemService: string; v6?: boolean }> = [
  { family: 'AzureMachineLearning', firstOctet: 51, systemService: 'AzureMachineLearning', v6: true },
  { family: 'Storage', firstOctet: 52, systemService: 'AzureStorage', v6: true },
  { family: 'AzureKeyVault', firstOctet: 104, systemService: 'AzureKeyVault' },
  { family: 'AzureContainerRegistry', firstOctet: 68, systemService: 'AzureContainerRegistry' },
  { family: 'BatchNodeManagement', firstOctet: 191, systemService: 'BatchNodeManagement' },
];

/** Prefixes the global parent tags hold besides the region's own (other regions, not derived). */
const PARENT_EXTRA: Record<string, string[]> = {
  AzureMachineLearning: ['13.66.87.135/32', '20.47.236.0/24'],
  Storage: ['20.60.0.0/16', '20.150.0.0/15'],
  AzureKeyVault: ['13.66.138.88/29', '20.42.64.32/28'],
  AzureContainerRegistry: ['13.66.140.72/29', '20.37.69.0/26'],
  BatchNodeManagement: ['13.65.83.13/32', '20.36.40.0/23'],
};

function bytesOf(seed: string): number[] {
  const h = createHash('sha256').update(seed).digest();
  return [...h];
}

/** Two IPv4 prefixes (and optionally one IPv6) for a regional tag, stable per region. */
function regionalPrefixes(family: string, firstOctet: number, region: string, v6: boolean): { v4: string[]; v6: string[] } {
  const b = bytesOf(`${family}|${region}`);
  const at = (i: number) => b[i] ?? 0;
  const v4 = [`${firstOctet}.${at(0)}.${at(1)}.0/24`, `${firstOctet}.${(at(0) + 97) % 256}.${at(2)}.128/25`];
  const hex = (i: number) => at(i).toString(16).padStart(2, '0');
  return { v4, v6: v6 ? [`2603:10${hex(3)}:${hex(4)}${hex(5)}::/48`] : [] };
}

function cloudLabel(cloud: string): string {
  if (cloud === 'AzureUSGovernment') return 'AzureGovernment';
  if (cloud === 'AzureChinaCloud') return 'AzureChinaCloud';
  return 'Public';
}

/**
 * The body of `GET /subscriptions/<s>/providers/Microsoft.Network/locations/<region>/serviceTags`
 * for one region: global tags, the region's regional tags, and the global parents of those
 * (`Storage` holds `Storage.<Region>`'s prefixes first). IPv6 prefixes come after the IPv4 ones.
 */
export function serviceTagValues(region: string): ServiceTagValue[] {
  const r = region.replace(/\s+/g, '').toLowerCase();
  const entry = (name: string, systemService: string, tagRegion: string, prefixes: string[]): ServiceTagValue => ({
    name,
    id: name,
    properties: {
      addressPrefixes: prefixes,
      changeNumber: String(1 + (bytesOf(`change|${name}`)[0] ?? 0) % 40),
      networkFeatures: ['API', 'NSG', 'UDR', 'FW'],
      region: tagRegion,
      state: 'GA',
      systemService,
    },
  });
  const values: ServiceTagValue[] = GLOBAL_TAGS.map((g) => entry(g.name, g.systemService, '', [...g.v4, ...(g.v6 ?? [])]));
  for (const f of REGIONAL_FAMILIES) {
    const own = regionalPrefixes(f.family, f.firstOctet, r, f.v6 ?? false);
    values.push(entry(f.family, f.systemService, '', [...own.v4, ...(PARENT_EXTRA[f.family] ?? []), ...own.v6]));
    values.push(entry(regionalTag(f.family, r), f.systemService, r, [...own.v4, ...own.v6]));
  }
  return values;
}

/** The service tags singleton resource of a subscription and region, as the simulated ARM serves it. */
export function serviceTagsBody(subscriptionId: string, region: string, cloud: string): Record<string, unknown> & { id: string } {
  const r = region.replace(/\s+/g, '').toLowerCase();
  return {
    id: `/subscriptions/${subscriptionId}/providers/Microsoft.Network/locations/${r}/serviceTags`,
    name: 'Public',
    type: 'Microsoft.Network/serviceTags',
    changeNumber: '187',
    cloud: cloudLabel(cloud),
    values: serviceTagValues(r),
  };
}
