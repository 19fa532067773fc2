/**
 * The bundled scenarios: up to date with their builder, internally consistent (ids parse, are
 * unique, references resolve), and together covering every rule of the walking skeleton. Plus the
 * builder's DNS view, which every scenario's `dns` section comes from.
 */
import { allCodesExpected } from '../helpers/expect.ts';
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { idKey, parentId, parseArmId, parseWorkspaceId, tryParseArmId } from '../../src/model/arm-id.ts';
import { CLOUDS, isCloudName } from '../../src/model/cloud.ts';
import { cidrContains, isPublicIPv4, parseIPv4 } from '../../src/model/ip.ts';
import { listScenarios, loadScenario } from '../../src/sim/scenario-files.ts';
import type { Scenario, ScenarioResource } from '../../src/sim/scenario.ts';
import {
  buildEstate,
  internetPrefixes,
  notebooksFqdn,
  patchProperties,
  recommendedNsgRules,
  reconcile,
  removeResources,
  resolverVnetFor,
  simulateResolver,
  toScenario,
  type EstateOptions,
} from '../../src/sim/scenario-builder.ts';
import { regionalTag, serviceTagValues } from '../../src/sim/service-tag-data.ts';
import { rules } from '../../src/rules/index.ts';
import { HopReason } from '../../src/report/schema.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Every rule's code, from the rule index (so a new rule is checked here without editing this file). */
const CODES = rules.map((r) => r.meta.code);

/** Codes whose rule is tier 1: a tier-1 top finding is a found cause of the device-login prompt. */
const TIER1 = new Set(rules.filter((r) => r.meta.tier === 1).map((r) => r.meta.code));

/** "1 or 2 (by flow)": tier 1 when the finding breaks an auth-path flow. */
const BY_FLOW = new Set(['FIREWALL_BLOCKS_REQUIRED_DESTINATION', 'ROUTE_NEXT_HOP_UNREACHABLE', 'VNET_PEERING_NOT_CONNECTED']);

const FLOW_IDS = ['workspace-api', 'workspace-cert', 'aml-service', 'entra-id', 'arm', 'notebooks', 'storage', 'key-vault', 'container-registry', 'mcr', 'batch', 'aml-inbound', 'instance-name'];
const AUTH_FLOWS = ['workspace-api', 'workspace-cert', 'aml-service', 'entra-id', 'arm'];
const HOP_KINDS = ['dns', 'route', 'nsg', 'firewall', 'peering', 'destination'];
/** The reasons the report schema allows (HopReason), so a typo in a scenario's intent fails here. */
const HOP_REASONS: readonly string[] = HopReason.enum;

/** Subscription-level singletons the simulated ARM serves by path, e.g. `/subscriptions/<s>/providers/Microsoft.Network/locations/<region>/serviceTags`. */
const SINGLETON = /^\/subscriptions\/([0-9a-f-]{36})\/providers\/Microsoft\.Network\/locations\/[a-z0-9]+\/serviceTags$/;
const subscriptionOf = (id: string): string => SINGLETON.exec(id)?.[1] ?? parseArmId(id).subscriptionId;

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Ids a scenario declares: its resources plus sub-resources embedded in them (objects with an id and a name or properties). */
function declaredIds(resources: ScenarioResource[]): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, top: boolean): void => {
    if (Array.isArray(v)) return v.forEach((x) => walk(x, false));
    if (!isObj(v)) return;
    if (typeof v.id === 'string' && (top || 'name' in v || 'properties' in v)) out.add(idKey(v.id));
    for (const x of Object.values(v)) walk(x, false);
  };
  resources.forEach((r) => walk(r, true));
  return out;
}

