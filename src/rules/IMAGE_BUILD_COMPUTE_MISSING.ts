/**
 * IMAGE_BUILD_COMPUTE_MISSING: the registry or the default storage account is network-restricted,
 * so the default (serverless) image build cannot reach them, and the workspace's imageBuildCompute
 * is unset or names no CPU compute cluster in the virtual network.
 */
import { idKey, nameOf, parentId } from '../model/arm-id.ts';
import type { ComputeObs, DependencyObs, Snapshot, WorkspaceObs } from '../model/snapshot.ts';
import type { Evidence } from '../report/schema.ts';
import type { FindingDraft, Rule, RuleResult } from './rule.ts';
import { capitalize, isUnknown, judgedWorkspace, listText, undetermined, type Unknown } from './support.ts';
import { bicepResource, bicepSnippet } from './support-bicep.ts';
import { REGISTRY, STORAGE, dependencyOf, isRestricted, managedIsolation, restrictionText, workspaceDeclaration, workspaceNotes } from './support-dependencies.ts';

const CODE = 'IMAGE_BUILD_COMPUTE_MISSING';
const DEFAULT_CLUSTER = 'cpu-image-build';
const DEFAULT_SIZE = 'Standard_DS3_v2';

const isCluster = (c: ComputeObs) => c.computeType.toLowerCase() === 'amlcompute';
/** N-series sizes (NC, ND, NV, …) carry GPUs. */
const isGpuSize = (size: string) => /^Standard_N/i.test(size);

/** What is wrong with a compute as the image build compute (empty: fit); undefined: cannot tell. */
function unfitness(c: ComputeObs, managed: boolean): string[] | undefined {
  const out: string[] = [];
  if (!isCluster(c)) out.push(`it is a ${c.computeType}, not a compute cluster (AmlCompute)`);
  if (c.vmSize && isGpuSize(c.vmSize)) out.push(`its VM size ${c.vmSize} is a GPU (N-series) size; image builds need a CPU cluster`);
  if (!managed && !c.subnetId) out.push('it is not in a virtual network (no subnet), so it cannot reach the restricted registry and storage either');
  if (out.length === 0 && !c.vmSize) return undefined;
  return out;
}

/** The compute imageBuildCompute names: found, absent from the workspace, or not read. */
function findCompute(s: Snapshot, name: string): ComputeObs | 'absent' | Unknown {
  const item = `image build compute ${name}`;
  if (!s.computes?.ok) return { unknown: true, item, reason: s.computes ? s.computes.error.message : 'the computes were not collected' };
  const listed = s.computes.value.computes.find((c) => c.name.toLowerCase() === name.toLowerCase());
  if (listed) return listed;
  const read = s.computes.value.imageBuildCompute;
  if (read?.ok && read.value.name.toLowerCase() === name.toLowerCase()) return read.value;
  if (read && !read.ok) return read.error.kind === 'not-found' ? 'absent' : { unknown: true, item, reason: read.error.message, ...(read.error.resourceId ? { resourceId: read.error.resourceId } : {}) };
  // With --compute only that compute is listed: the image build compute had to be read on its own.
  if (s.target.computeName) return { unknown: true, item, reason: `only compute ${s.target.computeName} was listed (--compute) and ${name} was not read` };
  return 'absent';
}

function check(s: Snapshot): RuleResult[] {
  const ws = judgedWorkspace(s);
  if (Array.isArray(ws)) return ws;
  const deps = [REGISTRY, STORAGE].map((spec) => dependencyOf(s, ws, spec));
  const restricted = deps.filter((d): d is DependencyObs => !!d && !isUnknown(d) && isRestricted(d.network));
  if (restricted.length === 0) {
    const unknown = deps.filter(isUnknown);
    if (unknown.length) return unknown.map(undetermined);
    return [{ status: 'pass', resourceId: ws.id, detail: `Does not apply: neither the container registry nor the default storage account of ${ws.name} is network-restricted, so the default image build reaches them.` }];
  }
  const managed = managedIsolation(ws);
  const name = ws.imageBuildCompute?.trim();
  if (!name) return [{ status: 'fail', finding: finding(s, ws, restricted, undefined, [`imageBuildCompute is not set`]) }];
  const c = findCompute(s, name);
  if (isUnknown(c)) return [undetermined(c)];
  if (c === 'absent') return [{ status: 'fail', finding: finding(s, ws, restricted, undefined, [`imageBuildCompute names ${name}, but the workspace has no compute of that name`]) }];
  const problems = unfitness(c, managed);
  if (problems === undefined) return [{ status: 'undetermined', item: `VM size of image build compute ${c.name}`, reason: 'ARM did not report the cluster VM size, so whether it is a CPU cluster is unknown', resourceId: c.id }];
  if (problems.length) return [{ status: 'fail', finding: finding(s, ws, restricted, c, problems.map((p) => `imageBuildCompute names ${c.name}, but ${p}`)) }];
  const where = c.subnetId ? `in subnet ${nameOf(c.subnetId)} of ${nameOf(parentId(c.subnetId))}` : 'in the managed virtual network';
  return [{ status: 'pass', resourceId: ws.id, detail: `imageBuildCompute names ${c.name}, a CPU compute cluster (${c.vmSize}) ${where}.` }];
}

