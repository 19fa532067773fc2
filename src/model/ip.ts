/** IPv4 helpers: parsing, CIDR containment, private/public classification. Pure. */

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

/** True when `ip` lies in `cidr` (`10.0.0.0/16`; a bare address means /32). IPv4 only. */
export function cidrContains(cidr: string, ip: string): boolean {
  const [base, lenText] = cidr.trim().split('/');
  const b = parseIPv4(base ?? '');
  const a = parseIPv4(ip);
  const len = lenText === undefined ? 32 : Number(lenText);
  if (b === undefined || a === undefined || !Number.isInteger(len) || len < 0 || len > 32) return false;
  if (len === 0) return true;
  const mask = (~0 << (32 - len)) >>> 0;
  return (a & mask) >>> 0 === (b & mask) >>> 0;
}

const NON_PUBLIC = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '0.0.0.0/8'];

/** An IPv4 address that is routed on the internet (not RFC 1918, CGNAT, loopback or link-local). */
export function isPublicIPv4(ip: string): boolean {
  if (parseIPv4(ip) === undefined) return false;
  return !NON_PUBLIC.some((c) => cidrContains(c, ip));
}

/** Azure's virtual public IP for platform DNS (Azure-provided DNS). */
export const AZURE_DNS_IP = '168.63.129.16';
