/**
 * What the flow rules share: reading the flow analysis (managed network, no flows), judging the
 * flows of each compute subnet against a rule's hop reasons (fail per blocking element, pass per
 * subnet, undetermined when a hop that holds the rule's evidence could not be decided), confidence
 * and tier from the flows, parsing a flow's destination and ports, the NSG / firewall / route
 * lookups, and the az commands, Bicep snippets (through support-bicep.ts) and verify texts the
 * NSG, route and firewall rules use. Pure functions.
 */
import { analyzeFlows } from '../flows/analyze.ts';
import type { FlowAnalysis, FlowHop, FlowResult, HopKind, HopReason } from '../flows/types.ts';
import { idKey, nameOf, parentId, sameId, tryParseArmId } from '../model/arm-id.ts';
import { defaultSecurityRules } from '../net/nsg.ts';
import type { FirewallObs, FirewallPolicyObs, FirewallsObs, NetworkRuleObs, NsgObs, RouteTableObs, SecurityRuleObs, Snapshot, SubnetObs, VantageObs } from '../model/snapshot.ts';
import type { Confidence, Evidence, Tier } from '../report/schema.ts';
import type { FindingDraft, FlowId, RuleContext, RuleResult } from './rule.ts';
import { bicepResource, bicepSnippet, raw, type BicepValue } from './support-bicep.ts';
import { azScope, isUnknown, listText, undetermined, unknownFrom, valuesByKey, vnetById, workspaceOf, type Unknown } from './support.ts';

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

// ---------------------------------------------------------------- verify and Bicep

/** The step every verify ends with. */
export const RECHECK = 'then run aml-netdoctor recheck <report.json>.';

/** `<command> should print <expected> (flow x must be allowed after the fix); then run aml-netdoctor recheck <report.json>.` */
export function verifyText(command: string, expected: string, flows: readonly FlowId[]): string {
  const must = flows.length ? ` (flow${flows.length > 1 ? 's' : ''} ${flows.join(', ')} must be allowed after the fix)` : '';
  return `${command} should print ${expected}${must}; ${RECHECK}`;
}

/** A snippet deployed to the resource group of the first parseable id (the changed resource), else the workspace's. */
export function snippetIn(s: Snapshot, where: ReadonlyArray<string | undefined>, declarations: string[], note?: string): string {
  return bicepSnippet(where.find((id) => !!tryParseArmId(id)) ?? s.target.workspaceId, declarations, note);
}

const BICEP_KEYWORDS = new Set(['resource', 'module', 'param', 'var', 'output', 'existing', 'if', 'for', 'in', 'true', 'false', 'null', 'import', 'metadata', 'type', 'func', 'targetScope', 'using', 'with', 'as']);

/** Hands out unique Bicep symbols: `AllowEntraIdOutbound` -> `allowEntraIdOutbound`. */
export function bicepSymbols(): (name: string) => string {
  const taken = new Set<string>();
  return (name) => {
    const words = name.split(/[^A-Za-z0-9]+/).filter(Boolean);
    let base = words.map((w, i) => (i === 0 ? w.charAt(0).toLowerCase() : w.charAt(0).toUpperCase()) + w.slice(1)).join('') || 'res';
    if (/^[0-9]/.test(base)) base = `r${base}`;
    let symbol = base;
    for (let i = 2; taken.has(symbol) || BICEP_KEYWORDS.has(symbol); i++) symbol = `${base}${i}`;
    taken.add(symbol);
    return symbol;
  };
}

