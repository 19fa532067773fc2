/**
 * NSG evaluation for one packet: rules of the packet's direction in ascending priority, the first
 * rule that matches decides. A rule that may or may not match (ASGs, a tag without prefixes, a
 * prefix covering only part of a subnet) before the deciding one makes the answer `undetermined`.
 *
 * Every address prefix is matched three-valued (yes / no / maybe). CompiledNsg indexes the rules
 * by the CIDRs their prefixes reduce to, so a packet only looks at rules that can match it;
 * evaluateNsgLinear scans every rule with the same matching and must give the same answers.
 */
import type { SecurityRuleObs } from '../model/snapshot.ts';
import {
  cidrContainsIp,
  cidrCovers,
  cidrOverlaps,
  formatCidr,
  isPrivateAddress,
  isPrivateCidr,
  parseCidr,
  PRIVATE_RANGES,
  type Cidr,
} from './cidr.ts';
import { PrefixTrie } from './prefix-trie.ts';
import { tagCovers, type ServiceTagIndex } from './service-tags.ts';

/** What the packet side is: an address, a subnet range, or a service tag (with ip = a representative address when known). Precedence: ip, then cidr, then tag. */
export interface Endpoint {
  ip?: number;
  cidr?: Cidr;
  tag?: string;
}

export interface Packet {
  direction: 'Inbound' | 'Outbound';
  protocol: 'Tcp' | 'Udp';
  source: Endpoint;
  destination: Endpoint;
  port: number;
}

/** VirtualNetwork tag = VNet + peered prefixes. */
export interface NsgContext {
  virtualNetwork: Cidr[];
  tags: ServiceTagIndex;
}

/** `rule` is the deciding rule, or for `undetermined` the rule that could not be evaluated. */
export interface NsgDecision {
  verdict: 'allowed' | 'blocked' | 'undetermined';
  rule?: SecurityRuleObs;
  detail: string;
}

const AZURE_LOAD_BALANCER = parseCidr('168.63.129.16/32') as Cidr;

type Match = { m: 'yes' } | { m: 'no' } | { m: 'maybe'; why: string };
const YES: Match = { m: 'yes' };
const NO: Match = { m: 'no' };
const maybe = (why: string): Match => ({ m: 'maybe', why });

/**
 * One address prefix of a rule, resolved once. `cidrs`: the prefix stands for exactly these
 * ranges (a CIDR, VirtualNetwork, AzureLoadBalancer, a tag with known prefixes), `tag` keeps the
 * name for symbolic matching against a tag endpoint.
 */
type Prefix =
  | { kind: 'any' }
  | { kind: 'none' }
  | { kind: 'internet' }
  | { kind: 'cidrs'; text: string; cidrs: Cidr[]; tag?: string }
  | { kind: 'unknown-tag'; tag: string };

interface Side {
  prefixes: Prefix[];
  asg: boolean;
  /** Matching depends only on the prefixes' CIDRs: such rules are found through the trie. */
  indexable: boolean;
}

type PortRange = [number, number] | undefined;

interface CompiledRule {
  rule: SecurityRuleObs;
  display: string;
  protocol: string;
  source: Side;
  destination: Side;
  sourcePorts: PortRange[];
  destinationPorts: PortRange[];
  sourcePortTexts: string[];
  destinationPortTexts: string[];
}

/** `securityRules/<name>` or `defaultSecurityRules/<name>`; effective rules already carry the prefix. */
export function ruleDisplayName(rule: SecurityRuleObs): string {
  if (rule.name.includes('/')) return rule.name;
  return `${rule.isDefault ? 'defaultSecurityRules' : 'securityRules'}/${rule.name}`;
}

function classify(text: string, ctx: NsgContext): Prefix {
  const t = text.trim();
  const lower = t.toLowerCase();
  if (lower === '*' || lower === 'any' || lower === '0.0.0.0/0') return { kind: 'any' };
  const c = parseCidr(t);
  if (c) return { kind: 'cidrs', text: t, cidrs: [c] };
  if (t.includes(':')) return { kind: 'none' }; // IPv6: never matches an IPv4 packet
  if (lower === 'internet') return { kind: 'internet' };
  if (lower === 'virtualnetwork') return { kind: 'cidrs', text: t, cidrs: ctx.virtualNetwork, tag: 'VirtualNetwork' };
  if (lower === 'azureloadbalancer') return { kind: 'cidrs', text: t, cidrs: [AZURE_LOAD_BALANCER], tag: 'AzureLoadBalancer' };
  const known = ctx.tags.prefixes(t);
  if (known) return { kind: 'cidrs', text: t, cidrs: known, tag: t };
  return { kind: 'unknown-tag', tag: t };
}