/** References inside `properties`: `{ id }` objects and string fields named `…Id` that hold an ARM id. */
function references(r: ScenarioResource): Array<{ path: string; id: string }> {
  const out: Array<{ path: string; id: string }> = [];
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${path}[${i}]`));
    if (!isObj(v)) return;
    const keys = Object.keys(v);
    if (keys.length === 1 && typeof v.id === 'string') out.push({ path: `${path}.id`, id: v.id });
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === 'string' && k.endsWith('Id') && tryParseArmId(x)) out.push({ path: `${path}.${k}`, id: x });
      else walk(x, `${path}.${k}`);
    }
  };
  walk(r.properties, 'properties');
  return out;
}

function wsResource(s: Scenario): ScenarioResource | undefined {
  return s.resources.find((r) => idKey(r.id) === idKey(s.target.workspaceId));
}

function props(r: ScenarioResource | undefined): Json {
  return (r?.properties ?? {}) as Json;
}

t.test('the fixtures match what scripts/build-scenarios.ts builds', async (t) => {
  const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, ['scripts/build-scenarios.ts', '--check'], { cwd: ROOT }, (err, _stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr });
    });
  });
  t.equal(result.code, 0, `build-scenarios --check: ${result.stderr}`);
});

const names = await listScenarios();
const scenarios: Scenario[] = [];
for (const n of names) scenarios.push(await loadScenario(n));

t.test('the catalogue', async (t) => {
  t.ok(scenarios.length >= 15, `at least 15 scenarios (${scenarios.length})`);
  const covered = new Set(scenarios.flatMap((s) => [...allCodesExpected(s)]));
  for (const code of CODES) t.ok(covered.has(code), `${code} is expected by some scenario`);
  const regions = scenarios.map((s) => normalize(wsResource(s)?.location));
  t.ok(new Set(regions).size >= 12, `regions differ across scenarios (${new Set(regions).size} distinct)`);
  for (const r of ['westeurope', 'australiaeast', 'usgovvirginia']) t.ok(regions.includes(r), `a scenario in ${r}`);
  t.ok(
    scenarios.some((s) => s.target.cloud === 'AzureUSGovernment' && normalize(wsResource(s)?.location) === 'usgovvirginia'),
    'an Azure Government scenario in usgovvirginia',
  );
  const subs = scenarios.map((s) => parseWorkspaceId(s.target.workspaceId).subscriptionId);
  t.equal(new Set(subs).size, scenarios.length, 'every scenario has its own workspace subscription');
  const rgs = scenarios.map((s) => parseWorkspaceId(s.target.workspaceId).resourceGroup.toLowerCase());
  t.equal(new Set(rgs).size, scenarios.length, 'every scenario has its own workspace resource group');
  const plans = scenarios.map((s) => s.resources.filter((r) => r.type === 'Microsoft.Network/virtualNetworks').flatMap((v) => addressPrefixes(v)).sort().join(','));
  t.equal(new Set(plans).size, scenarios.length, 'address plans differ');
  t.ok(scenarios.filter((s) => !s.target.computeName).length >= 2, 'at least two scenarios analyse every compute');
  t.ok(scenarios.some((s) => s.faults?.some((f) => f.status === 403)), 'a scenario with forbidden reads');
  t.ok(scenarios.some((s) => s.faults?.some((f) => f.status === 429 && f.times !== undefined)), 'a scenario with throttling');
  // Routes and NSGs are diagnosed both ways: read from Azure through a VM, and computed from configuration.
  const readable = (s: Scenario) => (s.operations ?? []).some((o) => o.action === 'effectiveRouteTable');
  for (const hop of ['route', 'nsg']) {
    const broken = scenarios.filter((s) => s.expect.flows?.blocked?.some((b) => b.hop === hop));
    t.ok(broken.some(readable), `a ${hop} break seen through a vantage VM`);
    t.ok(broken.some((s) => !readable(s)), `a ${hop} break computed from configuration`);
  }
  t.ok(scenarios.some((s) => readable(s) && !s.expect.topFinding && s.expect.exitCode === 0), 'a healthy scenario read through a vantage VM');
  t.ok(scenarios.some((s) => s.target.vantageVmId), 'a scenario passes --vantage-vm');
  t.ok(scenarios.some((s) => (s.expect.flows?.undetermined?.length ?? 0) > 0 && readable(s)), 'a cross-check scenario: Azure disagrees with itself, the flow is undetermined');
});

function normalize(s: unknown): string {
  return typeof s === 'string' ? s.replace(/\s+/g, '').toLowerCase() : '';
}

function addressPrefixes(v: ScenarioResource): string[] {
  const space = props(v).addressSpace;
  return isObj(space) && Array.isArray(space.addressPrefixes) ? (space.addressPrefixes as string[]) : [];
}

for (const s of scenarios) {
  t.test(s.name, async (t) => {
    t.doesNotThrow(() => parseWorkspaceId(s.target.workspaceId), 'target.workspaceId is a workspace id');
    t.ok(isCloudName(s.target.cloud ?? 'AzureCloud'), 'target.cloud is a known cloud');
    for (const sub of s.target.subscriptions ?? []) t.match(sub, /^[0-9a-f-]{36}$/, `target subscription ${sub} is a lower-case GUID`);
    const ws = wsResource(s);
    t.ok(ws, 'the workspace is among the resources');
    if (s.target.computeName) {
      t.ok(s.resources.some((r) => idKey(r.id) === idKey(`${s.target.workspaceId}/computes/${s.target.computeName}`)), `compute ${s.target.computeName} exists`);
    }

    // Ids
    const seen = new Map<string, string>();
    for (const r of s.resources) {
      if (!SINGLETON.test(r.id)) t.doesNotThrow(() => parseArmId(r.id), `id parses: ${r.id}`);
      const k = idKey(r.id);
      if (seen.has(k)) t.fail(`duplicate id (case-insensitive): ${r.id} and ${seen.get(k)}`);
      seen.set(k, r.id);
    }

    // References into the scenario's subscriptions resolve
    const declared = declaredIds(s.resources);
    const subs = new Set([...s.resources.map((r) => subscriptionOf(r.id)), ...(s.target.subscriptions ?? []).map((x) => x.toLowerCase())]);
    const dangling: string[] = [];
    for (const r of s.resources) {
      for (const ref of references(r)) {
        const p = tryParseArmId(ref.id);
        if (!p || !subs.has(p.subscriptionId) || declared.has(idKey(ref.id))) continue;
        const excused = /deliberately dangling/i.test(s.description) && s.description.includes(ref.id.split('/').pop() as string);
        if (!excused) dangling.push(`${r.id} ${ref.path} -> ${ref.id}`);
      }
    }
    t.same(dangling, [], 'every reference into a scenario subscription exists');

    // Expectations
    const e = s.expect;
    for (const c of [e.topFinding?.code, ...(e.alsoFinds ?? []), ...(e.absentCodes ?? [])]) if (c) t.ok(CODES.includes(c), `${c} is a known code`);
    const overlap = (e.alsoFinds ?? []).filter((c) => (e.absentCodes ?? []).includes(c) || c === e.topFinding?.code);
    t.same(overlap, [], 'alsoFinds neither repeats the top finding nor contradicts absentCodes');
    t.notOk(e.topFinding && e.absentCodes?.includes(e.topFinding.code), 'the top finding is not also absent');
    if (e.topFinding) {
      const id = e.topFinding.resourceId;
      t.ok(declared.has(idKey(id)) || declared.has(idKey(parentId(id))), `topFinding blames an existing resource: ${id}`);
      // Only a tier-1 top finding is a found cause; a tier-2 one still fails the run (exit 1).
      const byFlow = BY_FLOW.has(e.topFinding.code) && e.flows !== undefined;
      const tier1 = byFlow ? (e.flows?.blocked ?? []).some((b) => AUTH_FLOWS.includes(b.id)) : TIER1.has(e.topFinding.code);
      t.equal(e.verdict, tier1 ? 'cause-found' : 'no-cause-found', `verdict agrees with the tier of ${e.topFinding.code}`);
      if (tier1) t.equal(e.exitCode, 1, 'a tier-1 cause fails the run');
    } else {
      t.equal(e.verdict, e.exitCode === 3 ? 'undetermined' : 'no-cause-found', 'verdict agrees with the exit code');
    }

    // Flow intent
    const managedNetwork = isObj(props(ws).managedNetwork);
    t.equal(e.flows === undefined, managedNetwork, 'every scenario states its flows, except a managed-network one (no compute-subnet flows)');
    for (const b of e.flows?.blocked ?? []) {
      t.ok(FLOW_IDS.includes(b.id) && HOP_KINDS.includes(b.hop) && (!b.reason || HOP_REASONS.includes(b.reason)), `blocked flow ${b.id} at ${b.hop} (${b.reason ?? ''}) uses known names`);
      t.notOk(e.flows?.undetermined?.includes(b.id), `${b.id} is not both blocked and undetermined`);
    }
    for (const u of e.flows?.undetermined ?? []) t.ok(FLOW_IDS.includes(u), `undetermined flow ${u} is known`);
    if (e.exitCode === 0) t.same(e.flows?.blocked?.filter((b) => AUTH_FLOWS.includes(b.id)) ?? [], [], 'a passing scenario blocks no auth-path flow');
    if ((e.flows?.undetermined?.length ?? 0) > 0 && !e.topFinding) t.equal(e.exitCode, 3, 'undetermined flows and no finding: the diagnosis is incomplete');

    // Operations answer resources of the estate
    for (const op of s.operations ?? []) t.ok(declared.has(idKey(op.resourceId)), `operation ${op.action} on an existing resource: ${op.resourceId}`);

    // Faults are valid and each one matches something the estate serves
    for (const f of s.faults ?? []) {
      const re = new RegExp(f.path, 'i');
      const candidates = s.resources.flatMap((r) => [r.id, parentId(r.id) + '/' + r.id.split('/').slice(-2, -1)[0], listPathInSubscription(r.id)]);
      t.ok(candidates.some((c) => re.test(c)), `fault ${f.status} ${f.path} matches a request path of the estate`);
    }

    // DNS names are lower case without trailing dots
    for (const name of Object.keys(s.dns)) t.equal(name, name.toLowerCase().replace(/\.$/, ''), `dns key ${name} is canonical`);
  });
}

function listPathInSubscription(id: string): string {
  if (SINGLETON.test(id)) return id;
  const p = parseArmId(id);
  return `/subscriptions/${p.subscriptionId}/providers/${p.namespace}/${p.types[0] ?? ''}`;
}

t.test('healthy private scenarios resolve every workspace name to its private endpoint', async (t) => {
  const healthy = scenarios.filter((s) => !s.expect.topFinding && s.expect.exitCode === 0 && props(wsResource(s)).publicNetworkAccess === 'Disabled');
  t.ok(healthy.length >= 3, 'there are healthy private scenarios');
  for (const s of healthy) {
    const pes = s.resources.filter((r) => r.type === 'Microsoft.Network/privateEndpoints' && JSON.stringify(props(r).privateLinkServiceConnections ?? []).includes('amlworkspace'));
    const configs = pes.flatMap((pe) => (props(pe).customDnsConfigs as Array<{ fqdn: string; ipAddresses: string[] }>) ?? []);
    const names = configs.filter((c) => !c.fqdn.startsWith('*'));
    t.ok(names.length >= 3, `${s.name}: the endpoint serves api, cert and notebooks names`);
    for (const c of names) t.same(s.dns[c.fqdn]?.a, c.ipAddresses, `${s.name}: ${c.fqdn} resolves to ${c.ipAddresses.join(',')}`);
    const cloud = CLOUDS[s.target.cloud ?? 'AzureCloud'];
    const apiIp = configs.find((c) => c.fqdn.includes('.workspace.') && !c.fqdn.includes('.cert.'))?.ipAddresses;
    const region = normalize(wsResource(s)?.location);
    for (const ci of s.resources.filter((r) => props(r).computeType === 'ComputeInstance')) {
      for (const suffix of cloud.instanceSuffixes) {
        const name = `${ci.name}.${region}.${suffix}`;
        t.same(s.dns[name]?.a, apiIp, `${s.name}: ${name} resolves to the workspace API address`);
      }
    }
  }
});

// ------------------------------------------------------------------------------------ builder

const BASE: EstateOptions = {
  seed: 'unit',
  region: 'West Europe',
  topology: 'hub-spoke',
  workspace: { name: 'mlw-unit', resourceGroup: 'rg-unit-ml' },
  computeVnet: { name: 'vnet-spoke', resourceGroup: 'rg-unit-net', base: '10.5' },
  hub: { name: 'vnet-hub', resourceGroup: 'rg-unit-hub', base: '10.6' },
  privateEndpoint: { name: 'pe-unit' },
  zones: { resourceGroup: 'rg-unit-dns' },
  computes: [{ name: 'ci-unit', kind: 'instance' }],
};

t.test('simulateResolver answers as Azure DNS would', async (t) => {
  const e = buildEstate(BASE);
  const apiPl = `${e.fqdns.api.replace('.api.azureml.ms', '')}.privatelink.api.azureml.ms`;
  const spoke = e.ids.computeVnet;

  let dns = simulateResolver(e.resources, 'AzureCloud', spoke);
  t.same(dns[e.fqdns.api], { cname: [apiPl], a: ['10.6.2.4'] }, 'linked zone with a record: the endpoint IP via the privatelink CNAME');
  t.same(dns[e.fqdns.notebooks]?.a, ['10.6.2.5'], 'notebooks name: the second endpoint IP');
  t.same(dns[apiPl], { a: ['10.6.2.4'] }, 'the privatelink name itself answers too');
  for (const n of e.fqdns.instances['ci-unit'] ?? []) t.same(dns[n], { cname: [apiPl], a: ['10.6.2.4'] }, `${n} follows the workspace API name`);

  removeResources(e, e.ids.records.api);
  dns = simulateResolver(e.resources, 'AzureCloud', spoke);
  t.same(dns[e.fqdns.api], { cname: [apiPl], rcode: 'NXDOMAIN' }, 'linked zone without the record: NXDOMAIN');
  t.same(dns[e.fqdns.cert]?.a, ['10.6.2.4'], 'the cert record is unaffected');

  patchProperties(e, e.ids.links['api:compute'], (p) => void (p.virtualNetworkLinkState = 'InProgress'));
  dns = simulateResolver(e.resources, 'AzureCloud', spoke);
  const pub = dns[e.fqdns.api]?.a ?? [];
  t.ok(pub.length === 1 && isPublicIPv4(pub[0] as string) && (pub[0] as string).startsWith('20.'), `link not Completed: public answer (${pub.join(',')})`);
  t.equal(dns[e.fqdns.api]?.cname?.[0], apiPl, 'the public answer still goes through the privatelink CNAME');

  dns = simulateResolver(e.resources, 'AzureCloud', 'external');
  t.ok(isPublicIPv4(dns[e.fqdns.notebooks]?.a?.[0] ?? ''), "an 'external' resolver answers every name publicly");
});

t.test('resolverVnetFor follows the custom DNS server to its VNet', async (t) => {
  const azure = buildEstate(BASE);
  t.equal(resolverVnetFor(azure.resources, azure.ids.computeVnet), azure.ids.computeVnet, 'Azure DNS: the compute VNet itself');
  const inHub = buildEstate({ ...BASE, computeVnet: { ...BASE.computeVnet, dnsServers: ['10.6.0.4'] }, hub: { ...(BASE.hub as NonNullable<EstateOptions['hub']>), dnsServerIp: '10.6.0.4' } });
  t.equal(resolverVnetFor(inHub.resources, inHub.ids.computeVnet), inHub.ids.hubVnet, 'custom DNS in the hub: the hub');
  const onPrem = buildEstate({ ...BASE, computeVnet: { ...BASE.computeVnet, dnsServers: ['192.168.9.9'] } });
  t.equal(resolverVnetFor(onPrem.resources, onPrem.ids.computeVnet), 'external', 'custom DNS outside every VNet: external');
});

t.test('estate wiring', async (t) => {
  const e = buildEstate({ ...BASE, cloud: 'AzureUSGovernment', region: 'usgovvirginia', workspace: { name: 'mlw-a-very-long-workspace-name-indeed', resourceGroup: 'rg-x' } });
  t.match(e.fqdns.api, /\.workspace\.usgovvirginia\.api\.ml\.azure\.us$/, 'government API name');
  t.equal((e.fqdns.notebooks.split('.')[0] ?? '').length, 63, `notebooks label is cut to 63 characters: ${e.fqdns.notebooks}`);
  t.match(e.fqdns.notebooks, /^ml-mlw-a-ver-usgovvirginia-[0-9a-f-]{36}\.usgovvirginia\.notebooks\.usgovcloudapi\.net$/, 'notebooks name truncates the workspace name');
  t.equal(notebooksFqdn(CLOUDS.AzureCloud, 'WS', 'g', 'East US'), 'ml-ws-eastus-g.eastus.notebooks.azure.net', 'notebooks name is lower case with the region normalized');

  const resources = reconcile(e.resources);
  const peSubnet = resources.find((r) => idKey(r.id) === idKey(e.ids.endpointSubnet ?? ''));
  t.same(props(peSubnet).privateEndpoints, [{ id: e.ids.privateEndpoint }], 'the endpoint subnet lists the endpoint');
  t.equal((props(peSubnet).ipConfigurations as unknown[]).length, 2, 'and the endpoint NIC ip configurations');
  const zone = resources.find((r) => idKey(r.id) === idKey(e.ids.zones.api ?? ''));
  t.equal(props(zone).numberOfRecordSets, 3, 'api zone: api + cert records + SOA');
  t.equal(props(zone).numberOfVirtualNetworkLinks, 2, 'api zone: linked to hub and spoke');
  const ws = resources.find((r) => idKey(r.id) === idKey(e.ids.workspace));
  const conn = (props(ws).privateEndpointConnections as Json[])[0];
  t.equal(idKey(((conn?.properties as Json).privateEndpoint as Json).id as string), idKey(e.ids.privateEndpoint ?? ''), 'the workspace connection names the endpoint');
  t.same(Object.keys(e.ids.peerings).sort(), ['computeToHub', 'hubToCompute'], 'hub-and-spoke peers both ways');
});

// ------------------------------------------------------------------------------------ builder: flow-analysis estate

const find = (resources: ScenarioResource[], id: string | undefined): ScenarioResource | undefined => resources.find((r) => idKey(r.id) === idKey(id ?? ''));
const firstAddress = (prefix: string): string => prefix.split('/')[0] as string;

t.test('service tags: realistic IPv4 prefixes per region, IPv6 last, regional tags inside their parents', async (t) => {
  const values = serviceTagValues('West Europe');
  const byName = new Map(values.map((v) => [v.name, v.properties]));
  for (const name of ['AzureActiveDirectory', 'AzureMachineLearning', 'AzureMachineLearning.WestEurope', 'AzureResourceManager', 'Storage', 'Storage.WestEurope', 'AzureKeyVault.WestEurope', 'AzureContainerRegistry.WestEurope', 'MicrosoftContainerRegistry', 'AzureFrontDoor.FirstParty', 'BatchNodeManagement.WestEurope']) {
    const p = byName.get(name);
    t.ok(p && p.addressPrefixes.length > 0, `${name} is published`);
    const v4 = (p?.addressPrefixes ?? []).filter((x) => !x.includes(':'));
    t.ok(v4.every((x) => isPublicIPv4(firstAddress(x))), `${name}: public IPv4 ranges only`);
    t.notOk((p?.addressPrefixes[0] ?? ':').includes(':'), `${name}: the first prefix is IPv4`);
  }
  t.equal(byName.get('Storage.WestEurope')?.region, 'westeurope', 'regional tags name their region');
  t.equal(byName.get('AzureActiveDirectory')?.region, '', 'global tags have no region');
  t.ok(values.filter((v) => v.properties.addressPrefixes.some((x) => x.includes(':'))).length >= 2, 'a few IPv6 prefixes to drop');
  const regional = byName.get('AzureMachineLearning.WestEurope')?.addressPrefixes.filter((x) => !x.includes(':')) ?? [];
  t.same(byName.get('AzureMachineLearning')?.addressPrefixes.slice(0, regional.length), regional, 'the parent tag starts with the region\'s own prefixes');
  t.notSame(serviceTagValues('eastus').find((v) => v.name === 'Storage.EastUS')?.properties.addressPrefixes, byName.get('Storage.WestEurope')?.addressPrefixes, 'regions differ');
  t.equal(regionalTag('BatchNodeManagement', 'usgovvirginia'), 'BatchNodeManagement.USGovVirginia', 'tag spelling of a region');
});

t.test('internetPrefixes: the whole public IPv4 space and nothing private', async (t) => {
  const prefixes = internetPrefixes();
  const size = prefixes.reduce((n, p) => n + 2 ** (32 - Number(p.split('/')[1])), 0);
  const excluded = [8, 8, 10, 8, 16, 12, 16, 3].reduce((n, len) => n + 2 ** (32 - len), 0);
  t.equal(size, 2 ** 32 - excluded, 'covers every address outside the non-public ranges exactly once');
  for (const ip of ['10.1.2.3', '172.20.0.1', '192.168.1.1', '100.64.0.1', '127.0.0.1', '169.254.169.254', '224.0.0.1']) t.notOk(prefixes.some((p) => cidrContains(p, ip)), `${ip} is not Internet`);
  for (const ip of ['20.190.128.0', '1.1.1.1', '52.1.2.3', '172.32.0.1']) t.ok(prefixes.some((p) => cidrContains(p, ip)), `${ip} is Internet`);
});

t.test('every estate: service tags, open dependencies, a compute NSG with the default rules, NAT egress', async (t) => {
  const e = buildEstate(BASE);
  const resources = reconcile(e.resources);
  const tags = find(resources, e.ids.serviceTags);
  t.match(tags?.id, /^\/subscriptions\/[0-9a-f-]{36}\/providers\/Microsoft\.Network\/locations\/westeurope\/serviceTags$/, 'the service tags singleton of the workspace subscription and region');
  const ws = find(resources, e.ids.workspace);
  for (const key of ['storageAccount', 'keyVault', 'containerRegistry']) {
    const id = props(ws)[key] as string;
    t.ok(find(resources, id), `the workspace's ${key} exists: ${id}`);
  }
  t.equal((props(find(resources, e.ids.storage)).networkAcls as Json).defaultAction, 'Allow', 'storage is open by default');
  t.equal((find(resources, e.ids.registry)?.sku as Json).name, 'Premium', 'the registry is Premium');
  const computeSubnet = find(resources, e.ids.computeSubnet);
  t.equal(idKey(((props(computeSubnet).networkSecurityGroup as Json).id as string) ?? ''), idKey(e.ids.computeNsg), 'the compute subnet has its NSG');
  t.ok(props(computeSubnet).natGateway, 'and its NAT gateway');
  const nsg = find(resources, e.ids.computeNsg);
  t.same((props(nsg).defaultSecurityRules as Json[]).map((r) => r.name), ['AllowVnetInBound', 'AllowAzureLoadBalancerInBound', 'DenyAllInBound', 'AllowVnetOutBound', 'AllowInternetOutBound', 'DenyAllOutBound'], "Azure's six default rules");
  t.same(props(nsg).securityRules, [], 'no custom rules by default');
  t.same(props(nsg).subnets, [{ id: e.ids.computeSubnet }], 'the NSG lists its subnet');
  const nodeConfigs = (props(computeSubnet).ipConfigurations as Json[]).map((c) => c.id as string);
  t.equal(nodeConfigs.length, 1, 'the running compute instance has a node NIC in the subnet');
  t.notOk(resources.some((r) => tryParseArmId(r.id)?.subscriptionId === tryParseArmId(nodeConfigs[0])?.subscriptionId), 'in a subscription the estate does not hold (Microsoft-managed)');
  t.notOk(buildEstate({ ...BASE, seed: 'no-nat', natGateway: false }).resources.some((r) => r.type === 'Microsoft.Network/natGateways'), 'natGateway: false leaves it out');
});

