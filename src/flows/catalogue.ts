/**
 * The flows a compute depends on (flows-semantics §1, failure-catalogue.md), in catalogue order:
 * id, auth path, ports, and the destination builder that turns the snapshot into targets.
 */
import { nameOf, sameId } from '../model/arm-id.ts';
import { instanceFqdns, type CloudName, type CloudProfile } from '../model/cloud.ts';
import type { ComputeObs, DependencyObs, Snapshot, WorkspaceObs } from '../model/snapshot.ts';
import type { FlowId } from '../rules/rule.ts';
import type { EndpointCandidate, EndpointTarget, FixedTarget, PortSpec, Target } from './model.ts';
import { workspaceEndpointTarget, workspaceEndpointNames } from './workspace-endpoints.ts';

/** What a destination builder sees: the workspace and one compute subnet. */
export interface CatalogueInput {
  snapshot: Snapshot;
  ws: WorkspaceObs;
  cloud: CloudProfile;
  region: string;
  subnetId: string;
  /** The compute VNet first, then the VNets it peers with: endpoints there are preferred. */
  nearVnetIds: string[];
  computes: ComputeObs[];
}

export interface FlowDefinition {
  id: FlowId;
  authPath: boolean;
  direction: 'outbound' | 'inbound';
  ports: PortSpec[];
  /** Undefined when the flow does not apply to this subnet. */
  build(input: CatalogueInput): { destination: string; targets: Target[]; computes?: ComputeObs[]; notes?: string[] } | undefined;
}

const tcp = (port: number): PortSpec => ({ protocol: 'Tcp', port });
const udp = (port: number): PortSpec => ({ protocol: 'Udp', port });

const SUFFIXES: Record<CloudName, { storage: string; vault: string; registry: string; batch: string }> = {
  AzureCloud: { storage: 'core.windows.net', vault: 'vault.azure.net', registry: 'azurecr.io', batch: 'batch.azure.com' },
  AzureUSGovernment: { storage: 'core.usgovcloudapi.net', vault: 'vault.usgovcloudapi.net', registry: 'azurecr.us', batch: 'batch.usgovcloudapi.net' },
  AzureChinaCloud: { storage: 'core.chinacloudapi.cn', vault: 'vault.azure.cn', registry: 'azurecr.cn', batch: 'batch.chinacloudapi.cn' },
};

const hostOf = (url: string): string => new URL(url).host.toLowerCase();

function tagFlow(tag: string, fqdns: string[]): { destination: string; targets: Target[] } {
  return { destination: `${fqdns.join(', ')} (${tag})`, targets: [{ kind: 'tag', tag, fqdns }] };
}

function endpointText(t: EndpointTarget): string {
  const names = [...new Set(t.candidates.map((c) => `${c.name} ${c.ip}`))];
  return names.length > 0 ? `private endpoint ${names.join(', ')}` : 'private endpoint';
}

/** The workspace API or cert name: to its private endpoint when it has one, else the AzureMachineLearning tag. */
function workspaceName(input: CatalogueInput, fqdn: string | undefined, label: string) {
  const { ws } = input;
  if (!fqdn) {
    const hop = { kind: 'destination' as const, resourceId: ws.id, detail: `The workspace GUID of ${ws.name} is unknown, so its ${label} name cannot be built.`, verdict: 'undetermined' as const, reason: 'evidence-missing' as const };
    return { destination: `workspace ${label} name (unknown)`, targets: [{ kind: 'fixed', label, hop } satisfies FixedTarget] };
  }
  if (ws.privateEndpointConnections.length === 0) {
    return { destination: `${fqdn} (AzureMachineLearning)`, targets: [{ kind: 'tag' as const, tag: 'AzureMachineLearning', fqdns: [fqdn], workspace: ws }] };
  }
  const target = workspaceEndpointTarget(input, [fqdn], label, fqdn);
  return { destination: `${fqdn} (${endpointText(target)})`, targets: [target] };
}

// ---------------------------------------------------------------- dependencies

type DepKind = DependencyObs['kind'];

const DEP_VIEW: Record<DepKind, { what: string; idOf: (ws: WorkspaceObs) => string | undefined; subresources: string[] }> = {
  storage: { what: 'storage account', idOf: (ws) => ws.storageAccountId, subresources: ['blob', 'file'] },
  'key-vault': { what: 'key vault', idOf: (ws) => ws.keyVaultId, subresources: ['vault'] },
  'container-registry': { what: 'container registry', idOf: (ws) => ws.containerRegistryId, subresources: ['registry'] },
};

