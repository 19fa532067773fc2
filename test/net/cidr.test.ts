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
