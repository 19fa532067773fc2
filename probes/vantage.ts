/**
 * Finds, for every compute subnet, one readable VM NIC in it (the "vantage"): Azure ML's own
 * node NICs live in a Microsoft-managed subscription and cannot be read, so a customer VM in the
 * same subnet (a jumpbox, or the one given with --vantage-vm) stands in for them. From the
 * vantage it reads what Azure itself computes: the effective routes, the effective NSG rules, and
 * the Network Watcher next hop towards the workspace private endpoint IPs and one address of each
 * service tag the compute needs. Every read fails alone.
 */
import type { EffectiveNetworkSecurityGroup, EffectiveNetworkSecurityRule, EffectiveRoute, NetworkInterface } from '@azure/arm-network';
import type { Probe, ProbeContext } from './probe.ts';
import { idKey, nicOfIpConfiguration, parentId, sameId, tryParseArmId } from '../src/model/arm-id.ts';
import { normalizeRegion } from '../src/model/cloud.ts';
import { parseIPv4 } from '../src/model/ip.ts';
import {
  failed,
  observed,
  type EffectiveNsgObs,
  type EffectiveRouteObs,
  type NextHopObs,
  type Observed,
  type ProbeError,
  type SecurityRuleObs,
  type Snapshot,
  type SubnetObs,
  type VantageObs,
  type VantagesObs,
} from '../src/model/snapshot.ts';
import { skipped, toProbeError } from '../src/azure/errors.ts';

type SubnetVantage = VantagesObs['subnets'][number];
type Skip = SubnetVantage['skipped'][number];

/** NIC reads per subnet before giving up: a large cluster subnet holds hundreds of unreadable node NICs. */
export const MAX_NIC_READS = 20;

/** The service-tag flows asked about, with the tag whose first prefix stands for them. */
export const TAG_FLOWS: ReadonlyArray<{ flow: string; tag: (region: string) => string }> = [
  { flow: 'entra-id', tag: () => 'AzureActiveDirectory' },
  { flow: 'aml-service', tag: () => 'AzureMachineLearning' },
  { flow: 'arm', tag: () => 'AzureResourceManager' },
  { flow: 'mcr', tag: () => 'MicrosoftContainerRegistry' },
  { flow: 'batch', tag: (region) => `BatchNodeManagement.${region}` },
  { flow: 'storage', tag: (region) => `Storage.${region}` },
];

export const probe = {
  id: 'vantage',
  title: 'reading effective routes and NSGs from a VM in the compute subnet',
  needs: ['computes', 'networks', 'privateEndpoints', 'serviceTags'],
  async run(ctx, snapshot) {
    const computes = snapshot.computes;
    if (!computes?.ok) {
      return failed(skipped('looking for a vantage VM in the compute subnets', 'the computes could not be read', ctx.target.workspaceId));
    }
    const listed = [...computes.value.computes, ...(computes.value.imageBuildCompute?.ok ? [computes.value.imageBuildCompute.value] : [])];
    const subnetIds = new Map<string, string>();
    for (const c of listed) if (c.subnetId && !subnetIds.has(idKey(c.subnetId))) subnetIds.set(idKey(c.subnetId), c.subnetId);

    // --vantage-vm is resolved once, then offered to every subnet.
    const given = ctx.target.vantageVmId ? await resolveGiven(ctx, ctx.target.vantageVmId) : undefined;
    const destinations = nextHopDestinations(snapshot);
    const subnets: SubnetVantage[] = [];
    for (const subnetId of subnetIds.values()) subnets.push(await forSubnet(ctx, snapshot, subnetId, given, destinations));
    return observed({ subnets });
  },
} satisfies Probe<'vantage'>;

// ------------------------------------------------------------------------------ finding the NIC

interface Found {
  nic: NetworkInterface;
  nicId: string;
  how: VantageObs['how'];
}

