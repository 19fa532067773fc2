/** IPv4 prefixes as (uint32 base, length) pairs. Pure; IPv6 and service tags parse to undefined. */
import { parseIPv4 } from '../model/ip.ts';

export interface Cidr {
  /** First address, masked to `len`, as an unsigned 32-bit integer. */
  base: number;
  len: number;
}

/** Netmask for a prefix length (`<< 32` is a no-op in JS, hence the special case). */
export function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

export function ipToInt(ip: string): number | undefined {
  return parseIPv4(ip);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `10.0.0.0/16`, `10.0.0.4` (= /32). A base with host bits set is masked (`10.0.0.5/16` → 10.0.0.0/16). */
export function parseCidr(input: string): Cidr | undefined {
  const s = input.trim();
  const slash = s.indexOf('/');
  if (slash < 0) {
    const ip = parseIPv4(s);
    return ip === undefined ? undefined : { base: ip, len: 32 };
  }
  const ip = parseIPv4(s.slice(0, slash));
  if (ip === undefined) return undefined;
  const lenText = s.slice(slash + 1);
  if (lenText.length < 1 || lenText.length > 2) return undefined;
  let len = 0;
  for (let i = 0; i < lenText.length; i++) {
    const c = lenText.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    len = len * 10 + (c - 48);
  }
  if (len > 32) return undefined;
  return { base: (ip & maskOf(len)) >>> 0, len };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.base)}/${c.len}`;
}

/** Last address of the prefix. */
export function cidrLast(c: Cidr): number {
  return (c.base | ~maskOf(c.len)) >>> 0;
}

export function cidrContainsIp(c: Cidr, ip: number): boolean {
  return ((ip & maskOf(c.len)) >>> 0) === c.base;
}

export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  return outer.len <= inner.len && cidrContainsIp(outer, inner.base);
}

export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return cidrCovers(a, b) || cidrCovers(b, a);
}

/** Address space Azure never routes to the internet: RFC 1918 and CGNAT (the system `None` routes). */
export const PRIVATE_RANGES: readonly Cidr[] = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'].map(
  (s) => parseCidr(s) as Cidr,
);

export function isPrivateAddress(ip: number): boolean {
  return PRIVATE_RANGES.some((c) => cidrContainsIp(c, ip));
}

/** The whole prefix lies in one private range. */
export function isPrivateCidr(c: Cidr): boolean {
  return PRIVATE_RANGES.some((p) => cidrCovers(p, c));
}
