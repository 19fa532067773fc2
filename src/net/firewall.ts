/**
 * Azure Firewall policy evaluation for one request (protocol, port, destination). Azure processes
 * every network rule (all groups and collections, in priority order) before any application rule;
 * the first matching rule's collection action decides, and no match means deny. A rule that may or
 * may not match before the deciding one makes the answer `undetermined`.
 */
import type { ApplicationRuleObs, NetworkRuleObs, RuleCollectionGroupObs, RuleCollectionObs } from '../model/snapshot.ts';
import { cidrLast, formatCidr, intToIp, ipToInt, isPrivateAddress, parseCidr, PRIVATE_RANGES, type Cidr } from './cidr.ts';
import { tagCovers, type ServiceTagIndex } from './service-tags.ts';
import { allOf, anyOf, maybe, NO, YES, type Match } from './match.ts';

export interface FirewallRequest {
  protocol: 'TCP' | 'UDP';
  port: number;
  /** The compute subnet. */
  source: Cidr;
  destIp?: number;
  destTag?: string;
  fqdn?: string;
}

export interface FirewallDecision {
  verdict: 'allowed' | 'blocked' | 'undetermined';
  detail: string;
  ruleCollectionGroup?: string;
  ruleCollection?: string;
  rule?: string;
  reason?: 'firewall-deny' | 'firewall-no-matching-rule' | 'not-evaluable';
}




// ---------------------------------------------------------------- addresses and ports

interface Interval {
  lo: number;
  hi: number;
}

/** `10.0.0.0/24`, `10.0.0.4`, or a range `10.0.0.1-10.0.0.9` (firewall rules accept all three). */
function parseInterval(text: string): Interval | undefined {
  const c = parseCidr(text);
  if (c) return { lo: c.base, hi: cidrLast(c) };
  const [a, b, extra] = text.split('-');
  if (a === undefined || b === undefined || extra !== undefined) return undefined;
  const lo = ipToInt(a);
  const hi = ipToInt(b);
  return lo !== undefined && hi !== undefined && lo <= hi ? { lo, hi } : undefined;
}

const isWildcard = (text: string): boolean => text.trim() === '*';
const isAddressLike = (text: string): boolean => /^[\d./-]+$/.test(text.trim()) || text.includes(':');

function matchSource(addresses: string[], ipGroups: string[], source: Cidr): Match {
  const lo = source.base;
  const hi = cidrLast(source);
  const results = addresses.map((a): Match => {
    if (isWildcard(a)) return YES;
    const r = parseInterval(a.trim());
    if (!r) return a.includes(':') ? NO : maybe(`source '${a}' cannot be read`);
    if (r.lo <= lo && hi <= r.hi) return YES;
    if (r.lo <= hi && lo <= r.hi) return maybe(`source ${a} covers only part of ${formatCidr(source)}`);
    return NO;
  });
  if (ipGroups.length > 0) results.push(maybe('source IP groups cannot be resolved'));
  return anyOf(results);
}

const privateInterval = (r: Interval): boolean =>
  PRIVATE_RANGES.some((p) => p.base <= r.lo && r.hi <= cidrLast(p));

function matchDestinationAddress(text: string, req: FirewallRequest, tags: ServiceTagIndex): Match {
  const t = text.trim();
  if (isWildcard(t)) return YES;
  if (isAddressLike(t)) {
    const r = parseInterval(t);
    if (!r) return t.includes(':') ? NO : maybe(`destination '${t}' cannot be read`);
    if (req.destIp !== undefined) return r.lo <= req.destIp && req.destIp <= r.hi ? YES : NO;
    // Service tags are public address space: a private range cannot hold any of it.
    if (req.destTag !== undefined && privateInterval(r)) return NO;
    return maybe(`cannot tell whether ${t} contains the destination (its address is unknown)`);
  }
  if (req.destTag !== undefined && (tagCovers(t, req.destTag) || tagCovers(req.destTag, t))) return YES;
  const prefixes = tags.prefixes(t);
  if (req.destIp !== undefined) {
    const ip = req.destIp;
    if (prefixes) return prefixes.some((c) => c.base <= ip && ip <= cidrLast(c)) ? YES : NO;
    return isPrivateAddress(ip) ? NO : maybe(`service tag ${t} could not be expanded`);
  }
  if (req.destTag !== undefined) return tagCovers('AzureCloud', t) ? maybe(`${t} may contain ${req.destTag}`) : NO;
  return maybe(`cannot tell whether service tag ${t} contains the destination`);
}

