/**
 * Builders for flow-rule tests: hops, flows (catalogue defaults per flow id, verdict from the
 * hops), analyses, and snapshot additions (an NSG on the compute subnet, a route table, a firewall
 * with its policy) on top of ./snapshot.ts's healthy hub-and-spoke estate.
 */
import type { FlowAnalysis, FlowHop, FlowResult } from '../../src/flows/types.ts';
import type { FirewallPolicyObs, FirewallsObs, NetworkRuleObs, NsgObs, RouteObs, RuleCollectionObs, SecurityRuleObs, Snapshot, SubnetObs, SubnetPoliciesObs } from '../../src/model/snapshot.ts';
import type { FindingDraft, FlowId, RuleResult } from '../../src/rules/rule.ts';
import { API_FQDN, HUB_SUB, PE_IP, SPOKE_ID, SUB, SUBNET_ID, value } from './snapshot.ts';

export const NSG_ID = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/nsg-compute`;
export const PE_NSG_ID = `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/networkSecurityGroups/nsg-pe`;
export const RT_ID = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/routeTables/rt-compute`;
export const FW_ID = `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/azureFirewalls/fw-hub`;
export const POLICY_ID = `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/firewallPolicies/fwp-hub`;
export const BASE_POLICY_ID = `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/firewallPolicies/fwp-base`;
export const FW_IP = '10.10.0.4';
export const PEERING_ID = `${SPOKE_ID}/virtualNetworkPeerings/spoke-to-hub`;

interface Defaults {
  destination: string;
  ports: string[];
  authPath: boolean;
  direction: 'outbound' | 'inbound';
}

const out = (destination: string, ports: string[], authPath: boolean): Defaults => ({ destination, ports, authPath, direction: 'outbound' });

/** Destination texts as src/flows/catalogue.ts writes them. */
export const FLOW_DEFAULTS: Record<FlowId, Defaults> = {
  'workspace-api': out(`${API_FQDN} (private endpoint pe-ws-demo ${PE_IP})`, ['TCP 443'], true),
  'workspace-cert': out(`${API_FQDN.replace('.api.', '.cert.api.')} (private endpoint pe-ws-demo ${PE_IP})`, ['TCP 443'], true),
  'aml-service': out('eastus.api.azureml.ms, eastus.cert.api.azureml.ms (AzureMachineLearning)', ['TCP 443', 'TCP 18881', 'UDP 5831'], true),
  'entra-id': out('login.microsoftonline.com (AzureActiveDirectory)', ['TCP 80', 'TCP 443'], true),
  arm: out('management.azure.com (AzureResourceManager)', ['TCP 443'], true),
  notebooks: out('ml-ws-demo-eastus.notebooks.azure.net (private endpoint pe-ws-demo 10.10.1.5)', ['TCP 443'], false),
  storage: out('stdemo.blob.core.windows.net (Storage.eastus), stdemo.file.core.windows.net (Storage.eastus)', ['TCP 443', 'TCP 445'], false),
  'key-vault': out('kv-demo.vault.azure.net (AzureKeyVault.eastus)', ['TCP 443'], false),
  'container-registry': out('acrdemo.azurecr.io (AzureContainerRegistry.eastus)', ['TCP 443'], false),
  mcr: out('mcr.microsoft.com (MicrosoftContainerRegistry, AzureFrontDoor.FirstParty)', ['TCP 443'], false),
  batch: out('eastus.batch.azure.com (BatchNodeManagement.eastus)', ['TCP 443'], false),
  'aml-inbound': { destination: 'from AzureMachineLearning to the compute subnet', ports: ['TCP 44224'], authPath: false, direction: 'inbound' },
  'instance-name': out(`ci-alice.eastus.instances.azureml.ms (private endpoint pe-ws-demo ${PE_IP})`, ['TCP 443'], false),
};

export function hop(kind: FlowHop['kind'], verdict: FlowHop['verdict'], detail: string, extra: Partial<FlowHop> = {}): FlowHop {
  return { kind, detail, verdict, ...extra };
}

export const ok = (kind: FlowHop['kind'], detail = `${kind} allows it`): FlowHop => hop(kind, 'allowed', detail);

/** A flow from the compute subnet, verdict from its hops (blocked before undetermined before allowed). */
export function flow(id: FlowId, hops: FlowHop[], extra: Partial<FlowResult> = {}): FlowResult {
  const verdict = hops.some((h) => h.verdict === 'blocked') ? 'blocked' : hops.some((h) => h.verdict === 'undetermined') ? 'undetermined' : 'allowed';
  return { id, subnetId: SUBNET_ID, computes: ['ci-alice'], ...FLOW_DEFAULTS[id], verdict, source: 'computed', hops, notes: ['NIC-level NSGs of the Azure ML nodes cannot be read'], ...extra };
}

/** A flow every hop of which allows it (route and nsg). */
export const fine = (id: FlowId, extra: Partial<FlowResult> = {}) => flow(id, [ok('route'), ok('nsg')], extra);

