/**
 * Finds out what sits behind every virtual-appliance next hop of the compute path (route tables
 * and the vantage NIC's effective routes): an Azure Firewall (then its policy, the policy's rule
 * collection groups and its base policy are read), a NIC (a third-party appliance, whose rules
 * cannot be read), or nothing in the searched subscriptions. Firewalls are listed per
 * subscription; a failed listing is recorded so `none` can be told apart from "not searched".
 */
import type {
  ApplicationRule,
  AzureFirewall,
  FirewallPolicy,
  FirewallPolicyRuleCollectionGroup,
  FirewallPolicyRuleCollectionUnion,
  FirewallPolicyRuleUnion,
  NetworkInterface,
  NetworkRule,
} from '@azure/arm-network';
import type { Probe, ProbeContext } from './probe.ts';
import { idKey, nicOfIpConfiguration, tryParseArmId } from '../src/model/arm-id.ts';
import { normalizeRegion } from '../src/model/cloud.ts';
import { cidrContains } from '../src/model/ip.ts';
import {
  failed,
  observed,
  type ApplianceObs,
  type FirewallObs,
  type FirewallPolicyObs,
  type FirewallRuleObs,
  type FirewallsObs,
  type Observed,
  type RuleCollectionGroupObs,
  type RuleCollectionObs,
  type Snapshot,
} from '../src/model/snapshot.ts';
import { skipped, toProbeError } from '../src/azure/errors.ts';

type PolicyEntry = FirewallsObs['policies'][number];

export const probe = {
  id: 'firewalls',
  title: 'reading the firewalls behind virtual-appliance routes',
  needs: ['subnetPolicies', 'vantage', 'networks'],
  async run(ctx, snapshot) {
    const routeTablesRead = snapshot.subnetPolicies?.ok === true;
    const vantageRead = snapshot.vantage?.ok === true;
    if (!routeTablesRead && !vantageRead) {
      return failed(skipped('looking for the appliances behind virtual-appliance routes', 'neither the route tables nor the effective routes could be read', ctx.target.workspaceId));
    }
    const ips = applianceIps(snapshot);
    if (ips.length === 0) return observed({ appliances: [], searches: [], firewalls: [], policies: [] });

    const listings = await Promise.all(searchScopes(ctx, snapshot).map((s) => listFirewalls(ctx, s)));
    const searches = listings.map((l) => ({ subscriptionId: l.subscriptionId, result: l.result }));
    const all = uniqueById(listings.flatMap((l) => l.firewalls));

    const nics = new NicCache(ctx);
    const appliances = await Promise.all(ips.map((ip) => ownerOf(ip, all, snapshot, nics)));

    const byId = new Map(all.map((f) => [idKey(f.id ?? ''), f]));
    const owners = uniqueIds(appliances.flatMap((a) => (a.owner === 'firewall' && a.ownerId ? [a.ownerId] : []))).flatMap((id) => byId.get(idKey(id)) ?? []);
    const firewalls = owners.map((f) => ({ id: f.id ?? '', observed: observed(toFirewallObs(f)) }));
    const policyIds = owners.flatMap((f) => (f.firewallPolicy?.id ? [f.firewallPolicy.id] : []));
    const policies = await readPolicies(ctx, policyIds);
    return observed({ appliances, searches, firewalls, policies });
  },
} satisfies Probe<'firewalls'>;

// ------------------------------------------------------------------------------ appliance addresses

/** Next-hop addresses of virtual-appliance routes (configured and effective), each once, in order seen. */
export function applianceIps(snapshot: Readonly<Snapshot>): string[] {
  const out: string[] = [];
  const add = (ip: string | undefined): void => {
    const v = ip?.trim();
    if (v && !out.includes(v)) out.push(v);
  };
  const policies = snapshot.subnetPolicies;
  for (const rt of policies?.ok ? policies.value.routeTables : []) {
    if (!rt.observed.ok) continue;
    for (const r of rt.observed.value.routes) if (isApplianceHop(r.nextHopType)) add(r.nextHopIpAddress);
  }
  const vantage = snapshot.vantage;
  for (const s of vantage?.ok ? vantage.value.subnets : []) {
    const routes = s.vantage?.effectiveRoutes;
    if (!routes?.ok) continue;
    for (const r of routes.value) {
      if (isApplianceHop(r.nextHopType) && r.state.toLowerCase() !== 'invalid') r.nextHopIpAddresses.forEach(add);
    }
  }
  return out;
}