function parsePort(text: string): Interval | undefined {
  const t = text.trim();
  if (t === '*') return { lo: 0, hi: 65535 };
  const m = /^(\d+)(?:-(\d+))?$/.exec(t);
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return lo <= hi ? { lo, hi } : undefined;
}

function matchPorts(ports: string[], port: number): Match {
  return anyOf(
    ports.map((p) => {
      const r = parsePort(p);
      if (!r) return maybe(`port '${p}' cannot be read`);
      return r.lo <= port && port <= r.hi ? YES : NO;
    }),
  );
}

/** `*.azureml.ms` matches any name below azureml.ms (not azureml.ms itself); `*` matches all. */
export function fqdnMatches(pattern: string, fqdn: string): boolean {
  const p = pattern.trim().toLowerCase();
  const f = fqdn.trim().toLowerCase().replace(/\.$/, '');
  if (p === '*') return true;
  if (p.startsWith('*')) {
    const suffix = p.slice(1);
    return f.length > suffix.length && f.endsWith(suffix);
  }
  return p === f;
}

// ---------------------------------------------------------------- rules

interface Context {
  req: FirewallRequest;
  tags: ServiceTagIndex;
  dnsProxyEnabled: boolean;
  notes: string[];
}

function matchNetworkRule(rule: NetworkRuleObs, ctx: Context): Match {
  const { req } = ctx;
  const protocol = rule.ipProtocols.some((p) => p.toLowerCase() === 'any' || p.toUpperCase() === req.protocol);
  if (!protocol) return NO;
  const head = allOf([matchPorts(rule.destinationPorts, req.port), matchSource(rule.sourceAddresses, rule.sourceIpGroups, req.source)]);
  if (head.m === 'no') return NO;
  const destinations = rule.destinationAddresses.map((a) => matchDestinationAddress(a, req, ctx.tags));
  if (rule.destinationIpGroups.length > 0) destinations.push(maybe('destination IP groups cannot be resolved'));
  const fqdn = req.fqdn?.toLowerCase();
  const namesFqdn = fqdn !== undefined && rule.destinationFqdns.some((f) => f.trim().toLowerCase() === fqdn);
  if (namesFqdn && ctx.dnsProxyEnabled) destinations.push(YES);
  if (namesFqdn && !ctx.dnsProxyEnabled) {
    ctx.notes.push(`network rule '${rule.name}' names ${req.fqdn} but FQDNs in network rules only match with the policy's DNS proxy enabled`);
  }
  return allOf([head, anyOf(destinations)]);
}

const APPLICATION_PROTOCOLS = new Set(['http', 'https', 'mssql']);

function matchApplicationRule(rule: ApplicationRuleObs, ctx: Context): Match {
  const { req } = ctx;
  if (req.protocol !== 'TCP') return NO;
  if (!rule.protocols.some((p) => p.port === req.port && APPLICATION_PROTOCOLS.has(p.protocolType.toLowerCase()))) return NO;
  const source = matchSource(rule.sourceAddresses, rule.sourceIpGroups, req.source);
  if (source.m === 'no') return NO;
  const targets = rule.targetFqdns.map((t) => (req.fqdn !== undefined && fqdnMatches(t, req.fqdn) ? YES : NO));
  if (rule.webCategories.length > 0) targets.push(maybe('web categories cannot be evaluated'));
  if (rule.targetUrls.length > 0) targets.push(maybe('target URLs cannot be evaluated'));
  const target = anyOf(targets);
  if (rule.fqdnTags.length > 0 && target.m === 'no') {
    ctx.notes.push(`application rule '${rule.name}' uses FQDN tags (${rule.fqdnTags.join(', ')}), which do not cover the Azure ML endpoints`);
  }
  return allOf([source, target]);
}

// ---------------------------------------------------------------- order and decision

/** Parent policy of a rule collection group id (groups of one policy are consecutive). */
function policyKey(groupId: string): string {
  const lower = groupId.toLowerCase();
  const i = lower.indexOf('/rulecollectiongroups/');
  return i >= 0 ? lower.slice(0, i) : lower;
}

const byPriority = <T extends { priority: number }>(items: T[]): T[] => [...items].sort((a, b) => a.priority - b.priority);

