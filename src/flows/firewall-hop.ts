/**
 * The firewall hop (flows-semantics §2.4, §5): the appliance a VirtualAppliance route points at.
 * An Azure Firewall with a readable policy is evaluated request by request (protocol, port, name);
 * anything else says what could not be read or evaluated.
 */
import { nameOf, sameId } from '../model/arm-id.ts';
import type { FirewallPolicyObs, FirewallsObs, RuleCollectionGroupObs } from '../model/snapshot.ts';
import { evaluateFirewall, type FirewallDecision, type FirewallRequest } from '../net/firewall.ts';
import type { FlowHop } from '../report/schema.ts';
import type { SubnetContext } from './context.ts';
import { portText, type PortSpec } from './model.ts';
import type { Dest } from './route-hop.ts';

const byPriority = (a: RuleCollectionGroupObs, b: RuleCollectionGroupObs) => a.priority - b.priority;

/** The policy and its base policies, base first, or why one could not be read. */
function policyChain(fw: FirewallsObs, policyId: string): { chain: FirewallPolicyObs[] } | { missing: string; resourceId: string } {
  const chain: FirewallPolicyObs[] = [];
  let id: string | undefined = policyId;
  while (id && chain.length < 8 && !chain.some((p) => sameId(p.id, id))) {
    const current: string = id;
    const entry = fw.policies.find((p) => sameId(p.id, current));
    if (!entry) return { missing: `firewall policy ${nameOf(current)} was not read`, resourceId: current };
    if (!entry.observed.ok) return { missing: `firewall policy ${nameOf(current)} could not be read (${entry.observed.error.message})`, resourceId: current };
    chain.unshift(entry.observed.value);
    id = entry.observed.value.basePolicyId;
  }
  return { chain };
}

function ruleElement(d: FirewallDecision): string | undefined {
  if (!d.ruleCollectionGroup && !d.ruleCollection && !d.rule) return undefined;
  return [d.ruleCollectionGroup && `ruleCollectionGroups/${d.ruleCollectionGroup}`, d.ruleCollection && `ruleCollections/${d.ruleCollection}`, d.rule && `rules/${d.rule}`].filter(Boolean).join('/');
}

