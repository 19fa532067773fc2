/**
 * ROUTE_NEXT_HOP_UNREACHABLE: the route a required flow takes goes nowhere: next hop None (or no
 * route, or a private address sent to the internet), a virtual appliance address nothing owns, or
 * an appliance across a peering that is not usable for forwarded traffic. Blames the route table
 * (the peering in the last case, the compute subnet for system routes); tier by flow.
 */
import { idKey, nameOf, parentId } from '../model/arm-id.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { cidrContains } from '../model/ip.ts';
import type { Evidence, Remediation } from '../report/schema.ts';
import type { FindingDraft, FlowId, Rule, RuleContext, RuleResult } from './rule.ts';
import { clause, confidenceOf, destinationOf, firewallIp, flowEvidence, flowIds, flowsOf, flowText, groupHits, judgeFlows, parseRouteElement, rerun, subnetSubjects, tierOf, whoNeeds, type Hit } from './support-flows.ts';
import { azScope, isUnknown, knownVnets, listText, peeringWorks, vnetById } from './support.ts';

const CODE = 'ROUTE_NEXT_HOP_UNREACHABLE';
const FLOWS: FlowId[] = ['workspace-api', 'workspace-cert', 'aml-service', 'entra-id', 'arm', 'notebooks', 'storage', 'key-vault', 'container-registry', 'mcr', 'batch', 'instance-name'];

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  return judgeFlows(
    s,
    context,
    { flows: FLOWS, reasons: ['route-none', 'route-unowned-appliance', 'route-appliance-across-peering'], evidenceKinds: ['route'], requiredKind: 'route', subject: 'routes', passes: 'every route they take delivers them' },
    (hits) => groupHits(hits, (h) => `${idKey(h.hop.resourceId ?? h.flow.subnetId ?? '')}|${h.hop.reason}|${(h.hop.element ?? '').toLowerCase()}|${h.flow.authPath}`).map((g) => finding(s, g)),
  );
}

const isRouteTable = (id: string | undefined) => !!id && /\/routeTables\//i.test(id);

function appliancePeeringFix(s: Snapshot, peeringId: string): { azCli: string[]; note: string } {
  const vnetId = parentId(peeringId);
  const vnet = vnetById(s, vnetId);
  const peering = isUnknown(vnet) ? undefined : vnet.peerings.find((p) => idKey(p.id) === idKey(peeringId));
  const access = peering?.allowVirtualNetworkAccess === false ? ' --allow-vnet-access true' : '';
  const connected = !peering || peeringWorks(peering);
  return {
    azCli: [`az network vnet peering update ${azScope(peeringId)} --vnet-name ${nameOf(vnetId)} -n ${nameOf(peeringId)} --allow-forwarded-traffic true${access}`],
    note: connected ? '' : ` The peering is ${peering?.peeringState ?? 'not Connected'}: bring it to Connected first (see VNET_PEERING_NOT_CONNECTED).`,
  };
}

/** For a private destination outside the VNet and its peerings: the VNet that holds it, if read. */
function vnetHolding(s: Snapshot, hits: Hit[]) {
  const ips = hits.flatMap((h) => destinationOf(h.flow).ips);
  return knownVnets(s).find((v) => v.addressPrefixes.some((p) => ips.some((ip) => cidrContains(p, ip))));
}

function remediation(s: Snapshot, hits: Hit[], ids: FlowId[]): Remediation & { blamed: string; what: string } {
  const first = hits[0] as Hit;
  const hop = first.hop;
  const r = parseRouteElement(hop.element);
  const route = r.name ?? '<route>';
  const fw = firewallIp(s);
  const subnetId = first.flow.subnetId ?? '';
  const verifyRoutes = `az network vnet subnet show ${azScope(subnetId)} --vnet-name ${nameOf(parentId(subnetId))} -n ${nameOf(subnetId)} --query routeTable.id, then az network route-table route list on that table`;
  if (hop.reason === 'route-appliance-across-peering' && hop.resourceId) {
    const fix = appliancePeeringFix(s, hop.resourceId);
    return {
      blamed: hop.resourceId,
      what: `the appliance ${r.ip ?? ''} of route ${hop.element ?? route} sits in a peered VNet, and peering ${nameOf(hop.resourceId)} does not carry the traffic: ${clause(hop.detail)}`,
      summary: `Allow forwarded traffic on peering ${nameOf(hop.resourceId)} (the replies from the appliance arrive as forwarded traffic).${fix.note}`,
      azCli: fix.azCli,
      verify: `az network vnet peering show ${azScope(hop.resourceId)} --vnet-name ${nameOf(parentId(hop.resourceId))} -n ${nameOf(hop.resourceId)} --query "{state: peeringState, access: allowVirtualNetworkAccess, forwarded: allowForwardedTraffic}" shows Connected / true / true; then ${rerun(ids)}`,
    };
  }
  if (isRouteTable(hop.resourceId)) {
    const rt = hop.resourceId as string;
    const scope = `${azScope(rt)} --route-table-name ${nameOf(rt)} -n ${route}`;
    const target = fw ?? '<firewall private IP>';
    const unowned = hop.reason === 'route-unowned-appliance';
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
      azCli: unowned || fw ? [`az network route-table route update ${scope} --next-hop-type VirtualAppliance --next-hop-ip-address ${target}`] : [`az network route-table route delete ${scope}`],
      verify: `az network route-table route show ${scope} --query "{prefix: addressPrefix, next: nextHopType, ip: nextHopIpAddress}"; then ${rerun(ids)}`,
    };
  }
  // A system route (or none): the destination is in no address space the subnet can reach.
  const holder = vnetHolding(s, hits);
  const computeVnet = parentId(subnetId);
  return {
    blamed: subnetId,
    what: `no usable route reaches the destination from subnet ${nameOf(subnetId)} (${hop.element ?? 'no route'}): ${clause(hop.detail)}`,
    summary: holder
      ? `The destination lies in ${holder.name}, which ${nameOf(computeVnet)} does not reach: peer the two VNets (both directions), or route the prefix to an appliance that reaches it.`
      : 'The destination lies in no VNet the subnet reaches: peer the VNet that holds it, or route the prefix to an appliance (next hop VirtualAppliance) that reaches it.',
    azCli: [
      `az network vnet peering create ${azScope(computeVnet)} --vnet-name ${nameOf(computeVnet)} -n ${nameOf(computeVnet)}-to-${holder?.name ?? '<remote-vnet>'} --remote-vnet ${holder?.id ?? '<id of the VNet holding the destination>'} --allow-vnet-access true`,
      ...(holder ? [`az network vnet peering create ${azScope(holder.id)} --vnet-name ${holder.name} -n ${holder.name}-to-${nameOf(computeVnet)} --remote-vnet ${computeVnet} --allow-vnet-access true`] : []),
    ],
    verify: `${verifyRoutes}; then ${rerun(ids)}`,
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
