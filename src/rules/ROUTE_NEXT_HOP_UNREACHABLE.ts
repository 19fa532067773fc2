/**
 * ROUTE_NEXT_HOP_UNREACHABLE: the route a required flow takes goes nowhere: next hop None (or no
 * route, or a private address sent to the internet), a virtual appliance address nothing owns, or
 * an appliance across a peering that is not usable for forwarded traffic. Blames the route table
 * (the peering in the last case, the compute subnet for system routes); tier by flow.
 */
import { OUTBOUND_FLOWS } from '../flows/catalogue.ts';
import { idKey, nameOf, parentId, sameId } from '../model/arm-id.ts';
import type { PeeringObs, Snapshot } from '../model/snapshot.ts';
import { cidrContains } from '../model/ip.ts';
import type { Evidence, Remediation } from '../report/schema.ts';
import { FLOW_NEEDS, type FindingDraft, type FlowId, type Rule, type RuleContext, type RuleResult } from './rule.ts';
import { bicepResource, peeringDeclarations } from './support-bicep.ts';
import {
  clause,
  confidenceOf,
  destinationOf,
  firewallIp,
  flowEvidence,
  flowIds,
  flowsOf,
  flowText,
  groupHits,
  judgeFlows,
  parseRouteElement,
  routeBicep,
  routeTableOf,
  routeVerify,
  snippetIn,
  subnetSubjects,
  tierOf,
  vantageOf,
  verifyText,
  whoNeeds,
  type Hit,
  type RouteSpec,
} from './support-flows.ts';
import { azScope, isUnknown, knownVnets, listText, peeringWorks, vnetById } from './support.ts';

const CODE = 'ROUTE_NEXT_HOP_UNREACHABLE';
const FLOWS: FlowId[] = [...OUTBOUND_FLOWS];

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  return judgeFlows(
    s,
    context,
    { flows: FLOWS, reasons: ['route-none', 'route-unowned-appliance', 'route-appliance-across-peering'], evidenceKinds: ['route'], requiredKind: 'route', subject: 'routes', passes: 'every route they take delivers them' },
    (hits) => groupHits(hits, (h) => `${idKey(h.hop.resourceId ?? h.flow.subnetId ?? '')}|${h.hop.reason}|${(h.hop.element ?? '').toLowerCase()}|${h.flow.authPath}`).map((g) => finding(s, g)),
  );
}

const isRouteTable = (id: string | undefined) => !!id && /\/routeTables\//i.test(id);

/** One side of a peering as it must be: access (and, for an appliance path, forwarded traffic) on, other settings as read. */
function peeringBicep(s: Snapshot, fromVnetId: string, name: string, remoteId: string, p: PeeringObs | undefined, forwarded: boolean, note: string): string {
  return snippetIn(s, [fromVnetId], peeringDeclarations(nameOf(fromVnetId), name, remoteId, p, forwarded), note);
}

function peeringOf(s: Snapshot, peeringId: string): PeeringObs | undefined {
  const vnet = vnetById(s, parentId(peeringId));
  return isUnknown(vnet) ? undefined : vnet.peerings.find((p) => idKey(p.id) === idKey(peeringId));
}

function appliancePeeringFix(s: Snapshot, peeringId: string): { azCli: string[]; note: string; bicep: string } {
  const vnetId = parentId(peeringId);
  const peering = peeringOf(s, peeringId);
  const access = peering?.allowVirtualNetworkAccess === false ? ' --allow-vnet-access true' : '';
  const connected = !peering || peeringWorks(peering);
  const note = connected ? '' : ` The peering is ${peering?.peeringState ?? 'not Connected'}: bring it to Connected first (see VNET_PEERING_NOT_CONNECTED).`;
  const bicepNote = `Peering ${nameOf(peeringId)} must allow forwarded traffic: the appliance's replies arrive through it as forwarded traffic.${note ? `\n${note.trim()}` : ''}`;
  return {
    azCli: [`az network vnet peering update ${azScope(peeringId)} --vnet-name ${nameOf(vnetId)} -n ${nameOf(peeringId)} --allow-forwarded-traffic true${access}`],
    note,
    bicep: peeringBicep(s, vnetId, nameOf(peeringId), peering?.remoteVirtualNetworkId ?? '<id of the remote VNet>', peering, true, bicepNote),
  };
}

