import t from 'tap';
import { mulberry32 } from '../../src/sim/prng.ts';
import { cidrContainsIp, formatCidr, maskOf, parseCidr, type Cidr } from '../../src/net/cidr.ts';
import { PrefixTrie } from '../../src/net/prefix-trie.ts';

const c = (s: string): Cidr => parseCidr(s) as Cidr;
const ip = (s: string): number => c(s).base;

t.test('longest returns the most specific prefix and every value stored at it', async (t) => {
  const trie = new PrefixTrie<string>();
  trie.insert(c('0.0.0.0/0'), 'default');
  trie.insert(c('10.0.0.0/16'), 'vnet');
  trie.insert(c('10.0.1.0/24'), 'subnet-a');
  trie.insert(c('10.0.1.0/24'), 'subnet-b');
  t.equal(trie.size, 3);
  t.same(trie.longest(ip('10.0.1.9')), { cidr: c('10.0.1.0/24'), values: ['subnet-a', 'subnet-b'] });
  t.equal(trie.longest(ip('10.0.2.9'))?.values[0], 'vnet');
  t.equal(trie.longest(ip('8.8.8.8'))?.values[0], 'default');
  t.same(trie.containing(ip('10.0.1.9')).map((h) => formatCidr(h.cidr)), ['0.0.0.0/0', '10.0.0.0/16', '10.0.1.0/24']);
});

t.test('an empty trie and a trie without a default answer nothing for unrelated addresses', async (t) => {
  const trie = new PrefixTrie<number>();
  t.equal(trie.longest(ip('10.0.0.1')), undefined);
  trie.insert(c('10.0.0.1/32'), 1);
  t.equal(trie.longest(ip('10.0.0.1'))?.values[0], 1);
  t.equal(trie.longest(ip('10.0.0.2')), undefined);
  t.same(trie.containing(ip('10.0.0.2')), []);
});

t.test('addresses with the top bit set are found (unsigned shifts)', async (t) => {
  const trie = new PrefixTrie<string>();
  trie.insert(c('192.168.0.0/16'), 'high');
  trie.insert(c('255.255.255.255/32'), 'broadcast');
  t.equal(trie.longest(ip('192.168.4.4'))?.values[0], 'high');
  t.equal(trie.longest(ip('255.255.255.255'))?.values[0], 'broadcast');
});

t.test('overlapping finds covering and covered prefixes', async (t) => {
  const trie = new PrefixTrie<string>();
  for (const p of ['0.0.0.0/0', '10.0.0.0/8', '10.0.1.0/24', '10.0.1.128/25', '10.0.2.0/24']) trie.insert(c(p), p);
  const names = trie.overlapping(c('10.0.1.0/24')).map((h) => formatCidr(h.cidr)).sort();
  t.same(names, ['0.0.0.0/0', '10.0.0.0/8', '10.0.1.0/24', '10.0.1.128/25']);
});

t.test('returned values are copies: callers cannot corrupt the trie', async (t) => {
  const trie = new PrefixTrie<string>();
  trie.insert(c('10.0.0.0/8'), 'a');
  trie.longest(ip('10.1.1.1'))?.values.push('b');
  t.same(trie.longest(ip('10.1.1.1'))?.values, ['a']);
});


t.test('containing and longest agree with a linear scan on random prefixes', async (t) => {
  const rand = mulberry32(7);
  const randomIp = (): number => ((0x0a000000 + Math.floor(rand() * 0x40000)) ^ (rand() < 0.3 ? 0x80000000 : 0)) >>> 0;
  const prefixes: Cidr[] = [];
  const trie = new PrefixTrie<number>();
  for (let i = 0; i < 400; i++) {
    const len = Math.floor(rand() * 33);
    const p = { base: (randomIp() & maskOf(len)) >>> 0, len };
    prefixes.push(p);
    trie.insert(p, i);
  }
  let mismatches = 0;
  for (let k = 0; k < 3000; k++) {
    const a = randomIp();
    const expected = prefixes.map((p, i) => ({ p, i })).filter(({ p }) => cidrContainsIp(p, a));
    const got = trie.containing(a).flatMap((h) => h.values);
    if ([...got].sort((x, y) => x - y).join() !== expected.map((e) => e.i).join()) mismatches++;
    const maxLen = Math.max(-1, ...expected.map((e) => e.p.len));
    if ((trie.longest(a)?.cidr.len ?? -1) !== maxLen) mismatches++;
  }
  t.equal(mismatches, 0);
});

