/** IPv4 helpers: parsing, CIDR containment, private/public classification. Pure. */

export function parseIPv4(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return (((parts[0] ?? 0) << 24) >>> 0) + ((parts[1] ?? 0) << 16) + ((parts[2] ?? 0) << 8) + (parts[3] ?? 0);
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
