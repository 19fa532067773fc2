/**
 * EGRESS_MISSING: flows to public destinations are routed to the Internet from a compute subnet
 * that has no way out: no NAT gateway with a public IP, computes without public IPs, and default
 * outbound access switched off (a private subnet). Blames the compute subnet.
 */
import { idKey, nameOf, parentId } from '../model/arm-id.ts';
import type { Snapshot, SubnetObs } from '../model/snapshot.ts';
import type { Evidence } from '../report/schema.ts';
import { FLOW_NEEDS, type FindingDraft, type FlowId, type Rule, type RuleContext, type RuleResult } from './rule.ts';
import { bicepResource, raw, type BicepValue } from './support-bicep.ts';
import { confidenceOf, firewallIp, flowEvidence, flowIds, flowsOf, groupHits, judgeFlows, snippetIn, subnetOf, subnetSubjects, tierOf, verifyText, whoNeeds, type Hit } from './support-flows.ts';
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

interface NatPlan {
  location: string;
  pip: string;
  /** The NAT gateway that gets the public IP: the subnet's own, or a new one. */
  natId?: string;
  natName: string;
}

function natPlan(s: Snapshot, subnetId: string, subnet: SubnetObs | undefined): NatPlan {
  const vnet = vnetById(s, parentId(subnetId));
  const ws = workspaceOf(s);
  const location = (!isUnknown(vnet) && vnet.location) || (!isUnknown(ws) && ws.location) || '<region>';
  const name = nameOf(subnetId);
  return { location, pip: `pip-nat-${name}`, ...(subnet?.natGatewayId ? { natId: subnet.natGatewayId } : {}), natName: subnet?.natGatewayId ? nameOf(subnet.natGatewayId) : `nat-${name}` };
}

function natCommands(subnetId: string, plan: NatPlan): string[] {
  const { location, pip } = plan;
  if (plan.natId) {
    // A NAT gateway without a public IP gives no egress: give it one.
    const nat = plan.natId;
    return [
      `az network public-ip create ${azScope(nat)} -n ${pip} --location ${location} --sku Standard --allocation-method Static`,
      `az network nat gateway update ${azScope(nat)} -n ${nameOf(nat)} --public-ip-addresses ${pip}`,
    ];
  }
  const name = nameOf(subnetId);
  return [
    `az network public-ip create ${azScope(subnetId)} -n ${pip} --location ${location} --sku Standard --allocation-method Static`,
    `az network nat gateway create ${azScope(subnetId)} -n ${plan.natName} --location ${location} --public-ip-addresses ${pip} --idle-timeout 4`,
    `az network vnet subnet update ${azScope(subnetId)} --vnet-name ${nameOf(parentId(subnetId))} -n ${name} --nat-gateway ${plan.natName}`,
  ];
}

/**
 * The subnet as it must be declared to attach the NAT gateway: a subnet deployment replaces every
 * property, so the observed ones (prefixes, NSG, route table, policies) are carried over.
 */
function subnetBody(subnet: SubnetObs | undefined, natRef: BicepValue): { [key: string]: BicepValue } {
  const prefixes = subnet?.addressPrefixes ?? [];
  return {
    properties: {
      ...(prefixes.length === 1 ? { addressPrefix: prefixes[0] as string } : prefixes.length > 1 ? { addressPrefixes: prefixes } : { addressPrefix: '<the subnet\'s address prefix>' }),
      natGateway: { id: natRef },
      networkSecurityGroup: subnet?.networkSecurityGroupId ? { id: subnet.networkSecurityGroupId } : undefined,
      routeTable: subnet?.routeTableId ? { id: subnet.routeTableId } : undefined,
      serviceEndpoints: subnet?.serviceEndpoints.length ? subnet.serviceEndpoints.map((service) => ({ service })) : undefined,
      delegations: subnet?.delegations.length ? subnet.delegations.map((serviceName, i) => ({ name: `delegation-${i + 1}`, properties: { serviceName } })) : undefined,
      privateEndpointNetworkPolicies: subnet?.privateEndpointNetworkPolicies,
      defaultOutboundAccess: subnet?.defaultOutboundAccess,
    },
  };
}