function compileSide(prefixes: string[], expanded: string[] | undefined, asgIds: string[], ctx: NsgContext): Side {
  const texts = expanded && expanded.length > 0 ? expanded : prefixes;
  const classified = texts.map((t) => classify(t, ctx));
  const asg = asgIds.length > 0;
  const indexable = !asg && classified.length > 0 && classified.every((p) => p.kind === 'cidrs' || p.kind === 'none');
  return { prefixes: classified, asg, indexable };
}

function parsePort(text: string): PortRange {
  const t = text.trim();
  if (t === '*') return [0, 65535];
  const m = /^(\d+)(?:-(\d+))?$/.exec(t);
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return lo <= hi ? [lo, hi] : undefined;
}

function compileRule(rule: SecurityRuleObs, ctx: NsgContext): CompiledRule {
  return {
    rule,
    display: ruleDisplayName(rule),
    protocol: rule.protocol.toLowerCase(),
    source: compileSide(rule.sourceAddressPrefixes, rule.expandedSourceAddressPrefixes, rule.sourceApplicationSecurityGroupIds, ctx),
    destination: compileSide(
      rule.destinationAddressPrefixes,
      rule.expandedDestinationAddressPrefixes,
      rule.destinationApplicationSecurityGroupIds,
      ctx,
    ),
    sourcePorts: rule.sourcePortRanges.map(parsePort),
    destinationPorts: rule.destinationPortRanges.map(parsePort),
    sourcePortTexts: rule.sourcePortRanges,
    destinationPortTexts: rule.destinationPortRanges,
  };
}

// ---------------------------------------------------------------- matching

const isAzureCloud = (tag: string): boolean => tagCovers('AzureCloud', tag);

/** Rule tag against flow tag by name only (no prefixes known for the flow tag). */
function symbolicTag(ruleTag: string, flowTag: string): Match {
  if (tagCovers(ruleTag, flowTag)) return YES;
  if (tagCovers(flowTag, ruleTag) || isAzureCloud(ruleTag)) {
    return maybe(`${ruleTag} overlaps ${flowTag} only partly (no service tag prefixes)`);
  }
  return NO;
}

/** Prefixes of a tag endpoint without an address, when they can be known. */
function endpointTagPrefixes(tag: string, ctx: NsgContext): Cidr[] | undefined {
  const lower = tag.toLowerCase();
  if (lower === 'virtualnetwork') return ctx.virtualNetwork;
  if (lower === 'azureloadbalancer') return [AZURE_LOAD_BALANCER];
  return ctx.tags.prefixes(tag);
}

/** The rule ranges against a set of endpoint ranges: all inside → yes, some overlap → maybe. */
function rangesMatch(ruleText: string, rule: Cidr[], endpointText: string, endpoint: Cidr[]): Match {
  if (endpoint.length > 0 && endpoint.every((e) => rule.some((r) => cidrCovers(r, e)))) return YES;
  if (endpoint.some((e) => rule.some((r) => cidrOverlaps(r, e)))) return maybe(`${ruleText} covers only part of ${endpointText}`);
  return NO;
}

function matchCidrs(p: Extract<Prefix, { kind: 'cidrs' }>, e: Endpoint, ctx: NsgContext): Match {
  if (e.ip !== undefined) return p.cidrs.some((c) => cidrContainsIp(c, e.ip as number)) ? YES : NO;
  if (e.cidr) return rangesMatch(p.text, p.cidrs, formatCidr(e.cidr), [e.cidr]);
  if (e.tag !== undefined) {
    if (p.tag !== undefined && tagCovers(p.tag, e.tag)) return YES;
    const known = endpointTagPrefixes(e.tag, ctx);
    if (known) return rangesMatch(p.text, p.cidrs, e.tag, known);
    if (p.tag !== undefined) return symbolicTag(p.tag, e.tag);
    // Service tags are public address space: a private range cannot contain any of it.
    if (p.cidrs.every(isPrivateCidr)) return NO;
    return maybe(`cannot tell whether ${p.text} contains ${e.tag} (no service tag prefixes)`);
  }
  return maybe('the address is unknown');
}

function inVirtualNetwork(ip: number, ctx: NsgContext): boolean {
  return ctx.virtualNetwork.some((c) => cidrContainsIp(c, ip));
}

function matchInternet(e: Endpoint, ctx: NsgContext): Match {
  if (e.ip !== undefined) return !isPrivateAddress(e.ip) && !inVirtualNetwork(e.ip, ctx) ? YES : NO;
  if (e.cidr) {
    const c = e.cidr;
    if (isPrivateCidr(c) || ctx.virtualNetwork.some((v) => cidrCovers(v, c))) return NO;
    if ([...PRIVATE_RANGES, ...ctx.virtualNetwork].some((v) => cidrOverlaps(v, c))) return maybe(`Internet covers only part of ${formatCidr(c)}`);
    return YES;
  }
  if (e.tag !== undefined) {
    const lower = e.tag.toLowerCase();
    return lower === 'virtualnetwork' || lower === 'azureloadbalancer' ? NO : YES;
  }
  return maybe('the address is unknown');
}