const FORCED: EstateOptions = {
  ...BASE,
  seed: 'unit-forced',
  computes: [{ name: 'ci-unit', kind: 'instance', publicIp: true }, { name: 'ci-off', kind: 'instance', state: 'Stopped' }],
  natGateway: false,
  computeNsg: { rules: [...recommendedNsgRules('westeurope', { inbound: true }), { name: 'Deny-ARM', priority: 500, direction: 'Outbound', access: 'Deny', destination: 'AzureResourceManager', ports: '443', protocol: 'Tcp' }] },
  routeTable: {
    routes: [
      { name: 'forced', prefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIp: 'firewall' },
      { name: 'aml', prefix: 'AzureMachineLearning', nextHopType: 'Internet' },
    ],
    disableBgpRoutePropagation: true,
  },
  firewall: {
    name: 'afw-unit',
    basePolicy: { name: 'afwp-base', groups: [{ name: 'rcg-base', priority: 100, collections: [{ name: 'c', priority: 100, action: 'Allow', rules: [{ kind: 'application', name: 'login', fqdns: ['login.microsoftonline.com'] }] }] }] },
    policy: { name: 'afwp-unit', dnsProxy: true, groups: [{ name: 'rcg-ml', priority: 200, collections: [{ name: 'n', priority: 100, action: 'Allow', rules: [{ kind: 'network', name: 'mcr', protocols: ['TCP'], fqdns: ['mcr.microsoft.com'], ports: ['443'] }] }] }] },
  },
  dependencies: { storage: { defaultAction: 'Deny', computeSubnetRule: true, serviceEndpoint: true, workspaceRule: true }, keyVault: { defaultAction: 'Deny', computeSubnetRule: true }, registry: { publicNetworkAccess: 'Disabled', privateEndpoint: { name: 'pe-cr-unit', status: 'Pending' } } },
  endpointSubnet: { privateEndpointNetworkPolicies: 'Enabled', nsgRules: [{ name: 'Deny-All', priority: 4000, direction: 'Inbound', access: 'Deny' }] },
  vantage: { vmName: 'vm-unit', disagree: { tag: 'AzureResourceManager', nextHopType: 'None' } },
};