export function analysis(flows: FlowResult[], extra: Partial<FlowAnalysis> = {}): FlowAnalysis {
  return { flows, assumptions: [], managedNetwork: false, ...extra };
}

export const context = (flows: FlowResult[], extra: Partial<FlowAnalysis> = {}) => ({ flows: analysis(flows, extra) });

export const fails = (r: RuleResult[]): FindingDraft[] => r.flatMap((x) => (x.status === 'fail' ? [x.finding] : []));
export const passes = (r: RuleResult[]) => r.flatMap((x) => (x.status === 'pass' ? [x] : []));
export const undetermineds = (r: RuleResult[]) => r.flatMap((x) => (x.status === 'undetermined' ? [x] : []));

/** The one finding of a result list (throws otherwise, so a test fails loudly). */
export function onlyFinding(r: RuleResult[]): FindingDraft {
  const f = fails(r);
  if (f.length !== 1) throw new Error(`expected one finding, got ${f.length}: ${JSON.stringify(r, null, 1)}`);
  return f[0] as FindingDraft;
}

// ---------------------------------------------------------------- snapshot additions

export function securityRule(name: string, priority: number, extra: Partial<SecurityRuleObs> = {}): SecurityRuleObs {
  return {
    name, priority, direction: 'Outbound', access: 'Deny', protocol: '*',
    sourceAddressPrefixes: ['*'], destinationAddressPrefixes: ['Internet'], sourcePortRanges: ['*'], destinationPortRanges: ['*'],
    sourceApplicationSecurityGroupIds: [], destinationApplicationSecurityGroupIds: [], isDefault: false, ...extra,
  };
}

function policies(s: Snapshot): SubnetPoliciesObs {
  if (!s.subnetPolicies?.ok) s.subnetPolicies = { ok: true, value: { routeTables: [], nsgs: [], natGateways: [] } };
  return s.subnetPolicies.value;
}

export function subnet(s: Snapshot, id = SUBNET_ID): SubnetObs {
  for (const v of value(s.networks).vnets) {
    const found = v.observed.ok ? v.observed.value.subnets.find((x) => x.id === id) : undefined;
    if (found) return found;
  }
  throw new Error(`no subnet ${id}`);
}

/** Attaches an NSG with these rules to a subnet (the compute subnet by default). */
export function withNsg(s: Snapshot, rules: SecurityRuleObs[], id = NSG_ID, subnetId = SUBNET_ID): NsgObs {
  const nsg: NsgObs = { id, name: id.split('/').pop() as string, rules };
  policies(s).nsgs.push({ id, observed: { ok: true, value: nsg } });
  subnet(s, subnetId).networkSecurityGroupId = id;
  return nsg;
}

export function withRouteTable(s: Snapshot, routes: RouteObs[], id = RT_ID, subnetId = SUBNET_ID): void {
  policies(s).routeTables.push({ id, observed: { ok: true, value: { id, name: id.split('/').pop() as string, routes } } });
  subnet(s, subnetId).routeTableId = id;
}

export function networkRule(name: string, extra: Partial<NetworkRuleObs> = {}): NetworkRuleObs {
  return { ruleType: 'NetworkRule', name, ipProtocols: ['TCP'], sourceAddresses: ['*'], sourceIpGroups: [], destinationAddresses: [], destinationIpGroups: [], destinationFqdns: [], destinationPorts: ['443'], ...extra };
}

export function collection(name: string, priority: number, action: string, rules: RuleCollectionObs['rules']): RuleCollectionObs {
  return { name, priority, ruleCollectionType: 'FirewallPolicyFilterRuleCollection', action, rules };
}

export function policy(id: string, groups: Array<{ name: string; priority: number; ruleCollections: RuleCollectionObs[] }>, extra: Partial<FirewallPolicyObs> = {}): FirewallPolicyObs {
  return { id, name: id.split('/').pop() as string, ruleCollectionGroups: { ok: true, value: groups.map((g) => ({ id: `${id}/ruleCollectionGroups/${g.name}`, ...g })) }, ...extra };
}

/** An Azure Firewall at FW_IP with these policies (the first is attached), and a route table sending 0.0.0.0/0 to it. */
export function withFirewall(s: Snapshot, attached: FirewallPolicyObs, others: FirewallPolicyObs[] = []): FirewallsObs {
  const fw: FirewallsObs = {
    appliances: [{ ip: FW_IP, owner: 'firewall', ownerId: FW_ID }],
    searches: [{ subscriptionId: HUB_SUB, result: { ok: true, value: { count: 1 } } }],
    firewalls: [{ id: FW_ID, observed: { ok: true, value: { id: FW_ID, name: 'fw-hub', privateIpAddresses: [FW_IP], subnetIds: [], firewallPolicyId: attached.id, hasClassicRules: false } } }],
    policies: [attached, ...others].map((p) => ({ id: p.id, observed: { ok: true, value: p } })),
  };
  s.firewalls = { ok: true, value: fw };
  withRouteTable(s, [{ name: 'default', addressPrefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIpAddress: FW_IP }]);
  return fw;
}
