/**
 * VNET_PEERING_NOT_CONNECTED: the compute VNet has no workspace private endpoint of its own, and
 * the peering between it and the VNet holding the endpoint (either direction, whichever was read)
 * is not Connected or disallows virtual network access.
 */
import { idKey, nameOf } from '../model/arm-id.ts';
import type { Evidence } from '../report/schema.ts';
import type { PeeringObs, PrivateEndpointObs, Snapshot, VnetObs } from '../model/snapshot.ts';
import type { FindingDraft, Rule, RuleResult } from './rule.ts';
import {
  azParts,
  azScope,
  capitalize,
  computeNames,
  endpointIpsFor,
  isUnknown,
  judgeComputeVnets,
  listText,
  peeringBetween,
  peeringWorks,
  privateScope,
  undetermined,
  valuesByKey,
  vnetById,
  vnetOfEndpoint,
  type ComputeVnetGroup,
  type Unknown,
  type WorkspaceScope,
} from './support.ts';
import { workspaceNameSubjects } from './support-endpoints.ts';
import { bicepSnippet, peeringDeclarations } from './support-bicep.ts';

const CODE = 'VNET_PEERING_NOT_CONNECTED';

/** The two sides of the peering between the compute VNet and an endpoint VNet. */
interface Pair {
  vnet: VnetObs;
  remoteId: string;
  remote: VnetObs | Unknown;
  /** compute VNet -> endpoint VNet */
  local?: PeeringObs;
  /** endpoint VNet -> compute VNet (undefined when missing or the remote VNet was not read) */
  back?: PeeringObs;
  endpoints: PrivateEndpointObs[];
}

const works = (p: Pair) => peeringWorks(p.local) && (isUnknown(p.remote) || peeringWorks(p.back));
const exists = (p: Pair) => !!p.local || !!p.back;

function check(s: Snapshot): RuleResult[] {
  const scope = privateScope(s);
  if (Array.isArray(scope)) return scope;
  return judgeComputeVnets(s, scope.ws, (g) => judgeVnet(s, scope, g));
}

function pairsFor(s: Snapshot, scope: WorkspaceScope, vnet: VnetObs): Pair[] {
  const byRemote = new Map<string, Pair>();
  for (const pe of scope.endpoints) {
    const remoteId = vnetOfEndpoint(pe);
    if (!remoteId) continue;
    const known = byRemote.get(idKey(remoteId));
    if (known) {
      known.endpoints.push(pe);
      continue;
    }
    const remote = vnetById(s, remoteId);
    const local = peeringBetween(vnet, remoteId);
    const back = isUnknown(remote) ? undefined : peeringBetween(remote, vnet.id);
    byRemote.set(idKey(remoteId), { vnet, remoteId, remote, endpoints: [pe], ...(local ? { local } : {}), ...(back ? { back } : {}) });
  }
  return valuesByKey(byRemote);
}

function judgeVnet(s: Snapshot, scope: WorkspaceScope, g: ComputeVnetGroup): RuleResult[] {
  const vnetName = nameOf(g.vnetId);
  const own = scope.endpoints.find((pe) => idKey(vnetOfEndpoint(pe) ?? '') === idKey(g.vnetId));
  if (own) return [{ status: 'pass', resourceId: g.vnetId, detail: `Does not apply: ${vnetName} holds workspace private endpoint ${own.name} itself, no peering is needed.` }];
  const vnet = vnetById(s, g.vnetId);
  if (isUnknown(vnet)) return [undetermined({ ...vnet, item: `peerings of ${vnetName}` })];

  const pairs = pairsFor(s, scope, vnet).filter(exists);
  const working = pairs.find(works);
  if (working) {
    return [{ status: 'pass', resourceId: working.local?.id ?? g.vnetId, detail: `Peering ${working.local?.name ?? '?'} (${vnet.name} -> ${nameOf(working.remoteId)}) is Connected with virtual network access allowed${isUnknown(working.remote) ? ` (the ${nameOf(working.remoteId)} side could not be read: ${working.remote.reason})` : ', and so is the peering back'}.` }];
  }
  if (pairs.length === 0) {
    const u = scope.unreadable[0];
    if (u) return [undetermined(u)];
    return [{ status: 'pass', resourceId: g.vnetId, detail: `Does not apply: ${vnet.name} has no peering with a VNet holding a workspace private endpoint (see WORKSPACE_PRIVATE_ENDPOINT_MISSING).` }];
  }
  return pairs.map((p) => ({ status: 'fail', finding: finding(scope, g, p) }));
}