function matchUnknownTag(tag: string, e: Endpoint): Match {
  if (e.tag !== undefined && tagCovers(tag, e.tag)) return YES;
  const why = `service tag ${tag} could not be expanded`;
  if (e.ip !== undefined) return isPrivateAddress(e.ip) ? NO : maybe(why);
  if (e.cidr) return isPrivateCidr(e.cidr) ? NO : maybe(why);
  if (e.tag !== undefined) return symbolicTag(tag, e.tag);
  return maybe(why);
}

function matchPrefix(p: Prefix, e: Endpoint, ctx: NsgContext): Match {
  switch (p.kind) {
    case 'any':
      return YES;
    case 'none':
      return NO;
    case 'internet':
      return matchInternet(e, ctx);
    case 'cidrs':
      return matchCidrs(p, e, ctx);
    case 'unknown-tag':
      return matchUnknownTag(p.tag, e);
  }
}

/** OR over alternatives: any yes → yes, else the first maybe, else no. */
function anyOf(results: Match[]): Match {
  let first: Match = NO;
  for (const r of results) {
    if (r.m === 'yes') return YES;
    if (r.m === 'maybe' && first.m === 'no') first = r;
  }
  return first;
}

function matchSide(side: Side, e: Endpoint, ctx: NsgContext): Match {
  const results = side.prefixes.map((p) => matchPrefix(p, e, ctx));
  if (side.asg) results.push(maybe('application security groups cannot be resolved'));
  if (results.length === 0) return maybe('the rule names no address prefix');
  return anyOf(results);
}

function matchPorts(ranges: PortRange[], texts: string[], port: number): Match {
  return anyOf(
    ranges.map((r, i) => (r === undefined ? maybe(`port range '${texts[i]}' cannot be read`) : r[0] <= port && port <= r[1] ? YES : NO)),
  );
}

/** The packet's source port is ephemeral: only an all-ports source range certainly matches. */
function matchSourcePorts(c: CompiledRule): Match {
  if (c.sourcePorts.length === 0 || c.sourcePorts.some((r) => r !== undefined && r[0] === 0 && r[1] === 65535)) return YES;
  return maybe(`source port range ${c.sourcePortTexts.join(',')} depends on the ephemeral source port`);
}

function matchRule(c: CompiledRule, p: Packet, ctx: NsgContext): Match {
  const protocol = c.protocol === '*' || c.protocol === 'all' || c.protocol === 'any' || c.protocol === p.protocol.toLowerCase();
  if (!protocol) return NO;
  const parts = [
    c.destinationPorts.length === 0 ? maybe('the rule names no destination port') : matchPorts(c.destinationPorts, c.destinationPortTexts, p.port),
    matchSourcePorts(c),
    matchSide(c.source, p.source, ctx),
    matchSide(c.destination, p.destination, ctx),
  ];
  if (parts.some((m) => m.m === 'no')) return NO;
  return parts.find((m) => m.m === 'maybe') ?? YES;
}

// ---------------------------------------------------------------- deciding

const label = (c: CompiledRule): string => `${c.display} (priority ${c.rule.priority})`;

function describe(p: Packet): string {
  return `${p.direction} ${p.protocol} ${p.port}`;
}

/** Walks rules (already in priority order) and returns the NSG's answer. */
function decide(rules: Iterable<CompiledRule>, p: Packet, ctx: NsgContext): NsgDecision {
  let undecided: { rule: CompiledRule; why: string } | undefined;
  for (const c of rules) {
    const m = matchRule(c, p, ctx);
    if (m.m === 'no') continue;
    if (m.m === 'maybe') {
      undecided ??= { rule: c, why: m.why };
      continue;
    }
    const verdict = c.rule.access === 'Allow' ? 'allowed' : 'blocked';
    const decided = `${verdict === 'allowed' ? 'allowed' : 'denied'} by ${label(c)}`;
    if (!undecided) return { verdict, rule: c.rule, detail: decided };
    return {
      verdict: 'undetermined',
      rule: undecided.rule.rule,
      detail: `${label(undecided.rule)} may apply (${undecided.why}); otherwise ${decided}`,
    };
  }
  if (undecided) {
    return {
      verdict: 'undetermined',
      rule: undecided.rule.rule,
      detail: `${label(undecided.rule)} may apply (${undecided.why}) and no later rule matches ${describe(p)}`,
    };
  }
  return { verdict: 'undetermined', detail: `no rule of the NSG matches ${describe(p)}` };
}