t.test('options: route table, firewall with a base policy, dependencies, endpoint subnet NSG', async (t) => {
  const e = buildEstate(FORCED);
  const resources = reconcile(e.resources);
  t.equal(e.firewallIp, '10.6.3.4', 'the firewall sits in the hub at <base>.3.4');
  const rt = find(resources, e.ids.routeTable);
  const routes = props(rt).routes as Json[];
  t.same(routes.map((r) => [(r.properties as Json).addressPrefix, (r.properties as Json).nextHopType, (r.properties as Json).nextHopIpAddress]), [['0.0.0.0/0', 'VirtualAppliance', '10.6.3.4'], ['AzureMachineLearning', 'Internet', undefined]], "'firewall' resolves to its address; tags stay tags");
  t.equal(props(rt).disableBgpRoutePropagation, true, 'BGP propagation setting');
  t.same(props(rt).subnets, [{ id: e.ids.computeSubnet }], 'the route table lists its subnet');
  const fw = find(resources, e.ids.firewall);
  const fwSubnet = resources.find((r) => r.name === 'AzureFirewallSubnet');
  t.equal(props(fwSubnet).addressPrefix, '10.6.3.0/26', 'AzureFirewallSubnet in the hub');
  t.same(props(fwSubnet).ipConfigurations, [{ id: ((props(fw).ipConfigurations as Json[])[0] as Json).id }], 'it lists the firewall ip configuration');
  const policy = find(resources, e.ids.firewallPolicy);
  const base = find(resources, e.ids.firewallBasePolicy);
  t.equal(idKey(((props(policy).basePolicy as Json).id as string) ?? ''), idKey(e.ids.firewallBasePolicy ?? ''), 'the policy names its base');
  t.same(props(base).childPolicies, [{ id: e.ids.firewallPolicy }], 'the base names its child');
  t.same((props(policy).dnsSettings as Json).enableProxy, true, 'DNS proxy setting');
  t.equal((props(base).dnsSettings as Json).enableProxy, false, 'DNS proxy is off unless asked');
  const group = find(resources, ((props(policy).ruleCollectionGroups as Json[])[0] as Json).id as string);
  const rule = (((props(group).ruleCollections as Json[])[0] as Json).rules as Json[])[0] as Json;
  t.match(rule, { ruleType: 'NetworkRule', destinationFqdns: ['mcr.microsoft.com'], destinationPorts: ['443'], ipProtocols: ['TCP'], sourceAddresses: ['*'] }, 'network rules in ARM wire shape');

  const computeSubnet = find(resources, e.ids.computeSubnet);
  t.same((props(computeSubnet).serviceEndpoints as Json[]).map((x) => [x.service, x.locations]), [['Microsoft.Storage', ['westeurope']]], 'the storage service endpoint on the compute subnet');
  const acls = props(find(resources, e.ids.storage)).networkAcls as Json;
  t.match(acls, { defaultAction: 'Deny', virtualNetworkRules: [{ id: e.ids.computeSubnet }], resourceAccessRules: [{ resourceId: e.ids.workspace }] }, 'storage admits the compute subnet and the workspace');
  t.equal(((props(find(resources, e.ids.keyVault)).networkAcls as Json).virtualNetworkRules as Json[])[0]?.id, e.ids.computeSubnet.toLowerCase(), 'key vault returns its subnet rule ids in lower case');
  const registry = find(resources, e.ids.registry);
  t.equal(props(registry).publicNetworkAccess, 'Disabled', 'registry public access');
  const conn = (props(registry).privateEndpointConnections as Json[])[0] as Json;
  t.equal((((conn.properties as Json).privateLinkServiceConnectionState as Json).status as string), 'Pending', 'the registry connection state');
  const regPe = find(resources, e.ids.registryPrivateEndpoint);
  const plsc = ((props(regPe).manualPrivateLinkServiceConnections as Json[])[0] as Json).properties as Json;
  t.match(plsc, { groupIds: ['registry'], privateLinkServiceId: e.ids.registry }, 'a pending registry endpoint is a manual connection to the registry');
  const epSubnet = find(resources, e.ids.endpointSubnet);
  t.equal(props(epSubnet).privateEndpointNetworkPolicies, 'Enabled', 'network policies on the endpoint subnet');
  t.equal(idKey(((props(epSubnet).networkSecurityGroup as Json).id as string) ?? ''), idKey(e.ids.endpointNsg ?? ''), 'and its NSG');
  t.throws(() => buildEstate({ ...BASE, routeTable: { routes: [{ name: 'x', prefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIp: 'firewall' }] } }), /needs a firewall/, 'a route to a missing firewall is a builder error');
});

