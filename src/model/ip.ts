/** IPv4 helpers on address strings: CIDR containment, private/public classification. Pure. */
import { cidrContainsIp, parseCidr, parseIPv4 } from '../net/cidr.ts';

export { parseIPv4 } from '../net/cidr.ts';

/** True when `ip` lies in `cidr` (`10.0.0.0/16`; a bare address means /32). IPv4 only. */
export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  const a = parseIPv4(ip);
  return c !== undefined && a !== undefined && cidrContainsIp(c, a);
}

const NON_PUBLIC = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '0.0.0.0/8'];

/** An IPv4 address that is routed on the internet (not RFC 1918, CGNAT, loopback or link-local). */
export function isPublicIPv4(ip: string): boolean {
  if (parseIPv4(ip) === undefined) return false;
  return !NON_PUBLIC.some((c) => cidrContains(c, ip));
}

/** Azure's virtual public IP for platform DNS (Azure-provided DNS). */
export const AZURE_DNS_IP = '168.63.129.16';