function dependencyHost(input: CatalogueInput, dep: { name: string; hostNames: string[] }, kind: DepKind, sub: string): string {
  const s = SUFFIXES[input.cloud.name];
  const fallback = kind === 'storage' ? `${dep.name}.${sub}.${s.storage}` : kind === 'key-vault' ? `${dep.name}.${s.vault}` : `${dep.name}.${s.registry}`;
  const marker = kind === 'storage' ? `.${sub}.` : kind === 'key-vault' ? '.vault' : '.azurecr.';
  return (dep.hostNames.find((h) => h.toLowerCase().startsWith(`${dep.name.toLowerCase()}${marker}`)) ?? fallback).toLowerCase();
}

function dependencyTag(kind: DepKind, region: string): string {
  return kind === 'storage' ? `Storage.${region}` : kind === 'key-vault' ? `AzureKeyVault.${region}` : `AzureContainerRegistry.${region}`;
}

/** Candidates of the dependency's approved endpoints for one subresource (blob, file, vault, registry). */
function dependencyCandidates(dep: DependencyObs, sub: string, near: string[]): { candidates: EndpointCandidate[]; unreadable: string[]; unused: string[] } {
  const candidates: EndpointCandidate[] = [];
  const unreadable: string[] = [];
  const unused: string[] = [];
  for (const pe of dep.privateEndpoints) {
    if (!pe.groupIds.some((g) => g.toLowerCase() === sub)) continue;
    const name = pe.privateEndpointId ? nameOf(pe.privateEndpointId) : 'private endpoint';
    if (pe.status !== 'Approved') {
      unused.push(`private endpoint ${name} of ${dep.name} is ${pe.status ?? 'in an unknown state'} (not Approved): not used`);
      continue;
    }
    if (!pe.endpoint.ok) {
      unreadable.push(`private endpoint ${name} of ${dep.name} could not be read: ${pe.endpoint.error.message}`);
      continue;
    }
    for (const ip of pe.endpoint.value.ipAddresses) {
      candidates.push({ id: pe.privateEndpointId ?? dep.id, name, ip, status: pe.status, ...(pe.endpoint.value.subnetId ? { subnetId: pe.endpoint.value.subnetId } : {}), ...(pe.endpoint.value.vnetId ? { vnetId: pe.endpoint.value.vnetId } : {}) });
    }
  }
  const rank = (c: EndpointCandidate) => {
    const i = near.findIndex((v) => sameId(v, c.vnetId));
    return i < 0 ? near.length : i;
  };
  return { candidates: candidates.map((c, i) => ({ c, i })).sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i).map((x) => x.c), unreadable, unused };
}

function dependencyFlow(input: CatalogueInput, kind: DepKind) {
  const view = DEP_VIEW[kind];
  const id = view.idOf(input.ws);
  if (!id) return undefined;
  const deps = input.snapshot.dependencies;
  const entry = deps?.ok ? deps.value.resources.find((r) => sameId(r.id, id)) : undefined;
  const why = !deps ? 'the dependencies probe did not run' : !deps.ok ? deps.error.message : !entry ? 'it was not read' : !entry.observed.ok ? entry.observed.error.message : '';
  if (!entry?.observed.ok) {
    const hop = { kind: 'destination' as const, resourceId: id, detail: `${view.what} ${nameOf(id)} could not be read (${why}): its private endpoints and network rules are unknown.`, verdict: 'undetermined' as const, reason: 'evidence-missing' as const };
    return { destination: `${view.what} ${nameOf(id)}`, targets: [{ kind: 'fixed', label: nameOf(id), hop } satisfies FixedTarget] };
  }
  const dep = entry.observed.value;
  const targets: Target[] = [];
  const texts: string[] = [];
  const notes: string[] = [];
  for (const sub of view.subresources) {
    const fqdn = dependencyHost(input, dep, kind, sub);
    const { candidates, unreadable, unused } = dependencyCandidates(dep, sub, input.nearVnetIds);
    if (candidates.length > 0 || unreadable.length > 0) {
      const t: EndpointTarget = { kind: 'private-endpoint', label: sub, fqdns: [fqdn], candidates, owner: { kind: 'dependency', dependency: dep }, ...(candidates.length === 0 ? { unreadable: unreadable.join('; ') } : {}) };
      targets.push(t);
      texts.push(`${fqdn} (${endpointText(t)})`);
    } else {
      const tag = dependencyTag(kind, input.region);
      targets.push({ kind: 'tag', tag, fqdns: [fqdn], dependency: dep });
      texts.push(`${fqdn} (${tag})`);
      notes.push(...unused);
    }
  }
  return { destination: texts.join(', '), targets, ...(notes.length > 0 ? { notes } : {}) };
}

