/**
 * WORKSPACE_PRIVATE_ENDPOINT_MISSING: a private workspace, and a compute VNet with no workspace
 * private endpoint in it or in any VNet it has a peering with (in either direction, whatever the
 * peering state: a broken peering is VNET_PEERING_NOT_CONNECTED's finding).
 */
import { idKey, nameOf, sameId } from '../model/arm-id.ts';
import type { Evidence } from '../report/schema.ts';
import type { Snapshot, VnetObs } from '../model/snapshot.ts';
import type { FindingDraft, Rule, RuleResult } from './rule.ts';
import {
  azScope,
  computeNames,
  isUnknown,
  judgeComputeVnets,
  listText,
  peeringBetween,
  privateScope,
  requiredZones,
  undetermined,
  vnetById,
  vnetOfEndpoint,
  workspaceFqdns,
  zonesNamed,
  type ComputeVnetGroup,
  type WorkspaceScope,
} from './support.ts';
import { workspaceNameSubjects, zoneConfigLabel, zoneGroupCommand } from './support-endpoints.ts';

const CODE = 'WORKSPACE_PRIVATE_ENDPOINT_MISSING';

/** Is there a peering between the two VNets in either direction (state not judged here)? */
function hasPeering(s: Snapshot, computeVnet: VnetObs, otherId: string): boolean {
  if (peeringBetween(computeVnet, otherId)) return true;
  const other = vnetById(s, otherId);
  return !isUnknown(other) && !!peeringBetween(other, computeVnet.id);
}

function check(s: Snapshot): RuleResult[] {
  const scope = privateScope(s);
  if (Array.isArray(scope)) return scope;
  return judgeComputeVnets(s, scope.ws, (g) => judgeVnet(s, scope, g), ' (managed or serverless computes only)');
}

function judgeVnet(s: Snapshot, scope: WorkspaceScope, g: ComputeVnetGroup): RuleResult {
  const vnetName = nameOf(g.vnetId);
  const own = scope.endpoints.find((pe) => sameId(vnetOfEndpoint(pe), g.vnetId));
  if (own) return { status: 'pass', resourceId: g.vnetId, detail: `Workspace private endpoint ${own.name} sits in ${vnetName}, the VNet of ${computeNames(g)}.` };

  const vnet = vnetById(s, g.vnetId);
  if (isUnknown(vnet)) return undetermined({ ...vnet, item: `peerings of ${vnetName} (to find a workspace private endpoint reachable from ${computeNames(g)})` });

  const peered = scope.endpoints.find((pe) => {
    const peVnet = vnetOfEndpoint(pe);
    return !!peVnet && hasPeering(s, vnet, peVnet);
  });
  if (peered) {
    return { status: 'pass', resourceId: g.vnetId, detail: `Workspace private endpoint ${peered.name} sits in ${nameOf(vnetOfEndpoint(peered) as string)}, which has a peering with ${vnetName} (its state is judged by VNET_PEERING_NOT_CONNECTED).` };
  }
  // An endpoint we could not read (or place) might be the one that serves this VNet.
  const unplaced = scope.endpoints.filter((pe) => !vnetOfEndpoint(pe));
  const firstUnreadable = scope.unreadable[0];
  if (firstUnreadable) return undetermined({ ...firstUnreadable, item: `${firstUnreadable.item} (could be the endpoint ${vnetName} uses)` });
  const firstUnplaced = unplaced[0];
  if (firstUnplaced) {
    return { status: 'undetermined', item: `private endpoint ${firstUnplaced.name}`, reason: `ARM returned no subnet for private endpoint ${firstUnplaced.name}, so it is unknown whether it serves ${vnetName}`, resourceId: firstUnplaced.id };
  }
  return { status: 'fail', finding: finding(s, scope, g, vnet) };
}

