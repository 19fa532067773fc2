/**
 * Route selection for a compute subnet: from a vantage NIC's effective routes, or computed from
 * configuration (system routes + service endpoints + the subnet's route table). Pure.
 */
import type { EffectiveRouteObs, RouteTableObs, SubnetObs, VnetObs } from '../model/snapshot.ts';
import { cidrCovers, cidrContainsIp, parseCidr, type Cidr } from './cidr.ts';
import { PrefixTrie } from './prefix-trie.ts';
import type { ServiceTagIndex } from './service-tags.ts';

export type RouteSource = 'User' | 'VirtualNetworkGateway' | 'Default';

export interface RouteEntry {
  prefix: Cidr;
  source: RouteSource;
  nextHopType: string;
  nextHopIp?: string;
  /** Route name; `system` for Azure's system routes. */
  name: string;
  routeTableId?: string;
  /** Name of the route table (configuration only; effective routes do not say). */
  routeTableName?: string;
  /** original prefix text (CIDR or tag) */
  label: string;
}

/** A route whose prefix is a service tag this diagnosis has no prefixes for. */
export interface UnresolvedRoute {
  route: string;
  /** The tag, e.g. `AzureMachineLearning`. */
  prefix: string;
  nextHopType: string;
  nextHopIp?: string;
  source: RouteSource;
  routeTableId?: string;
  routeTableName?: string;
}

export const BGP_NOTE =
  'BGP routes from the gateway are not visible in configuration; a BGP default route would change this';

const SYSTEM = 'system';
const NONE_PREFIXES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'];

/** Service endpoint → the service tag whose prefixes Azure routes to it (`{region}` filled in). */
const SERVICE_ENDPOINT_TAGS: Record<string, string> = {
  'microsoft.storage': 'Storage.{region}',
  'microsoft.storage.global': 'Storage',
  'microsoft.keyvault': 'AzureKeyVault.{region}',
  'microsoft.containerregistry': 'AzureContainerRegistry.{region}',
  'microsoft.sql': 'Sql.{region}',
  'microsoft.azureactivedirectory': 'AzureActiveDirectory',
};

export function serviceEndpointTag(service: string, region: string): string | undefined {
  const pattern = SERVICE_ENDPOINT_TAGS[service.toLowerCase()];
  return pattern?.replace('{region}', region.toLowerCase().replace(/\s+/g, ''));
}

function toSource(source: string): RouteSource {
  const s = source.toLowerCase();
  if (s === 'user') return 'User';
  if (s === 'virtualnetworkgateway') return 'VirtualNetworkGateway';
  return 'Default';
}

/** Effective routes as Azure returns them, one entry per IPv4 prefix; `Invalid` routes are dropped. */
export function routesFromEffective(routes: EffectiveRouteObs[]): RouteEntry[] {
  const out: RouteEntry[] = [];
  for (const r of routes) {
    if (r.state.toLowerCase() !== 'active') continue;
    const source = toSource(r.source);
    const name = r.name ?? (source === 'VirtualNetworkGateway' ? 'BGP' : SYSTEM);
    const nextHopIp = r.nextHopIpAddresses[0];
    for (const label of r.addressPrefixes) {
      const prefix = parseCidr(label);
      if (!prefix) continue;
      const entry: RouteEntry = { prefix, source, nextHopType: r.nextHopType, name, label };
      if (nextHopIp) entry.nextHopIp = nextHopIp;
      out.push(entry);
    }
  }
  return out;
}

