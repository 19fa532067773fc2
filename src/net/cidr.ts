/** IPv4 prefixes as (uint32 base, length) pairs. Pure; IPv6 and service tags parse to undefined. */

/**
 * Dotted quad to an unsigned 32-bit integer; undefined unless exactly four 1-3 digit parts each
 * <= 255 (surrounding whitespace allowed). Hand-rolled: it runs on every service-tag prefix.
 */
export function parseIPv4(input: string): number | undefined {
  const ip = input.length > 0 && (input.charCodeAt(0) <= 32 || input.charCodeAt(input.length - 1) <= 32) ? input.trim() : input;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return undefined;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return undefined;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return value * 256 + part;
}

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
  const key = parseCidrKey(input);
  return key < 0 ? undefined : { base: (key - (key % 64)) / 64, len: key % 64 };
}

/**
 * parseCidr without the object: `base * 64 + len`, or -1 when the text is not a prefix. One pass
 * without substrings for the usual text (digits, dots, one slash): it runs on every route and
 * service-tag prefix. Anything else (spaces, IPv6…) takes the general path.
 */
export function parseCidrKey(input: string): number {
  let base = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  let i = 0;
  const n = input.length;
  for (; i < n; i++) {
    const ch = input.charCodeAt(i);
    if (ch >= 48 && ch <= 57) {
      part = part * 10 + (ch - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (ch === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      base = base * 256 + part;
      part = 0;
      digits = 0;
    } else if (ch === 47) break;
    else if (ch > 32 && ch < 128) return -1; // a letter, `:`, `*`…: never part of an IPv4 prefix
    else return generalKey(input);
  }
  if (dots !== 3 || digits === 0) return i < n ? generalKey(input) : -1;
  base = base * 256 + part;
  if (i === n) return base * 64 + 32;
  const lenDigits = n - i - 1;
  if (lenDigits < 1 || lenDigits > 2) return generalKey(input);
  let len = 0;
  for (let j = i + 1; j < n; j++) {
    const ch = input.charCodeAt(j);
    if (ch < 48 || ch > 57) return generalKey(input);
    len = len * 10 + (ch - 48);
  }
  if (len > 32) return -1;
  return ((base & maskOf(len)) >>> 0) * 64 + len;
}

function generalKey(input: string): number {
  const c = parseCidrGeneral(input);
  return c ? c.base * 64 + c.len : -1;
}

/** The general reading: surrounding whitespace allowed, everything validated by parseIPv4. */
function parseCidrGeneral(input: string): Cidr | undefined {
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
  for (const c of PRIVATE_RANGES) if (cidrContainsIp(c, ip)) return true;
  return false;
}

/** The whole prefix lies in one private range. */
export function isPrivateCidr(c: Cidr): boolean {
  return PRIVATE_RANGES.some((p) => cidrCovers(p, c));
}
