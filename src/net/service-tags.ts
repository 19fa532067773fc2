/** Service tag lookup (by name, case-insensitive) and reverse lookup (which tags contain an address). */
import type { ServiceTagObs } from '../model/snapshot.ts';
import { parseCidr, type Cidr } from './cidr.ts';
import { PrefixTrie } from './prefix-trie.ts';

export class ServiceTagIndex {
  #byName = new Map<string, { name: string; prefixes: Cidr[] }>();
  #trie = new PrefixTrie<string>();

  constructor(tags: ServiceTagObs[]) {
    for (const tag of tags) {
      const key = tag.name.toLowerCase();
      const known = this.#byName.get(key) ?? { name: tag.name, prefixes: [] };
      this.#byName.set(key, known);
      for (const text of tag.addressPrefixes) {
        const c = parseCidr(text);
        if (!c) continue;
        known.prefixes.push(c);
        this.#trie.insert(c, known.name);
      }
    }
  }

  static empty(): ServiceTagIndex {
    return new ServiceTagIndex([]);
  }

  has(tag: string): boolean {
    return this.#byName.has(tag.toLowerCase());
  }

  /** IPv4 prefixes of exactly this tag; undefined = unknown tag (a parent is not guessed from its children). */
  prefixes(tag: string): Cidr[] | undefined {
    return this.#byName.get(tag.toLowerCase())?.prefixes.slice();
  }

  /** Tags (names as given) whose prefixes contain ip. */
  tagsContaining(ip: number): string[] {
    const names = new Set<string>();
    for (const hit of this.#trie.containing(ip)) for (const name of hit.values) names.add(name);
    return [...names];
  }
}

/** `Storage` is the parent of `Storage.westeurope`; same tag → true. Case-insensitive. */
export function tagCovers(ruleTag: string, flowTag: string): boolean {
  const rule = ruleTag.toLowerCase();
  const flow = flowTag.toLowerCase();
  return rule === flow || flow.startsWith(`${rule}.`);
}
