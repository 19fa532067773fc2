/**
 * Binary trie over IPv4 prefixes: one level per address bit, so every lookup is O(32).
 *
 * Nodes live in typed arrays (child links and the entry a node holds), not one object per node:
 * a service-tag list makes hundreds of thousands of nodes, and objects would be garbage to collect.
 * Node 0 is the root; a child link of 0 means "no child" (the root is nobody's child). Entries (a
 * stored prefix and its values) are numbered from 0 in order of first insertion; a node stores
 * its entry number plus one (0 = no entry). An entry's first value lives in a side array, further
 * values (rare: one prefix, several routes or rules) in a map.
 */
import { maskOf, type Cidr } from './cidr.ts';

/** Bit `depth` of `n`, counted from the most significant bit. */
const bitAt = (n: number, depth: number): number => (n >>> (31 - depth)) & 1;

export class PrefixTrie<T> {
  #zero = new Int32Array(64);
  #one = new Int32Array(64);
  #entryOf = new Int32Array(64);
  #nodes = 1;
  #first: T[] = [];
  #more = new Map<number, T[]>();

  insert(c: Cidr, value: T): void {
    this.insertPrefix(c.base, c.len, value);
  }

  /** insert() for a prefix given as its (masked) first address and length. */
  insertPrefix(base: number, len: number, value: T): void {
    let zero = this.#zero;
    let one = this.#one;
    let node = 0;
    for (let depth = 0; depth < len; depth++) {
      const bit = (base >>> (31 - depth)) & 1;
      let next = (bit === 0 ? zero[node] : one[node]) as number;
      if (next === 0) {
        if (this.#nodes === zero.length) {
          this.#grow();
          zero = this.#zero;
          one = this.#one;
        }
        next = this.#nodes++;
        if (bit === 0) zero[node] = next;
        else one[node] = next;
      }
      node = next;
    }
    const entry = (this.#entryOf[node] as number) - 1;
    if (entry < 0) {
      this.#first.push(value);
      this.#entryOf[node] = this.#first.length;
    } else {
      const more = this.#more.get(entry);
      if (more) more.push(value);
      else this.#more.set(entry, [value]);
    }
  }

  /** Values of the longest prefix containing ip (all values stored at that prefix), or undefined. */
  longest(ip: number): { cidr: Cidr; values: T[] } | undefined {
    let best: { cidr: Cidr; values: T[] } | undefined;
    this.#walk(ip, 32, (entry, len) => (best = this.#copy(entry, ip, len)));
    return best;
  }

  /** Every stored prefix containing ip, shortest first. */
  containing(ip: number): Array<{ cidr: Cidr; values: T[] }> {
    const out: Array<{ cidr: Cidr; values: T[] }> = [];
    this.#walk(ip, 32, (entry, len) => out.push(this.#copy(entry, ip, len)));
    return out;
  }

  /** Every stored prefix that shares an address with c: those covering it, then those inside it. */
  overlapping(c: Cidr): Array<{ cidr: Cidr; values: T[] }> {
    const out: Array<{ cidr: Cidr; values: T[] }> = [];
    this.#overlap(c, (entry, base, len) => out.push(this.#copy(entry, base, len)));
    return out;
  }

  /** Number of distinct prefixes stored. */
  get size(): number {
    return this.#first.length;
  }

  // ------------------------------------------------------------ allocation-free access for hot loops

  /**
   * The entry number (0 .. size-1) of the longest prefix containing ip, or -1. Every prefix
   * containing ip is that entry's prefix or one of its ancestors, so the entry number also
   * identifies the set of stored prefixes containing ip.
   */
  longestEntry(ip: number): number {
    const zero = this.#zero;
    const one = this.#one;
    const entryOf = this.#entryOf;
    let best = entryOf[0] as number;
    let node = 0;
    for (let d = 0; d < 32; d++) {
      node = ((ip >>> (31 - d)) & 1) === 0 ? (zero[node] as number) : (one[node] as number);
      if (node === 0) break;
      const e = entryOf[node] as number;
      if (e !== 0) best = e;
    }
    return best - 1;
  }

  /** The values stored at an entry, in insertion order (a new array). */
  valuesOf(entry: number): T[] {
    const more = this.#more.get(entry);
    const first = this.#first[entry] as T;
    return more ? [first, ...more] : [first];
  }

  /** Calls `visit` with every value of every stored prefix containing ip, shortest prefix first. */
  forEachContaining(ip: number, visit: (value: T) => void): void {
    const zero = this.#zero;
    const one = this.#one;
    const entryOf = this.#entryOf;
    let node = 0;
    for (let d = 0; ; d++) {
      const e = entryOf[node] as number;
      if (e !== 0) this.#visitValues(e - 1, visit);
      if (d === 32) return;
      node = ((ip >>> (31 - d)) & 1) === 0 ? (zero[node] as number) : (one[node] as number);
      if (node === 0) return;
    }
  }

  /** Calls `visit` with every value of every stored prefix sharing an address with c, in overlapping()'s order. */
  forEachOverlapping(c: Cidr, visit: (value: T) => void): void {
    this.#overlap(c, (entry) => this.#visitValues(entry, visit));
  }

  #visitValues(entry: number, visit: (value: T) => void): void {
    visit(this.#first[entry] as T);
    if (this.#more.size === 0) return;
    const more = this.#more.get(entry);
    if (more) for (const v of more) visit(v);
  }

  #copy(entry: number, addr: number, len: number): { cidr: Cidr; values: T[] } {
    return { cidr: { base: (addr & maskOf(len)) >>> 0, len }, values: this.valuesOf(entry) };
  }

  #grow(): void {
    const grow = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.#zero = grow(this.#zero);
    this.#one = grow(this.#one);
    this.#entryOf = grow(this.#entryOf);
  }

  /** Follows `addr` for `depth` bits, visiting each entry on the way (with its prefix length); returns the node reached, or -1. */
  #walk(addr: number, depth: number, visit: (entry: number, len: number) => void): number {
    let node = 0;
    for (let d = 0; ; d++) {
      const e = this.#entryOf[node] as number;
      if (e !== 0) visit(e - 1, d);
      if (d === depth) return node;
      node = bitAt(addr, d) === 0 ? (this.#zero[node] as number) : (this.#one[node] as number);
      if (node === 0) return -1;
    }
  }

  /** The entries covering c (shortest first), then those inside it (depth first, the one-side last). */
  #overlap(c: Cidr, visit: (entry: number, base: number, len: number) => void): void {
    const node = this.#walk(c.base, c.len, (entry, len) => visit(entry, c.base, len));
    if (node < 0) return;
    // Nodes below c, with the prefix each stands for.
    const stack: Array<{ node: number; base: number; len: number }> = [];
    const push = (parent: { base: number; len: number }, n: number, bit: number) => {
      if (n !== 0) stack.push({ node: n, base: (parent.base | (bit << (31 - parent.len))) >>> 0, len: parent.len + 1 });
    };
    const start = { base: c.base, len: c.len };
    push(start, this.#zero[node] as number, 0);
    push(start, this.#one[node] as number, 1);
    while (stack.length > 0) {
      const top = stack.pop() as { node: number; base: number; len: number };
      const e = this.#entryOf[top.node] as number;
      if (e !== 0) visit(e - 1, top.base, top.len);
      push(top, this.#zero[top.node] as number, 0);
      push(top, this.#one[top.node] as number, 1);
    }
  }
}
