import t from 'tap';
import {
  cidrContainsIp,
  cidrCovers,
  cidrOverlaps,
  formatCidr,
  intToIp,
  ipToInt,
  isPrivateAddress,
  parseCidr,
  type Cidr,
} from '../../src/net/cidr.ts';

const c = (s: string): Cidr => {
  const parsed = parseCidr(s);
  if (!parsed) throw new Error(`bad cidr ${s}`);
  return parsed;
};
const ip = (s: string): number => ipToInt(s) ?? NaN;

t.test('parses CIDRs and bare addresses, masks host bits, rejects tags, IPv6 and garbage', async (t) => {
  t.same(parseCidr('10.0.0.0/16'), { base: ip('10.0.0.0'), len: 16 });
  t.same(parseCidr('10.0.0.4'), { base: ip('10.0.0.4'), len: 32 });
  t.equal(formatCidr(c('10.0.3.7/22')), '10.0.0.0/22');
  t.equal(formatCidr(c('0.0.0.0/0')), '0.0.0.0/0');
  for (const bad of ['AzureMachineLearning', 'Storage.westeurope', '2001:db8::/32', '10.0.0.0/33', '10.0.0.256', '10.0.0.0/8/1', '10.0.0.0/', '*']) {
    t.equal(parseCidr(bad), undefined, bad);
  }
});

t.test('addresses above 128.0.0.0 stay unsigned', async (t) => {
  const n = ip('255.255.255.254');
  t.equal(n, 4294967294);
  t.equal(intToIp(n), '255.255.255.254');
  t.ok(cidrContainsIp(c('192.168.0.0/16'), ip('192.168.255.1')));
  t.ok(cidrContainsIp(c('0.0.0.0/0'), n));
  t.notOk(cidrContainsIp(c('192.168.0.0/16'), ip('192.169.0.1')));
});

t.test('covers and overlaps', async (t) => {
  t.ok(cidrCovers(c('10.0.0.0/16'), c('10.0.1.0/24')));
  t.notOk(cidrCovers(c('10.0.1.0/24'), c('10.0.0.0/16')));
  t.ok(cidrCovers(c('10.0.1.0/24'), c('10.0.1.0/24')));
  t.ok(cidrOverlaps(c('10.0.1.0/24'), c('10.0.0.0/16')));
  t.notOk(cidrOverlaps(c('10.0.1.0/24'), c('10.0.2.0/24')));
});

t.test('private address space is RFC 1918 plus CGNAT', async (t) => {
  for (const a of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1']) t.ok(isPrivateAddress(ip(a)), a);
  for (const a of ['172.32.0.1', '20.190.128.1', '100.128.0.1', '168.63.129.16']) t.notOk(isPrivateAddress(ip(a)), a);
});

/** The reading parseCidr must keep: trim, split at the first slash, strict dotted quad, 1-2 digit length. */
function referenceParse(input: string): Cidr | undefined {
  const s = input.trim();
  const [addr, len, ...rest] = s.split('/');
  if (rest.length > 0 || addr === undefined) return undefined;
  const m = /^\s*(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\s*$/.exec(addr);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  const base = parts.reduce((n, p) => n * 256 + p, 0);
  if (len === undefined) return { base, len: 32 };
  if (!/^\d{1,2}$/.test(len) || Number(len) > 32) return undefined;
  const mask = Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0;
  return { base: (base & mask) >>> 0, len: Number(len) };
}

t.test('the one-pass reader agrees with the general reading on edge cases and random text', async (t) => {
  const texts = ['10.0.0.0/8', '10.0.0.5/16', '20.190.128.0/18', '1.2.3.4', '0.0.0.0/0', '255.255.255.255/32', '01.2.3.4/08', '1.2.3.4/', '1.2.3.4/33', '1.2.3.4/123', '256.1.1.1/8', '1.2.3/24', '1..2.3/8', ' 10.0.0.0/8', '10.0.0.0/8 ', '10.0.0.0 /8', '10.0.0.0/ 8', '\u00a010.0.0.0/8', '10.0.0.0/8\u2028', 'Storage', '*', '', '::1/128', '1.2.3.4.5/8', '1.2.3.4/x', '1.2.3.4a', '1234.1.1.1', '.1.2.3'];
  const name = (text: string) => JSON.stringify(text).replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  for (const text of texts) t.same(parseCidr(text), referenceParse(text), name(text));
  let seed = 99;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const alphabet = ['0', '1', '2', '5', '9', '.', '.', '.', '/', ' ', 'a', '\u00a0', '25', '255', '256', '3'];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  // Mostly near-miss prefixes (four numbers, a length, a stray character here and there).
  const nearMiss = () => {
    const octets = Array.from({ length: pick([3, 4, 4, 4, 5]) }, () => pick(['0', '1', '10', '99', '255', '256', '007', '1234', '']));
    return `${pick(['', '', '', ' ', '\u00a0'])}${octets.join(pick(['.', '.', '.', '..']))}${pick(['', '/', '/0', '/8', '/24', '/32', '/33', '/ 8', '/08', '/123'])}${pick(['', '', '', ' ', 'x'])}`;
  };
  let mismatches = 0;
  let valid = 0;
  for (let i = 0; i < 20000; i++) {
    const text = i % 2 ? nearMiss() : Array.from({ length: 1 + Math.floor(rand() * 16) }, () => pick(alphabet)).join('');
    if (referenceParse(text)) valid++;
    if (JSON.stringify(parseCidr(text)) !== JSON.stringify(referenceParse(text))) {
      mismatches++;
      if (mismatches < 5) t.fail(name(text));
    }
  }
  t.equal(mismatches, 0);
  t.ok(valid > 200, `${valid} of the texts are prefixes`);
});