/** For a private destination outside the VNet and its peerings: the VNet that holds it, if read. */
function vnetHolding(s: Snapshot, hits: Hit[]) {
  const ips = hits.flatMap((h) => destinationOf(h.flow).ips);
  return knownVnets(s).find((v) => v.addressPrefixes.some((p) => ips.some((ip) => cidrContains(p, ip))));
}

/**
 * Bicep cannot delete one route (deployments only add and change), so the declarative form of the
 * deletion is the whole route table with every other route, which replaces its route list.
 */
function deleteRouteBicep(s: Snapshot, rtId: string, route: string): string {
  const rt = routeTableOf(s, rtId);
  const cannot = `Bicep cannot delete a single route: deployments only add or change resources. Run the az command, or deploy this declaration of route table ${nameOf(rtId)}`;
  if (!rt) {
    return snippetIn(s, [rtId], [bicepResource({ symbol: 'routeTable', type: 'Microsoft.Network/routeTables', name: nameOf(rtId), existing: true })], `${cannot} once its routes can be read (they could not be here): list every route except ${route}.`);
  }
  const rest = rt.routes.filter((r) => r.name.toLowerCase() !== route.toLowerCase());
  const vnet = knownVnets(s).find((v) => v.subnets.some((x) => sameId(x.routeTableId, rtId)));
  const body = {
    location: rt.location ?? vnet?.location ?? '<region of the route table>',
    properties: {
      disableBgpRoutePropagation: rt.disableBgpRoutePropagation,
      routes: rest.map((r) => ({ name: r.name, properties: { addressPrefix: r.addressPrefix, nextHopType: r.nextHopType, nextHopIpAddress: r.nextHopIpAddress } })),
    },
  };
  return snippetIn(
    s,
    [rtId],
    [bicepResource({ symbol: 'routeTable', type: 'Microsoft.Network/routeTables', name: nameOf(rtId), body })],
    `${cannot}, which lists every route except ${route} and so removes it.\nThe deployment replaces the table's routes and tags: add its tags if it has any.`,
  );
}

