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
import { anyOf, maybe, NO, YES, type Match } from './match.ts';

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
  /**
   * CompiledNsg only: the side is exactly a service tag's expansion (lower-case name), so an
   * address matches it when the tag contains the address, and `prefixes` are made on first use.
   */
  expandedTag?: string;
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

/**
 * A side that is a tag's own listing of plain IPv4 prefixes (how Azure expands a tag in effective
 * rules): every text reads as one CIDR, so the side is indexable, and the service tag index
 * already holds those prefixes. Thousands of texts per tag: they are classified only if a packet
 * needs more than "is the address in the tag".
 */
function tagExpansionSide(texts: string[], tag: string, ctx: NsgContext): Side {
  let prefixes: Prefix[] | undefined;
  return {
    get prefixes() {
      return (prefixes ??= texts.map((t) => classify(t, ctx)));
    },
    asg: false,
    indexable: true,
    expandedTag: tag.toLowerCase(),
  };
}

function compileSide(prefixes: string[], expanded: string[] | undefined, asgIds: string[], ctx: NsgContext, tagSides: boolean): Side {
  if (tagSides && asgIds.length === 0 && expanded && expanded.length > 0 && prefixes.length === 1 && ctx.tags.listedAs(prefixes[0] as string, expanded, true)) {
    return tagExpansionSide(expanded, prefixes[0] as string, ctx);
  }
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

function compileRule(rule: SecurityRuleObs, ctx: NsgContext, tagSides: boolean): CompiledRule {
  return {
    rule,
    display: ruleDisplayName(rule),
    protocol: rule.protocol.toLowerCase(),
    source: compileSide(rule.sourceAddressPrefixes, rule.expandedSourceAddressPrefixes, rule.sourceApplicationSecurityGroupIds, ctx, tagSides),
    destination: compileSide(
      rule.destinationAddressPrefixes,
      rule.expandedDestinationAddressPrefixes,
      rule.destinationApplicationSecurityGroupIds,
      ctx,
      tagSides,
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


/** anyOf over the prefixes (then the ASGs), stopping at the first yes: matching has no side effects. */
function matchSide(side: Side, e: Endpoint, ctx: NsgContext): Match {
  let first: Match = NO;
  for (const p of side.prefixes) {
    const r = matchPrefix(p, e, ctx);
    if (r.m === 'yes') return YES;
    if (r.m === 'maybe' && first.m === 'no') first = r;
  }
  if (side.asg && first.m === 'no') return maybe('application security groups cannot be resolved');
  if (side.prefixes.length === 0 && !side.asg) return maybe('the rule names no address prefix');
  return first;
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

/** `known` gives side results already established by the caller (CompiledNsg's index). */
function matchRule(c: CompiledRule, p: Packet, ctx: NsgContext, known?: (c: CompiledRule, side: 'source' | 'destination') => Match | undefined): Match {
  const protocol = c.protocol === '*' || c.protocol === 'all' || c.protocol === 'any' || c.protocol === p.protocol.toLowerCase();
  if (!protocol) return NO;
  // Any part that is no makes the rule not match, else the first maybe decides: evaluated in
  // order and stopped at the first no (matching has no side effects).
  const ports = c.destinationPorts.length === 0 ? maybe('the rule names no destination port') : matchPorts(c.destinationPorts, c.destinationPortTexts, p.port);
  if (ports.m === 'no') return NO;
  const sourcePorts = matchSourcePorts(c);
  if (sourcePorts.m === 'no') return NO;
  const source = known?.(c, 'source') ?? matchSide(c.source, p.source, ctx);
  if (source.m === 'no') return NO;
  const destination = known?.(c, 'destination') ?? matchSide(c.destination, p.destination, ctx);
  if (destination.m === 'no') return NO;
  for (const m of [ports, sourcePorts, source]) if (m.m === 'maybe') return m;
  return destination;
}

// ---------------------------------------------------------------- deciding

const label = (c: CompiledRule): string => `${c.display} (priority ${c.rule.priority})`;

function describe(p: Packet): string {
  return `${p.direction} ${p.protocol} ${p.port}`;
}

/** Walks rules (already in priority order) and returns the NSG's answer. */
function decide(rules: Iterable<CompiledRule>, p: Packet, ctx: NsgContext, known?: (c: CompiledRule, side: 'source' | 'destination') => Match | undefined): NsgDecision {
  let undecided: { rule: CompiledRule; why: string } | undefined;
  for (const c of rules) {
    const m = matchRule(c, p, ctx, known);
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

/** `tagSides`: sides that are a tag's expansion are left to the service tag index (CompiledNsg). */
function sortedForDirection(rules: SecurityRuleObs[], direction: Packet['direction'], ctx: NsgContext, tagSides = false): CompiledRule[] {
  return rules
    .filter((r) => r.direction === direction)
    .map((r) => compileRule(r, ctx, tagSides))
    .sort((a, b) => a.rule.priority - b.rule.priority); // stable: equal priorities keep input order
}

/** Naive baseline: compiles and scans every rule of the direction. Same answers as CompiledNsg. */
export function evaluateNsgLinear(rules: SecurityRuleObs[], ctx: NsgContext, p: Packet): NsgDecision {
  return decide(sortedForDirection(rules, p.direction, ctx), p, ctx);
}

/**
 * Rules of one side, looked up by address: trie over the CIDRs, the service tag index for sides
 * that are a tag's expansion (thousands of prefixes, already indexed there), plus the rules that
 * need more than CIDRs.
 */
class SideIndex {
  #trie = new PrefixTrie<number>();
  #byTag = new Map<string, number[]>();
  #always: number[] = [];
  #ctx: NsgContext;

  constructor(rules: CompiledRule[], side: 'source' | 'destination', ctx: NsgContext) {
    this.#ctx = ctx;
    rules.forEach((c, i) => {
      const s = c[side];
      if (!s.indexable) return void this.#always.push(i);
      if (s.expandedTag !== undefined) {
        const list = this.#byTag.get(s.expandedTag) ?? [];
        list.push(i);
        this.#byTag.set(s.expandedTag, list);
        return;
      }
      for (const p of s.prefixes) if (p.kind === 'cidrs') for (const cidr of p.cidrs) this.#trie.insert(cidr, i);
    });
  }

  /**
   * Indices of every rule that may match this endpoint on this side; undefined = cannot narrow
   * (tag without an address). For an address, `hits` gets the indexable rules whose prefixes
   * contain it: exactly the indexable rules this side matches (the others it does not).
   */
  candidates(e: Endpoint, hits?: Set<number>): Set<number> | undefined {
    const out = new Set(this.#always);
    if (e.ip !== undefined) {
      this.#trie.forEachContaining(e.ip, (i) => {
        out.add(i);
        hits?.add(i);
      });
      if (this.#byTag.size > 0) {
        const tags = this.#ctx.tags;
        for (const tag of tags.tagSetKeys(tags.tagSetOf(e.ip))) {
          for (const i of this.#byTag.get(tag) ?? []) {
            out.add(i);
            hits?.add(i);
          }
        }
      }
    } else if (e.cidr) {
      this.#trie.forEachOverlapping(e.cidr, (i) => out.add(i));
      // Whether a tag's prefixes overlap a range is left to the rule itself.
      for (const list of this.#byTag.values()) for (const i of list) out.add(i);
    } else return undefined;
    return out;
  }
}

function intersection(a: Set<number>, b: Set<number>): number[] {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  const out: number[] = [];
  for (const i of small) if (large.has(i)) out.push(i);
  return out;
}

interface DirectionIndex {
  rules: CompiledRule[];
  position: Map<CompiledRule, number>;
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
      const sorted = sortedForDirection(rules, direction, ctx, true);
      return { rules: sorted, position: new Map(sorted.map((c, i) => [c, i])), source: new SideIndex(sorted, 'source', ctx), destination: new SideIndex(sorted, 'destination', ctx) };
    };
    this.#byDirection = { Inbound: build('Inbound'), Outbound: build('Outbound') };
  }

  evaluate(p: Packet): NsgDecision {
    const index = this.#byDirection[p.direction];
    // Each side narrows to the rules that may match it (a tag without an address narrows
    // nothing); a rule must match both sides, so the candidates are the intersection.
    const hits = { source: new Set<number>(), destination: new Set<number>() };
    const bySource = index.source.candidates(p.source, hits.source);
    const byDestination = index.destination.candidates(p.destination, hits.destination);
    const chosen = bySource && byDestination ? intersection(bySource, byDestination) : bySource ? [...bySource] : byDestination ? [...byDestination] : undefined;
    // On an indexable side, an address matches exactly the rules the trie found for it.
    const known = (c: CompiledRule, side: 'source' | 'destination'): Match | undefined => {
      if (p[side].ip === undefined || !c[side].indexable) return undefined;
      return hits[side].has(index.position.get(c) as number) ? YES : NO;
    };
    if (!chosen) return decide(index.rules, p, this.#ctx, known);
    // Indices are positions in the priority-sorted list, so ascending index = ascending priority.
    const order = chosen.sort((a, b) => a - b).map((i) => index.rules[i] as CompiledRule);
    return decide(order, p, this.#ctx, known);
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