t.test('the vantage: effective routes, effective NSGs and next hops derived from the final configuration', async (t) => {
  const e = buildEstate(FORCED);
  const s = toScenario(e, { name: 'unit', title: 'unit', description: 'unit', vantageFlag: true, expect: { exitCode: 0, verdict: 'no-cause-found' } });
  t.equal(s.target.vantageVmId, e.ids.vantageVm, '--vantage-vm names the jumpbox');
  const nic = find(s.resources, e.ids.vantageNic);
  t.equal(idKey(((props(nic).virtualMachine as Json).id as string) ?? ''), idKey(e.ids.vantageVm ?? ''), 'the NIC belongs to the VM');
  t.ok(find(s.resources, e.ids.vantageVm), 'the VM exists');
  const subnetConfigs = (props(find(s.resources, e.ids.computeSubnet)).ipConfigurations as Json[]).map((c) => c.id as string);
  t.equal(subnetConfigs.length, 2, 'the subnet lists the jumpbox and the running instance node (not the stopped one)');
  t.ok(subnetConfigs.some((c) => idKey(c).startsWith(idKey(e.ids.vantageNic ?? '-'))), 'the jumpbox NIC is listed');

  const op = (action: string) => s.operations?.find((o) => o.action === action)?.result as { value: Json[] };
  const routes = op('effectiveRouteTable').value;
  const row = (type: string, prefix?: string) => routes.find((r) => r.nextHopType === type && (!prefix || (r.addressPrefix as string[]).includes(prefix)));
  t.equal(row('Internet', '0.0.0.0/0')?.state, 'Invalid', 'the user default route replaces the system one');
  t.match(row('VirtualAppliance'), { source: 'User', state: 'Active', addressPrefix: ['0.0.0.0/0'], nextHopIpAddress: ['10.6.3.4'], name: 'forced' }, 'forced tunnel to the firewall');
  const aml = serviceTagValues('westeurope').find((v) => v.name === 'AzureMachineLearning')?.properties.addressPrefixes.filter((p) => !p.includes(':'));
  t.same(routes.find((r) => r.name === 'aml')?.addressPrefix, aml, 'a service-tag route is expanded to its IPv4 prefixes');
  t.same(row('VNetPeering')?.addressPrefix, ['10.6.0.0/16'], 'the peered hub');
  t.ok(row('VirtualNetworkServiceEndpoint'), 'the storage service endpoint route');
  t.same(routes.filter((r) => r.nextHopType === 'None').map((r) => (r.addressPrefix as string[])[0]), ['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16'], 'private ranges without a route go nowhere');

  const groups = op('effectiveNetworkSecurityGroups').value;
  t.equal(groups.length, 1, 'one NSG applies (the subnet\'s)');
  t.same(groups[0]?.association, { subnet: { id: e.ids.computeSubnet } }, 'associated through the subnet');
  const rules = groups[0]?.effectiveSecurityRules as Json[];
  const deny = rules.find((r) => r.name === 'securityRules/Deny-ARM');
  t.match(deny, { access: 'Deny', direction: 'Outbound', destinationAddressPrefix: 'AzureResourceManager', destinationPortRange: '443-443', protocol: 'Tcp', sourceAddressPrefix: '0.0.0.0/0' }, 'custom rules in effective form');
  t.same(deny?.expandedDestinationAddressPrefix, serviceTagValues('westeurope').find((v) => v.name === 'AzureResourceManager')?.properties.addressPrefixes.filter((p) => !p.includes(':')), 'tags expanded to their IPv4 prefixes');
  const vnetRule = rules.find((r) => r.name === 'defaultSecurityRules/AllowVnetOutBound');
  t.same(vnetRule?.expandedDestinationAddressPrefix, ['10.5.0.0/16', '10.6.0.0/16'], 'VirtualNetwork = the VNet and its peers');
  t.equal(rules.find((r) => r.name === 'defaultSecurityRules/DenyAllOutBound')?.protocol, 'All', "'*' is All in effective rules");

  const hops = new Map((s.operations ?? []).filter((o) => o.action === 'nextHop').map((o) => [o.match?.destinationIPAddress, o.result as Json]));
  t.match(hops.get('10.6.2.4'), { nextHopType: 'VNetPeering', routeTableId: 'System Route' }, 'the workspace endpoint: through the peering');
  t.ok(hops.has('10.6.2.20'), 'dependency endpoint addresses are answered too');
  t.match(hops.get('20.190.128.0'), { nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.6.3.4', routeTableId: e.ids.routeTable }, 'Entra ID: to the firewall, by the user route');
  t.match(hops.get(firstAddress(aml?.[0] ?? '')), { nextHopType: 'Internet' }, 'AzureMachineLearning: straight out by its tag route');
  t.match(hops.get('4.150.240.8'), { nextHopType: 'None' }, 'the disagreement hook overrides one next hop (ARM)');
  for (const ip of hops.keys()) t.ok(parseIPv4(ip ?? ''), `next hop destination ${ip} is an address`);
});

t.test('a managed network workspace: computes outside the customer VNet, required rules with their status', async (t) => {
  const e = buildEstate({ ...BASE, seed: 'unit-managed', workspace: { ...BASE.workspace, managedNetwork: { isolationMode: 'AllowOnlyApprovedOutbound', inactive: ['blob'] } }, vantage: {} });
  const resources = reconcile(e.resources);
  const mn = props(find(resources, e.ids.workspace)).managedNetwork as Json;
  t.match(mn, { isolationMode: 'AllowOnlyApprovedOutbound', status: { status: 'Active' } }, 'isolation mode and status');
  const rules = Object.entries(mn.outboundRules as Record<string, Json>);
  t.equal(rules.length, 4, 'required private endpoint rules for blob, file, vault and registry');
  t.same(rules.filter(([, r]) => r.status === 'Inactive').map(([name]) => /_blob_/.test(name)), [true], 'only the blob rule is Inactive');
  const ci = find(resources, e.ids.computes['ci-unit']);
  t.notOk(((ci?.properties as Json).properties as Json).subnet, 'the compute has no customer subnet');
  t.same(props(find(resources, e.ids.computeSubnet)).ipConfigurations, [], 'no node NICs and no vantage in the customer VNet');
});