/** `VirtualAppliance`, and its ECMP variant in effective routes. */
const isApplianceHop = (type: string): boolean => type.toLowerCase().startsWith('virtualappliance');

// ------------------------------------------------------------------------------ firewall listings

/** Subscriptions to search: the workspace's, the ones the user named, and every VNet's. */
function searchScopes(ctx: ProbeContext, snapshot: Readonly<Snapshot>): string[] {
  const subs: string[] = [];
  const add = (s: string | undefined): void => {
    const v = s?.toLowerCase();
    if (v && !subs.includes(v)) subs.push(v);
  };
  add(tryParseArmId(ctx.target.workspaceId)?.subscriptionId);
  ctx.target.subscriptions.forEach(add);
  for (const v of snapshot.networks?.ok ? snapshot.networks.value.vnets : []) add(tryParseArmId(v.id)?.subscriptionId);
  return subs;
}

interface Listing {
  subscriptionId: string;
  result: Observed<{ count: number }>;
  firewalls: AzureFirewall[];
}

async function listFirewalls(ctx: ProbeContext, subscriptionId: string): Promise<Listing> {
  const firewalls: AzureFirewall[] = [];
  try {
    for await (const f of ctx.azure.network(subscriptionId).azureFirewalls.listAll({ ...ctx.azure.call(ctx.signal) })) firewalls.push(f);
  } catch (err) {
    return { subscriptionId, result: failed(toProbeError(err, `listing the Azure Firewalls of subscription ${subscriptionId}`, `/subscriptions/${subscriptionId}`)), firewalls: [] };
  }
  return { subscriptionId, result: observed({ count: firewalls.length }), firewalls };
}