/** A compute already fit to build images, to name instead of creating one. */
function candidate(s: Snapshot, managed: boolean): ComputeObs | undefined {
  if (!s.computes?.ok) return undefined;
  return [...s.computes.value.computes]
    .sort((a, b) => a.name.localeCompare(b.name))
    .find((c) => unfitness(c, managed)?.length === 0);
}

/** The subnet to put a new cluster in: the first compute subnet in scope. */
function subnetForNewCluster(s: Snapshot): ComputeObs | undefined {
  if (!s.computes?.ok) return undefined;
  return [...s.computes.value.computes].sort((a, b) => a.name.localeCompare(b.name)).find((c) => !!c.subnetId);
}

function finding(s: Snapshot, ws: WorkspaceObs, restricted: DependencyObs[], named: ComputeObs | undefined, problems: string[]): FindingDraft {
  const managed = managedIsolation(ws);
  const scope = `--subscription ${ws.subscriptionId} --resource-group ${ws.resourceGroup}`;
  const fit = candidate(s, managed);
  const like = fit ? undefined : subnetForNewCluster(s);
  const azCli: string[] = [];
  let summary: string;
  if (fit) {
    summary = `Name the existing CPU compute cluster ${fit.name} (${fit.vmSize}) as the image build compute of ${ws.name}.`;
  } else {
    const net = managed ? '' : like?.subnetId ? ` --subnet ${like.subnetId}${like.enableNodePublicIp === false ? ' --enable-node-public-ip false' : ''}` : ' --subnet <compute subnet id>';
    azCli.push(`az ml compute create ${scope} --workspace-name ${ws.name} --name ${DEFAULT_CLUSTER} --type AmlCompute --size ${DEFAULT_SIZE} --min-instances 0 --max-instances 2${net}`);
    summary =
      `Create a CPU compute cluster ${managed ? 'in the managed virtual network' : `in ${like?.subnetId ? `subnet ${nameOf(like.subnetId)} (where the computes reach the registry and storage)` : 'the virtual network that reaches the registry and storage'}`}` +
      ` (min 0 nodes, so it costs nothing idle) and name it as the image build compute of ${ws.name}.`;
  }
  const clusterName = fit?.name ?? DEFAULT_CLUSTER;
  azCli.push(`az ml workspace update ${scope} --name ${ws.name} --image-build-compute ${clusterName}`);

  const evidence: Evidence[] = [{ resourceId: ws.id, property: 'properties.imageBuildCompute', observed: ws.imageBuildCompute?.trim() || 'not set', expected: `a CPU compute cluster${managed ? '' : ' in the virtual network'}` }];
  if (named) {
    evidence.push({ resourceId: named.id, property: 'properties.computeType / properties.properties.vmSize / properties.properties.subnet.id', observed: `${named.computeType}, ${named.vmSize ?? 'size not reported'}, ${named.subnetId ? nameOf(named.subnetId) : 'no subnet'}`, expected: `AmlCompute, a non-N-series size${managed ? '' : ', a subnet'}` });
  }
  for (const d of restricted) evidence.push({ resourceId: d.id, property: d.kind === 'storage' ? 'properties.networkAcls' : 'properties.networkRuleSet / properties.publicNetworkAccess', observed: `publicNetworkAccess ${d.network.publicNetworkAccess ?? 'not set'}, defaultAction ${d.network.defaultAction ?? 'not set'}`, expected: 'unrestricted, for the default serverless image build' });

  return {
    resourceId: ws.id,
    confidence: 'medium',
    explanation:
      `${capitalize(listText(restricted.map((d) => `${d.kind === 'storage' ? 'storage account' : 'container registry'} ${d.name} has ${restrictionText(d.network)}`)))}, so the default serverless image build cannot reach ${restricted.length > 1 ? 'them' : 'it'}; ` +
      `workspace ${ws.name} must build environment images on a CPU compute cluster${managed ? '' : ' in the virtual network'}, but ${listText(problems)}. ` +
      'Jobs with a custom or curated-plus-packages environment fail while building the image; this breaks jobs, not sign-in itself.',
    evidence,
    remediation: {
      summary,
      azCli,
      bicep: bicep(ws, fit ? undefined : { managed, like }, clusterName),
      verify:
        `az ml workspace show ${scope} --name ${ws.name} --query image_build_compute prints ${clusterName}` +
        ` (a job with a custom environment then builds its image on that cluster); then run aml-netdoctor recheck <report.json>.`,
    },
    subjects: restricted.map((d) => `dependency:${idKey(d.id)}`),
  };
}

