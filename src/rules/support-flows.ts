/**
 * What the flow rules share: reading the flow analysis (managed network, no flows), judging the
 * flows of each compute subnet against a rule's hop reasons (fail per blocking element, pass per
 * subnet, undetermined when a hop that holds the rule's evidence could not be decided), confidence
 * and tier from the flows, parsing a flow's destination and ports, and the NSG / firewall lookups
 * and az command builders the NSG and firewall rules use. Pure functions.
 */
import { analyzeFlows } from '../flows/analyze.ts';
import type { FlowAnalysis, FlowHop, FlowResult, HopKind, HopReason } from '../flows/types.ts';
import { idKey, nameOf, parentId, sameId } from '../model/arm-id.ts';
import { defaultSecurityRules } from '../net/nsg.ts';
import type { FirewallObs, FirewallPolicyObs, NsgObs, SecurityRuleObs, Snapshot, SubnetObs } from '../model/snapshot.ts';
import type { Confidence, Evidence, Tier } from '../report/schema.ts';
import type { FindingDraft, FlowId, RuleContext, RuleResult } from './rule.ts';
import { azScope, isUnknown, listText, undetermined, unknownFrom, valuesByKey, vnetById, workspaceOf } from './support.ts';

// ---------------------------------------------------------------- the analysis and its scope

export interface Hit {
  flow: FlowResult;
  /** The hop that blocks the flow with one of the rule's reasons. */
  hop: FlowHop;
}

export function analysisOf(s: Snapshot, context?: RuleContext): FlowAnalysis {
  return context?.flows ?? analyzeFlows(s);
}

/** Results when the analysis has no compute-subnet flows to judge, else undefined. */
export function outOfScope(s: Snapshot, analysis: FlowAnalysis): RuleResult[] | undefined {
  const ws = workspaceOf(s);
  const wsId = isUnknown(ws) ? s.target.workspaceId : ws.id;
  if (analysis.managedNetwork) {
    return [{ status: 'pass', resourceId: wsId, detail: 'Not applicable: managed virtual network. The computes do not sit in a customer subnet, so its routes, NSGs and firewalls do not apply.' }];
  }
  if (analysis.flows.length > 0) return undefined;
  if (isUnknown(ws)) return [undetermined(ws)];
  if (!s.computes?.ok) return [undetermined(unknownFrom('computes', s.computes, 'the computes'))];
  return [{ status: 'pass', resourceId: wsId, detail: 'Does not apply: no compute in scope sits in a customer virtual network, so there are no subnet flows to trace.' }];
}

export interface FlowJudgeSpec {
  /** Flows the rule judges. */
  flows: readonly FlowId[];
  /** Reasons of a blocked hop that make this rule fail. */
  reasons: readonly HopReason[];
  /** Hop kinds whose `undetermined` verdict hides this rule's evidence. */
  evidenceKinds: readonly HopKind[];
  /** A hop kind the trace must have reached to judge a flow that is not allowed (absent -> undetermined). */
  requiredKind?: HopKind;
  /** What is judged, for undetermined texts ("NSG rules", "egress"). */
  subject: string;
  /** Why healthy flows pass ("no NSG rule denies them"). */
  passes: string;
}

/** Hops of this flow that block it with one of the reasons (every traced hop, not only the first). */
export function blockingHops(flow: FlowResult, reasons: readonly HopReason[]): FlowHop[] {
  return flow.hops.filter((h) => h.verdict === 'blocked' && !!h.reason && reasons.includes(h.reason));
}

/** Why a flow without a hit cannot be judged, or undefined when it can. */
function unknownReason(flow: FlowResult, spec: FlowJudgeSpec): { detail: string; resourceId?: string } | undefined {
  const hidden = flow.hops.find((h) => h.verdict === 'undetermined' && spec.evidenceKinds.includes(h.kind));
  if (hidden) return { detail: `${flow.id}: ${hidden.kind} hop undetermined (${hidden.reason ?? 'no reason given'}): ${hidden.detail}`, resourceId: hidden.resourceId };
  if (spec.requiredKind && flow.verdict !== 'allowed' && !flow.hops.some((h) => h.kind === spec.requiredKind)) {
    const stop = flow.hops.find((h) => h.verdict !== 'allowed');
    return { detail: `${flow.id}: the trace stopped at the ${stop?.kind ?? 'first'} hop (${stop?.reason ?? flow.verdict}: ${stop?.detail ?? 'no detail'}) before the ${spec.requiredKind} hop was evaluated`, resourceId: stop?.resourceId };
  }
  return undefined;
}