export function routesFromConfig(input: {
  vnet: VnetObs;
  subnet: SubnetObs;
  routeTable?: RouteTableObs;
  region: string;
  tags: ServiceTagIndex;
}): { routes: RouteEntry[]; unresolved: UnresolvedRoute[]; notes: string[] } {
  const { vnet, subnet, routeTable, region, tags } = input;
  const routes: RouteEntry[] = [];
  const unresolved: UnresolvedRoute[] = [];
  const notes: string[] = [];
  const system = (label: string, nextHopType: string): void => {
    const prefix = parseCidr(label);
    if (prefix) routes.push({ prefix, source: 'Default', nextHopType, name: SYSTEM, label });
  };

  for (const p of vnet.addressPrefixes) system(p, 'VnetLocal');
  for (const peering of vnet.peerings) {
    if (peering.peeringState?.toLowerCase() !== 'connected') continue;
    for (const p of peering.remoteAddressPrefixes) system(p, 'VNetPeering');
  }
  system('0.0.0.0/0', 'Internet');
  // Azure turns a reserved-range None route into VnetLocal when the address space includes it.
  const local = routes.filter((r) => r.nextHopType === 'VnetLocal' || r.nextHopType === 'VNetPeering');
  for (const p of NONE_PREFIXES) {
    const c = parseCidr(p) as Cidr;
    if (!local.some((r) => cidrCovers(r.prefix, c))) system(p, 'None');
  }

  for (const service of subnet.serviceEndpoints) {
    const tag = serviceEndpointTag(service, region);
    if (!tag) continue;
    const name = `service endpoint ${service}`;
    const prefixes = tags.prefixes(tag);
    if (!prefixes) {
      unresolved.push({ route: name, prefix: tag, nextHopType: 'VirtualNetworkServiceEndpoint', source: 'Default' });
      continue;
    }
    for (const prefix of prefixes) {
      routes.push({ prefix, source: 'Default', nextHopType: 'VirtualNetworkServiceEndpoint', name, label: tag });
    }
  }

  for (const r of routeTable?.routes ?? []) {
    const common = {
      source: 'User' as const,
      nextHopType: r.nextHopType,
      name: r.name,
      ...(r.nextHopIpAddress ? { nextHopIp: r.nextHopIpAddress } : {}),
      ...(routeTable ? { routeTableId: routeTable.id, routeTableName: routeTable.name } : {}),
    };
    const cidr = parseCidr(r.addressPrefix);
    const prefixes = cidr ? [cidr] : tags.prefixes(r.addressPrefix);
    if (!prefixes) {
      const { name, ...rest } = common;
      unresolved.push({ route: name, prefix: r.addressPrefix, ...rest });
      continue;
    }
    for (const prefix of prefixes) routes.push({ prefix, label: r.addressPrefix, ...common });
  }

  const bgpPropagates = routeTable?.disableBgpRoutePropagation !== true;
  if (bgpPropagates && vnet.peerings.some((p) => p.useRemoteGateways === true)) notes.push(BGP_NOTE);
  return { routes, unresolved, notes };
}

const RANK: Record<RouteSource, number> = { User: 2, VirtualNetworkGateway: 1, Default: 0 };

/** Among routes with the same prefix: User > VirtualNetworkGateway (BGP) > Default, then input order. */
function preferred(routes: readonly RouteEntry[]): RouteEntry | undefined {
  let best: RouteEntry | undefined;
  for (const r of routes) if (!best || RANK[r.source] > RANK[best.source]) best = r;
  return best;
}

/** Longest-prefix match over a trie, O(32) per lookup, no allocation. */
export class RouteLookup {
  #trie = new PrefixTrie<RouteEntry>();
  /** Per trie entry (one per distinct prefix): the route that wins among those with that prefix. */
  #winner: RouteEntry[] = [];

  constructor(routes: RouteEntry[]) {
    for (const r of routes) this.#trie.insert(r.prefix, r);
    for (let e = 0; e < this.#trie.size; e++) this.#winner.push(preferred(this.#trie.valuesOf(e)) as RouteEntry);
  }

  lookup(ip: number): RouteEntry | undefined {
    const entry = this.#trie.longestEntry(ip);
    return entry < 0 ? undefined : this.#winner[entry];
  }
}

/** Naive baseline for RouteLookup: scans every route. Same answers. */
export function lookupLinear(routes: RouteEntry[], ip: number): RouteEntry | undefined {
  let best: RouteEntry | undefined;
  for (const r of routes) {
    if (!cidrContainsIp(r.prefix, ip)) continue;
    if (!best || r.prefix.len > best.prefix.len || (r.prefix.len === best.prefix.len && RANK[r.source] > RANK[best.source])) {
      best = r;
    }
  }
  return best;
}
