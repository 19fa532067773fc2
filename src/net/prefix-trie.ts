/** Binary trie over IPv4 prefixes: one level per address bit, so every lookup is O(32). */
import type { Cidr } from './cidr.ts';

interface Entry<T> {
  cidr: Cidr;
  values: T[];
}

interface Node<T> {
  zero?: Node<T>;
  one?: Node<T>;
  entry?: Entry<T>;
}

/** Bit `depth` of `n`, counted from the most significant bit. */
const bitAt = (n: number, depth: number): number => (n >>> (31 - depth)) & 1;

const snapshot = <T>(e: Entry<T>): { cidr: Cidr; values: T[] } => ({ cidr: e.cidr, values: e.values.slice() });

export class PrefixTrie<T> {
  #root: Node<T> = {};
  #size = 0;

  insert(c: Cidr, value: T): void {
    let node = this.#root;
    for (let depth = 0; depth < c.len; depth++) {
      if (bitAt(c.base, depth) === 0) node = node.zero ??= {};
      else node = node.one ??= {};
    }
    if (node.entry) node.entry.values.push(value);
    else {
      node.entry = { cidr: { base: c.base, len: c.len }, values: [value] };
      this.#size++;
    }
  }

  /** Values of the longest prefix containing ip (all values stored at that prefix), or undefined. */
  longest(ip: number): { cidr: Cidr; values: T[] } | undefined {
    let best: Entry<T> | undefined;
    this.#walk(ip, 32, (e) => (best = e));
    return best && snapshot(best);
  }

  /** Every stored prefix containing ip, shortest first. */
  containing(ip: number): Array<{ cidr: Cidr; values: T[] }> {
    const out: Array<{ cidr: Cidr; values: T[] }> = [];
    this.#walk(ip, 32, (e) => out.push(snapshot(e)));
    return out;
  }

  /** Every stored prefix that shares an address with c: those covering it, then those inside it. */
  overlapping(c: Cidr): Array<{ cidr: Cidr; values: T[] }> {
    const out: Array<{ cidr: Cidr; values: T[] }> = [];
    const node = this.#walk(c.base, c.len, (e) => out.push(snapshot(e)));
    if (!node) return out;
    const stack: Node<T>[] = [node.zero, node.one].filter((n): n is Node<T> => n !== undefined);
    while (stack.length > 0) {
      const n = stack.pop() as Node<T>;
      if (n.entry) out.push(snapshot(n.entry));
      if (n.zero) stack.push(n.zero);
      if (n.one) stack.push(n.one);
    }
    return out;
  }

  /** Number of distinct prefixes stored. */
  get size(): number {
    return this.#size;
  }

  /** Follows `addr` for `depth` bits, visiting each entry on the way; returns the node reached, if any. */
  #walk(addr: number, depth: number, visit: (e: Entry<T>) => void): Node<T> | undefined {
    let node: Node<T> | undefined = this.#root;
    for (let d = 0; ; d++) {
      if (node.entry) visit(node.entry);
      if (d === depth) return node;
      node = bitAt(addr, d) === 0 ? node.zero : node.one;
      if (!node) return undefined;
    }
  }
}