/**
 * The workspace redeclared with imageBuildCompute set; when no CPU cluster exists, the cluster too,
 * as a child of an `existing` reference so the workspace can depend on it (created first, like az).
 */
function bicep(ws: WorkspaceObs, create: { managed: boolean; like: ComputeObs | undefined } | undefined, clusterName: string): string {
  const notes = workspaceNotes(ws);
  const declarations: string[] = [];
  if (create) {
    const subnetId = create.managed ? undefined : (create.like?.subnetId ?? '<compute subnet id>');
    if (!create.managed && !create.like?.subnetId) notes.push('No compute in scope sits in a subnet: replace <compute subnet id> with the subnet that reaches the registry and storage.');
    declarations.push(
      bicepResource({ symbol: 'workspaceRef', type: 'Microsoft.MachineLearningServices/workspaces', name: ws.name, existing: true }),
      bicepResource({
        symbol: 'cluster',
        type: 'Microsoft.MachineLearningServices/workspaces/computes',
        name: clusterName,
        parent: 'workspaceRef',
        body: {
          location: ws.location,
          properties: {
            computeType: 'AmlCompute',
            properties: {
              vmSize: DEFAULT_SIZE,
              vmPriority: 'Dedicated',
              osType: 'Linux',
              scaleSettings: { minNodeCount: 0, maxNodeCount: 2 },
              subnet: subnetId ? { id: subnetId } : undefined,
              enableNodePublicIp: create.like?.enableNodePublicIp === false ? false : undefined,
            },
          },
        },
      }),
    );
  }
  declarations.push(workspaceDeclaration(ws, { imageBuildCompute: clusterName }, create ? ['cluster'] : []));
  return bicepSnippet(ws.id, declarations, notes.join('\n'));
}

export const rule = {
  meta: {
    code: CODE,
    tier: 2,
    severity: 'medium',
    title: 'No CPU compute cluster is set to build images for a network-restricted registry or storage',
    role: 'cause',
    flows: ['container-registry', 'storage'],
    description:
      "The workspace's container registry or default storage account is network-restricted, so the default serverless image build cannot reach it, and the workspace's imageBuildCompute is unset or does not name a CPU compute cluster (AmlCompute, not an N-series GPU size) in the virtual network.",
    impact:
      'Environment image builds fail, so jobs and deployments that need a custom image never start. This breaks jobs; it does not by itself cause the device-login prompt.',
    resolution:
      'Set the workspace image build compute to a CPU compute cluster in the virtual network with `az ml workspace update --image-build-compute <cluster>`, creating a small CPU cluster (min 0 nodes) first if there is none. There is no portal setting for it.',
    verification:
      '`az ml workspace show --name <workspace> --query image_build_compute` prints the CPU cluster name, and `az ml compute show --name <cluster>` shows an AmlCompute of a non-N-series size in the compute subnet. Then `aml-netdoctor recheck` the report and submit a job with a custom environment: its image build runs on that cluster.',
    needs: ['workspace', 'computes', 'dependencies'],
    references: [
      'F#23',
      'S16',
      'S17',
      'S33',
      'https://learn.microsoft.com/azure/machine-learning/how-to-secure-workspace-vnet',
      'https://learn.microsoft.com/cli/azure/ml/workspace#az-ml-workspace-update',
    ],
  },
  check,
} satisfies Rule;
