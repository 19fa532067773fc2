/**
 * EGRESS_MISSING: flows to public destinations are routed to the Internet from a compute subnet
 * that has no way out: no NAT gateway with a public IP, computes without public IPs, and default
 * outbound access switched off (a private subnet). Blames the compute subnet.
 */
import { idKey, nameOf, parentId } from '../model/arm-id.ts';
import type { Snapshot, SubnetObs } from '../model/snapshot.ts';
import type { Evidence } from '../report/schema.ts';
import type { FindingDraft, FlowId, Rule, RuleContext, RuleResult } from './rule.ts';
import { confidenceOf, firewallIp, flowEvidence, flowIds, flowsOf, groupHits, judgeFlows, rerun, subnetOf, subnetSubjects, tierOf, whoNeeds, type Hit } from './support-flows.ts';
import { azScope, isUnknown, listText, vnetById, workspaceOf } from './support.ts';

const CODE = 'EGRESS_MISSING';
const FLOWS: FlowId[] = ['workspace-api', 'workspace-cert', 'aml-service', 'entra-id', 'arm', 'storage', 'key-vault', 'container-registry', 'mcr', 'batch'];

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  return judgeFlows(s, context, { flows: FLOWS, reasons: ['no-egress'], evidenceKinds: ['route'], requiredKind: 'route', subject: 'egress', passes: 'the subnet has a way out for them' }, (hits) =>
    groupHits(hits, (h) => idKey(h.flow.subnetId ?? '')).map((group) => finding(s, group)),
  );
}

function computesOf(s: Snapshot, subnetId: string) {
  return s.computes?.ok ? s.computes.value.computes.filter((c) => idKey(c.subnetId ?? '') === idKey(subnetId)) : [];
}

function natCommands(s: Snapshot, subnetId: string, subnet: SubnetObs | undefined): string[] {
  const vnet = vnetById(s, parentId(subnetId));
  const ws = workspaceOf(s);
  const location = (!isUnknown(vnet) && vnet.location) || (!isUnknown(ws) && ws.location) || '<region>';
  const name = nameOf(subnetId);
  const pip = `pip-nat-${name}`;
  if (subnet?.natGatewayId) {
    // A NAT gateway without a public IP gives no egress: give it one.
    const nat = subnet.natGatewayId;
    return [
      `az network public-ip create ${azScope(nat)} -n ${pip} --location ${location} --sku Standard --allocation-method Static`,
      `az network nat gateway update ${azScope(nat)} -n ${nameOf(nat)} --public-ip-addresses ${pip}`,
    ];
  }
  return [
    `az network public-ip create ${azScope(subnetId)} -n ${pip} --location ${location} --sku Standard --allocation-method Static`,
    `az network nat gateway create ${azScope(subnetId)} -n nat-${name} --location ${location} --public-ip-addresses ${pip} --idle-timeout 4`,
    `az network vnet subnet update ${azScope(subnetId)} --vnet-name ${nameOf(parentId(subnetId))} -n ${name} --nat-gateway nat-${name}`,
  ];
}