async function forSubnet(ctx: ProbeContext, snapshot: Readonly<Snapshot>, subnetId: string, given: Observed<NetworkInterface[]> | undefined, destinations: Destination[]): Promise<SubnetVantage> {
  const skippedIds: Skip[] = [];
  let found: Found | undefined;
  if (given && ctx.target.vantageVmId) {
    if (!given.ok) skippedIds.push({ id: ctx.target.vantageVmId, why: whyFailed(given.error) });
    else {
      const nic = given.value.find((n) => nicInSubnet(n, subnetId));
      if (nic) found = { nic, nicId: nic.id ?? ctx.target.vantageVmId, how: 'given' };
      else skippedIds.push({ id: ctx.target.vantageVmId, why: 'not in this subnet' });
    }
  }
  if (!found) found = await walkSubnet(ctx, snapshot, subnetId, skippedIds);
  if (!found) return { subnetId, skipped: skippedIds };
  return { subnetId, vantage: await observeVantage(ctx, subnetId, found, destinations), skipped: skippedIds };
}

/** The NICs of the given VM (or the given NIC itself). */
async function resolveGiven(ctx: ProbeContext, id: string): Promise<Observed<NetworkInterface[]>> {
  const p = tryParseArmId(id);
  const type = p ? `${p.namespace}/${p.types.join('/')}`.toLowerCase() : '';
  if (!p || (type !== 'microsoft.network/networkinterfaces' && type !== 'microsoft.compute/virtualmachines')) {
    return failed({ kind: 'unknown', message: `--vantage-vm '${id}' is neither a virtual machine nor a network interface id`, resourceId: id });
  }
  const client = ctx.azure.network(p.subscriptionId);
  const name = p.names[0] ?? '';
  if (type === 'microsoft.network/networkinterfaces') {
    try {
      return observed([await client.networkInterfaces.get(p.resourceGroup, name, { ...ctx.azure.call(ctx.signal) })]);
    } catch (err) {
      return failed(toProbeError(err, `reading network interface ${id}`, id));
    }
  }
  // A VM's NICs are in its resource group in the usual case; the VM itself is not read (no compute client).
  const nics: NetworkInterface[] = [];
  try {
    for await (const nic of client.networkInterfaces.list(p.resourceGroup, { ...ctx.azure.call(ctx.signal) })) {
      if (sameId(nic.virtualMachine?.id, id)) nics.push(nic);
    }
  } catch (err) {
    return failed(toProbeError(err, `listing the network interfaces of resource group ${p.resourceGroup} (looking for VM ${id})`, id));
  }
  if (nics.length === 0) return failed({ kind: 'not-found', message: `no network interface of VM ${id} found in resource group ${p.resourceGroup}`, resourceId: id });
  return observed(nics);
}

/** Tries the subnet's NICs (own subscription first: the ML nodes' are in Microsoft's) until one is attached to a VM. */
async function walkSubnet(ctx: ProbeContext, snapshot: Readonly<Snapshot>, subnetId: string, skippedIds: Skip[]): Promise<Found | undefined> {
  const subnet = findSubnet(snapshot, subnetId);
  if (!subnet.ok) {
    skippedIds.push({ id: subnetId, why: `subnet not read: ${subnet.error.message}` });
    return undefined;
  }
  const nicIds = new Map<string, string>();
  for (const ipcId of subnet.value.ipConfigurationIds) {
    const nicId = nicOfIpConfiguration(ipcId);
    if (!nicId) skippedIds.push({ id: ipcId, why: 'not a network interface' });
    else if (!nicIds.has(idKey(nicId))) nicIds.set(idKey(nicId), nicId);
  }
  const subnetSub = tryParseArmId(subnetId)?.subscriptionId;
  const ordered = [...nicIds.values()].sort((a, b) => Number(tryParseArmId(b)?.subscriptionId === subnetSub) - Number(tryParseArmId(a)?.subscriptionId === subnetSub));
  for (const [i, nicId] of ordered.entries()) {
    if (i >= MAX_NIC_READS) {
      skippedIds.push({ id: subnetId, why: `${ordered.length - MAX_NIC_READS} more network interfaces not tried (limit of ${MAX_NIC_READS} reads)` });
      break;
    }
    const p = tryParseArmId(nicId);
    if (!p) continue;
    let nic: NetworkInterface;
    try {
      nic = await ctx.azure.network(p.subscriptionId).networkInterfaces.get(p.resourceGroup, p.names[0] ?? '', { ...ctx.azure.call(ctx.signal) });
    } catch (err) {
      skippedIds.push({ id: nicId, why: whyFailed(toProbeError(err, `reading network interface ${nicId}`, nicId)) });
      continue;
    }
    if (nic.privateEndpoint?.id) skippedIds.push({ id: nicId, why: 'private endpoint NIC' });
    else if (!nic.virtualMachine?.id) skippedIds.push({ id: nicId, why: 'no virtual machine attached' });
    else return { nic, nicId: nic.id ?? nicId, how: 'subnet' };
  }
  return undefined;
}