function remediation(s: Snapshot, hits: Hit[], ids: FlowId[]): Remediation & { blamed: string; what: string } {
  const first = hits[0] as Hit;
  const hop = first.hop;
  const r = parseRouteElement(hop.element);
  const route = r.name ?? '<route>';
  const fw = firewallIp(s);
  const subnetId = first.flow.subnetId ?? '';
  if (hop.reason === 'route-appliance-across-peering' && hop.resourceId) {
    const fix = appliancePeeringFix(s, hop.resourceId);
    return {
      blamed: hop.resourceId,
      what: `the appliance ${r.ip ?? ''} of route ${hop.element ?? route} sits in a peered VNet, and peering ${nameOf(hop.resourceId)} does not carry the traffic: ${clause(hop.detail)}`,
      summary: `Allow forwarded traffic on peering ${nameOf(hop.resourceId)} (the replies from the appliance arrive as forwarded traffic).${fix.note}`,
      azCli: fix.azCli,
      bicep: fix.bicep,
      verify: verifyText(
        `az network vnet peering show ${azScope(hop.resourceId)} --vnet-name ${nameOf(parentId(hop.resourceId))} -n ${nameOf(hop.resourceId)} --query "[peeringState, allowVirtualNetworkAccess, allowForwardedTraffic]" -o tsv`,
        'Connected, True and True',
        ids,
      ),
    };
  }
  if (isRouteTable(hop.resourceId)) {
    const rt = hop.resourceId as string;
    const scope = `${azScope(rt)} --route-table-name ${nameOf(rt)} -n ${route}`;
    const target = fw ?? '<firewall private IP>';
    const unowned = hop.reason === 'route-unowned-appliance';
    const prefix = r.prefix ?? routeTableOf(s, rt)?.routes.find((x) => x.name.toLowerCase() === route.toLowerCase())?.addressPrefix ?? '<address prefix>';
    const repoint = unowned || !!fw;
    const spec: RouteSpec = { name: route, addressPrefix: prefix, nextHopType: 'VirtualAppliance', nextHopIpAddress: target };
    return {
      blamed: rt,
      what: unowned
        ? `route ${hop.element ?? route} in route table ${nameOf(rt)} sends the traffic to ${r.ip ?? 'an appliance address'}, which no Azure Firewall or network interface owns: ${clause(hop.detail)}`
        : `route ${hop.element ?? route} in route table ${nameOf(rt)} drops the traffic: ${clause(hop.detail)}`,
      summary: unowned
        ? `Point route ${route} at the private IP of the firewall or appliance that exists${fw ? ` (Azure Firewall ${target} was found)` : ''}.`
        : fw
          ? `Send route ${route} to the firewall (${target}) instead of dropping the traffic, and allow the required destinations there; or delete the route if the drop was not intended.`
          : `Delete route ${route} (or give it a next hop that forwards the traffic, such as a firewall's private IP with next hop VirtualAppliance).`,
      azCli: repoint ? [`az network route-table route update ${scope} --next-hop-type VirtualAppliance --next-hop-ip-address ${target}`] : [`az network route-table route delete ${scope}`],
      bicep: repoint
        ? routeBicep(s, rt, [spec], `Route ${route} ${unowned ? `sent the traffic to ${r.ip ?? 'an address'}, which nothing owns` : 'dropped the traffic (next hop None)'}: it now goes to ${fw ? `Azure Firewall ${target}` : 'the private IP of the firewall or appliance that exists (fill it in)'}.`)
        : deleteRouteBicep(s, rt, route),
      verify: repoint
        ? routeVerify(s, subnetId, rt, spec, ids)
        : verifyText(`az network route-table route list ${azScope(rt)} --route-table-name ${nameOf(rt)} --query "length([?name=='${route}'])" -o tsv`, '0', ids),
    };
  }
  // A system route (or none): the destination is in no address space the subnet can reach.
  const holder = vnetHolding(s, hits);
  const computeVnet = parentId(subnetId);
  const local = `${nameOf(computeVnet)}-to-${holder?.name ?? '<remote-vnet>'}`;
  const remoteId = holder?.id ?? '<id of the VNet holding the destination>';
  const bicep = [
    peeringBicep(s, computeVnet, local, remoteId, undefined, false, `Side 1 of ${holder ? 2 : 1}: peering ${local}. Save as its own file.`),
    ...(holder ? [peeringBicep(s, holder.id, `${holder.name}-to-${nameOf(computeVnet)}`, computeVnet, undefined, false, `Side 2 of 2: peering ${holder.name}-to-${nameOf(computeVnet)}. Save as its own file.`)] : []),
  ].join('\n');
  const v = vantageOf(s, subnetId);
  const verify = v && holder
    ? verifyText(`az network nic show-effective-route-table --ids ${v.nicId} --query "value[?nextHopType=='VNetPeering'].addressPrefix[]" -o tsv`, `the address space of ${holder.name} (${holder.addressPrefixes.join(', ')})`, ids)
    : verifyText(`az network vnet peering show ${azScope(computeVnet)} --vnet-name ${nameOf(computeVnet)} -n ${local} --query peeringState -o tsv`, 'Connected', ids);
  return {
    blamed: subnetId,
    what: `no usable route reaches the destination from subnet ${nameOf(subnetId)} (${hop.element ?? 'no route'}): ${clause(hop.detail)}`,
    summary: holder
      ? `The destination lies in ${holder.name}, which ${nameOf(computeVnet)} does not reach: peer the two VNets (both directions), or route the prefix to an appliance that reaches it.`
      : 'The destination lies in no VNet the subnet reaches: peer the VNet that holds it, or route the prefix to an appliance (next hop VirtualAppliance) that reaches it.',
    azCli: [
      `az network vnet peering create ${azScope(computeVnet)} --vnet-name ${nameOf(computeVnet)} -n ${local} --remote-vnet ${remoteId} --allow-vnet-access true`,
      ...(holder ? [`az network vnet peering create ${azScope(holder.id)} --vnet-name ${holder.name} -n ${holder.name}-to-${nameOf(computeVnet)} --remote-vnet ${computeVnet} --allow-vnet-access true`] : []),
    ],
    bicep,
    verify,
  };
}

