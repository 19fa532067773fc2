/**
 * Reads the workspace's storage account, key vault and container registry: their network rules
 * (public access, default action, bypass, virtual network and IP rules), SKU, data-plane host
 * names, and the private endpoints their connections point at (subnet and private IPs). Each
 * resource is read in its own subscription; a resource or endpoint that cannot be read fails alone.
 */
import type { StorageAccount } from '@azure/arm-storage';
import type { Vault } from '@azure/arm-keyvault';
import type { Registry } from '@azure/arm-containerregistry';
import type { NetworkInterface, PrivateEndpoint } from '@azure/arm-network';
import type { Probe, ProbeContext } from './probe.ts';
import { idKey, parentId, sameId, tryParseArmId, type ArmId } from '../src/model/arm-id.ts';
import { normalizeRegion } from '../src/model/cloud.ts';
import {
  failed,
  observed,
  type DependenciesObs,
  type DependencyObs,
  type DependencyPrivateEndpointObs,
  type NetworkAclsObs,
  type Observed,
} from '../src/model/snapshot.ts';
import { skipped, toProbeError } from '../src/azure/errors.ts';

type Kind = DependencyObs['kind'];
type EndpointObs = DependencyPrivateEndpointObs['endpoint'];

/** A private endpoint connection as the three SDKs model it. */
interface Connection {
  privateEndpoint?: { id?: string };
  privateLinkServiceConnectionState?: { status?: string };
}

const LABEL: Record<Kind, string> = { storage: 'storage account', 'key-vault': 'key vault', 'container-registry': 'container registry' };

export const probe = {
  id: 'dependencies',
  title: 'reading the storage account, key vault and container registry',
  needs: ['workspace'],
  async run(ctx, snapshot) {
    const workspace = snapshot.workspace;
    if (!workspace?.ok) {
      return failed(skipped('reading the workspace dependencies', 'the workspace could not be read', ctx.target.workspaceId));
    }
    const ws = workspace.value;
    const wanted: Array<{ id: string; kind: Kind }> = [];
    if (ws.storageAccountId) wanted.push({ id: ws.storageAccountId, kind: 'storage' });
    if (ws.keyVaultId) wanted.push({ id: ws.keyVaultId, kind: 'key-vault' });
    if (ws.containerRegistryId) wanted.push({ id: ws.containerRegistryId, kind: 'container-registry' });
    const resources: DependenciesObs['resources'] = await Promise.all(wanted.map(async (w) => ({ ...w, observed: await readDependency(ctx, w.id, w.kind) })));
    return observed({ resources });
  },
} satisfies Probe<'dependencies'>;

async function readDependency(ctx: ProbeContext, id: string, kind: Kind): Promise<Observed<DependencyObs>> {
  const p = tryParseArmId(id);
  if (!p) return failed({ kind: 'unknown', message: `'${id}' is not a ${LABEL[kind]} resource id`, resourceId: id });
  const name = p.names[p.names.length - 1] ?? '';
  const opts = { ...ctx.azure.call(ctx.signal) };
  let base: Omit<DependencyObs, 'privateEndpoints'>;
  let connections: Connection[];
  try {
    if (kind === 'storage') {
      const a = await ctx.azure.storage(p.subscriptionId).storageAccounts.getProperties(p.resourceGroup, name, opts);
      [base, connections] = [fromStorage(a, id, name), a.privateEndpointConnections ?? []];
    } else if (kind === 'key-vault') {
      const v = await ctx.azure.keyVault(p.subscriptionId).vaults.get(p.resourceGroup, name, opts);
      [base, connections] = [fromKeyVault(v, id, name), v.properties?.privateEndpointConnections ?? []];
    } else {
      const r = await ctx.azure.containerRegistry(p.subscriptionId).registries.get(p.resourceGroup, name, opts);
      [base, connections] = [fromRegistry(r, id, name), r.privateEndpointConnections ?? []];
    }
  } catch (err) {
    return failed(toProbeError(err, `reading ${LABEL[kind]} ${id}`, id));
  }
  const privateEndpoints = await readConnections(ctx, base.id, connections);
  return observed({ ...base, privateEndpoints });
}

