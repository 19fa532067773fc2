/**
 * The two implementations of the network primitives the engine can run on: `indexed` (prefix trie,
 * compiled NSGs) and `linear` (naive scans, the benchmark's baseline). Both give the same answers;
 * the engine only ever talks to this interface.
 */
import { CompiledNsg, evaluateNsgLinear, type NsgContext, type NsgDecision, type Packet } from '../net/nsg.ts';
import { RouteLookup, lookupLinear, type RouteEntry } from '../net/routes.ts';
import type { SecurityRuleObs } from '../model/snapshot.ts';
import { memoizedNsg } from './nsg-memo.ts';

export type PrimitivesKind = 'indexed' | 'linear';

export type RouteFn = (ip: number) => RouteEntry | undefined;
export type NsgFn = (p: Packet) => NsgDecision;

export interface Primitives {
  routes(entries: RouteEntry[]): RouteFn;
  nsg(rules: SecurityRuleObs[], ctx: NsgContext): NsgFn;
}

const indexed: Primitives = {
  routes(entries) {
    const lookup = new RouteLookup(entries);
    return (ip) => lookup.lookup(ip);
  },
  nsg(rules, ctx) {
    const compiled = new CompiledNsg(rules, ctx);
    return (p) => compiled.evaluate(p);
  },
};

const linear: Primitives = {
  routes(entries) {
    return (ip) => lookupLinear(entries, ip);
  },
  nsg(rules, ctx) {
    return (p) => evaluateNsgLinear(rules, ctx, p);
  },
};

/**
 * `indexed`: the primitives with NSG decisions memoized by address class (./nsg-memo.ts).
 * `linear`: the naive baseline, every packet a full scan (the benchmark's reference).
 */
export function primitivesOf(kind: PrimitivesKind | undefined): Primitives {
  if (kind === 'linear') return linear;
  return { routes: indexed.routes, nsg: (rules, ctx) => memoizedNsg(rules, ctx, indexed.nsg(rules, ctx)) };
}