function finding(s: Snapshot, hits: Hit[]): FindingDraft {
  const flows = flowsOf(hits);
  const ids = flowIds(hits);
  const { blamed, what, ...fix } = remediation(s, hits, ids);
  const auth = flows.some((f) => f.authPath);
  const explanation =
    `${whoNeeds(flows)} ${listText(flows.map(flowText))}, but ${what}. ` +
    (auth
      ? 'These flows are on the auth path: the token request never arrives, azureml-core falls back to the device-login prompt, and the sign-in cannot complete from the compute.'
      : 'Sign-in is not affected, but the jobs, images or notebooks that need these destinations fail.');
  const first = hits[0] as Hit;
  const evidence: Evidence[] = [
    { resourceId: blamed, property: isRouteTable(blamed) ? `properties.routes[${parseRouteElement(first.hop.element).name ?? '?'}]` : first.hop.reason === 'route-appliance-across-peering' ? 'properties.allowForwardedTraffic' : 'effective routes', observed: first.hop.element ?? 'no route', expected: 'a next hop that forwards the traffic to its destination' },
    ...hits.map(flowEvidence),
  ];
  const subjects = [isRouteTable(blamed) ? `route-table:${idKey(blamed)}` : first.hop.reason === 'route-appliance-across-peering' ? `vnet:${idKey(parentId(blamed))}` : `subnet:${idKey(blamed)}`, ...subnetSubjects(hits)];
  return { resourceId: blamed, confidence: confidenceOf(flows), explanation, evidence, remediation: fix, subjects: [...new Set(subjects)], flows: ids, tier: tierOf(flows) };
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'A route on a required flow leads nowhere',
    role: 'cause',
    flows: FLOWS,
    description:
      "The route a required flow takes from the compute subnet cannot deliver it: next hop None (a user route, or the system route for private ranges outside the VNet and its peerings), no route at all, a public address routed into the VNet or a private one to the Internet, a virtual appliance address that no Azure Firewall or network interface owns, or an appliance in a peered VNet whose peering is not Connected or does not allow forwarded traffic. Tier 1 when the flow is on the auth path, else tier 2.",
    impact:
      'The packets are dropped before they reach any firewall or service. On the auth path (workspace API and cert, the Azure ML service, Entra ID, ARM) the token request fails and azureml-core falls back to the device-login prompt; other flows break jobs, images or notebooks.',
    resolution:
      "Point the route at the firewall's or appliance's actual private IP, delete a blackhole route that was not intended, allow forwarded traffic on the peering to the appliance's VNet, or peer the VNet that holds a private destination.",
    verification:
      "Read the route the flow takes again: a VM NIC's effective routes in the compute subnet (az network nic show-effective-route-table), or the corrected route or peering itself; the next hop must be an address a firewall or appliance owns, or a Connected peering. Then run aml-netdoctor recheck on the report: the flows must be allowed.",
    needs: FLOW_NEEDS,
    references: [
      'S3',
      'S4',
      'https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview',
      'https://learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview',
      'https://learn.microsoft.com/cli/azure/network/route-table/route',
    ],
  },
  check,
} satisfies Rule;