/** The vantage NIC of a compute subnet, when it has a real NIC id the user can query. */
export function vantageOf(s: Snapshot, subnetId: string | undefined): VantageObs | undefined {
  if (!subnetId || !s.vantage?.ok) return undefined;
  const v = s.vantage.value.subnets.find((x) => sameId(x.subnetId, subnetId))?.vantage;
  return v && tryParseArmId(v.nicId) ? v : undefined;
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

/**
 * The allow rules one blocked flow needs. Azure accepts a service tag only as a rule's single
 * source or destination (never inside a prefix list), so a flow to several tags gets one rule per tag.
 */
function allowRulesFor(s: Snapshot, hit: Hit, direction: 'Inbound' | 'Outbound'): AllowRule[] {
  const f = hit.flow;
  const d = destinationOf(f);
  const groups = portGroups(f);
  const base = `Allow${pascal(f.id)}${direction}`;
  const named = (g: PortGroup) => (groups.length > 1 ? `${base}${g.protocol === '*' ? 'Any' : g.protocol}` : base);
  const perTag = (tags: string[]) => (tags.length > 1 ? tags.map((t) => ({ suffix: pascal(t), values: [t] })) : [{ suffix: '', values: tags }]);
  if (f.direction === 'inbound') {
    const sources = perTag(d.tags.length ? d.tags : ['AzureMachineLearning']);
    return groups.flatMap((g) => sources.map((src) => ({ name: `${named(g)}${src.suffix}`, direction, protocol: g.protocol, sources: src.values, destinations: ['VirtualNetwork'], ports: g.ports })));
  }
  const destinations = d.ips.length ? [{ suffix: '', values: d.ips }] : d.tags.length ? perTag(d.tags) : [{ suffix: '', values: ['<destination>'] }];
  // Inbound on the private endpoint's subnet: the source is the compute subnet.
  const sources = direction === 'Inbound' ? sourcePrefixes(s, [f]) : undefined;
  return groups.flatMap((g) => destinations.map((dst) => ({ name: `${named(g)}${dst.suffix}`, direction, protocol: g.protocol, ...(sources ? { sources } : {}), destinations: dst.values, ports: g.ports })));
}

/** One `securityRules` child: a single value goes into the singular property (the only place a service tag is accepted). */
function securityRuleBody(rule: AllowRule, priority: number | string, flows: FlowId[]): { [key: string]: BicepValue } {
  const one = (side: 'source' | 'destination', values: string[]): { [key: string]: BicepValue } =>
    values.length === 1 ? { [`${side}AddressPrefix`]: values[0] as string } : { [`${side}AddressPrefixes`]: values };
  return {
    properties: {
      // Azure caps a rule description at 140 characters.
      description: `Allows ${flows.join(', ')} for Azure Machine Learning (aml-netdoctor)`.slice(0, 140),
      protocol: rule.protocol,
      ...one('source', rule.sources ?? ['*']),
      sourcePortRange: '*',
      ...one('destination', rule.destinations),
      ...(rule.ports.length === 1 ? { destinationPortRange: rule.ports[0] as string } : { destinationPortRanges: rule.ports }),
      access: 'Allow',
      priority: typeof priority === 'number' ? priority : raw(`0 // ${priority}: set a free priority before deploying`),
      direction: rule.direction,
    },
  };
}

interface PlannedRule extends AllowRule {
  flows: FlowId[];
  priority: number | string;
}

/** The Bicep form of the allow rules: `securityRules` children of the existing NSG. */
function nsgBicep(s: Snapshot, nsgId: string, rules: PlannedRule[], blocking: string, tight: boolean): string {
  const symbol = bicepSymbols();
  const nsgSymbol = symbol('nsg');
  const note = [
    `Adds ${rules.length > 1 ? `${rules.length} Allow rules` : 'an Allow rule'} to NSG ${nameOf(nsgId)}, evaluated before ${blocking}.`,
    `If NSG ${nameOf(nsgId)} is itself declared in a template with inline securityRules, add the rules there instead: the next deployment of that template deletes rules it does not list.`,
    ...(tight ? [`No free priority is left below ${blocking}: move it to a higher number first, then set the priorities marked below.`] : []),
  ];
  return snippetIn(
    s,
    [nsgId],
    [
      bicepResource({ symbol: nsgSymbol, type: 'Microsoft.Network/networkSecurityGroups', name: nameOf(nsgId), existing: true }),
      ...rules.map((r) => bicepResource({ symbol: symbol(r.name), type: 'Microsoft.Network/networkSecurityGroups/securityRules', name: r.name, parent: nsgSymbol, body: securityRuleBody(r, r.priority, r.flows) })),
    ],
    note.join('\n'),
  );
}

/**
 * How to see the new rules take effect: the vantage NIC's effective rules when that NIC sees this
 * NSG, else the NSG's rules in evaluation order.
 */
function nsgVerify(s: Snapshot, nsgId: string, subnetId: string | undefined, rules: PlannedRule[], direction: string, blocking: string, blockingPriority: number | undefined, flows: FlowId[]): string {
  const v = vantageOf(s, subnetId);
  const seesNsg = !!v?.effectiveNsgs.ok && v.effectiveNsgs.value.some((e) => sameId(e.networkSecurityGroupId, nsgId));
  if (v && seesNsg) {
    const filter = rules.map((r) => `name=='securityRules/${r.name}'`).join(' || ');
    return verifyText(
      `az network nic list-effective-nsg --ids ${v.nicId} --query "value[].effectiveSecurityRules[] | [?${filter}].[name, access]" -o tsv`,
      rules.length > 1 ? `one line per new rule, each ending in Allow: ${listText(rules.map((r) => `securityRules/${r.name}`))}` : `securityRules/${(rules[0] as PlannedRule).name} followed by Allow`,
      flows,
    );
  }
  const byPriority = [...rules].sort((a, b) => (typeof a.priority === 'number' && typeof b.priority === 'number' ? a.priority - b.priority : 0));
  const order = byPriority.map((r) => `${r.priority} ${r.name} Allow`).join(', ');
  return verifyText(
    `az network nsg rule list ${azScope(nsgId)} --nsg-name ${nameOf(nsgId)} --include-default --query "sort_by([?direction=='${direction}'], &priority)[].[priority, name, access]" -o tsv`,
    `${order} on lines above ${blockingPriority ?? ''} ${blocking} Deny`.replace(/\s+/g, ' '),
    flows,
  );
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

  // One allow rule per distinct (protocol, sources, destinations, ports), names unique in the NSG.
  const allows: Array<AllowRule & { flows: FlowId[] }> = [];
  const taken = new Set((nsg?.rules ?? []).map((r) => bareRuleName(r.name).toLowerCase()));
  for (const h of hits) {
    for (const r of allowRulesFor(s, h, direction)) {
      const sig = JSON.stringify({ ...r, name: '' });
      const same = allows.find((a) => JSON.stringify({ ...a, name: '', flows: undefined }) === sig);
      if (same) {
        if (!same.flows.includes(h.flow.id)) same.flows.push(h.flow.id);
        continue;
      }
      let name = r.name;
      for (let i = 2; taken.has(name.toLowerCase()); i++) name = `${r.name}${i}`;
      taken.add(name.toLowerCase());
      allows.push({ ...r, name, flows: [h.flow.id] });
    }
  }
  const used = (nsg?.rules ?? []).filter((r) => r.direction === direction).map((r) => r.priority);
  const free = freePriorities(used, priority ?? 4097, allows.length);
  const tight = free.length < allows.length;
  const planned: PlannedRule[] = allows.map((a, i) => ({ ...a, priority: free[i] ?? `<free priority below ${priority ?? 'the blocking rule'}>` }));
  const azCli = planned.map(({ flows: _flows, priority: p, ...a }) => nsgRuleCreate(nsgId, a, p));

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
      bicep: nsgBicep(s, nsgId, planned, `${ruleName}${priority !== undefined ? ` (priority ${priority})` : ''}`, tight),
      verify: nsgVerify(s, nsgId, first.flow.subnetId, planned, direction, ruleName, priority, flowList),
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

/** The firewalls (as read) that use a policy. */
export function firewallsUsing(s: Snapshot, policyId: string): FirewallObs[] {
  if (!s.firewalls?.ok) return [];
  return s.firewalls.value.firewalls.flatMap((f) => (f.observed.ok && sameId(f.observed.value.firewallPolicyId, policyId) ? [f.observed.value] : []));
}

export interface FirewallPolicyDecl {
  symbol: string;
  name: string;
  location?: string;
  /** The firewall's SKU tier: a policy must have the tier of the firewalls that use it. */
  tier?: string;
  basePolicyId?: string;
  threatIntelMode?: string;
  dnsProxy?: boolean;
}

/** A whole `firewallPolicies` resource (a deployment sets every top-level property it lists, and resets the others). */
export function firewallPolicyResource(d: FirewallPolicyDecl): string {
  return bicepResource({
    symbol: d.symbol,
    type: 'Microsoft.Network/firewallPolicies',
    name: d.name,
    body: {
      location: d.location ?? '<region of the firewall>',
      properties: {
        sku: { tier: d.tier ?? 'Standard' },
        basePolicy: d.basePolicyId ? { id: d.basePolicyId } : undefined,
        threatIntelMode: d.threatIntelMode,
        dnsSettings: d.dnsProxy ? { enableProxy: true } : undefined,
      },
    },
  });
}

// ---------------------------------------------------------------- FQDN network rules and the DNS proxy

export interface FqdnRule {
  policy: FirewallPolicyObs;
  group: string;
  collection: string;
  rule: NetworkRuleObs;
}

/** A policy's entry in the firewalls probe (read or not). */
export function policyEntry(fw: FirewallsObs, id: string) {
  return fw.policies.find((p) => sameId(p.id, id));
}

/**
 * FQDN network rules of the policy and its base policies, and the DNS proxy setting in force (the
 * policy's own, else the nearest base policy's), or why they cannot be read.
 */
export function fqdnNetworkRules(fw: FirewallsObs, policy: FirewallPolicyObs): { rules: FqdnRule[]; proxy: boolean | undefined } | Unknown {
  const out: FqdnRule[] = [];
  let proxy: boolean | undefined;
  const seen = new Set<string>();
  for (let p: FirewallPolicyObs | undefined = policy; p && !seen.has(idKey(p.id)); ) {
    seen.add(idKey(p.id));
    proxy ??= p.dnsProxyEnabled;
    if (!p.ruleCollectionGroups.ok) return { unknown: true, item: `rule collection groups of firewall policy ${p.name}`, reason: p.ruleCollectionGroups.error.message, resourceId: p.id };
    for (const g of p.ruleCollectionGroups.value) {
      for (const c of g.ruleCollections) {
        for (const r of c.rules) if (r.ruleType === 'NetworkRule' && (r as NetworkRuleObs).destinationFqdns.length > 0) out.push({ policy: p, group: g.name, collection: c.name, rule: r as NetworkRuleObs });
      }
    }
    const base: string | undefined = p.basePolicyId;
    if (!base) break;
    const entry = policyEntry(fw, base);
    if (!entry?.observed.ok) return { unknown: true, item: `base policy ${nameOf(base)} of firewall policy ${policy.name}`, reason: entry && !entry.observed.ok ? entry.observed.error.message : 'not read', resourceId: base };
    p = entry.observed.value;
  }
  return { rules: out, proxy };
}

/** Names (lower case) in FQDN network rules of a policy that can never match, because its DNS proxy is off. */
export function deadFqdnNames(s: Snapshot, policyId: string | undefined): Set<string> {
  const policy = policyOf(s, policyId);
  if (!policy || !s.firewalls?.ok) return new Set();
  const found = fqdnNetworkRules(s.firewalls.value, policy);
  if (isUnknown(found) || found.proxy === true) return new Set();
  return new Set(found.rules.flatMap((r) => r.rule.destinationFqdns.map((n) => n.toLowerCase())));
}

/** The subject shared by a policy's dead FQDN rules and the blocks they cause (ranking folds the blocks into the rules). */
export const fqdnSubject = (policyId: string) => `firewall-fqdn:${idKey(policyId)}`;

// ---------------------------------------------------------------- route tables

export function routeTableOf(s: Snapshot, rtId: string | undefined): RouteTableObs | undefined {
  if (!rtId || !s.subnetPolicies?.ok) return undefined;
  const e = s.subnetPolicies.value.routeTables.find((r) => sameId(r.id, rtId));
  return e?.observed.ok ? e.observed.value : undefined;
}

export interface RouteSpec {
  name: string;
  addressPrefix: string;
  nextHopType: string;
  nextHopIpAddress?: string;
}

/** `routes` children of an existing route table, one per route to add or change. */
export function routeBicep(s: Snapshot, rtId: string, routes: RouteSpec[], note: string): string {
  const symbol = bicepSymbols();
  const rt = symbol('routeTable');
  return snippetIn(
    s,
    [rtId],
    [
      bicepResource({ symbol: rt, type: 'Microsoft.Network/routeTables', name: nameOf(rtId), existing: true }),
      ...routes.map((r) =>
        bicepResource({
          symbol: symbol(r.name),
          type: 'Microsoft.Network/routeTables/routes',
          name: r.name,
          parent: rt,
          body: { properties: { addressPrefix: r.addressPrefix, nextHopType: r.nextHopType, nextHopIpAddress: r.nextHopIpAddress } },
        }),
      ),
    ],
    note,
  );
}

/**
 * How to see a route take effect: the vantage NIC's effective routes for a CIDR prefix, else the
 * route as configured.
 */
export function routeVerify(s: Snapshot, subnetId: string | undefined, rtId: string, route: RouteSpec, flows: readonly FlowId[]): string {
  const v = vantageOf(s, subnetId);
  const hop = route.nextHopIpAddress ? `${route.nextHopType} ${route.nextHopIpAddress}` : route.nextHopType;
  if (v && /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(route.addressPrefix)) {
    return verifyText(
      `az network nic show-effective-route-table --ids ${v.nicId} --query "value[?state=='Active' && contains(addressPrefix, '${route.addressPrefix}')].[source, nextHopType, join(' ', nextHopIpAddress)]" -o tsv`,
      `a line User ${hop} (source, next hop type, next hop address)`,
      flows,
    );
  }
  return verifyText(
    `az network route-table route show ${azScope(rtId)} --route-table-name ${nameOf(rtId)} -n ${route.name} --query "[addressPrefix, nextHopType, nextHopIpAddress]" -o tsv`,
    `a line ${route.addressPrefix} ${hop}`,
    flows,
  );
}
