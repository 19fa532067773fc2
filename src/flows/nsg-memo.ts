/**
 * NSG decisions memoized by address class. A tag destination is traced from every prefix's first
 * address (thousands for Storage or AzureFrontDoor), but an NSG can only tell two addresses apart
 * through the prefixes its rules test: the rule CIDRs, the expanded tags, VirtualNetwork, the
 * private ranges (Internet) and AzureLoadBalancer. Addresses inside exactly the same set of those
 * prefix groups get the same decision, so each class is evaluated once per NSG, port and protocol.
 * Both primitive implementations run behind the same memo, so their results stay comparable.
 */
import type { SecurityRuleObs } from '../model/snapshot.ts';
import { parseCidr, PRIVATE_RANGES, type Cidr } from '../net/cidr.ts';
import type { Endpoint, NsgContext, NsgDecision, Packet } from '../net/nsg.ts';
import { PrefixTrie } from '../net/prefix-trie.ts';
import type { NsgFn } from './primitives.ts';

const AZURE_LOAD_BALANCER = parseCidr('168.63.129.16/32') as Cidr;

/**
 * `a.b.c.d/len` without a regular expression: expanded rules carry thousands of prefixes and this
 * runs on every analysis. Anything unusual falls back to parseCidr.
 */
export function fastCidr(text: string): Cidr | undefined {
  let base = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  let i = 0;
  for (; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch >= 48 && ch <= 57) {
      octet = octet * 10 + (ch - 48);
      if (++digits > 3 || octet > 255) return parseCidr(text);
    } else if (ch === 46 && digits > 0 && dots < 3) {
      base = base * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else break;
  }
  if (dots !== 3 || digits === 0) return parseCidr(text);
  base = base * 256 + octet;
  if (i === text.length) return { base, len: 32 };
  const lenText = text.slice(i + 1);
  if (text.charCodeAt(i) !== 47 || !/^\d{1,2}$/.test(lenText) || Number(lenText) > 32) return parseCidr(text);
  const len = Number(lenText);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { base: (base & mask) >>> 0, len };
}

const cidrKey = (c: Cidr): string => `${c.base}/${c.len}`;

/** Does an expanded prefix list hold exactly the tag's prefixes (how Azure expands a tag)? */
function sameAsTag(expanded: Cidr[], tag: Cidr[] | undefined): boolean {
  if (!tag || tag.length !== expanded.length) return false;
  const keys = new Set(tag.map(cidrKey));
  return expanded.every((c) => keys.has(cidrKey(c)));
}

/**
 * Maps an address to the sorted ids of the prefix groups that contain it. Groups that are whole
 * service tags (a tag in a configured rule, or an effective rule's expansion of one) are looked
 * up in the service tag index rather than copied into this trie: tags are most of the prefixes.
 */
function addressClasses(rules: SecurityRuleObs[], ctx: NsgContext): (ip: number) => string {
  const trie = new PrefixTrie<number>();
  const groups = new Map<string, number>();
  const byTag = new Map<string, number>();
  const group = (key: string, cidrs: Cidr[]) => {
    if (groups.has(key)) return;
    const id = groups.size;
    groups.set(key, id);
    for (const c of cidrs) trie.insert(c, id);
  };
  const tagGroup = (tag: string) => {
    const name = tag.toLowerCase();
    if (!byTag.has(name)) byTag.set(name, groups.size + byTag.size + 1_000_000);
  };
  group('private', [...PRIVATE_RANGES]);
  group('virtual-network', ctx.virtualNetwork);
  group('azure-load-balancer', [AZURE_LOAD_BALANCER]);
  rules.forEach((r, i) => {
    const sides: Array<[string, string[], string[] | undefined]> = [
      ['s', r.sourceAddressPrefixes, r.expandedSourceAddressPrefixes],
      ['d', r.destinationAddressPrefixes, r.expandedDestinationAddressPrefixes],
    ];
    for (const [side, prefixes, expanded] of sides) {
      if (expanded && expanded.length > 0) {
        const cidrs = expanded.map(fastCidr).filter((c): c is Cidr => !!c);
        const only = prefixes.length === 1 ? (prefixes[0] as string) : undefined;
        if (only && !fastCidr(only) && sameAsTag(cidrs, ctx.tags.prefixes(only))) tagGroup(only);
        else group(`rule ${i} ${side} expanded`, cidrs);
        continue;
      }
      for (const text of prefixes) {
        const cidr = fastCidr(text);
        if (cidr) group(`cidr ${cidrKey(cidr)}`, [cidr]);
        else if (ctx.tags.prefixes(text)?.length) tagGroup(text);
      }
    }
  });
  return (ip) => {
    const ids = new Set<number>();
    for (const hit of trie.containing(ip)) for (const id of hit.values) ids.add(id);
    if (byTag.size > 0) {
      for (const name of ctx.tags.tagsContaining(ip)) {
        const id = byTag.get(name.toLowerCase());
        if (id !== undefined) ids.add(id);
      }
    }
    return [...ids].sort((a, b) => a - b).join(',');
  };
}

/** Wraps an NSG evaluator with a memo keyed by the packet's address classes. */
export function memoizedNsg(rules: SecurityRuleObs[], ctx: NsgContext, evaluate: NsgFn): NsgFn {
  let classes: ((ip: number) => string) | undefined;
  const classByIp = new Map<number, string>();
  const classOf = (ip: number): string => {
    let c = classByIp.get(ip);
    if (c === undefined) {
      classes ??= addressClasses(rules, ctx);
      c = classes(ip);
      classByIp.set(ip, c);
    }
    return c;
  };
  const memo = new Map<string, NsgDecision>();
  const side = (e: Endpoint): string => `${e.ip !== undefined ? `ip[${classOf(e.ip)}]` : ''}|${e.cidr ? `${e.cidr.base}/${e.cidr.len}` : ''}|${e.tag?.toLowerCase() ?? ''}`;
  return (p: Packet) => {
    const key = `${p.direction} ${p.protocol} ${p.port} ${side(p.source)} ${side(p.destination)}`;
    let d = memo.get(key);
    if (!d) {
      d = evaluate(p);
      memo.set(key, d);
    }
    return d;
  };
}