function peeringProblems(p: PeeringObs | undefined): string[] {
  if (!p) return ['missing'];
  const out: string[] = [];
  if ((p.peeringState ?? '').toLowerCase() !== 'connected') out.push(p.peeringState ?? 'state not reported');
  if (p.allowVirtualNetworkAccess === false) out.push('allowVirtualNetworkAccess false');
  return out;
}

function peeringEvidence(p: PeeringObs): Evidence[] {
  const out: Evidence[] = [{ resourceId: p.id, property: 'properties.peeringState', observed: p.peeringState ?? 'not reported', expected: 'Connected' }];
  if (p.allowVirtualNetworkAccess === false) out.push({ resourceId: p.id, property: 'properties.allowVirtualNetworkAccess', observed: 'false', expected: 'true' });
  return out;
}

/** Commands that bring one side (`from` -> `to`) to Connected with access allowed. */
function fixSide(from: { id: string; name: string }, toId: string, p: PeeringObs | undefined): string[] {
  const name = p?.name ?? `${from.name}-to-${nameOf(toId)}`;
  const create = `az network vnet peering create ${azScope(from.id)} -n ${name} --vnet-name ${from.name} --remote-vnet ${toId} --allow-vnet-access true`;
  if (!p) return [create];
  const state = (p.peeringState ?? '').toLowerCase();
  // A Disconnected peering never recovers: delete it and create it again.
  if (state === 'disconnected') return [`az network vnet peering delete ${azScope(from.id)} -n ${name} --vnet-name ${from.name}`, create];
  // Initiated: it connects once the other side exists (created by the other side's commands).
  return p.allowVirtualNetworkAccess === false ? [`az network vnet peering update ${azScope(from.id)} -n ${name} --vnet-name ${from.name} --allow-vnet-access true`] : [];
}

/**
 * One side of the peering (`from` -> `toId`) as it must be: access allowed, the remote VNet set, and
 * the observed forwarding and gateway settings kept (this rule needs none of them, and a redeploy
 * that left them out would switch them off). Each side deploys to its own VNet's resource group.
 */
function sideBicep(from: { id: string; name: string }, toId: string, p: PeeringObs | undefined, label: string, extraNote?: string): string {
  const name = p?.name ?? `${from.name}-to-${nameOf(toId)}`;
  const state = (p?.peeringState ?? '').toLowerCase();
  const notes = [`${label}: peering ${name} (${from.name} -> ${nameOf(toId)}). Save as its own file.`];
  if (state === 'disconnected') notes.push(`It is Disconnected, which never recovers: delete it first (az network vnet peering delete ${azScope(from.id)} -n ${name} --vnet-name ${from.name}).`);
  if (extraNote) notes.push(extraNote);
  return bicepSnippet(from.id, peeringDeclarations(from.name, name, toId, p), notes.join('\n'));
}