function findSubnet(snapshot: Readonly<Snapshot>, subnetId: string): Observed<SubnetObs> {
  const networks = snapshot.networks;
  if (!networks?.ok) return failed(networks ? networks.error : skipped('reading the subnet', 'the networks probe did not run', subnetId));
  const vnet = networks.value.vnets.find((v) => sameId(v.id, parentId(subnetId)));
  if (!vnet) return failed({ kind: 'unknown', message: `its virtual network was not among those read`, resourceId: subnetId });
  if (!vnet.observed.ok) return failed(vnet.observed.error);
  const subnet = vnet.observed.value.subnets.find((s) => sameId(s.id, subnetId));
  return subnet ? observed(subnet) : failed({ kind: 'not-found', message: `subnet ${subnetId} not found in its virtual network`, resourceId: subnetId });
}

function nicInSubnet(nic: NetworkInterface, subnetId: string): boolean {
  return (nic.ipConfigurations ?? []).some((c) => sameId(c.subnet?.id, subnetId));
}

/** `403 AuthorizationFailed`, `404`, … : short, as the skip list shows it. */
function whyFailed(e: ProbeError): string {
  if (e.statusCode === 404) return '404';
  if (e.statusCode !== undefined) return [e.statusCode, e.code].filter(Boolean).join(' ');
  return e.message;
}

// ------------------------------------------------------------------------------ reading from the NIC

async function observeVantage(ctx: ProbeContext, subnetId: string, found: Found, destinations: Destination[]): Promise<VantageObs> {
  const { nic, nicId } = found;
  const p = tryParseArmId(nicId);
  const client = ctx.azure.network(p?.subscriptionId ?? '');
  const rg = p?.resourceGroup ?? '';
  const name = p?.names[0] ?? '';
  const ipConfigs = (nic.ipConfigurations ?? []).filter((c) => sameId(c.subnet?.id, subnetId));
  const privateIp = (ipConfigs.find((c) => c.primary) ?? ipConfigs[0])?.privateIPAddress;
  const vmId = nic.virtualMachine?.id;

  const [effectiveRoutes, effectiveNsgs] = await Promise.all([
    (async (): Promise<Observed<EffectiveRouteObs[]>> => {
      try {
        const result = await client.networkInterfaces.getEffectiveRouteTable(rg, name, { ...ctx.azure.call(ctx.signal) });
        return observed((result.value ?? []).map(toEffectiveRoute));
      } catch (err) {
        return failed(toProbeError(err, `reading the effective routes of network interface ${nicId}`, nicId));
      }
    })(),
    (async (): Promise<Observed<EffectiveNsgObs[]>> => {
      try {
        const result = await client.networkInterfaces.listEffectiveNetworkSecurityGroups(rg, name, { ...ctx.azure.call(ctx.signal) });
        return observed((result.value ?? []).map(toEffectiveNsg));
      } catch (err) {
        return failed(toProbeError(err, `reading the effective network security groups of network interface ${nicId}`, nicId));
      }
    })(),
  ]);

  const vantage: VantageObs = { subnetId, nicId, how: found.how, effectiveRoutes, effectiveNsgs, nextHops: [] };
  if (vmId) vantage.vmId = vmId;
  if (privateIp) vantage.privateIp = privateIp;
  if (!vmId || !p) return vantage;

  const watcher = await findWatcher(ctx, p.subscriptionId, nic.location);
  if (!watcher) return vantage;
  if (!watcher.ok) {
    vantage.nextHops = destinations.map((d) => ({ destinationIp: d.ip, flow: d.flow, result: failed(watcher.error) }));
    return vantage;
  }
  vantage.networkWatcherId = watcher.value;
  vantage.nextHops = await Promise.all(destinations.map((d) => nextHop(ctx, watcher.value, { vmId, nicId, privateIp }, d)));
  return vantage;
}