export const subnetName = (id: string | undefined) => (id ? nameOf(id) : 'an unknown subnet');

/**
 * Judges every compute subnet's flows: `findings` turns all hits (across subnets) into findings,
 * one per blocking element; subnets with neither hits nor unknowns pass, unknowns become one
 * undetermined result per subnet.
 */
export function judgeFlows(s: Snapshot, context: RuleContext | undefined, spec: FlowJudgeSpec, findings: (hits: Hit[]) => FindingDraft[]): RuleResult[] {
  const analysis = analysisOf(s, context);
  const early = outOfScope(s, analysis);
  if (early) return early;
  const bySubnet = new Map<string, { subnetId: string; flows: FlowResult[] }>();
  for (const f of analysis.flows) {
    const key = idKey(f.subnetId ?? '');
    const g = bySubnet.get(key) ?? { subnetId: f.subnetId ?? '', flows: [] };
    g.flows.push(f);
    bySubnet.set(key, g);
  }
  const hits: Hit[] = [];
  const results: RuleResult[] = [];
  for (const g of valuesByKey(bySubnet)) {
    const name = subnetName(g.subnetId);
    const relevant = g.flows.filter((f) => spec.flows.includes(f.id));
    if (relevant.length === 0) {
      results.push({ status: 'pass', resourceId: g.subnetId, detail: `Does not apply to subnet ${name}: none of the flows ${spec.flows.join(', ')} is traced from it.` });
      continue;
    }
    const unknowns: Array<{ detail: string; resourceId?: string }> = [];
    let hit = false;
    for (const flow of relevant) {
      const hops = blockingHops(flow, spec.reasons);
      hops.forEach((hop) => hits.push({ flow, hop }));
      hit ||= hops.length > 0;
      const u = hops.length === 0 ? unknownReason(flow, spec) : undefined;
      if (u) unknowns.push(u);
    }
    if (unknowns.length > 0) {
      results.push({ status: 'undetermined', item: `${spec.subject} of flows from subnet ${name}`, reason: unknowns.map((u) => u.detail).join('; '), resourceId: unknowns.find((u) => u.resourceId)?.resourceId ?? g.subnetId });
    } else if (!hit) {
      results.push({ status: 'pass', resourceId: g.subnetId, detail: `Flows ${relevant.map((f) => f.id).join(', ')} from subnet ${name}: ${spec.passes}.` });
    }
  }
  return [...findings(hits).map((finding): RuleResult => ({ status: 'fail', finding })), ...results];
}

/** Groups hits by a key, in key order. */
export function groupHits(hits: Hit[], key: (h: Hit) => string): Hit[][] {
  const m = new Map<string, Hit[]>();
  for (const h of hits) m.set(key(h), [...(m.get(key(h)) ?? []), h]);
  return valuesByKey(m);
}

/** The distinct flows of some hits (a flow id per subnet), in order. */
export function flowsOf(hits: Hit[]): FlowResult[] {
  return hits.map((h) => h.flow).filter((f, i, all) => all.indexOf(f) === i);
}

/** A hop's detail inside a sentence (without its closing period). */
export const clause = (text: string) => text.trim().replace(/\.+$/, '');

/** "entra-id: TCP 80 to AzureActiveDirectory is denied by …" for each hit. */
export function hitDetails(hits: Hit[]): string {
  return listText(hits.map((h) => `${h.flow.id}: ${clause(h.hop.detail)}`));
}

export function flowIds(hits: Hit[]): FlowId[] {
  return [...new Set(hits.map((h) => h.flow.id))];
}

/**
 * A standing caveat of every computed flow, not an assumption: the ML nodes' own NIC NSGs could
 * only block more, so a block found in the subnet's configuration stands.
 */
const CAVEATS = [/^NIC-level NSGs of the Azure ML nodes cannot be read/i];
const assumptions = (f: FlowResult) => (f.notes ?? []).filter((n) => !CAVEATS.some((c) => c.test(n)));