function finding(s: Snapshot, scope: WorkspaceScope, g: ComputeVnetGroup, vnet: VnetObs): FindingDraft {
  const { ws, endpoints, cloud } = scope;
  const api = ws.fqdns.api ?? workspaceFqdns(ws, endpoints, cloud)[0] ?? 'the workspace API name';
  const elsewhere = endpoints.map((pe) => `${pe.name} in ${nameOf(vnetOfEndpoint(pe) as string)}`);
  const explanation =
    `Workspace ${ws.name} has public network access Disabled, so ${computeNames(g)} in ${vnet.name} must reach ${api} and its cert name through a workspace private endpoint (group amlworkspace). ` +
    (elsewhere.length
      ? `The workspace's private endpoints (${listText(elsewhere)}) sit in VNets that have no peering with ${vnet.name}, `
      : `The workspace has no private endpoint at all, `) +
    `so the compute has no private path to the workspace: its managed-identity token request through the cert API fails and the SDK falls back to device login.`;

  const evidence: Evidence[] = [
    { resourceId: ws.id, property: 'properties.publicNetworkAccess', observed: ws.publicNetworkAccess ?? '', expected: 'Enabled, or Disabled with a workspace private endpoint the compute can reach' },
    ...g.computes.map((c) => ({ resourceId: c.id, property: 'properties.properties.subnet.id', observed: c.subnetId ?? '', expected: `a subnet in a VNet that holds or peers with a workspace private endpoint` })),
    ...endpoints.map((pe) => ({ resourceId: pe.id, property: 'properties.subnet.id', observed: pe.subnetId ?? vnetOfEndpoint(pe) ?? '', expected: `a subnet in ${vnet.name} or in a VNet peered with it` })),
    {
      resourceId: vnet.id,
      property: 'properties.virtualNetworkPeerings[*].properties.remoteVirtualNetwork.id',
      observed: vnet.peerings.length ? vnet.peerings.map((p) => p.remoteVirtualNetworkId ?? p.name).join(', ') : 'no peerings',
      expected: endpoints.length ? `a peering with ${listText(endpoints.map((pe) => nameOf(vnetOfEndpoint(pe) as string)))}` : 'a workspace private endpoint in this VNet',
    },
  ];
  if (endpoints.length === 0) {
    evidence.push({ resourceId: ws.id, property: 'properties.privateEndpointConnections', observed: ws.privateEndpointConnections.length ? ws.privateEndpointConnections.map((c) => c.name).join(', ') : 'none', expected: 'a connection from a private endpoint with group id amlworkspace' });
  }

  const compute = g.computes[0];
  const subnetName = compute?.subnetId ? nameOf(compute.subnetId) : '<subnet>';
  const peName = `pe-${ws.name}-${vnet.name}`;
  const azCli = [
    `az network private-endpoint create ${azScope(vnet.id)} -n ${peName}${vnet.location ? ` -l ${vnet.location}` : ''} --vnet-name ${vnet.name} --subnet ${subnetName} --private-connection-resource-id ${ws.id} --group-id amlworkspace --connection-name ${peName}`,
  ];
  // Register the endpoint's names in the existing private DNS zones (if they exist yet).
  if (s.privateDnsZones?.ok) {
    let first = true;
    for (const zoneName of requiredZones(s)) {
      const zone = zonesNamed(s.privateDnsZones.value, zoneName)[0];
      if (!zone) continue;
      azCli.push(zoneGroupCommand(first ? 'create' : 'add', { scopeId: vnet.id, endpoint: peName, group: 'default', zoneId: zone.id, label: zoneConfigLabel(cloud, zoneName) }));
      first = false;
    }
  }
  const other = endpoints[0];
  const summary =
    `Create a workspace private endpoint in ${vnet.name} (subnet ${subnetName}) with DNS zone integration` +
    (other ? `, or peer ${vnet.name} with ${nameOf(vnetOfEndpoint(other) as string)} (both directions) and link the private DNS zones to the VNet the compute resolves through.` : '.') +
    ' A manual (cross-tenant) connection must then be approved on the workspace.';
  return {
    resourceId: vnet.id,
    confidence: 'medium',
    explanation,
    evidence,
    remediation: {
      summary,
      azCli,
      verify: `From ${compute?.name ?? 'the compute'}: nslookup ${api} must answer with the new endpoint's private IP; az network private-endpoint show ${azScope(vnet.id)} -n ${peName} --query "privateLinkServiceConnections[0].privateLinkServiceConnectionState.status" must print Approved.`,
    },
    subjects: [...workspaceNameSubjects(scope), `vnet:${idKey(vnet.id)}`],
  };
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'No workspace private endpoint reachable from the compute VNet',
    role: 'cause',
    flows: ['workspace-api', 'workspace-cert', 'notebooks'],
    description:
      'The workspace has public network access disabled, and the compute VNet holds no workspace private endpoint (group amlworkspace) and has no peering with a VNet that does. The compute then has no private path to the workspace API and cert names.',
    impact:
      "On a compute instance the managed-identity token comes from the workspace's cert API; with no reachable private endpoint that call fails, azureml-core swallows the error and prints the device-login prompt. Jobs and the SDK fail the same way.",
    resolution:
      'Add a workspace private endpoint (with private DNS zone integration) in the compute VNet, or peer the compute VNet with the VNet that holds one and link the private DNS zones to the VNet the compute resolves through.',
    references: ['F#1', 'S4', 'S16', 'https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link', 'https://learn.microsoft.com/azure/machine-learning/how-to-secure-training-vnet'],
  },
  check,
} satisfies Rule;

