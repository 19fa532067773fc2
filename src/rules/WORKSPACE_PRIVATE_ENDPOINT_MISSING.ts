/**
 * WORKSPACE_PRIVATE_ENDPOINT_MISSING: a private workspace, and a compute VNet with no workspace
 * private endpoint in it or in any VNet it has a peering with (in either direction, whatever the
 * peering state: a broken peering is VNET_PEERING_NOT_CONNECTED's finding).
 */
import { idKey, nameOf, sameId } from '../model/arm-id.ts';
import type { Evidence } from '../report/schema.ts';
import type { Snapshot, VnetObs } from '../model/snapshot.ts';
import type { FindingDraft, Rule, RuleResult } from './rule.ts';
import { bicepResource, bicepSnippet, raw } from './support-bicep.ts';
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
  const zones = zoneView(s);
  zones.found.forEach((zone, i) => {
    azCli.push(zoneGroupCommand(i === 0 ? 'create' : 'add', { scopeId: vnet.id, endpoint: peName, group: 'default', zoneId: zone.id, label: zoneConfigLabel(cloud, zone.name) }));
  });
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
      bicep: endpointBicep(scope, vnet, subnetName, peName, zones),
      verify:
        `az network private-endpoint show ${azScope(vnet.id)} -n ${peName} --query "privateLinkServiceConnections[0].privateLinkServiceConnectionState.status" -o tsv must print Approved, ` +
        `and from ${compute?.name ?? 'the compute'} nslookup ${api} must answer the new endpoint's private IP (in ${subnetName}); ` +
        'then run aml-netdoctor recheck <report.json>.',
    },
    subjects: [...workspaceNameSubjects(scope), `vnet:${idKey(vnet.id)}`],
  };
}

interface ZoneView {
  /** The required zones that exist (the first of each name), for the new endpoint's zone group. */
  found: Array<{ id: string; name: string }>;
  /** Required zone names not found, or every one when the zones could not be read. */
  missing: string[];
  read: boolean;
}

function zoneView(s: Snapshot): ZoneView {
  const names = requiredZones(s);
  if (!s.privateDnsZones?.ok) return { found: [], missing: names, read: false };
  const zones = s.privateDnsZones.value;
  const found = names.flatMap((zoneName) => {
    const zone = zonesNamed(zones, zoneName)[0];
    return zone ? [{ id: zone.id, name: zoneName }] : [];
  });
  return { found, missing: names.filter((n) => !found.some((z) => z.name === n)), read: true };
}

/** The new endpoint in the compute subnet, and its zone group for the zones that exist. */
function endpointBicep(scope: WorkspaceScope, vnet: VnetObs, subnetName: string, peName: string, zones: ZoneView): string {
  const { ws, cloud } = scope;
  const declarations = [
    bicepResource({ symbol: 'vnet', type: 'Microsoft.Network/virtualNetworks', name: vnet.name, existing: true }),
    bicepResource({ symbol: 'subnet', type: 'Microsoft.Network/virtualNetworks/subnets', name: subnetName, parent: 'vnet', existing: true }),
    bicepResource({
      symbol: 'pe',
      type: 'Microsoft.Network/privateEndpoints',
      name: peName,
      body: {
        location: vnet.location ?? raw('vnet.location'),
        properties: {
          subnet: { id: raw('subnet.id') },
          privateLinkServiceConnections: [{ name: peName, properties: { privateLinkServiceId: ws.id, groupIds: ['amlworkspace'] } }],
        },
      },
    }),
  ];
  if (zones.found.length > 0) {
    declarations.push(
      bicepResource({
        symbol: 'zoneGroup',
        type: 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups',
        name: 'default',
        parent: 'pe',
        body: { properties: { privateDnsZoneConfigs: zones.found.map((z) => ({ name: zoneConfigLabel(cloud, z.name), properties: { privateDnsZoneId: z.id } })) } },
      }),
    );
  }
  const notes = [`Workspace private endpoint for ${ws.name} in ${vnet.name}/${subnetName}; a manual (cross-tenant) connection must then be approved on the workspace.`];
  if (zones.missing.length > 0) {
    notes.push(
      zones.read
        ? `No private DNS zone ${listText(zones.missing)} was found: create it and add it to the zone group (see PRIVATE_DNS_ZONE_MISSING).`
        : `The private DNS zones could not be read: add ${listText(zones.missing)} to a privateDnsZoneGroups child of pe.`,
    );
  }
  return bicepSnippet(vnet.id, declarations, notes.join('\n'));
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
    verification:
      "Show the new endpoint's connection state (it must be Approved) and its private IPs, then resolve the workspace API name from the compute: it must answer one of those IPs. Then run aml-netdoctor recheck on the report.",
    needs: ['workspace', 'computes', 'privateEndpoints', 'networks', 'privateDnsZones'],
    references: ['F#1', 'S4', 'S16', 'https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link', 'https://learn.microsoft.com/azure/machine-learning/how-to-secure-training-vnet'],
  },
  check,
} satisfies Rule;