export function firewallHop(ctx: SubnetContext, applianceIp: string, dest: Dest, ports: PortSpec[], fqdns: string[]): FlowHop {
  const fw = ctx.snapshot.firewalls;
  const undetermined = (detail: string, reason: 'evidence-missing' | 'not-evaluable', resourceId?: string): FlowHop => ({ kind: 'firewall', ...(resourceId ? { resourceId } : {}), detail, verdict: 'undetermined', reason });
  if (!fw?.ok) return undetermined(`The appliance ${applianceIp} could not be identified: ${fw ? fw.error.message : 'the firewalls probe did not run'}.`, 'evidence-missing');
  const owner = fw.value.appliances.find((a) => a.ip === applianceIp);
  if (!owner || owner.owner === 'none') return undetermined(`Nothing known owns the appliance address ${applianceIp}.`, 'evidence-missing');
  if (owner.owner === 'unknown') return undetermined(`The owner of appliance address ${applianceIp} is unknown: ${owner.why ?? 'part of its subnet could not be checked'}.`, 'evidence-missing');
  if (owner.owner === 'nic') return undetermined(`Appliance NIC ${owner.ownerId ? nameOf(owner.ownerId) : applianceIp} is not an Azure Firewall; its rules cannot be read.`, 'not-evaluable', owner.ownerId);
  const entry = fw.value.firewalls.find((f) => sameId(f.id, owner.ownerId));
  if (!entry) return undetermined(`Azure Firewall ${owner.ownerId ? nameOf(owner.ownerId) : applianceIp} was not read.`, 'evidence-missing', owner.ownerId);
  if (!entry.observed.ok) return undetermined(`Azure Firewall ${nameOf(entry.id)} could not be read (${entry.observed.error.message}).`, 'evidence-missing', entry.id);
  const firewall = entry.observed.value;
  if (!firewall.firewallPolicyId) {
    if (firewall.hasClassicRules) return undetermined(`Azure Firewall ${firewall.name} uses classic rules, which are not evaluated.`, 'not-evaluable', firewall.id);
    return { kind: 'firewall', resourceId: firewall.id, detail: `Azure Firewall ${firewall.name} has no policy and no rules: it denies everything.`, verdict: 'blocked', reason: 'firewall-no-matching-rule' };
  }
  const found = policyChain(fw.value, firewall.firewallPolicyId);
  if ('missing' in found) return undetermined(`Azure Firewall ${firewall.name}: ${found.missing}.`, 'evidence-missing', found.resourceId);
  const groups: RuleCollectionGroupObs[] = [];
  for (const p of found.chain) {
    if (!p.ruleCollectionGroups.ok) return undetermined(`The rule collection groups of firewall policy ${p.name} could not be read (${p.ruleCollectionGroups.error.message}).`, 'evidence-missing', p.id);
    groups.push(...[...p.ruleCollectionGroups.value].sort(byPriority));
  }
  const policy = found.chain[found.chain.length - 1] as FirewallPolicyObs;
  const dnsProxyEnabled = policy.dnsProxyEnabled ?? found.chain.find((p) => p.dnsProxyEnabled !== undefined)?.dnsProxyEnabled;
  const source = ctx.subnetCidr;
  if (!source) return undetermined(`The address range of subnet ${ctx.subnetName} is unknown, so firewall rules cannot be matched.`, 'evidence-missing', policy.id);
  const names = fqdns.length > 0 ? fqdns : [undefined];
  const allowed = new Map<string, { ports: Set<string>; names: Set<string> }>();
  let unsure: { what: string; d: FirewallDecision } | undefined;
  for (const port of ports) {
    for (const fqdn of names) {
      const req: FirewallRequest = { protocol: port.protocol === 'Tcp' ? 'TCP' : 'UDP', port: port.port, source, ...(dest.ip !== undefined ? { destIp: dest.ip } : {}), ...(dest.tag ? { destTag: dest.tag } : {}), ...(fqdn ? { fqdn } : {}) };
      const d = evaluateFirewall({ ...(dnsProxyEnabled !== undefined ? { dnsProxyEnabled } : {}), groups }, req, ctx.tags.index);
      const what = `${portText(port)} to ${fqdn ?? dest.label}`;
      const element = ruleElement(d);
      if (d.verdict === 'blocked') {
        return { kind: 'firewall', resourceId: policy.id, ...(element ? { element } : {}), detail: `Azure Firewall ${firewall.name} (policy ${policy.name}) blocks ${what}: ${d.detail}`, verdict: 'blocked', reason: d.reason === 'firewall-deny' ? 'firewall-deny' : 'firewall-no-matching-rule' };
      }
      if (d.verdict === 'undetermined') unsure ??= { what, d };
      else {
        const key = element ?? d.detail;
        const seen = allowed.get(key) ?? { ports: new Set<string>(), names: new Set<string>() };
        seen.ports.add(portText(port));
        seen.names.add(fqdn ?? dest.label);
        allowed.set(key, seen);
      }
    }
  }
  if (unsure) {
    const element = ruleElement(unsure.d);
    return { kind: 'firewall', resourceId: policy.id, ...(element ? { element } : {}), detail: `Azure Firewall ${firewall.name} (policy ${policy.name}) cannot be decided for ${unsure.what}: ${unsure.d.detail}`, verdict: 'undetermined', reason: 'not-evaluable' };
  }
  const text = [...allowed.entries()].map(([rule, x]) => `${[...x.ports].join(', ')} to ${[...x.names].join(', ')} by ${rule}`).join('; ');
  return { kind: 'firewall', resourceId: policy.id, element: [...allowed.keys()].join(', '), detail: `Azure Firewall ${firewall.name} (policy ${policy.name}) allows ${text}.`, verdict: 'allowed' };
}