function finding(s: Snapshot, hits: Hit[]): FindingDraft {
  const first = hits[0] as Hit;
  const subnetId = first.flow.subnetId ?? '';
  const subnet = subnetOf(s, subnetId);
  const flows = flowsOf(hits);
  const ids = flowIds(hits);
  const computes = computesOf(s, subnetId);
  const noIp = computes.filter((c) => c.enableNodePublicIp === false).map((c) => c.name);
  const name = nameOf(subnetId);

  const why = [
    subnet?.natGatewayId ? `its NAT gateway ${nameOf(subnet.natGatewayId)} has no public IP or prefix` : 'it has no NAT gateway',
    noIp.length ? `${listText(noIp)} ${noIp.length > 1 ? 'have' : 'has'} no public IP (enableNodePublicIp false)` : 'the computes have no public IP',
    'default outbound access is off (defaultOutboundAccess false: a private subnet)',
  ];
  const auth = flows.some((f) => f.authPath);
  const explanation =
    `${whoNeeds(flows)} ${listText(ids)} on public service addresses, which subnet ${name} routes to the Internet, but nothing gives the subnet a way out: ${listText(why)}. ` +
    (auth
      ? 'Without egress the compute reaches neither Entra ID nor the Azure ML service: every token request fails, azureml-core falls back to the device-login prompt, and that sign-in cannot complete either.'
      : 'Without egress the computes cannot pull images, reach Batch node management or their dependencies over public endpoints.');

  const evidence: Evidence[] = [
    { resourceId: subnetId, property: 'properties.natGateway.id', observed: subnet?.natGatewayId ? `${subnet.natGatewayId} (no public IP or prefix)` : 'none', expected: 'a NAT gateway with a public IP' },
    { resourceId: subnetId, property: 'properties.defaultOutboundAccess', observed: String(subnet?.defaultOutboundAccess ?? false), expected: 'an explicit egress path (default outbound access is being retired and is off here)' },
    ...computes.filter((c) => c.enableNodePublicIp === false).map((c): Evidence => ({ resourceId: c.id, property: 'properties.properties.enableNodePublicIp', observed: 'false', expected: 'egress through the subnet (NAT gateway or a route to a firewall)' })),
    ...hits.map(flowEvidence),
  ];
  const fw = firewallIp(s);
  return {
    resourceId: subnetId,
    confidence: confidenceOf(flows),
    explanation,
    evidence,
    remediation: {
      summary:
        `Give subnet ${name} explicit egress: ${subnet?.natGatewayId ? `attach a public IP to its NAT gateway ${nameOf(subnet.natGatewayId)}` : 'create a Standard public IP and a NAT gateway and attach the NAT gateway to the subnet'}. ` +
        `Alternative: route 0.0.0.0/0 to a firewall (az network route-table route create … --address-prefix 0.0.0.0/0 --next-hop-type VirtualAppliance --next-hop-ip-address ${fw ?? '<firewall private IP>'} on the subnet's route table) and allow the required destinations there.`,
      azCli: natCommands(s, subnetId, subnet),
      verify: `az network vnet subnet show ${azScope(subnetId)} --vnet-name ${nameOf(parentId(subnetId))} -n ${name} --query "{nat: natGateway.id, defaultOutbound: defaultOutboundAccess}" shows the NAT gateway; then ${rerun(ids)}`,
    },
    subjects: subnetSubjects(hits),
    flows: ids,
    tier: tierOf(flows),
  };
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'The compute subnet has no outbound internet path',
    role: 'cause',
    flows: FLOWS,
    description:
      "Flows to public service addresses (Entra ID, the Azure ML service, ARM, MCR, Batch, and dependencies reached over their public endpoints) leave the compute subnet through a route to the Internet, but the subnet has no way out: no NAT gateway with a public IP, computes without a public IP (enableNodePublicIp false), no default route to a firewall or appliance, and default outbound access switched off (defaultOutboundAccess false, a private subnet).",
    impact:
      'Without egress the compute can reach neither Microsoft Entra ID nor the Azure ML service: the managed-identity token request fails, azureml-core falls back to the device-login prompt, and the device-code sign-in cannot complete from the compute either. Image pulls and Batch node management fail too.',
    resolution:
      "Attach a NAT gateway with a Standard public IP to the compute subnet, or route 0.0.0.0/0 to a firewall's private IP (next hop VirtualAppliance) and allow the required destinations in the firewall.",
    references: [
      'F#11',
      'S3',
      'S4',
      'S5',
      'https://learn.microsoft.com/azure/machine-learning/how-to-secure-training-vnet',
      'https://learn.microsoft.com/azure/nat-gateway/quickstart-create-nat-gateway-cli',
      'https://learn.microsoft.com/azure/virtual-network/ip-services/default-outbound-access',
    ],
  },
  check,
} satisfies Rule;
