/**
 * The bundled scenarios: up to date with their builder, internally consistent (ids parse, are
 * unique, references resolve), and together covering every rule of the walking skeleton. Plus the
 * builder's DNS view, which every scenario's `dns` section comes from.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { idKey, parentId, parseArmId, parseWorkspaceId, tryParseArmId } from '../../src/model/arm-id.ts';
import { CLOUDS, isCloudName } from '../../src/model/cloud.ts';
import { isPublicIPv4 } from '../../src/model/ip.ts';
import { listScenarios, loadScenario } from '../../src/sim/scenario-files.ts';
import type { Scenario, ScenarioResource } from '../../src/sim/scenario.ts';
import {
  buildEstate,
  notebooksFqdn,
  patchProperties,
  reconcile,
  removeResources,
  resolverVnetFor,
  simulateResolver,
  type EstateOptions,
} from '../../src/sim/scenario-builder.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The 13 codes of /work/rule-semantics.md. */
const CODES = [
  'WORKSPACE_PRIVATE_ENDPOINT_MISSING',
  'WORKSPACE_PRIVATE_ENDPOINT_NOT_APPROVED',
  'PRIVATE_DNS_ZONE_MISSING',
  'PRIVATE_DNS_ZONE_GROUP_MISSING',
  'PRIVATE_DNS_RECORD_MISSING',
  'PRIVATE_DNS_RECORD_STALE',
  'PRIVATE_DNS_ZONE_NOT_LINKED',
  'CUSTOM_DNS_NOT_FORWARDING',
  'DNS_RESOLVES_PUBLIC_ADDRESS',
  'DNS_RESOLUTION_FAILED',
  'VNET_PEERING_NOT_CONNECTED',
  'COMPUTE_INSTANCE_NAME_UNRESOLVABLE',
  'COMPUTE_SSO_DISABLED',
];

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
  const covered = new Set(scenarios.flatMap((s) => [s.expect.topFinding?.code, ...(s.expect.alsoFinds ?? [])]));
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
      t.doesNotThrow(() => parseArmId(r.id), `id parses: ${r.id}`);
      const k = idKey(r.id);
      if (seen.has(k)) t.fail(`duplicate id (case-insensitive): ${r.id} and ${seen.get(k)}`);
      seen.set(k, r.id);
    }

    // References into the scenario's subscriptions resolve
    const declared = declaredIds(s.resources);
    const subs = new Set([...s.resources.map((r) => parseArmId(r.id).subscriptionId), ...(s.target.subscriptions ?? []).map((x) => x.toLowerCase())]);
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
      t.equal(e.verdict, e.exitCode === 1 ? 'cause-found' : 'no-cause-found', 'verdict agrees with the exit code');
    } else {
      t.equal(e.verdict, e.exitCode === 3 ? 'undetermined' : 'no-cause-found', 'verdict agrees with the exit code');
    }

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
  const p = parseArmId(id);
  return `/subscriptions/${p.subscriptionId}/providers/${p.namespace}/${p.types[0] ?? ''}`;
}

t.test('healthy private scenarios resolve every workspace name to its private endpoint', async (t) => {
  const healthy = scenarios.filter((s) => !s.expect.topFinding && s.expect.exitCode === 0 && props(wsResource(s)).publicNetworkAccess === 'Disabled');
  t.ok(healthy.length >= 3, 'there are healthy private scenarios');
  for (const s of healthy) {
    const pes = s.resources.filter((r) => r.type === 'Microsoft.Network/privateEndpoints');
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
