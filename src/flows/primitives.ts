/**
 * The two implementations of the network primitives the engine can run on: `indexed` (prefix trie,
 * compiled NSGs) and `linear` (naive scans, the benchmark's baseline). Both give the same answers;
 * the engine only ever talks to this interface.
 */
import { CompiledNsg, evaluateNsgLinear, type NsgContext, type NsgDecision, type Packet } from '../net/nsg.ts';
import { RouteLookup, lookupLinear, type RouteEntry } from '../net/routes.ts';
import type { Cidr } from '../net/cidr.ts';
import type { SecurityRuleObs } from '../model/snapshot.ts';
import { lazyClasses, nsgMemo } from './nsg-memo.ts';

export type PrimitivesKind = 'indexed' | 'linear';

export type RouteFn = (ip: number) => RouteEntry | undefined;
export type NsgFn = (p: Packet) => NsgDecision;

export interface NsgEvaluator {
  evaluate: NsgFn;
  /**
   * Indexed only: a number per address such that two packets differing only in an address with
   * the same number get the same decision. Lets the engine group thousands of tag addresses
   * without evaluating each one.
   */
  addressClass?: (ip: number) => number;
}

export interface Primitives {
  routes(entries: RouteEntry[]): RouteFn;
  nsg(rules: SecurityRuleObs[], ctx: NsgContext): NsgEvaluator;
}

const linear: Primitives = {
  routes(entries) {
    return (ip) => lookupLinear(entries, ip);
  },
  nsg(rules, ctx) {
    return { evaluate: (p) => evaluateNsgLinear(rules, ctx, p) };
  },
};

/**
 * Per run: the indexes built from one observation are kept with it, so the analyses of a run
 * (one per rule that needs flows) build each once. Keyed by the snapshot's own arrays: an NSG's
 * rule array, and the route entries context.ts keeps per effective-route array; a new run has
 * new arrays, and nothing outlives them. Observations are not edited after collection; a shallow
 * check of the elements still catches an array reused with rules or routes added, removed or
 * replaced. Only indexes are kept: NSG decisions are remembered per analysis.
 */
const ROUTE_INDEXES = new WeakMap<RouteEntry[], { entries: RouteEntry[]; lookup: RouteFn }>();
const NSG_INDEXES = new WeakMap<SecurityRuleObs[], Array<{ rules: SecurityRuleObs[]; ctx: NsgContext; evaluate: NsgFn; addressClass: (ip: number) => number }>>();

const sameElements = <T>(a: readonly T[], b: readonly T[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const sameCidrs = (a: readonly Cidr[], b: readonly Cidr[]): boolean => a.length === b.length && a.every((c, i) => c.base === b[i]?.base && c.len === b[i]?.len);

function routeIndex(entries: RouteEntry[]): RouteFn {
  const known = ROUTE_INDEXES.get(entries);
  if (known && sameElements(known.entries, entries)) return known.lookup;
  const index = new RouteLookup(entries);
  const lookup: RouteFn = (ip) => index.lookup(ip);
  ROUTE_INDEXES.set(entries, { entries: entries.slice(), lookup });
  return lookup;
}

function nsgIndex(rules: SecurityRuleObs[], ctx: NsgContext): { evaluate: NsgFn; addressClass: (ip: number) => number } {
  const list = NSG_INDEXES.get(rules) ?? [];
  NSG_INDEXES.set(rules, list);
  const known = list.find((k) => k.ctx.tags === ctx.tags && sameCidrs(k.ctx.virtualNetwork, ctx.virtualNetwork) && sameElements(k.rules, rules));
  if (known) return known;
  const compiled = new CompiledNsg(rules, ctx);
  const made = { rules: rules.slice(), ctx: { virtualNetwork: ctx.virtualNetwork.slice(), tags: ctx.tags }, evaluate: (p: Packet) => compiled.evaluate(p), addressClass: lazyClasses(rules, ctx) };
  list.push(made);
  return made;
}

/** `indexed`: the prefix-trie route lookup and compiled NSGs, NSG decisions memoized by address class (./nsg-memo.ts). */
const indexed: Primitives = {
  routes: routeIndex,
  nsg(rules, ctx) {
    const { evaluate, addressClass } = nsgIndex(rules, ctx);
    return nsgMemo(rules, ctx, evaluate, addressClass);
  },
};

/** `linear`: the naive baseline, every packet a full scan (the benchmark's reference). */
export function primitivesOf(kind: PrimitivesKind | undefined): Primitives {
  return kind === 'linear' ? linear : indexed;
}