/** high: Azure computed the path; medium: computed from configuration without assumptions; low: with assumptions. The best-supported flow decides. */
export function confidenceOf(flows: FlowResult[]): Confidence {
  const score = (f: FlowResult) => (f.source === 'azure' ? 2 : assumptions(f).length === 0 ? 1 : 0);
  const best = Math.max(...flows.map(score));
  return best === 2 ? 'high' : best === 1 ? 'medium' : 'low';
}

/** Tier 1 when a broken flow is on the auth path, else 2. */
export function tierOf(flows: FlowResult[]): Tier {
  return flows.some((f) => f.authPath) ? 1 : 2;
}

export function subnetSubjects(hits: Hit[]): string[] {
  return [...new Set(hits.flatMap((h) => (h.flow.subnetId ? [`subnet:${idKey(h.flow.subnetId)}`] : [])))];
}

/** "entra-id (TCP 80, TCP 443 to login.microsoftonline.com (AzureActiveDirectory))". */
export function flowText(f: FlowResult): string {
  return `${f.id} (${f.ports.join(', ')} ${f.direction === 'inbound' ? '' : 'to '}${f.destination})`;
}

/** "Compute ci-alice in subnet snet-compute needs" / "Computes a and b in subnets x and y need". */
export function whoNeeds(flows: FlowResult[]): string {
  const names = [...new Set(flows.flatMap((f) => f.computes))].sort();
  const subnets = [...new Set(flows.map((f) => subnetName(f.subnetId)))].sort();
  const who = names.length ? `${names.length > 1 ? 'Computes' : 'Compute'} ${listText(names)}` : 'The computes';
  return `${who} in subnet${subnets.length > 1 ? 's' : ''} ${listText(subnets)} need${names.length === 1 ? 's' : ''}`;
}

export function flowEvidence(h: Hit): Evidence {
  return {
    resourceId: h.flow.subnetId,
    property: `flow ${h.flow.id} from ${subnetName(h.flow.subnetId)} (${h.flow.source === 'azure' ? 'effective configuration read from Azure' : 'computed from configuration'})`,
    observed: `blocked at the ${h.hop.kind} hop${h.hop.element ? ` by ${h.hop.element}` : ''}: ${h.hop.detail}`,
    expected: `${h.flow.ports.join(', ')} ${h.flow.direction === 'inbound' ? '' : 'to '}${h.flow.destination} allowed`,
  };
}

/** The re-check every flow finding ends with. */
export function rerun(flows: FlowId[]): string {
  return `run aml-netdoctor again: flow${flows.length > 1 ? 's' : ''} ${flows.join(', ')} must be allowed.`;
}

// ---------------------------------------------------------------- what a flow goes to

const TAG = /\b(?:AzureActiveDirectory|AzureResourceManager|AzureFrontDoor\.FirstParty|(?:AzureMachineLearning|Storage|AzureKeyVault|AzureContainerRegistry|MicrosoftContainerRegistry|BatchNodeManagement)(?:\.[a-z0-9]+)?)\b/g;
const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?\b/g;
const FQDN = /(?<![\w.-])(?:[a-z0-9-]+\.)+[a-z]{2,}(?![\w.-])/g;

export interface Destination {
  /** Addresses (private endpoint IPs). */
  ips: string[];
  /** Service tags. */
  tags: string[];
  fqdns: string[];
}

/** Addresses, service tags and names a flow's destination text carries (src/flows/catalogue.ts writes it). */
export function destinationOf(flow: FlowResult): Destination {
  const text = flow.destination;
  const ips = [...new Set(text.match(IPV4) ?? [])];
  const tags = [...new Set(text.match(TAG) ?? [])];
  const fqdns = [...new Set(text.match(FQDN) ?? [])];
  return { ips, tags, fqdns };
}

export interface PortGroup {
  protocol: 'Tcp' | 'Udp' | '*';
  ports: string[];
}

/** "TCP 443", "TCP 18881", "UDP 5831" -> Tcp [443, 18881], Udp [5831]. */
export function portGroups(flow: FlowResult): PortGroup[] {
  const groups: PortGroup[] = [];
  for (const p of flow.ports) {
    const m = /^\s*(tcp|udp|any|\*)\s+(\S+)\s*$/i.exec(p);
    if (!m) continue;
    const word = (m[1] as string).toLowerCase();
    const protocol = word === 'tcp' ? 'Tcp' : word === 'udp' ? 'Udp' : '*';
    let g = groups.find((x) => x.protocol === protocol);
    if (!g) groups.push((g = { protocol, ports: [] }));
    if (!g.ports.includes(m[2] as string)) g.ports.push(m[2] as string);
  }
  return groups;
}