/** The Network Watcher of the NIC's region: an id, undefined when the region has none, or the listing's failure. */
async function findWatcher(ctx: ProbeContext, subscriptionId: string, location: string | undefined): Promise<Observed<string> | undefined> {
  const region = location ? normalizeRegion(location) : undefined;
  try {
    for await (const w of ctx.azure.network(subscriptionId).networkWatchers.listAll({ ...ctx.azure.call(ctx.signal) })) {
      if (w.id && region && w.location && normalizeRegion(w.location) === region) return observed(w.id);
    }
  } catch (err) {
    return failed(toProbeError(err, `listing the network watchers of subscription ${subscriptionId}`, `/subscriptions/${subscriptionId}`));
  }
  return undefined;
}

async function nextHop(ctx: ProbeContext, watcherId: string, from: { vmId: string; nicId: string; privateIp?: string }, d: Destination): Promise<NextHopObs> {
  const base = { destinationIp: d.ip, flow: d.flow };
  const w = tryParseArmId(watcherId);
  if (!w) return { ...base, result: failed({ kind: 'unknown', message: `'${watcherId}' is not a network watcher id`, resourceId: watcherId }) };
  if (!from.privateIp) return { ...base, result: failed(skipped(`asking the next hop to ${d.ip}`, `network interface ${from.nicId} has no private IP in the subnet`, from.nicId)) };
  try {
    const r = await ctx.azure.network(w.subscriptionId).networkWatchers.getNextHop(
      w.resourceGroup,
      w.names[0] ?? '',
      { targetResourceId: from.vmId, sourceIPAddress: from.privateIp, destinationIPAddress: d.ip, targetNicResourceId: from.nicId },
      { ...ctx.azure.call(ctx.signal) },
    );
    const value: { nextHopType: string; nextHopIpAddress?: string; routeTableId?: string } = { nextHopType: r.nextHopType ?? 'Unknown' };
    if (r.nextHopIpAddress) value.nextHopIpAddress = r.nextHopIpAddress;
    if (r.routeTableId) value.routeTableId = r.routeTableId;
    return { ...base, result: observed(value) };
  } catch (err) {
    return { ...base, result: failed(toProbeError(err, `asking Network Watcher the next hop from ${from.privateIp} to ${d.ip} (${d.flow})`, watcherId)) };
  }
}

// ------------------------------------------------------------------------------ destinations

interface Destination {
  ip: string;
  flow: string;
}

/** The workspace private endpoint IPs and the first address of each service-tag flow's tag. */
export function nextHopDestinations(snapshot: Readonly<Snapshot>): Destination[] {
  const out: Destination[] = [];
  const add = (ip: string, flow: string): void => {
    if (!out.some((d) => d.ip === ip && d.flow === flow)) out.push({ ip, flow });
  };
  const endpoints = snapshot.privateEndpoints?.ok ? snapshot.privateEndpoints.value.endpoints : [];
  for (const e of endpoints) {
    if (!e.observed.ok) continue;
    const pe = e.observed.value;
    const pairs = pe.nicIpConfigurations.ok
      ? pe.nicIpConfigurations.value.map((c) => ({ ip: c.privateIPAddress, fqdns: c.fqdns }))
      : pe.customDnsConfigs.flatMap((c) => c.ipAddresses.map((ip) => ({ ip, fqdns: [c.fqdn] })));
    for (const { ip, fqdns } of pairs) {
      if (ip) add(ip, fqdns.some((f) => f.toLowerCase().includes('.notebooks.')) ? 'notebooks' : 'workspace-api');
    }
  }
  const tags = snapshot.serviceTags?.ok ? snapshot.serviceTags.value : undefined;
  if (tags) {
    for (const { flow, tag } of TAG_FLOWS) {
      const name = tag(tags.location).toLowerCase();
      const found = tags.tags.find((t) => t.name.toLowerCase() === name);
      const first = found?.addressPrefixes.map(firstAddress).find((a) => a !== undefined);
      if (first) add(first, flow);
    }
  }
  return out;
}

