import t from 'tap';
import type { ComputeObs, DependencyObs, NetworkAclsObs, Snapshot } from '../../src/model/snapshot.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/IMAGE_BUILD_COMPUTE_MISSING.ts';
import { BICEP_API, type BicepType } from '../../src/rules/support-bicep.ts';
import { SUB, SUBNET_ID, WS_ID, healthySnapshot, value } from '../helpers/snapshot.ts';
import { fails, forbidden } from '../helpers/results.ts';

const ACR_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.ContainerRegistry/registries/acrdemo`;
const ST_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.Storage/storageAccounts/stdemo`;
const SCOPE = `--subscription ${SUB} --resource-group rg-ml`;

/** The `resource <symbol> '<type>@<api>' = {` lines of a snippet, as `<type>` (with ` existing` when so). */
const declared = (bicep: string | undefined) => [...(bicep ?? '').matchAll(/^resource \w+ '([^@']+)@([^']+)'( existing)? = \{$/gm)].map((m) => `${m[1]}${m[3] ?? ''}${m[2] === BICEP_API[m[1] as BicepType] ? '' : ` (unexpected api ${m[2]})`}`);

const open: Partial<NetworkAclsObs> = { publicNetworkAccess: 'Enabled', defaultAction: 'Allow' };
const closed: Partial<NetworkAclsObs> = { publicNetworkAccess: 'Disabled', defaultAction: 'Deny' };

function dep(id: string, kind: DependencyObs['kind'], network: Partial<NetworkAclsObs>): DependencyObs {
  return {
    id, name: id.split('/').pop() as string, kind, sku: 'Premium',
    network: { bypass: ['AzureServices'], virtualNetworkSubnetIds: [], ipRules: [], resourceAccessRules: [], ...network },
    privateEndpoints: [], hostNames: [],
  };
}

/** The healthy snapshot with a registry and a storage account (network rules as given) and extra computes. */
function estate(registry: Partial<NetworkAclsObs>, storage: Partial<NetworkAclsObs>, imageBuildCompute?: string, computes: ComputeObs[] = []): Snapshot {
  const s = healthySnapshot();
  const ws = value(s.workspace);
  ws.containerRegistryId = ACR_ID;
  ws.storageAccountId = ST_ID;
  if (imageBuildCompute !== undefined) ws.imageBuildCompute = imageBuildCompute;
  s.dependencies = {
    ok: true,
    value: {
      resources: [
        { id: ACR_ID, kind: 'container-registry', observed: { ok: true, value: dep(ACR_ID, 'container-registry', registry) } },
        { id: ST_ID, kind: 'storage', observed: { ok: true, value: dep(ST_ID, 'storage', storage) } },
      ],
    },
  };
  value(s.computes).computes.push(...computes);
  return s;
}

const cluster = (name: string, vmSize: string | undefined, extra: Partial<ComputeObs> = {}): ComputeObs => ({
  id: `${WS_ID}/computes/${name}`, name, computeType: 'AmlCompute', subnetId: SUBNET_ID, enableNodePublicIp: false, ...(vmSize ? { vmSize } : {}), ...extra,
});

t.test('fails: registry private and imageBuildCompute unset; creates a CPU cluster in the compute subnet', async (t) => {
  const f = fails(rule.check(estate(closed, open)))[0] as FindingDraft;
  t.equal(f.resourceId, WS_ID, 'blames the workspace');
  t.match(f.explanation, /^Container registry acrdemo has public network access disabled and network rules that deny by default \(defaultAction Deny\), so the default serverless image build cannot reach it; workspace ws-demo must build .* but imageBuildCompute is not set/);
  t.same(f.remediation.azCli, [
    `az ml compute create ${SCOPE} --workspace-name ws-demo --name cpu-image-build --type AmlCompute --size Standard_DS3_v2 --min-instances 0 --max-instances 2 --subnet ${SUBNET_ID} --enable-node-public-ip false`,
    `az ml workspace update ${SCOPE} --name ws-demo --image-build-compute cpu-image-build`,
  ]);
  t.match(f.remediation.verify, `az ml workspace show ${SCOPE} --name ws-demo --query image_build_compute prints cpu-image-build`);
  t.match(f.remediation.verify, /then run aml-netdoctor recheck <report\.json>\.$/);
  t.ok(f.evidence.some((e) => e.property === 'properties.imageBuildCompute' && e.observed === 'not set'));
  const bicep = f.remediation.bicep;
  t.match(bicep, /^\/\/ Deploy to resource group rg-ml /);
  t.same(declared(bicep), ['Microsoft.MachineLearningServices/workspaces existing', 'Microsoft.MachineLearningServices/workspaces/computes', 'Microsoft.MachineLearningServices/workspaces']);
  t.match(bicep, `parent: workspaceRef\n  name: 'cpu-image-build'\n  location: 'eastus'\n  properties: {\n    computeType: 'AmlCompute'\n    properties: {\n      vmSize: 'Standard_DS3_v2'`, 'a CPU cluster');
  t.match(bicep, `subnet: {\n        id: '${SUBNET_ID}'\n      }\n      enableNodePublicIp: false`, 'in the compute subnet, without public IPs like the computes there');
  t.match(bicep, /minNodeCount: 0/);
  t.match(bicep, `resource workspace 'Microsoft.MachineLearningServices/workspaces@${BICEP_API['Microsoft.MachineLearningServices/workspaces']}' = {\n  name: 'ws-demo'\n  location: 'eastus'`, 'names the real workspace');
  t.match(bicep, `containerRegistry: '${ACR_ID}'`, 'keeps the associated resources');
  t.match(bicep, `storageAccount: '${ST_ID}'`);
  t.match(bicep, `imageBuildCompute: 'cpu-image-build'\n  }\n  dependsOn: [\n    cluster\n  ]`, 'the cluster is created first');
  t.match(bicep, /The snapshot has no keyVault and applicationInsights id for ws-demo/);
});

t.test('fails: a GPU cluster named as the image build compute; an existing CPU cluster is proposed', async (t) => {
  const s = estate(open, { defaultAction: 'Deny' }, 'gpu-cluster', [cluster('gpu-cluster', 'Standard_NC6s_v3'), cluster('cpu-cluster', 'Standard_D4s_v3')]);
  const f = fails(rule.check(s))[0];
  t.equal(f?.resourceId, WS_ID);
  t.match(f?.explanation, /^Storage account stdemo has network rules that deny by default/);
  t.match(f?.explanation, /imageBuildCompute names gpu-cluster, but its VM size Standard_NC6s_v3 is a GPU \(N-series\) size/);
  t.same(f?.remediation.azCli, [`az ml workspace update ${SCOPE} --name ws-demo --image-build-compute cpu-cluster`]);
  t.match(f?.remediation.summary, /existing CPU compute cluster cpu-cluster \(Standard_D4s_v3\)/);
  t.same(declared(f?.remediation.bicep), ['Microsoft.MachineLearningServices/workspaces'], 'no new cluster');
  t.match(f?.remediation.bicep, `imageBuildCompute: 'cpu-cluster'`, 'replaces the GPU cluster name');
  t.notMatch(f?.remediation.bicep, /gpu-cluster|dependsOn/);
  t.match(f?.remediation.verify, `--query image_build_compute prints cpu-cluster`);
});

t.test('fails: the name points at a compute instance, at a cluster outside the VNet, or at nothing', async (t) => {
  t.match(fails(rule.check(estate(closed, closed, 'ci-alice')))[0]?.explanation, /imageBuildCompute names ci-alice, but it is a ComputeInstance, not a compute cluster \(AmlCompute\)/);
  t.match(fails(rule.check(estate(closed, open, 'cpu-public', [cluster('cpu-public', 'Standard_DS3_v2', { subnetId: undefined })])))[0]?.explanation, /cpu-public, but it is not in a virtual network/);
  const none = estate(closed, open, 'gone');
  delete none.target.computeName;
  t.match(fails(rule.check(none))[0]?.explanation, /imageBuildCompute names gone, but the workspace has no compute of that name/);
});

t.test('bicep: a managed network cluster has no subnet; with no compute subnet known, a placeholder', async (t) => {
  const managed = estate(closed, open);
  value(managed.workspace).managedNetwork = { isolationMode: 'AllowOnlyApprovedOutbound', status: 'Active', outboundRules: [] };
  const m = fails(rule.check(managed))[0]?.remediation.bicep;
  t.notMatch(m, /subnet:/);
  t.match(m, `managedNetwork: {\n      isolationMode: 'AllowOnlyApprovedOutbound'\n    }`, 'the workspace keeps its isolation mode');
  const bare = estate(closed, open);
  value(bare.computes).computes = [];
  const b = fails(rule.check(bare))[0]?.remediation.bicep;
  t.match(b, `id: '<compute subnet id>'`);
  t.match(b, /replace <compute subnet id> with the subnet/);
});

t.test('passes: a CPU cluster in the VNet, listed or read on its own (--compute)', async (t) => {
  t.match(rule.check(estate(closed, open, 'cpu-cluster', [cluster('cpu-cluster', 'Standard_DS3_v2')])), [{ status: 'pass', resourceId: WS_ID, detail: 'imageBuildCompute names cpu-cluster, a CPU compute cluster (Standard_DS3_v2) in subnet snet-compute of vnet-spoke.' }]);
  const s = estate(closed, open, 'CPU-Cluster');
  value(s.computes).imageBuildCompute = { ok: true, value: cluster('cpu-cluster', 'Standard_DS3_v2') };
  t.match(rule.check(s), [{ status: 'pass' }]);
});

t.test('passes: managed network clusters need no subnet', async (t) => {
  const s = estate(closed, open, 'cpu-cluster', [cluster('cpu-cluster', 'Standard_DS3_v2', { subnetId: undefined })]);
  value(s.workspace).managedNetwork = { isolationMode: 'AllowOnlyApprovedOutbound', status: 'Active', outboundRules: [] };
  t.match(rule.check(s), [{ status: 'pass', detail: /in the managed virtual network/ }]);
});

t.test('does not apply: neither the registry nor the storage account is restricted', async (t) => {
  t.match(rule.check(estate(open, open)), [{ status: 'pass', resourceId: WS_ID, detail: /Does not apply/ }]);
});

const gaps: Array<{ name: string; make: () => Snapshot; reason: RegExp }> = [
  {
    name: '--compute given and the image build compute was not read',
    make: () => estate(closed, open, 'cpu-cluster'),
    reason: /only compute ci-alice was listed \(--compute\) and cpu-cluster was not read/,
  },
  {
    name: 'the separate read of the image build compute failed',
    make: () => {
      const s = estate(closed, open, 'cpu-cluster');
      value(s.computes).imageBuildCompute = forbidden('cpu-cluster');
      return s;
    },
    reason: /403 AuthorizationFailed reading cpu-cluster/,
  },
  {
    name: 'computes unreadable',
    make: () => {
      const s = estate(closed, open, 'cpu-cluster');
      s.computes = forbidden('computes');
      return s;
    },
    reason: /403 AuthorizationFailed reading computes/,
  },
  { name: 'VM size not reported', make: () => estate(closed, open, 'cpu-cluster', [cluster('cpu-cluster', undefined)]), reason: /did not report the cluster VM size/ },
  {
    name: 'dependencies unreadable',
    make: () => {
      const s = estate(closed, open);
      s.dependencies = forbidden('dependencies');
      return s;
    },
    reason: /403 AuthorizationFailed reading dependencies/,
  },
];

for (const g of gaps) {
  t.test(`undetermined: ${g.name}`, async (t) => {
    const rs = rule.check(g.make());
    t.same(fails(rs), []);
    t.notOk(rs.some((r) => r.status === 'pass'), 'never a pass on missing evidence');
    t.ok(rs.some((r) => r.status === 'undetermined' && g.reason.test(r.reason)));
  });
}

t.test('a separate read that found no such compute fails', async (t) => {
  const s = estate(closed, open, 'cpu-cluster');
  value(s.computes).imageBuildCompute = { ok: false, error: { kind: 'not-found', message: '404 ResourceNotFound reading cpu-cluster' } };
  t.match(fails(rule.check(s))[0]?.explanation, /names cpu-cluster, but the workspace has no compute of that name/);
});