// ------------------------------------------------------------------------------ mapping

/** `"Logging, Metrics"` -> `['Logging', 'Metrics']`. */
export function splitBypass(bypass: string | undefined): string[] {
  return (bypass ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

const hosts = (...urls: Array<string | undefined>): string[] => urls.map(hostOf).filter((h): h is string => !!h);

const region = (location: string | undefined): string | undefined => (location ? normalizeRegion(location) : undefined);

function common(id: string, name: string, kind: Kind, location: string | undefined, sku: string | undefined, network: NetworkAclsObs, hostNames: string[]): Omit<DependencyObs, 'privateEndpoints'> {
  const obs: Omit<DependencyObs, 'privateEndpoints'> = { id, name, kind, network, hostNames };
  const loc = region(location);
  if (loc) obs.location = loc;
  if (sku) obs.sku = sku;
  return obs;
}

export function fromStorage(a: StorageAccount, requestedId: string, requestedName: string): Omit<DependencyObs, 'privateEndpoints'> {
  const rules = a.networkRuleSet;
  const network: NetworkAclsObs = {
    bypass: splitBypass(rules?.bypass),
    virtualNetworkSubnetIds: (rules?.virtualNetworkRules ?? []).map((r) => r.virtualNetworkResourceId).filter(Boolean),
    ipRules: (rules?.ipRules ?? []).map((r) => r.iPAddressOrRange).filter(Boolean),
    resourceAccessRules: (rules?.resourceAccessRules ?? []).flatMap((r) => (r.resourceId ? [{ ...(r.tenantId ? { tenantId: r.tenantId } : {}), resourceId: r.resourceId }] : [])),
  };
  if (a.publicNetworkAccess) network.publicNetworkAccess = a.publicNetworkAccess;
  if (rules?.defaultAction) network.defaultAction = rules.defaultAction;
  return common(a.id ?? requestedId, a.name ?? requestedName, 'storage', a.location, a.sku?.name, network, hosts(a.primaryEndpoints?.blob, a.primaryEndpoints?.file));
}

export function fromKeyVault(v: Vault, requestedId: string, requestedName: string): Omit<DependencyObs, 'privateEndpoints'> {
  const props = v.properties;
  const acls = props?.networkAcls;
  const network: NetworkAclsObs = {
    bypass: splitBypass(acls?.bypass),
    virtualNetworkSubnetIds: (acls?.virtualNetworkRules ?? []).map((r) => r.id).filter(Boolean),
    ipRules: (acls?.ipRules ?? []).map((r) => r.value).filter(Boolean),
    resourceAccessRules: [],
  };
  if (props?.publicNetworkAccess) network.publicNetworkAccess = props.publicNetworkAccess;
  if (acls?.defaultAction) network.defaultAction = acls.defaultAction;
  return common(v.id ?? requestedId, v.name ?? requestedName, 'key-vault', v.location, props?.sku?.name, network, hosts(props?.vaultUri));
}

export function fromRegistry(r: Registry, requestedId: string, requestedName: string): Omit<DependencyObs, 'privateEndpoints'> {
  const rules = r.networkRuleSet;
  const network: NetworkAclsObs = {
    bypass: splitBypass(r.networkRuleBypassOptions),
    virtualNetworkSubnetIds: [],
    ipRules: (rules?.ipRules ?? []).map((i) => i.iPAddressOrRange).filter(Boolean),
    resourceAccessRules: [],
  };
  if (r.publicNetworkAccess) network.publicNetworkAccess = r.publicNetworkAccess;
  if (rules?.defaultAction) network.defaultAction = rules.defaultAction;
  const hostNames = r.loginServer ? [r.loginServer.toLowerCase()] : [];
  return common(r.id ?? requestedId, r.name ?? requestedName, 'container-registry', r.location, r.sku?.name, network, hostNames);
}

// ------------------------------------------------------------------------------ private endpoints

async function readConnections(ctx: ProbeContext, resourceId: string, connections: Connection[]): Promise<DependencyPrivateEndpointObs[]> {
  const seen = new Set<string>();
  const unique = connections.filter((c) => {
    const key = c.privateEndpoint?.id ? idKey(c.privateEndpoint.id) : undefined;
    if (!key) return true;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return Promise.all(
    unique.map(async (c): Promise<DependencyPrivateEndpointObs> => {
      const peId = c.privateEndpoint?.id;
      const status = c.privateLinkServiceConnectionState?.status;
      if (!peId) {
        return { ...(status ? { status } : {}), groupIds: [], endpoint: failed(skipped('reading the private endpoint', `a private endpoint connection of ${resourceId} names no endpoint`, resourceId)) };
      }
      const { groupIds, endpoint } = await readEndpoint(ctx, peId, resourceId);
      return { privateEndpointId: peId, ...(status ? { status } : {}), groupIds, endpoint };
    }),
  );
}

async function readEndpoint(ctx: ProbeContext, peId: string, resourceId: string): Promise<{ groupIds: string[]; endpoint: EndpointObs }> {
  const p = tryParseArmId(peId);
  if (!p) return { groupIds: [], endpoint: failed({ kind: 'unknown', message: `'${peId}' is not a private endpoint resource id`, resourceId: peId }) };
  let pe: PrivateEndpoint;
  try {
    pe = await ctx.azure.network(p.subscriptionId).privateEndpoints.get(p.resourceGroup, p.names[p.names.length - 1] ?? '', { ...ctx.azure.call(ctx.signal) });
  } catch (err) {
    return { groupIds: [], endpoint: failed(toProbeError(err, `reading private endpoint ${peId}`, peId)) };
  }
  const plsConnections = [...(pe.privateLinkServiceConnections ?? []), ...(pe.manualPrivateLinkServiceConnections ?? [])];
  const mine = plsConnections.filter((c) => sameId(c.privateLinkServiceId, resourceId));
  const groupIds = [...new Set((mine.length ? mine : plsConnections).flatMap((c) => c.groupIds ?? []))];

  const subnetId = pe.subnet?.id;
  let ipAddresses = unique((pe.customDnsConfigs ?? []).flatMap((d) => d.ipAddresses ?? []));
  let fqdns = unique((pe.customDnsConfigs ?? []).flatMap((d) => (d.fqdn ? [d.fqdn] : [])));
  // An endpoint whose DNS is managed by a zone group may list no customDnsConfigs: its NICs have the same pairs.
  if (ipAddresses.length === 0) {
    const nics = await readNics(ctx, (pe.networkInterfaces ?? []).flatMap((n) => (n.id ? [n.id] : [])));
    if (!nics.ok) return { groupIds, endpoint: nics };
    ipAddresses = unique(nics.value.flatMap((n) => (n.ipConfigurations ?? []).flatMap((c) => (c.privateIPAddress ? [c.privateIPAddress] : []))));
    fqdns = unique([...fqdns, ...nics.value.flatMap((n) => (n.ipConfigurations ?? []).flatMap((c) => c.privateLinkConnectionProperties?.fqdns ?? []))]);
  }
  const value: { subnetId?: string; vnetId?: string; ipAddresses: string[]; fqdns: string[] } = { ipAddresses, fqdns };
  if (subnetId) {
    value.subnetId = subnetId;
    value.vnetId = parentId(subnetId);
  }
  return { groupIds, endpoint: observed(value) };
}

async function readNics(ctx: ProbeContext, nicIds: string[]): Promise<Observed<NetworkInterface[]>> {
  const nics: NetworkInterface[] = [];
  for (const nicId of nicIds) {
    const p: ArmId | undefined = tryParseArmId(nicId);
    if (!p) continue;
    try {
      nics.push(await ctx.azure.network(p.subscriptionId).networkInterfaces.get(p.resourceGroup, p.names[p.names.length - 1] ?? '', { ...ctx.azure.call(ctx.signal) }));
    } catch (err) {
      return failed(toProbeError(err, `reading network interface ${nicId} of a private endpoint`, nicId));
    }
  }
  return observed(nics);
}

const unique = (xs: string[]): string[] => [...new Set(xs)];