/** First address of an IPv4 prefix (`20.190.128.0/18` -> `20.190.128.0`); undefined for IPv6 or garbage. */
export function firstAddress(prefix: string): string | undefined {
  const [base, lenText] = prefix.trim().split('/');
  const ip = parseIPv4(base ?? '');
  const len = lenText === undefined ? 32 : Number(lenText);
  if (ip === undefined || !Number.isInteger(len) || len < 0 || len > 32) return undefined;
  const n = len === 0 ? 0 : (ip & ((~0 << (32 - len)) >>> 0)) >>> 0;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

// ------------------------------------------------------------------------------ normalizing

export function toEffectiveRoute(r: EffectiveRoute): EffectiveRouteObs {
  const route: EffectiveRouteObs = {
    source: r.source ?? 'Unknown',
    state: r.state ?? 'Unknown',
    addressPrefixes: r.addressPrefix ?? [],
    nextHopType: r.nextHopType ?? 'Unknown',
    nextHopIpAddresses: r.nextHopIpAddress ?? [],
  };
  if (r.name) route.name = r.name;
  return route;
}

export function toEffectiveNsg(g: EffectiveNetworkSecurityGroup): EffectiveNsgObs {
  const a = g.association;
  const [association, associatedId]: [EffectiveNsgObs['association'], string | undefined] = a?.subnet?.id
    ? ['subnet', a.subnet.id]
    : a?.networkInterface?.id
      ? ['network-interface', a.networkInterface.id]
      : a?.networkManager?.id
        ? ['network-manager', a.networkManager.id]
        : ['unknown', undefined];
  const nsg: EffectiveNsgObs = { association, rules: (g.effectiveSecurityRules ?? []).map(toEffectiveRule) };
  if (g.networkSecurityGroup?.id) nsg.networkSecurityGroupId = g.networkSecurityGroup.id;
  if (associatedId) nsg.associatedId = associatedId;
  return nsg;
}

const list = (many: string[] | undefined, one: string | undefined): string[] => (many?.length ? many : one ? [one] : []);

export function toEffectiveRule(r: EffectiveNetworkSecurityRule): SecurityRuleObs {
  const name = r.name ?? '';
  return {
    name,
    // A rule without a priority should not happen; it then ranks last.
    priority: r.priority ?? 65535,
    direction: r.direction?.toLowerCase() === 'inbound' ? 'Inbound' : 'Outbound',
    access: r.access?.toLowerCase() === 'allow' ? 'Allow' : 'Deny',
    protocol: normalizeProtocol(r.protocol),
    sourceAddressPrefixes: list(r.sourceAddressPrefixes, r.sourceAddressPrefix),
    destinationAddressPrefixes: list(r.destinationAddressPrefixes, r.destinationAddressPrefix),
    expandedSourceAddressPrefixes: r.expandedSourceAddressPrefix ?? [],
    expandedDestinationAddressPrefixes: r.expandedDestinationAddressPrefix ?? [],
    sourcePortRanges: list(r.sourcePortRanges, r.sourcePortRange),
    destinationPortRanges: list(r.destinationPortRanges, r.destinationPortRange),
    sourceApplicationSecurityGroupIds: [],
    destinationApplicationSecurityGroupIds: [],
    isDefault: name.toLowerCase().startsWith('defaultsecurityrules/'),
  };
}

/** `All` / `Asterisk` / `*` -> `*`; `tcp` -> `Tcp`. */
export function normalizeProtocol(p: string | undefined): string {
  if (!p || p === '*' || /^(all|any|asterisk)$/i.test(p)) return '*';
  return p.charAt(0).toUpperCase() + p.slice(1).toLowerCase();
}