t.test('the allocation-free lookups agree with a linear scan on thousands of prefixes, duplicates included', async (t) => {
  const rand = mulberry32(11);
  const randomIp = (): number => ((0x14000000 + Math.floor(rand() * 0x200000)) ^ (rand() < 0.2 ? 0x80000000 : 0)) >>> 0;
  const trie = new PrefixTrie<number>();
  const prefixes: Cidr[] = [];
  for (let i = 0; i < 6000; i++) {
    const len = rand() < 0.8 ? 24 : 1 + Math.floor(rand() * 32);
    const p = { base: (randomIp() & maskOf(len)) >>> 0, len };
    prefixes.push(p);
    trie.insert(p, i);
  }
  t.ok(trie.size > 4000 && trie.size < 6000, `${trie.size} distinct prefixes for 6000 values (the node arrays grew many times)`);
  const scan = (keep: (p: Cidr) => boolean) => prefixes.map((p, i) => ({ p, i })).filter(({ p }) => keep(p));
  let mismatches = 0;
  for (let k = 0; k < 800; k++) {
    const a = k % 3 === 0 ? (prefixes[k % prefixes.length] as Cidr).base : randomIp();
    // Shortest prefix first, insertion order within a prefix.
    const expected = scan((p) => cidrContainsIp(p, a)).sort((x, y) => x.p.len - y.p.len || x.i - y.i);
    const visited: number[] = [];
    trie.forEachContaining(a, (value) => visited.push(value));
    if (visited.join() !== expected.map((e) => e.i).join()) mismatches++;
    const entry = trie.longestEntry(a);
    const maxLen = Math.max(-1, ...expected.map((e) => e.p.len));
    const longest = expected.filter((e) => e.p.len === maxLen).map((e) => e.i);
    if ((entry < 0 ? [] : trie.valuesOf(entry)).join() !== longest.join()) mismatches++;
    const range = prefixes[(k * 7) % prefixes.length] as Cidr;
    const overlapping: number[] = [];
    trie.forEachOverlapping(range, (value) => overlapping.push(value));
    const overlaps = scan((p) => (p.len <= range.len && cidrContainsIp(p, range.base)) || (p.len >= range.len && cidrContainsIp(range, p.base))).map((e) => e.i);
    if (overlapping.sort((x, y) => x - y).join() !== overlaps.join()) mismatches++;
  }
  t.equal(mismatches, 0);
  const small = new PrefixTrie<string>();
  t.equal(small.longestEntry(ip('1.1.1.1')), -1, 'empty trie: no entry');
  small.insert(c('10.0.0.0/8'), 'a');
  small.insert(c('10.1.0.0/16'), 'b');
  small.insert(c('10.1.0.0/16'), 'c');
  t.equal(small.longestEntry(ip('1.1.1.1')), -1, 'no prefix holds the address: no entry');
  t.same(small.valuesOf(small.longestEntry(ip('10.1.2.3'))), ['b', 'c']);
  t.same(small.valuesOf(small.longestEntry(ip('10.2.2.3'))), ['a']);
  t.same(small.overlapping(c('10.1.0.0/17')), [{ cidr: c('10.0.0.0/8'), values: ['a'] }, { cidr: c('10.1.0.0/16'), values: ['b', 'c'] }]);
  t.same(small.overlapping(c('10.0.0.0/12')).map((h) => formatCidr(h.cidr)), ['10.0.0.0/8', '10.1.0.0/16'], 'the prefixes inside come with their own range');
});