function finding(scope: WorkspaceScope, g: ComputeVnetGroup, p: Pair): FindingDraft {
  const vnet = p.vnet;
  const remoteName = nameOf(p.remoteId);
  const localBad = !peeringWorks(p.local);
  const backBad = !isUnknown(p.remote) && !peeringWorks(p.back);
  // Blame the peering that exists and is wrong; the compute side first.
  const blamed = (localBad && p.local) || (backBad && p.back) || p.local || (p.back as PeeringObs);

  const sides: string[] = [];
  sides.push(p.local ? `${p.local.name} (${vnet.name} -> ${remoteName}) is ${peeringProblems(p.local).join(', ') || 'Connected'}` : `${vnet.name} has no peering to ${remoteName}`);
  if (isUnknown(p.remote)) sides.push(`the ${remoteName} side could not be read (${p.remote.reason})`);
  else sides.push(p.back ? `${p.back.name} (${remoteName} -> ${vnet.name}) is ${peeringProblems(p.back).join(', ') || 'Connected'}` : `${remoteName} has no peering back to ${vnet.name}`);
  const authNames = [scope.ws.fqdns.api, scope.ws.fqdns.cert].filter((n): n is string => !!n);
  const ips = [...new Set(p.endpoints.flatMap((pe) => authNames.flatMap((n) => endpointIpsFor(pe, n))))];
  const who = computeNames(g);
  const explanation =
    `${capitalize(who)} sits in ${vnet.name}, which has no workspace private endpoint of its own; the endpoint ${listText(p.endpoints.map((pe) => pe.name))} is in ${remoteName}. ` +
    `Peering ${listText(sides)}, so traffic does not flow between the VNets: the compute cannot reach ${ips.join(', ') || "the endpoint's private IP"} for the workspace API and cert names, its managed-identity token request fails and it falls back to device login.`;

  const evidence: Evidence[] = [];
  if (p.local) evidence.push(...peeringEvidence(p.local));
  else evidence.push({ resourceId: vnet.id, property: 'properties.virtualNetworkPeerings', observed: `no peering to ${remoteName}`, expected: `a Connected peering to ${p.remoteId}` });
  if (!isUnknown(p.remote)) {
    if (p.back) evidence.push(...peeringEvidence(p.back));
    else evidence.push({ resourceId: p.remoteId, property: 'properties.virtualNetworkPeerings', observed: `no peering to ${vnet.name}`, expected: `a Connected peering to ${vnet.id}` });
  }
  for (const pe of p.endpoints) evidence.push({ resourceId: pe.id, property: 'properties.subnet.id', observed: pe.subnetId ?? p.remoteId, expected: `reachable from ${vnet.name}` });

  const azCli = fixSide(vnet, p.remoteId, p.local);
  if (!isUnknown(p.remote)) azCli.push(...fixSide(p.remote, vnet.id, p.back));
  else if (!peeringWorks(p.local)) azCli.push(`az network vnet peering create ${azScope(p.remoteId)} -n ${remoteName}-to-${vnet.name} --vnet-name ${remoteName} --remote-vnet ${vnet.id} --allow-vnet-access true`);

  const showSide = (fromId: string, peering: string) => `az network vnet peering show ${azScope(fromId)} --vnet-name ${nameOf(fromId)} -n ${peering} --query "{state: peeringState, access: allowVirtualNetworkAccess}"`;
  const r = azParts(p.remoteId);
  const remoteSide = { id: p.remoteId, name: remoteName };
  const remoteNote = isUnknown(p.remote) ? `The ${remoteName} side could not be read (${p.remote.reason}): deploy this only if ${remoteName} has no peering to ${vnet.name} yet.` : undefined;
  const bicep = [sideBicep(vnet, p.remoteId, p.local, 'Side 1 of 2'), sideBicep(remoteSide, vnet.id, p.back, 'Side 2 of 2', remoteNote)].join('\n');
  return {
    resourceId: blamed.id,
    confidence: 'medium',
    explanation,
    evidence,
    remediation: {
      summary:
        `Make the peering between ${vnet.name} and ${remoteName} Connected in both directions with virtual network access allowed: a Disconnected side is deleted and created again, a missing side is created, access is switched on where it is off.` +
        (isUnknown(p.remote) ? ` The ${remoteName} side (subscription ${r.subscription}) was not readable: create it only if it does not exist.` : ''),
      azCli,
      bicep,
      verify: `${showSide(vnet.id, p.local?.name ?? `${vnet.name}-to-${remoteName}`)} and ${showSide(p.remoteId, p.back?.name ?? `${remoteName}-to-${vnet.name}`)} must each show state Connected and access true; then run aml-netdoctor recheck <report.json>.`,
    },
    subjects: [...workspaceNameSubjects(scope), `vnet:${idKey(vnet.id)}`],
  };
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'Peering to the VNet holding the workspace private endpoint is not connected',
    role: 'cause',
    flows: ['workspace-api', 'workspace-cert', 'notebooks'],
    description:
      'The compute VNet has no workspace private endpoint of its own and reaches it through a peering with the VNet that holds it, but that peering (in either direction) is not Connected or has allowVirtualNetworkAccess set to false.',
    impact:
      "The compute cannot reach the endpoint's private IP. The compute instance's managed-identity token request to the workspace cert API fails, azureml-core swallows the error and prints the device-login prompt; jobs and the SDK fail too.",
    resolution:
      'Bring both sides of the peering to Connected with virtual network access allowed: recreate a Disconnected side, create a missing side, enable access where it is off.',
    verification:
      'Show both sides of the peering: each must be Connected with allowVirtualNetworkAccess true. Then run aml-netdoctor recheck on the report.',
    needs: ['workspace', 'computes', 'privateEndpoints', 'networks'],
    references: ['F#1', 'S4', 'S16', 'https://learn.microsoft.com/azure/machine-learning/how-to-secure-training-vnet', 'https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link'],
  },
  check,
} satisfies Rule;
