/** Service tag lookup (by name, case-insensitive) and reverse lookup (which tags contain an address). */
import type { ServiceTagObs } from '../model/snapshot.ts';
import { parseCidrKey, type Cidr } from './cidr.ts';
import { PrefixTrie } from './prefix-trie.ts';

interface TagEntry {
  name: string;
  /** The IPv4 prefixes as `base * 64 + len` (see parseCidrKey); Cidr objects made on first ask. */
  keys: number[];
  prefixes?: Cidr[];
  /** The prefix texts as listed, per service tag entry of that name (usually one list). */
  texts: string[][];
  /** Every listed text is an IPv4 prefix longer than /0. */
  plain: boolean;
}

export class ServiceTagIndex {
  #byName = new Map<string, TagEntry>();
  #trie = new PrefixTrie<string>();
  /** Per trie entry: the id of the set of tags containing its addresses (-1 = not computed yet). */
  #setOfEntry: Int32Array | undefined;
  #setIds = new Map<string, number>();
  /** Per tag-set id: the lower-case names of its tags. */
  #setKeys: string[][] = [[]];

  constructor(tags: ServiceTagObs[]) {
    for (const tag of tags) {
      const key = tag.name.toLowerCase();
      let known = this.#byName.get(key);
      if (!known) {
        known = { name: tag.name, keys: [], texts: [], plain: true };
        this.#byName.set(key, known);
      }
      known.texts.push(tag.addressPrefixes);
      for (const text of tag.addressPrefixes) {
        const k = parseCidrKey(text);
        if (k < 0 || k % 64 === 0) known.plain = false; // not a prefix (IPv6…), or a /0
        if (k < 0) continue;
        known.keys.push(k);
        this.#trie.insertPrefix((k - (k % 64)) / 64, k % 64, known.name);
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
    return this.prefixesView(tag)?.slice();
  }

  /** Like prefixes(), without the copy: shared with the index, never change it. */
  prefixesView(tag: string): readonly Cidr[] | undefined {
    const known = this.#byName.get(tag.toLowerCase());
    if (!known) return undefined;
    known.prefixes ??= known.keys.map((k) => ({ base: (k - (k % 64)) / 64, len: k % 64 }));
    return known.prefixes;
  }

  /**
   * Are these prefix texts, in this order, exactly the texts the tag was listed with? (How an
   * effective NSG rule expands a tag.) True implies the same prefixes, without parsing them.
   * `plain`: and each text is an IPv4 prefix longer than /0, so an address is in one of them
   * exactly when tagSetOf() says the tag contains it.
   */
  listedAs(tag: string, texts: readonly string[], plain = false): boolean {
    const known = this.#byName.get(tag.toLowerCase());
    if (!known || known.texts.length !== 1 || (plain && !known.plain)) return false;
    const listed = known.texts[0] as string[];
    if (listed === texts) return true;
    if (listed.length !== texts.length) return false;
    for (let i = 0; i < texts.length; i++) if (listed[i] !== texts[i]) return false;
    return true;
  }

  /** Tags (names as given) whose prefixes contain ip. */
  tagsContaining(ip: number): string[] {
    const names = new Set<string>();
    this.#trie.forEachContaining(ip, (name) => names.add(name));
    return [...names];
  }

  /**
   * A number for the set of tags whose prefixes contain ip: two addresses get the same number
   * exactly when the same tags contain them (0 = no tag). No allocation once computed.
   */
  tagSetOf(ip: number): number {
    const entry = this.#trie.longestEntry(ip);
    if (entry < 0) return 0;
    // The longest prefix's entry determines every prefix containing ip (its ancestors).
    this.#setOfEntry ??= new Int32Array(this.#trie.size).fill(-1);
    let id = this.#setOfEntry[entry] as number;
    if (id < 0) {
      const names = this.tagsContaining(ip).sort();
      const key = JSON.stringify(names);
      id = this.#setIds.get(key) ?? this.#setIds.size + 1;
      if (id === this.#setKeys.length) this.#setKeys.push(names.map((n) => n.toLowerCase()));
      this.#setIds.set(key, id);
      this.#setOfEntry[entry] = id;
    }
    return id;
  }

  /** The tags of a tagSetOf() number, lower case. */
  tagSetKeys(id: number): readonly string[] {
    return this.#setKeys[id] ?? [];
  }
}

/** `Storage` is the parent of `Storage.westeurope`; same tag → true. Case-insensitive. */
export function tagCovers(ruleTag: string, flowTag: string): boolean {
  const rule = ruleTag.toLowerCase();
  const flow = flowTag.toLowerCase();
  return rule === flow || flow.startsWith(`${rule}.`);
}
