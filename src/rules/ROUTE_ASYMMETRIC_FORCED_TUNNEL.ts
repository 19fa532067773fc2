/**
 * ROUTE_ASYMMETRIC_FORCED_TUNNEL: a public-IP compute receives Azure ML's inbound management
 * traffic (TCP 44224 from AzureMachineLearning) on its public IP, but the reply follows a default
 * route to a virtual appliance instead of the internet, and the stateful firewall drops it.
 */
import { idKey, nameOf } from '../model/arm-id.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { FLOW_NEEDS, type FindingDraft, type Rule, type RuleContext, type RuleResult } from './rule.ts';
import { confidenceOf, flowEvidence, flowIds, flowsOf, groupHits, judgeFlows, parseRouteElement, routeBicep, routeVerify, subnetOf, subnetSubjects, type Hit, type RouteSpec } from './support-flows.ts';
import { azScope, isUnknown, listText, workspaceOf } from './support.ts';

const CODE = 'ROUTE_ASYMMETRIC_FORCED_TUNNEL';

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  return judgeFlows(s, context, { flows: ['aml-inbound'], reasons: ['route-asymmetric'], evidenceKinds: ['route'], requiredKind: 'route', subject: 'reply routes', passes: 'the replies leave the way the traffic came' }, (hits) =>
    groupHits(hits, (h) => `${idKey(h.hop.resourceId ?? h.flow.subnetId ?? '')}|${(h.hop.element ?? '').toLowerCase()}`).map((g) => finding(s, g)),
  );
}

/** A route name not yet used in the table. */
function freeRouteName(s: Snapshot, rtId: string, base: string): string {
  const entry = s.subnetPolicies?.ok ? s.subnetPolicies.value.routeTables.find((r) => idKey(r.id) === idKey(rtId)) : undefined;
  const names = new Set(entry?.observed.ok ? entry.observed.value.routes.map((r) => r.name.toLowerCase()) : []);
  let name = base;
  for (let i = 2; names.has(name.toLowerCase()); i++) name = `${base}${i}`;
  return name;
}

function finding(s: Snapshot, hits: Hit[]): FindingDraft {
  const first = hits[0] as Hit;
  const flows = flowsOf(hits);
  const ids = flowIds(hits);
  const subnet = subnetOf(s, first.flow.subnetId);
  const rtId = first.hop.resourceId ?? subnet?.routeTableId ?? '<route table id>';
  const rt = nameOf(rtId);
  const r = parseRouteElement(first.hop.element);
  const ws = workspaceOf(s);
  const region = isUnknown(ws) ? '<region>' : ws.location;
  const scope = `${azScope(rtId)} --route-table-name ${rt}`;
  const name = freeRouteName(s, rtId, 'AzureMLRoute');
  const route: RouteSpec = { name, addressPrefix: 'AzureMachineLearning', nextHopType: 'Internet' };
  const bicep = routeBicep(
    s,
    rtId,
    [route],
    `Replies to Azure ML's inbound traffic leave through the compute's public IP; everything else stays on ${r.name ? `route ${r.name}` : 'the default route'} to the appliance.\n` +
      `Computes created before December 2022 (classic Batch node communication) also need a route BatchNodeManagementRoute for BatchNodeManagement.${region} with next hop Internet.`,
  );
  const computes = [...new Set(flows.flatMap((f) => f.computes))].sort();
  const explanation =
    `${computes.length ? `${listText(computes)} ${computes.length > 1 ? 'have' : 'has'}` : 'The computes have'} a public IP, so Azure Machine Learning manages ${computes.length > 1 ? 'them' : 'it'} through inbound TCP 44224 from the AzureMachineLearning service tag. ` +
    `The replies follow route ${first.hop.element ?? 'a default route'} to the virtual appliance ${r.ip ?? ''} instead of going straight back to the internet: the stateful firewall never saw the inbound connection and drops the reply (asymmetric routing). ` +
    'Compute creation, start and updates fail or hang; sign-in is not affected.';
  return {
    resourceId: rtId,
    confidence: confidenceOf(flows),
    explanation,
    evidence: [
      { resourceId: rtId, property: `properties.routes[${r.name ?? '?'}]`, observed: first.hop.element ?? 'a default route to a virtual appliance', expected: 'a more specific route AzureMachineLearning -> Internet for the replies' },
      ...hits.map(flowEvidence),
    ],
    remediation: {
      summary:
        `Add a route for the AzureMachineLearning service tag with next hop Internet to route table ${rt}, so replies to Azure ML leave through the compute's public IP while everything else stays forced through the appliance. ` +
        `Computes created before December 2022 (classic Batch node communication) also need az network route-table route create ${scope} -n BatchNodeManagementRoute --address-prefix BatchNodeManagement.${region} --next-hop-type Internet. ` +
        'Alternatively recreate the computes without a public IP (enableNodePublicIp false), which need no inbound traffic.',
      azCli: [`az network route-table route create ${scope} -n ${name} --address-prefix AzureMachineLearning --next-hop-type Internet`],
      bicep,
      verify: routeVerify(s, undefined, rtId, route, ids),
    },
    subjects: [`route-table:${idKey(rtId)}`, ...subnetSubjects(hits)],
    flows: ids,
  };
}

export const rule = {
  meta: {
    code: CODE,
    tier: 2,
    severity: 'high',
    title: "Forced tunnelling sends the replies to Azure ML's inbound traffic through the firewall",
    role: 'cause',
    flows: ['aml-inbound'],
    description:
      "A compute in the subnet has a public IP, and the subnet's routes send the replies to the AzureMachineLearning addresses to a virtual appliance (a 0.0.0.0/0 forced-tunnel route) because no more specific AzureMachineLearning route with next hop Internet exists (nor BatchNodeManagement.<region> for classic computes).",
    impact:
      "Azure ML's inbound management connection (TCP 44224) arrives on the compute's public IP, but the reply leaves through the firewall, which never saw the connection and drops it (asymmetric routing). Compute creation, start and updates fail or hang.",
    resolution:
      'Add user-defined routes for the AzureMachineLearning service tag (and BatchNodeManagement.<region> for computes created before December 2022) with next hop Internet to the compute subnet route table, or recreate the computes without a public IP.',
    verification:
      'Show the new route in the compute subnet route table (az network route-table route show): AzureMachineLearning with next hop Internet. Then run aml-netdoctor recheck on the report: the aml-inbound flow must be allowed.',
    needs: FLOW_NEEDS,
    references: [
      'F#12',
      'S3',
      'S8',
      'S30',
      'https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall',
      'https://learn.microsoft.com/azure/firewall/integrate-lb#asymmetric-routing',
      'https://learn.microsoft.com/cli/azure/network/route-table/route',
    ],
  },
  check,
} satisfies Rule;
