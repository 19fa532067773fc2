/**
 * NSG decisions memoized by address class. A tag destination is traced from every prefix's first
 * address (thousands for Storage or AzureFrontDoor), but an NSG can only tell two addresses apart
 * through the prefixes its rules test: the rule CIDRs, the expanded tags, VirtualNetwork, the
 * private ranges (Internet) and AzureLoadBalancer. Addresses inside exactly the same set of those
 * prefix groups get the same decision, so each class is evaluated once per NSG, port and protocol.
 * The indexed primitives run behind this memo; the linear baseline evaluates every packet.
 */
import type { SecurityRuleObs } from '../model/snapshot.ts';
import { parseCidr, PRIVATE_RANGES, type Cidr } from '../net/cidr.ts';
import type { Endpoint, NsgContext, NsgDecision, Packet } from '../net/nsg.ts';
import { PrefixTrie } from '../net/prefix-trie.ts';
import type { NsgEvaluator, NsgFn } from './primitives.ts';

const AZURE_LOAD_BALANCER = parseCidr('168.63.129.16/32') as Cidr;

const cidrKey = (c: Cidr): number => c.base * 64 + c.len;

/** Does an expanded prefix list hold exactly the tag's prefixes (how Azure expands a tag)? */
function sameAsTag(expanded: readonly string[], tag: string, ctx: NsgContext): boolean {
  if (ctx.tags.listedAs(tag, expanded)) return true;
  const prefixes = ctx.tags.prefixesView(tag);
  if (!prefixes) return false;
  const cidrs = expanded.map(parseCidr).filter((c): c is Cidr => !!c);
  if (prefixes.length !== cidrs.length) return false;
  const keys = new Set(prefixes.map(cidrKey));
  return cidrs.every((c) => keys.has(cidrKey(c)));
}

/**
 * Maps an address to a number; equal numbers mean the address lies in the same prefix groups, so
 * every rule matches it alike. The number combines the groups found in a trie of this NSG's own
 * prefixes with the set of service tags containing the address (from the service tag index):
 * tags, and rule lists that are a tag's expansion, are most of the prefixes and are not copied.
 */
export function addressClasses(rules: SecurityRuleObs[], ctx: NsgContext): (ip: number) => number {
  const trie = new PrefixTrie<number>();
  const groups = new Map<string, number>();
  const group = (key: string, cidrs: readonly Cidr[]) => {
    if (groups.has(key)) return;
    const id = groups.size;
    groups.set(key, id);
    for (const c of cidrs) trie.insert(c, id);
  };
  group('private', PRIVATE_RANGES);
  group('virtual-network', ctx.virtualNetwork);
  group('azure-load-balancer', [AZURE_LOAD_BALANCER]);
  rules.forEach((r, i) => {
    const sides: Array<[string, string[], string[] | undefined]> = [
      ['s', r.sourceAddressPrefixes, r.expandedSourceAddressPrefixes],
      ['d', r.destinationAddressPrefixes, r.expandedDestinationAddressPrefixes],
    ];
    for (const [side, prefixes, expanded] of sides) {
      if (expanded && expanded.length > 0) {
        const only = prefixes.length === 1 ? (prefixes[0] as string) : undefined;
        if (only && !parseCidr(only) && sameAsTag(expanded, only, ctx)) continue; // the tag set tells
        group(`rule ${i} ${side} expanded`, expanded.map(parseCidr).filter((c): c is Cidr => !!c));
        continue;
      }
      for (const text of prefixes) {
        const cidr = parseCidr(text);
        if (cidr) group(`cidr ${cidrKey(cidr)}`, [cidr]);
        // Any other word is a tag (the tag set tells), a keyword built on the groups above, or IPv6.
      }
    }
  });
  // The longest stored prefix holding the address fixes every stored prefix holding it, so its
  // group set (sorted, numbered) is computed once per trie entry.
  const ownOfEntry = new Int32Array(trie.size).fill(-1);
  const ownIds = new Map<string, number>();
  // Class numbers for (own groups, tag set) pairs, small integers given in order of appearance.
  const classOf: Array<Map<number, number>> = [];
  let classes = 0;
  return (ip) => {
    const entry = trie.longestEntry(ip);
    let own = 0;
    if (entry >= 0) {
      own = ownOfEntry[entry] as number;
      if (own < 0) {
        const ids: number[] = [];
        trie.forEachContaining(ip, (id) => ids.push(id));
        const key = [...new Set(ids)].sort((a, b) => a - b).join(',');
        own = ownIds.get(key) ?? ownIds.size + 1;
        ownIds.set(key, own);
        ownOfEntry[entry] = own;
      }
    }
    const byTagSet = (classOf[own] ??= new Map<number, number>());
    const tagSet = ctx.tags.tagSetOf(ip);
    let cls = byTagSet.get(tagSet);
    if (cls === undefined) {
      cls = classes++;
      byTagSet.set(tagSet, cls);
    }
    return cls;
  };
}

/**
 * Wraps an NSG evaluator with a memo keyed by the packet's address classes; `addressClass` gives
 * callers the class itself (equal classes: equal decisions for otherwise equal packets). The
 * class function is built on first use unless given (the indexed primitives keep it per run).
 */
export function nsgMemo(rules: SecurityRuleObs[], ctx: NsgContext, evaluate: NsgFn, addressClass: (ip: number) => number = lazyClasses(rules, ctx)): Required<NsgEvaluator> {
  const memo = new Map<string, NsgDecision>();
  const side = (e: Endpoint): string => `${e.ip !== undefined ? `ip[${addressClass(e.ip)}]` : ''}|${e.cidr ? `${e.cidr.base}/${e.cidr.len}` : ''}|${e.tag?.toLowerCase() ?? ''}`;
  return {
    addressClass,
    evaluate: (p: Packet) => {
      const key = `${p.direction} ${p.protocol} ${p.port} ${side(p.source)} ${side(p.destination)}`;
      let d = memo.get(key);
      if (!d) {
        d = evaluate(p);
        memo.set(key, d);
      }
      return d;
    },
  };
}

/** addressClasses(rules, ctx), built on the first address asked about. */
export function lazyClasses(rules: SecurityRuleObs[], ctx: NsgContext): (ip: number) => number {
  let classes: ((ip: number) => number) | undefined;
  return (ip) => (classes ??= addressClasses(rules, ctx))(ip);
}

/** The memoized evaluator alone. */
export function memoizedNsg(rules: SecurityRuleObs[], ctx: NsgContext, evaluate: NsgFn): NsgFn {
  return nsgMemo(rules, ctx, evaluate).evaluate;
}