// ---------------------------------------------------------------- the catalogue

export const FLOW_CATALOGUE: readonly FlowDefinition[] = [
  { id: 'workspace-api', authPath: true, direction: 'outbound', ports: [tcp(443)], build: (i) => workspaceName(i, i.ws.fqdns.api, 'API') },
  { id: 'workspace-cert', authPath: true, direction: 'outbound', ports: [tcp(443)], build: (i) => workspaceName(i, i.ws.fqdns.cert, 'cert') },
  {
    id: 'aml-service', authPath: true, direction: 'outbound', ports: [tcp(443), tcp(18881), udp(5831)],
    build: (i) => tagFlow('AzureMachineLearning', [`${i.region}.${i.cloud.apiSuffix}`, `${i.region}.cert.${i.cloud.apiSuffix}`]),
  },
  { id: 'entra-id', authPath: true, direction: 'outbound', ports: [tcp(80), tcp(443)], build: (i) => tagFlow('AzureActiveDirectory', [hostOf(i.cloud.authorityHost)]) },
  { id: 'arm', authPath: true, direction: 'outbound', ports: [tcp(443)], build: (i) => tagFlow('AzureResourceManager', [hostOf(i.cloud.armEndpoint)]) },
  {
    id: 'notebooks', authPath: false, direction: 'outbound', ports: [tcp(443)],
    build: (i) => {
      const names = workspaceEndpointNames(i).filter((n) => n.includes('.notebooks.') || n.endsWith(`.${i.cloud.notebooksSuffix}`));
      if (names.length === 0) return undefined;
      const target = workspaceEndpointTarget(i, names, 'notebooks', names[0] as string);
      return { destination: `${names.join(', ')} (${endpointText(target)})`, targets: [target] };
    },
  },
  { id: 'storage', authPath: false, direction: 'outbound', ports: [tcp(443), tcp(445)], build: (i) => dependencyFlow(i, 'storage') },
  { id: 'key-vault', authPath: false, direction: 'outbound', ports: [tcp(443)], build: (i) => dependencyFlow(i, 'key-vault') },
  { id: 'container-registry', authPath: false, direction: 'outbound', ports: [tcp(443)], build: (i) => dependencyFlow(i, 'container-registry') },
  {
    id: 'mcr', authPath: false, direction: 'outbound', ports: [tcp(443)],
    build: () => ({
      destination: 'mcr.microsoft.com (MicrosoftContainerRegistry, AzureFrontDoor.FirstParty)',
      targets: [{ kind: 'tag', tag: 'MicrosoftContainerRegistry', fqdns: ['mcr.microsoft.com'] }, { kind: 'tag', tag: 'AzureFrontDoor.FirstParty', fqdns: ['mcr.microsoft.com'] }],
    }),
  },
  { id: 'batch', authPath: false, direction: 'outbound', ports: [tcp(443)], build: (i) => tagFlow(`BatchNodeManagement.${i.region}`, [`${i.region}.${SUFFIXES[i.cloud.name].batch}`]) },
  {
    id: 'aml-inbound', authPath: false, direction: 'inbound', ports: [tcp(44224)],
    build: (i) => {
      const withIp = i.computes.filter((c) => c.enableNodePublicIp !== false);
      if (withIp.length === 0) return undefined;
      return { destination: 'from AzureMachineLearning to the compute subnet', targets: [{ kind: 'inbound', tag: 'AzureMachineLearning' }], computes: withIp };
    },
  },
  {
    id: 'instance-name', authPath: false, direction: 'outbound', ports: [tcp(443)],
    build: (i) => {
      const instances = i.computes.filter((c) => c.computeType === 'ComputeInstance');
      if (instances.length === 0 || i.ws.privateEndpointConnections.length === 0 || !i.ws.fqdns.api) return undefined;
      const names = instances.flatMap((c) => instanceFqdns(i.cloud, c.name, i.region));
      const target = workspaceEndpointTarget(i, names, 'instance', i.ws.fqdns.api);
      return { destination: `${names.join(', ')} (${endpointText(target)})`, targets: [target], computes: instances };
    },
  },
];

/** Every outbound flow a compute depends on, in catalogue order (rules judging any outbound hop use it). */
export const OUTBOUND_FLOWS: readonly FlowId[] = FLOW_CATALOGUE.filter((f) => f.direction === 'outbound').map((f) => f.id);