function natBicep(s: Snapshot, subnetId: string, subnet: SubnetObs | undefined, plan: NatPlan): string {
  const pip = bicepResource({
    symbol: 'natPublicIp',
    type: 'Microsoft.Network/publicIPAddresses',
    name: plan.pip,
    body: { location: plan.location, sku: { name: 'Standard' }, properties: { publicIPAllocationMethod: 'Static', publicIPAddressVersion: 'IPv4' } },
  });
  const nat = bicepResource({
    symbol: 'natGateway',
    type: 'Microsoft.Network/natGateways',
    name: plan.natName,
    body: { location: plan.location, sku: { name: 'Standard' }, properties: { idleTimeoutInMinutes: 4, publicIpAddresses: [{ id: raw('natPublicIp.id') }] } },
  });
  if (plan.natId) {
    return snippetIn(s, [plan.natId], [pip, nat], `NAT gateway ${plan.natName} is already attached to subnet ${nameOf(subnetId)} but has no public IP: this gives it one.\nDeploying the NAT gateway sets all its properties: keep any zones or tags it has.`);
  }
  const vnetId = parentId(subnetId);
  const vnet = bicepResource({ symbol: 'vnet', type: 'Microsoft.Network/virtualNetworks', name: nameOf(vnetId), existing: true });
  const sub = bicepResource({ symbol: 'computeSubnet', type: 'Microsoft.Network/virtualNetworks/subnets', name: nameOf(subnetId), parent: 'vnet', body: subnetBody(subnet, raw('natGateway.id')) });
  return snippetIn(
    s,
    [subnetId],
    [pip, nat, vnet, sub],
    `The subnet's natGateway must point at the new NAT gateway: the subnet is declared with its current properties as read (address prefix, NSG, route table, policies).\nA subnet deployment replaces all its properties: compare with az network vnet subnet show before deploying, or attach the NAT gateway in the template that declares ${nameOf(vnetId)}.`,
  );
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
  const plan = natPlan(s, subnetId, subnet);
  const verify = plan.natId
    ? verifyText(`az network nat gateway show ${azScope(plan.natId)} -n ${plan.natName} --query "publicIpAddresses[].id" -o tsv`, `the id of public IP ${plan.pip}`, ids)
    : verifyText(`az network vnet subnet show ${azScope(subnetId)} --vnet-name ${nameOf(parentId(subnetId))} -n ${name} --query natGateway.id -o tsv`, `the id of NAT gateway ${plan.natName}`, ids);
  return {
    resourceId: subnetId,
    confidence: confidenceOf(flows),
    explanation,
    evidence,
    remediation: {
      summary:
        `Give subnet ${name} explicit egress: ${subnet?.natGatewayId ? `attach a public IP to its NAT gateway ${nameOf(subnet.natGatewayId)}` : 'create a Standard public IP and a NAT gateway and attach the NAT gateway to the subnet'}. ` +
        `Alternative: route 0.0.0.0/0 to a firewall (az network route-table route create … --address-prefix 0.0.0.0/0 --next-hop-type VirtualAppliance --next-hop-ip-address ${fw ?? '<firewall private IP>'} on the subnet's route table) and allow the required destinations there.`,
      azCli: natCommands(subnetId, plan),
      bicep: natBicep(s, subnetId, subnet, plan),
      verify,
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
    verification:
      "Show the compute subnet's NAT gateway and that gateway's public IPs (az network vnet subnet show --query natGateway.id, then az network nat gateway show --query publicIpAddresses): both must be set. Then run aml-netdoctor recheck on the report: the public flows must be allowed.",
    needs: FLOW_NEEDS,
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
