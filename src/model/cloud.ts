/**
 * Azure clouds: ARM endpoint, token scope and the DNS suffixes Azure ML uses in each.
 * Facts: ../shared/reference/azureml-network-facts.md §1.1, §1.2.
 */
export const CLOUD_NAMES = ['AzureCloud', 'AzureUSGovernment', 'AzureChinaCloud'] as const;
export type CloudName = (typeof CLOUD_NAMES)[number];

export interface CloudProfile {
  name: CloudName;
  armEndpoint: string;
  /** Audience for ARM tokens (`<audience>/.default`). */
  armAudience: string;
  authorityHost: string;
  /** Public suffix of the workspace API names; its private-link zone is `privatelink.<apiSuffix>`. */
  apiSuffix: string;
  /** Public suffix of the notebooks names; zone `privatelink.<notebooksSuffix>`. */
  notebooksSuffix: string;
  /** Compute-instance name suffixes, `<ci>.<region>.<suffix>`. */
  instanceSuffixes: string[];
}

export const CLOUDS: Record<CloudName, CloudProfile> = {
  AzureCloud: {
    name: 'AzureCloud',
    armEndpoint: 'https://management.azure.com',
    armAudience: 'https://management.azure.com',
    authorityHost: 'https://login.microsoftonline.com',
    apiSuffix: 'api.azureml.ms',
    notebooksSuffix: 'notebooks.azure.net',
    instanceSuffixes: ['instances.azureml.ms', 'instances.ml.azure.ms'],
  },
  AzureUSGovernment: {
    name: 'AzureUSGovernment',
    armEndpoint: 'https://management.usgovcloudapi.net',
    armAudience: 'https://management.usgovcloudapi.net',
    authorityHost: 'https://login.microsoftonline.us',
    apiSuffix: 'api.ml.azure.us',
    notebooksSuffix: 'notebooks.usgovcloudapi.net',
    instanceSuffixes: ['instances.azureml.us', 'instances.ml.azure.us'],
  },
  AzureChinaCloud: {
    name: 'AzureChinaCloud',
    armEndpoint: 'https://management.chinacloudapi.cn',
    armAudience: 'https://management.chinacloudapi.cn',
    authorityHost: 'https://login.chinacloudapi.cn',
    apiSuffix: 'api.ml.azure.cn',
    notebooksSuffix: 'notebooks.chinacloudapi.cn',
    instanceSuffixes: ['instances.azureml.cn', 'instances.ml.azure.cn'],
  },
};

export function isCloudName(s: string): s is CloudName {
  return (CLOUD_NAMES as readonly string[]).includes(s);
}

/** The private DNS zones a workspace private endpoint needs in this cloud. */
export function requiredZoneNames(cloud: CloudProfile): string[] {
  return [`privatelink.${cloud.apiSuffix}`, `privatelink.${cloud.notebooksSuffix}`];
}

/** Region as ARM spells it in names: lower case, no spaces (`East US` -> `eastus`). */
export function normalizeRegion(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}

export function workspaceApiFqdn(cloud: CloudProfile, workspaceGuid: string, region: string): string {
  return `${workspaceGuid}.workspace.${normalizeRegion(region)}.${cloud.apiSuffix}`.toLowerCase();
}

export function workspaceCertFqdn(cloud: CloudProfile, workspaceGuid: string, region: string): string {
  return `${workspaceGuid}.workspace.${normalizeRegion(region)}.cert.${cloud.apiSuffix}`.toLowerCase();
}

export function instanceFqdns(cloud: CloudProfile, computeName: string, region: string): string[] {
  return cloud.instanceSuffixes.map((s) => `${computeName}.${normalizeRegion(region)}.${s}`.toLowerCase());
}

/**
 * Where a public name's A record lives in private DNS: the zone `privatelink.<suffix>` and the
 * record set name relative to it. Returns undefined when the name is in none of the cloud's
 * workspace zones.
 */
export function privateRecordFor(cloud: CloudProfile, fqdn: string): { zoneName: string; recordName: string } | undefined {
  const name = fqdn.toLowerCase().replace(/\.$/, '');
  for (const suffix of [cloud.apiSuffix, cloud.notebooksSuffix]) {
    if (name.endsWith(`.${suffix}`)) {
      return { zoneName: `privatelink.${suffix}`, recordName: name.slice(0, -(suffix.length + 1)) };
    }
  }
  return undefined;
}

/** Which workspace flow a workspace name belongs to. */
export function purposeOfName(cloud: CloudProfile, fqdn: string): 'workspace-api' | 'workspace-cert' | 'notebooks' | 'other' {
  const name = fqdn.toLowerCase();
  if (name.endsWith(`.cert.${cloud.apiSuffix}`)) return 'workspace-cert';
  if (name.includes('.workspace.') && name.endsWith(`.${cloud.apiSuffix}`)) return 'workspace-api';
  if (name.endsWith(`.${cloud.notebooksSuffix}`)) return 'notebooks';
  return 'other';
}