function sortedForDirection(rules: SecurityRuleObs[], direction: Packet['direction'], ctx: NsgContext): CompiledRule[] {
  return rules
    .filter((r) => r.direction === direction)
    .map((r) => compileRule(r, ctx))
    .sort((a, b) => a.rule.priority - b.rule.priority); // stable: equal priorities keep input order
}

/** Naive baseline: compiles and scans every rule of the direction. Same answers as CompiledNsg. */
export function evaluateNsgLinear(rules: SecurityRuleObs[], ctx: NsgContext, p: Packet): NsgDecision {
  return decide(sortedForDirection(rules, p.direction, ctx), p, ctx);
}

/** Rules of one side, looked up by address: trie over the CIDRs plus the rules that need more than CIDRs. */
class SideIndex {
  #trie = new PrefixTrie<number>();
  #always: number[] = [];

  constructor(rules: CompiledRule[], side: 'source' | 'destination') {
    rules.forEach((c, i) => {
      const s = c[side];
      if (!s.indexable) return void this.#always.push(i);
      for (const p of s.prefixes) if (p.kind === 'cidrs') for (const cidr of p.cidrs) this.#trie.insert(cidr, i);
    });
  }

  /** Rules that can only be checked one by one: the cost floor of narrowing by this side. */
  get unindexed(): number {
    return this.#always.length;
  }

  /** Indices of every rule that may match this endpoint on this side; undefined = cannot narrow (tag without an address). */
  candidates(e: Endpoint): Set<number> | undefined {
    let hits: Array<{ values: number[] }>;
    if (e.ip !== undefined) hits = this.#trie.containing(e.ip);
    else if (e.cidr) hits = this.#trie.overlapping(e.cidr);
    else return undefined;
    const out = new Set(this.#always);
    for (const h of hits) for (const i of h.values) out.add(i);
    return out;
  }
}

interface DirectionIndex {
  rules: CompiledRule[];
  source: SideIndex;
  destination: SideIndex;
}

/** NSG compiled once, evaluated per packet without scanning every rule. */
export class CompiledNsg {
  #ctx: NsgContext;
  #byDirection: Record<Packet['direction'], DirectionIndex>;

  constructor(rules: SecurityRuleObs[], ctx: NsgContext) {
    this.#ctx = ctx;
    const build = (direction: Packet['direction']): DirectionIndex => {
      const sorted = sortedForDirection(rules, direction, ctx);
      return { rules: sorted, source: new SideIndex(sorted, 'source'), destination: new SideIndex(sorted, 'destination') };
    };
    this.#byDirection = { Inbound: build('Inbound'), Outbound: build('Outbound') };
  }

  evaluate(p: Packet): NsgDecision {
    const index = this.#byDirection[p.direction];
    // Narrow by the side with fewer unindexed rules (typically the remote address); a tag without
    // an address narrows nothing.
    const sides: Array<[SideIndex, Endpoint]> = [[index.source, p.source], [index.destination, p.destination]];
    sides.sort((a, b) => a[0].unindexed - b[0].unindexed);
    const chosen = sides[0]?.[0].candidates(sides[0][1]) ?? sides[1]?.[0].candidates(sides[1][1]);
    if (!chosen) return decide(index.rules, p, this.#ctx);
    // Indices are positions in the priority-sorted list, so ascending index = ascending priority.
    const order = [...chosen].sort((a, b) => a - b).map((i) => index.rules[i] as CompiledRule);
    return decide(order, p, this.#ctx);
  }
}

/** Azure's six default rules (the engine appends them when an NSG came without any). */
export function defaultSecurityRules(): SecurityRuleObs[] {
  const rule = (name: string, priority: number, direction: 'Inbound' | 'Outbound', access: 'Allow' | 'Deny', source: string, destination: string): SecurityRuleObs => ({
    name,
    priority,
    direction,
    access,
    protocol: '*',
    sourceAddressPrefixes: [source],
    destinationAddressPrefixes: [destination],
    sourcePortRanges: ['*'],
    destinationPortRanges: ['*'],
    sourceApplicationSecurityGroupIds: [],
    destinationApplicationSecurityGroupIds: [],
    isDefault: true,
  });
  return [
    rule('AllowVnetInBound', 65000, 'Inbound', 'Allow', 'VirtualNetwork', 'VirtualNetwork'),
    rule('AllowAzureLoadBalancerInBound', 65001, 'Inbound', 'Allow', 'AzureLoadBalancer', '*'),
    rule('DenyAllInBound', 65500, 'Inbound', 'Deny', '*', '*'),
    rule('AllowVnetOutBound', 65000, 'Outbound', 'Allow', 'VirtualNetwork', 'VirtualNetwork'),
    rule('AllowInternetOutBound', 65001, 'Outbound', 'Allow', '*', 'Internet'),
    rule('DenyAllOutBound', 65500, 'Outbound', 'Deny', '*', '*'),
  ];
}