/** `entra-id` -> `EntraId`. */
export function pascal(id: string): string {
  return id.split(/[^a-z0-9]+/i).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

// ---------------------------------------------------------------- snapshot lookups

export function subnetOf(s: Snapshot, subnetId: string | undefined): SubnetObs | undefined {
  if (!subnetId) return undefined;
  const vnet = vnetById(s, parentId(subnetId));
  return isUnknown(vnet) ? undefined : vnet.subnets.find((x) => sameId(x.id, subnetId));
}

/** The compute subnets' address prefixes (for source addresses), or a placeholder. */
export function sourcePrefixes(s: Snapshot, flows: FlowResult[]): string[] {
  const prefixes = [...new Set(flows.flatMap((f) => subnetOf(s, f.subnetId)?.addressPrefixes ?? []))];
  return prefixes.length ? prefixes : ['<compute subnet prefix>'];
}

/** An NSG as configured, else as the vantage NIC's effective NSGs show it. */
export function nsgOf(s: Snapshot, nsgId: string): NsgObs | undefined {
  const configured = s.subnetPolicies?.ok ? s.subnetPolicies.value.nsgs.find((n) => sameId(n.id, nsgId)) : undefined;
  if (configured?.observed.ok) return configured.observed.value;
  if (!s.vantage?.ok) return undefined;
  for (const sub of s.vantage.value.subnets) {
    const eff = sub.vantage?.effectiveNsgs;
    const found = eff?.ok ? eff.value.find((e) => sameId(e.networkSecurityGroupId, nsgId)) : undefined;
    if (found) return { id: nsgId, name: nameOf(nsgId), rules: found.rules };
  }
  return undefined;
}

const bareRuleName = (name: string) => name.replace(/^(default)?securityRules\//i, '');

/** `securityRules/DenyInternet (priority 4000)` -> { name: 'DenyInternet', priority: 4000 }. */
export function parseNsgElement(element: string | undefined): { name?: string; priority?: number } {
  const text = element ?? '';
  const name = /^(?:(?:default)?securityRules\/)?([^\s(]+)/i.exec(text.trim())?.[1];
  const priority = /priority\s+(\d+)/i.exec(text)?.[1];
  return { ...(name ? { name } : {}), ...(priority ? { priority: Number(priority) } : {}) };
}

/** The rule by name; Azure's defaults when the NSG as read has none (the engine appends them then). */
export function findNsgRule(nsg: NsgObs | undefined, name: string | undefined): SecurityRuleObs | undefined {
  if (!name) return undefined;
  const rules = nsg?.rules.some((r) => r.isDefault) ? nsg.rules : [...(nsg?.rules ?? []), ...defaultSecurityRules()];
  return rules.find((r) => bareRuleName(r.name).toLowerCase() === name.toLowerCase());
}

/** `count` free priorities below `below` (highest first), custom range 100-4096. */
export function freePriorities(used: number[], below: number, count: number): number[] {
  const out: number[] = [];
  for (let p = Math.min(below - 1, 4096); p >= 100 && out.length < count; p--) if (!used.includes(p)) out.push(p);
  return out;
}

export interface AllowRule {
  name: string;
  direction: 'Inbound' | 'Outbound';
  protocol: PortGroup['protocol'];
  sources?: string[];
  destinations: string[];
  ports: string[];
}

export function nsgRuleCreate(nsgId: string, rule: AllowRule, priority: number | string): string {
  return [
    `az network nsg rule create ${azScope(nsgId)} --nsg-name ${nameOf(nsgId)} --name ${rule.name} --priority ${priority}`,
    `--direction ${rule.direction} --access Allow --protocol ${rule.protocol === '*' ? '"*"' : rule.protocol}`,
    ...(rule.sources ? [`--source-address-prefixes ${rule.sources.join(' ')}`] : []),
    `--destination-address-prefixes ${rule.destinations.join(' ')} --destination-port-ranges ${rule.ports.join(' ')}`,
  ].join(' ');
}

function ruleSummary(r: SecurityRuleObs): string {
  const dest = (r.destinationAddressPrefixes.join(', ') || '*') + ` ports ${r.destinationPortRanges.join(', ') || '*'}`;
  return `${r.access} ${r.direction} priority ${r.priority} protocol ${r.protocol} from ${r.sourceAddressPrefixes.join(', ') || '*'} to ${dest}`;
}

/** Words a rule file gives the NSG finding. */
export interface NsgText {
  /** Why these flows matter (the effect of the block), after the facts. */
  impact: (flows: FlowResult[]) => string;
  /** The rule's tier depends on the flow (meta.tier 1): set each finding's tier from its flows. */
  tierByFlow?: boolean;
}

/** One finding per NSG rule that blocks flows: the allow rules to add, below the blocking rule's priority. */
export function nsgFindings(s: Snapshot, hits: Hit[], text: NsgText): FindingDraft[] {
  return groupHits(hits, (h) => `${idKey(h.hop.resourceId ?? '')}|${(h.hop.element ?? '').toLowerCase()}`).map((group) => nsgFinding(s, group, text));
}

function allowRulesFor(s: Snapshot, hit: Hit, direction: 'Inbound' | 'Outbound'): AllowRule[] {
  const f = hit.flow;
  const d = destinationOf(f);
  const groups = portGroups(f);
  const base = `Allow${pascal(f.id)}${direction}`;
  const named = (g: PortGroup) => (groups.length > 1 ? `${base}${g.protocol === '*' ? 'Any' : g.protocol}` : base);
  if (f.direction === 'inbound') return groups.map((g) => ({ name: named(g), direction, protocol: g.protocol, sources: d.tags.length ? d.tags : ['AzureMachineLearning'], destinations: ['VirtualNetwork'], ports: g.ports }));
  const destinations = d.ips.length ? d.ips : d.tags.length ? d.tags : ['<destination>'];
  // Inbound on the private endpoint's subnet: the source is the compute subnet.
  const sources = direction === 'Inbound' ? sourcePrefixes(s, [f]) : undefined;
  return groups.map((g) => ({ name: named(g), direction, protocol: g.protocol, ...(sources ? { sources } : {}), destinations, ports: g.ports }));
}

function nsgFinding(s: Snapshot, hits: Hit[], text: NsgText): FindingDraft {
  const first = hits[0] as Hit;
  const compute = subnetOf(s, first.flow.subnetId);
  const nsgId = first.hop.resourceId ?? compute?.networkSecurityGroupId ?? `${first.flow.subnetId ?? ''} (NSG id not reported)`;
  const nsg = nsgOf(s, nsgId);
  const parsed = parseNsgElement(first.hop.element);
  const blocking = findNsgRule(nsg, parsed.name);
  const priority = blocking?.priority ?? parsed.priority;
  const onComputeSubnet = sameId(compute?.networkSecurityGroupId, nsgId);
  const direction = blocking?.direction ?? (first.flow.direction === 'inbound' || (!onComputeSubnet && !!compute?.networkSecurityGroupId) ? 'Inbound' : 'Outbound');
  const flows = flowsOf(hits);
  const ruleName = parsed.name ?? first.hop.element ?? 'an unnamed rule';

  // One allow rule per distinct (name, protocol, sources, destinations, ports), names unique in the NSG.
  const allows: AllowRule[] = [];
  const taken = new Set((nsg?.rules ?? []).map((r) => bareRuleName(r.name).toLowerCase()));
  for (const h of hits) {
    for (const r of allowRulesFor(s, h, direction)) {
      const sig = JSON.stringify({ ...r, name: '' });
      if (allows.some((a) => JSON.stringify({ ...a, name: '' }) === sig)) continue;
      let name = r.name;
      for (let i = 2; taken.has(name.toLowerCase()); i++) name = `${r.name}${i}`;
      taken.add(name.toLowerCase());
      allows.push({ ...r, name });
    }
  }
  const used = (nsg?.rules ?? []).filter((r) => r.direction === direction).map((r) => r.priority);
  const free = freePriorities(used, priority ?? 4097, allows.length);
  const tight = free.length < allows.length;
  const azCli = allows.map((a, i) => nsgRuleCreate(nsgId, a, free[i] ?? `<free priority below ${priority ?? 'the blocking rule'}>`));

  const sideText = direction === 'Inbound' && first.flow.direction === 'outbound' ? ` on the destination side (inbound to the private endpoint's subnet, whose privateEndpointNetworkPolicies apply NSGs)` : '';
  const explanation =
    `${whoNeeds(flows)} ${listText(flows.map(flowText))}. ` +
    `NSG ${nameOf(nsgId)}${sideText} has rule ${ruleName} (${blocking ? ruleSummary(blocking) : `priority ${priority ?? 'unknown'}`}), which denies ${flows.length > 1 ? 'these flows' : 'this flow'} before any rule allows ${flows.length > 1 ? 'them' : 'it'}: ${hitDetails(hits)}. ` +
    text.impact(flows);

  const evidence: Evidence[] = [
    {
      resourceId: nsgId,
      property: `properties.${blocking?.isDefault ? 'defaultSecurityRules' : 'securityRules'}[${ruleName}]`,
      observed: blocking ? ruleSummary(blocking) : (first.hop.element ?? 'a deny rule'),
      expected: `an Allow rule with a lower priority number for ${listText(flows.map((f) => f.id))}`,
    },
    ...hits.map(flowEvidence),
  ];
  const flowList = flowIds(hits);
  return {
    resourceId: nsgId,
    confidence: confidenceOf(flows),
    explanation,
    evidence,
    remediation: {
      summary:
        `Add ${allows.length > 1 ? `${allows.length} Allow rules` : 'an Allow rule'} to NSG ${nameOf(nsgId)} with ${allows.length > 1 ? 'priorities' : 'a priority'} lower than ${ruleName}${priority !== undefined ? ` (${priority})` : ''} so ${listText(flowList)} ${flowList.length > 1 ? 'are' : 'is'} allowed before the deny is reached; keep the deny for everything else.` +
        (tight ? ` There are not enough free priorities below ${priority}: first move ${ruleName} to a higher number (az network nsg rule update ${azScope(nsgId)} --nsg-name ${nameOf(nsgId)} --name ${ruleName} --priority <higher free number>).` : ''),
      azCli,
      verify: `az network nsg rule list ${azScope(nsgId)} --nsg-name ${nameOf(nsgId)} --include-default --query "sort_by([?direction=='${direction}'], &priority)[].{name:name, priority:priority, access:access, to:destinationAddressPrefix, ports:destinationPortRanges}" -o table lists the new Allow rules above ${ruleName}; then ${rerun(flowList)}`,
    },
    subjects: [`nsg:${idKey(nsgId)}`, ...subnetSubjects(hits)],
    flows: flowList,
    ...(text.tierByFlow ? { tier: tierOf(flows) } : {}),
  };
}

/** `"<route> <prefix> -> <nextHopType> [<ip>] (<route table | system route>)"`. */
export function parseRouteElement(element: string | undefined): { name?: string; prefix?: string; nextHopType?: string; ip?: string } {
  const m = /^(\S+)\s+(\S+)\s+->\s+(\S+)(?:\s+(\d{1,3}(?:\.\d{1,3}){3}))?/.exec((element ?? '').trim());
  if (!m) return {};
  return { name: m[1] as string, prefix: m[2] as string, nextHopType: m[3] as string, ...(m[4] ? { ip: m[4] } : {}) };
}

// ---------------------------------------------------------------- firewalls

export function firewallOf(s: Snapshot, id: string): FirewallObs | undefined {
  const e = s.firewalls?.ok ? s.firewalls.value.firewalls.find((f) => sameId(f.id, id)) : undefined;
  return e?.observed.ok ? e.observed.value : undefined;
}

export function policyOf(s: Snapshot, id: string | undefined): FirewallPolicyObs | undefined {
  if (!id) return undefined;
  const e = s.firewalls?.ok ? s.firewalls.value.policies.find((p) => sameId(p.id, id)) : undefined;
  return e?.observed.ok ? e.observed.value : undefined;
}

/** A firewall hop names the policy (or the firewall): the policy id either way. */
export function policyIdOfHop(s: Snapshot, hop: FlowHop): string | undefined {
  if (!hop.resourceId) return undefined;
  if (/\/azureFirewalls\//i.test(hop.resourceId)) return firewallOf(s, hop.resourceId)?.firewallPolicyId ?? hop.resourceId;
  return hop.resourceId;
}

/** The private IP of the first readable Azure Firewall, for route fixes. */
export function firewallIp(s: Snapshot): string | undefined {
  if (!s.firewalls?.ok) return undefined;
  for (const f of s.firewalls.value.firewalls) if (f.observed.ok && f.observed.value.privateIpAddresses[0]) return f.observed.value.privateIpAddresses[0];
  return undefined;
}