function uniqueById<T extends { id?: string }>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((i) => {
    const key = idKey(i.id ?? '');
    if (!i.id || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function firewallPrivateIps(f: AzureFirewall): string[] {
  const ips = (f.ipConfigurations ?? []).flatMap((c) => (c.privateIPAddress ? [c.privateIPAddress] : []));
  if (f.hubIPAddresses?.privateIPAddress) ips.push(f.hubIPAddresses.privateIPAddress);
  return ips;
}

// ------------------------------------------------------------------------------ owners

/** NICs read at most once, whichever appliance address asked. A NIC that cannot be read (403, 404, …) is skipped. */
class NicCache {
  private readonly ctx: ProbeContext;
  private readonly reads = new Map<string, Promise<NetworkInterface | undefined>>();

  constructor(ctx: ProbeContext) {
    this.ctx = ctx;
  }

  get(nicId: string): Promise<NetworkInterface | undefined> {
    const key = idKey(nicId);
    let read = this.reads.get(key);
    if (!read) {
      read = this.fetch(nicId);
      this.reads.set(key, read);
    }
    return read;
  }

  /** Why the NIC could not be read, when it could not. */
  readonly failures = new Map<string, string>();

  private async fetch(nicId: string): Promise<NetworkInterface | undefined> {
    const p = tryParseArmId(nicId);
    if (!p) return undefined;
    try {
      return await this.ctx.azure.network(p.subscriptionId).networkInterfaces.get(p.resourceGroup, p.names[p.names.length - 1] ?? '', { ...this.ctx.azure.call(this.ctx.signal) });
    } catch (err) {
      const message = toProbeError(err, `reading network interface ${nicId}`, nicId).message;
      this.failures.set(idKey(nicId), message);
      this.ctx.log.debug({ nicId, error: message }, 'appliance NIC skipped');
      return undefined;
    }
  }
}

async function ownerOf(ip: string, firewalls: AzureFirewall[], snapshot: Readonly<Snapshot>, nics: NicCache): Promise<ApplianceObs> {
  const fw = firewalls.find((f) => firewallPrivateIps(f).includes(ip));
  if (fw?.id) return { ip, owner: 'firewall', ownerId: fw.id };

  const nicIds = new Map<string, string>();
  // Load balancer frontends, scale-set NICs: could own the address, but are not followed.
  const unchecked: string[] = [];
  for (const v of snapshot.networks?.ok ? snapshot.networks.value.vnets : []) {
    if (!v.observed.ok) continue;
    for (const s of v.observed.value.subnets) {
      if (!s.addressPrefixes.some((prefix) => cidrContains(prefix, ip))) continue;
      for (const c of s.ipConfigurationIds) {
        const nicId = nicOfIpConfiguration(c);
        if (!nicId) unchecked.push(c);
        else if (!nicIds.has(idKey(nicId))) nicIds.set(idKey(nicId), nicId);
      }
    }
  }
  for (const nicId of nicIds.values()) {
    const nic = await nics.get(nicId);
    if (nic && (nic.ipConfigurations ?? []).some((c) => c.privateIPAddress === ip)) return { ip, owner: 'nic', ownerId: nic.id ?? nicId };
  }
  const unreadable = [...nicIds.values()].filter((id) => nics.failures.has(idKey(id)));
  if (unchecked.length || unreadable.length) {
    const why = [
      ...(unchecked.length ? [`its subnet also holds ${unchecked.length} IP configuration(s) that are not plain NICs (load balancer or scale set), e.g. ${unchecked[0]}`] : []),
      ...(unreadable.length ? [`${unreadable.length} NIC(s) in its subnet could not be read (${nics.failures.get(idKey(unreadable[0] as string))})`] : []),
    ].join('; ');
    return { ip, owner: 'unknown', why };
  }
  return { ip, owner: 'none' };
}

// ------------------------------------------------------------------------------ firewall and policies

export function toFirewallObs(f: AzureFirewall): FirewallObs {
  const id = f.id ?? '';
  const classic = [f.applicationRuleCollections, f.natRuleCollections, f.networkRuleCollections].some((c) => (c?.length ?? 0) > 0);
  return {
    id,
    name: f.name ?? id.split('/').pop() ?? '',
    ...(f.location ? { location: normalizeRegion(f.location) } : {}),
    ...(f.sku?.name ? { skuName: f.sku.name } : {}),
    ...(f.sku?.tier ? { skuTier: f.sku.tier } : {}),
    privateIpAddresses: firewallPrivateIps(f),
    subnetIds: (f.ipConfigurations ?? []).flatMap((c) => (c.subnet?.id ? [c.subnet.id] : [])),
    ...(f.firewallPolicy?.id ? { firewallPolicyId: f.firewallPolicy.id } : {}),
    hasClassicRules: classic,
    ...(f.provisioningState ? { provisioningState: f.provisioningState } : {}),
  };
}

/** The policies and, level by level, their base policies; each read once (a base chain cannot loop). */
async function readPolicies(ctx: ProbeContext, ids: string[]): Promise<PolicyEntry[]> {
  const done = new Map<string, PolicyEntry>();
  let next = uniqueIds(ids);
  while (next.length > 0) {
    const read = await Promise.all(next.map(async (id) => ({ id, observed: await readPolicy(ctx, id) })));
    for (const r of read) done.set(idKey(r.id), r);
    const bases = read.flatMap((r) => (r.observed.ok && r.observed.value.basePolicyId ? [r.observed.value.basePolicyId] : []));
    next = uniqueIds(bases).filter((id) => !done.has(idKey(id)));
  }
  return [...done.values()];
}

function uniqueIds(ids: string[]): string[] {
  const out = new Map<string, string>();
  for (const id of ids) if (!out.has(idKey(id))) out.set(idKey(id), id);
  return [...out.values()];
}

async function readPolicy(ctx: ProbeContext, id: string): Promise<Observed<FirewallPolicyObs>> {
  const p = tryParseArmId(id);
  if (!p) return failed({ kind: 'unknown', message: `'${id}' is not a firewall policy resource id`, resourceId: id });
  const client = ctx.azure.network(p.subscriptionId);
  const name = p.names[p.names.length - 1] ?? '';
  let policy: FirewallPolicy;
  try {
    policy = await client.firewallPolicies.get(p.resourceGroup, name, { ...ctx.azure.call(ctx.signal) });
  } catch (err) {
    return failed(toProbeError(err, `reading firewall policy ${id}`, id));
  }
  let ruleCollectionGroups: Observed<RuleCollectionGroupObs[]>;
  try {
    const groups: RuleCollectionGroupObs[] = [];
    for await (const g of client.firewallPolicyRuleCollectionGroups.list(p.resourceGroup, name, { ...ctx.azure.call(ctx.signal) })) groups.push(toGroupObs(g));
    ruleCollectionGroups = observed(groups);
  } catch (err) {
    ruleCollectionGroups = failed(toProbeError(err, `listing the rule collection groups of firewall policy ${id}`, id));
  }
  return observed({
    id: policy.id ?? id,
    name: policy.name ?? name,
    ...(policy.basePolicy?.id ? { basePolicyId: policy.basePolicy.id } : {}),
    ...(policy.dnsSettings?.enableProxy !== undefined ? { dnsProxyEnabled: policy.dnsSettings.enableProxy } : {}),
    ...(policy.threatIntelMode ? { threatIntelMode: policy.threatIntelMode } : {}),
    ruleCollectionGroups,
  });
}

export function toGroupObs(g: FirewallPolicyRuleCollectionGroup): RuleCollectionGroupObs {
  return {
    id: g.id ?? '',
    name: g.name ?? '',
    priority: g.priority ?? 0,
    ruleCollections: (g.ruleCollections ?? []).map(toCollectionObs),
  };
}

/** The SDK deserializes collections by `ruleCollectionType`: filter and NAT collections carry `action` and `rules`. */
function toCollectionObs(c: FirewallPolicyRuleCollectionUnion): RuleCollectionObs {
  const action = 'action' in c ? c.action?.type : undefined;
  const rules = 'rules' in c ? (c.rules ?? []) : [];
  return {
    name: c.name ?? '',
    priority: c.priority ?? 0,
    ruleCollectionType: c.ruleCollectionType,
    ...(action ? { action } : {}),
    rules: rules.map(toRuleObs),
  };
}

const isApplicationRule = (r: FirewallPolicyRuleUnion): r is ApplicationRule => r.ruleType === 'ApplicationRule';
const isNetworkRule = (r: FirewallPolicyRuleUnion): r is NetworkRule => r.ruleType === 'NetworkRule';

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, mssql: 1433 };

export function toRuleObs(r: FirewallPolicyRuleUnion): FirewallRuleObs {
  const name = r.name ?? '';
  if (isApplicationRule(r)) {
    return {
      ruleType: 'ApplicationRule',
      name,
      sourceAddresses: r.sourceAddresses ?? [],
      sourceIpGroups: r.sourceIpGroups ?? [],
      protocols: (r.protocols ?? []).map((p) => ({ protocolType: p.protocolType ?? '', port: p.port ?? DEFAULT_PORTS[(p.protocolType ?? '').toLowerCase()] ?? 0 })),
      targetFqdns: r.targetFqdns ?? [],
      fqdnTags: r.fqdnTags ?? [],
      webCategories: r.webCategories ?? [],
      targetUrls: r.targetUrls ?? [],
      destinationAddresses: r.destinationAddresses ?? [],
    };
  }
  if (isNetworkRule(r)) {
    return {
      ruleType: 'NetworkRule',
      name,
      ipProtocols: r.ipProtocols ?? [],
      sourceAddresses: r.sourceAddresses ?? [],
      sourceIpGroups: r.sourceIpGroups ?? [],
      destinationAddresses: r.destinationAddresses ?? [],
      destinationIpGroups: r.destinationIpGroups ?? [],
      destinationFqdns: r.destinationFqdns ?? [],
      destinationPorts: r.destinationPorts ?? [],
    };
  }
  return { ruleType: r.ruleType, name };
}
