/**
 * NSG hops (flows-semantics §2.3): every NSG that applies to the compute side (the subnet's NSG
 * from configuration, or each effective NSG of the vantage NIC), and the destination side of a
 * private endpoint whose subnet applies NSGs to endpoints. Each port of the flow is evaluated; the
 * first denied port blocks.
 */
import type { SecurityRuleObs } from '../model/snapshot.ts';
import type { Endpoint, NsgDecision, Packet } from '../net/nsg.ts';
import type { FlowHop } from '../report/schema.ts';
import { destinationNsg, isMissing, type NsgEval, type SubnetContext } from './context.ts';
import { portText, type PortSpec } from './model.ts';

/** `securityRules/AllowAad (priority 100)`; effective rules already carry their collection. */
export function ruleElement(rule: SecurityRuleObs): string {
  const name = rule.name.includes('/') ? rule.name : `${rule.isDefault ? 'defaultSecurityRules' : 'securityRules'}/${rule.name}`;
  return `${name} (priority ${rule.priority})`;
}

/** One NSG, every port: blocked at the first denied port, undetermined if a port cannot be decided. */
export function nsgHop(nsg: NsgEval, packets: Array<{ port: PortSpec; packet: Packet }>, what: string): FlowHop {
  const base = { kind: 'nsg' as const, ...(nsg.id ? { resourceId: nsg.id } : {}) };
  const allowed: Array<{ port: PortSpec; d: NsgDecision }> = [];
  let unsure: { port: PortSpec; d: NsgDecision } | undefined;
  for (const { port, packet } of packets) {
    const d = nsg.evaluate(packet);
    if (d.verdict === 'blocked') {
      const element = d.rule ? ruleElement(d.rule) : undefined;
      return { ...base, ...(element ? { element } : {}), detail: `${portText(port)} ${what} is denied by ${element ?? 'a rule'} of NSG ${nsg.name}.`, verdict: 'blocked', reason: 'nsg-deny' };
    }
    if (d.verdict === 'undetermined') unsure ??= { port, d };
    else allowed.push({ port, d });
  }
  if (unsure) {
    const element = unsure.d.rule ? ruleElement(unsure.d.rule) : undefined;
    return { ...base, ...(element ? { element } : {}), detail: `NSG ${nsg.name} cannot be decided for ${portText(unsure.port)} ${what}: ${unsure.d.detail}`, verdict: 'undetermined', reason: 'not-evaluable' };
  }
  const byRule = new Map<string, string[]>();
  for (const a of allowed) {
    const key = a.d.rule ? ruleElement(a.d.rule) : a.d.detail;
    byRule.set(key, [...(byRule.get(key) ?? []), portText(a.port)]);
  }
  const elements = [...byRule.keys()];
  const text = [...byRule.entries()].map(([rule, ports]) => `${ports.join(', ')} by ${rule}`).join('; ');
  return { ...base, element: elements.join(', '), detail: `NSG ${nsg.name} allows ${what}: ${text}.`, verdict: 'allowed' };
}

/** The compute side: outbound to `destination`, or inbound from `source` (aml-inbound). */
export function sourceNsgHops(ctx: SubnetContext, ports: PortSpec[], direction: 'Outbound' | 'Inbound', other: Endpoint, otherLabel: string): FlowHop[] {
  const nsgs = ctx.nsgs;
  if (isMissing(nsgs)) return [{ kind: 'nsg', ...(nsgs.resourceId ? { resourceId: nsgs.resourceId } : {}), detail: `The NSG rules that apply to subnet ${ctx.subnetName} are unknown: ${nsgs.missing}.`, verdict: 'undetermined', reason: 'evidence-missing' }];
  if (nsgs.length === 0) {
    const detail = ctx.source === 'azure' ? `No NSG applies to the vantage VM's network interface or to subnet ${ctx.subnetName}.` : `No NSG on subnet ${ctx.subnetName}.`;
    return [{ kind: 'nsg', ...(isMissing(ctx.subnet) ? {} : { resourceId: ctx.subnet.id }), detail, verdict: 'allowed' }];
  }
  if (!ctx.subnetCidr) return [{ kind: 'nsg', resourceId: ctx.subnetId, detail: `The address range of subnet ${ctx.subnetName} is unknown, so its NSG rules cannot be matched.`, verdict: 'undetermined', reason: 'evidence-missing' }];
  const subnet: Endpoint = { cidr: ctx.subnetCidr };
  const packets = ports.map((port) => ({
    port,
    packet: { direction, protocol: port.protocol, source: direction === 'Outbound' ? subnet : other, destination: direction === 'Outbound' ? other : subnet, port: port.port } satisfies Packet,
  }));
  const what = direction === 'Outbound' ? `to ${otherLabel}` : `from ${otherLabel}`;
  return nsgs.map((nsg) => nsgHop(nsg, packets, what));
}

/** The destination side of a private endpoint: inbound on its subnet's NSG when network policies apply it. */
export function endpointNsgHops(ctx: SubnetContext, peSubnetId: string | undefined, ip: number, ipLabel: string, ports: PortSpec[]): FlowHop[] {
  const found = destinationNsg(ctx.snapshot, ctx.prim, peSubnetId, ctx.tags);
  if (isMissing(found)) {
    return [{ kind: 'nsg', ...(found.resourceId ?? peSubnetId ? { resourceId: (found.resourceId ?? peSubnetId) as string } : {}), detail: `Whether an NSG guards the private endpoint ${ipLabel} is unknown: ${found.missing}.`, verdict: 'undetermined', reason: 'evidence-missing' }];
  }
  if (!found.nsg) return [];
  if (!ctx.subnetCidr) return [{ kind: 'nsg', ...(found.nsg.id ? { resourceId: found.nsg.id } : {}), detail: `The address range of subnet ${ctx.subnetName} is unknown, so NSG ${found.nsg.name} of the endpoint's subnet cannot be matched.`, verdict: 'undetermined', reason: 'evidence-missing' }];
  const packets = ports.map((port) => ({
    port,
    packet: { direction: 'Inbound', protocol: port.protocol, source: { cidr: ctx.subnetCidr }, destination: { ip }, port: port.port } satisfies Packet,
  }));
  return [nsgHop(found.nsg, packets, `inbound to the private endpoint ${ipLabel} from subnet ${ctx.subnetName}`)];
}