/** Keeps the base policy's groups first; sorts by priority within each policy. */
function orderGroups(groups: RuleCollectionGroupObs[]): RuleCollectionGroupObs[] {
  const out: RuleCollectionGroupObs[] = [];
  let run: RuleCollectionGroupObs[] = [];
  for (const g of groups) {
    if (run.length > 0 && policyKey(g.id) !== policyKey((run[0] as RuleCollectionGroupObs).id)) {
      out.push(...byPriority(run));
      run = [];
    }
    run.push(g);
  }
  out.push(...byPriority(run));
  return out;
}

const isNat = (c: RuleCollectionObs): boolean =>
  c.ruleCollectionType.toLowerCase().includes('nat') || c.action?.toUpperCase() === 'DNAT';

interface Candidate {
  group: string;
  collection: RuleCollectionObs;
  rule: NetworkRuleObs | ApplicationRuleObs;
  kind: 'network' | 'application';
}

function* inProcessingOrder(groups: RuleCollectionGroupObs[]): Generator<Candidate> {
  const ordered = orderGroups(groups).flatMap((g) =>
    byPriority(g.ruleCollections.filter((c) => !isNat(c))).map((collection) => ({ group: g.name, collection })),
  );
  for (const { group, collection } of ordered) {
    for (const rule of collection.rules) {
      if (rule.ruleType === 'NetworkRule') yield { group, collection, rule: rule as NetworkRuleObs, kind: 'network' };
    }
  }
  for (const { group, collection } of ordered) {
    for (const rule of collection.rules) {
      if (rule.ruleType === 'ApplicationRule') yield { group, collection, rule: rule as ApplicationRuleObs, kind: 'application' };
    }
  }
}

const where = (c: Candidate): string => `${c.kind} rule '${c.rule.name}' in collection '${c.collection.name}' (group '${c.group}')`;
const names = (c: Candidate): Pick<FirewallDecision, 'ruleCollectionGroup' | 'ruleCollection' | 'rule'> => ({
  ruleCollectionGroup: c.group,
  ruleCollection: c.collection.name,
  rule: c.rule.name,
});

function requestText(req: FirewallRequest): string {
  const to = req.fqdn ?? req.destTag ?? (req.destIp !== undefined ? intToIp(req.destIp) : 'the destination');
  return `${req.protocol} ${req.port} to ${to}`;
}

const withNotes = (detail: string, notes: string[]): string => (notes.length > 0 ? `${detail}; ${notes.join('; ')}` : detail);

export function evaluateFirewall(
  policies: { dnsProxyEnabled?: boolean; groups: RuleCollectionGroupObs[] },
  req: FirewallRequest,
  tags: ServiceTagIndex,
): FirewallDecision {
  const ctx: Context = { req, tags, dnsProxyEnabled: policies.dnsProxyEnabled === true, notes: [] };
  let undecided: { at: Candidate; why: string } | undefined;
  for (const c of inProcessingOrder(policies.groups)) {
    let m = c.kind === 'network' ? matchNetworkRule(c.rule as NetworkRuleObs, ctx) : matchApplicationRule(c.rule as ApplicationRuleObs, ctx);
    const action = c.collection.action?.toLowerCase();
    if (m.m === 'yes' && action !== 'allow' && action !== 'deny') m = maybe(`collection action '${c.collection.action ?? 'none'}' is unknown`);
    if (m.m === 'no') continue;
    if (m.m === 'maybe') {
      undecided ??= { at: c, why: m.why };
      continue;
    }
    const decided = `${action === 'allow' ? 'allowed' : 'denied'} by ${where(c)}`;
    if (undecided) return undetermined(undecided, decided, ctx.notes);
    if (action === 'allow') return { verdict: 'allowed', detail: decided, ...names(c) };
    return { verdict: 'blocked', reason: 'firewall-deny', detail: withNotes(decided, ctx.notes), ...names(c) };
  }
  const byDefault = `no rule of firewall policy allows ${requestText(req)}: Azure Firewall denies by default`;
  if (undecided) return undetermined(undecided, byDefault, ctx.notes);
  return { verdict: 'blocked', reason: 'firewall-no-matching-rule', detail: withNotes(byDefault, ctx.notes) };
}

function undetermined(u: { at: Candidate; why: string }, otherwise: string, notes: string[]): FirewallDecision {
  return {
    verdict: 'undetermined',
    reason: 'not-evaluable',
    detail: withNotes(`${where(u.at)} may apply (${u.why}); otherwise ${otherwise}`, notes),
    ...names(u.at),
  };
}
