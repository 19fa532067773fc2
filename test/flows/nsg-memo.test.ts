import t from 'tap';
import { configuredRules } from '../../src/flows/context.ts';
import { fastCidr, memoizedNsg } from '../../src/flows/nsg-memo.ts';
import { intToIp, parseCidr } from '../../src/net/cidr.ts';
import { CompiledNsg, type NsgContext, type Packet } from '../../src/net/nsg.ts';
import { ServiceTagIndex } from '../../src/net/service-tags.ts';
import { AAD_PREFIXES, SERVICE_TAGS, computeNsg, nsgRule } from '../helpers/network-snapshot.ts';

t.test('fastCidr reads prefixes exactly like parseCidr', async (t) => {
  const texts = ['10.0.0.0/8', '10.0.0.5/16', '20.190.128.0/18', '1.2.3.4', '0.0.0.0/0', '255.255.255.255/32', '01.2.3.4/08', '1.2.3.4/', '1.2.3.4/33', '1.2.3.4/123', '256.1.1.1/8', '1.2.3/24', '1..2.3/8', ' 10.0.0.0/8', '10.0.0.0/8 ', 'Storage', '*', '', '::1/128', '1.2.3.4.5/8', '1.2.3.4/x'];
  for (const text of texts) t.same(fastCidr(text), parseCidr(text), JSON.stringify(text));
});

t.test('memoized NSG decisions equal the evaluator on every address', async (t) => {
  const tags = new ServiceTagIndex(SERVICE_TAGS);
  const ctx: NsgContext = { virtualNetwork: [parseCidr('10.20.0.0/16'), parseCidr('10.10.0.0/16')].filter((c) => !!c), tags };
  const rules = configuredRules({ ...computeNsg(), rules: [...computeNsg().rules, nsgRule('DenySome', 105, 'Deny', '20.190.130.0/24', ['443']), nsgRule('Expanded', 106, 'Deny', 'AzureActiveDirectory', ['80'], { expandedDestinationAddressPrefixes: ['40.126.1.0/24'] })] });
  const plain = new CompiledNsg(rules, ctx);
  let calls = 0;
  const memo = memoizedNsg(rules, ctx, (p) => {
    calls++;
    return plain.evaluate(p);
  });
  const source = { cidr: parseCidr('10.20.1.0/24') };
  const addresses: number[] = [];
  for (const prefix of [...AAD_PREFIXES, '40.126.1.0/24', '10.10.1.0/24', '168.63.129.0/24', '8.8.8.0/24']) {
    const c = parseCidr(prefix);
    if (c) for (let i = 0; i < 512; i += 7) addresses.push((c.base + i) >>> 0);
  }
  let mismatches = 0;
  for (const ip of addresses) {
    for (const [protocol, port] of [['Tcp', 443], ['Tcp', 80], ['Udp', 5831]] as const) {
      for (const tag of [undefined, 'AzureActiveDirectory']) {
        const p: Packet = { direction: 'Outbound', protocol, source, destination: { ip, ...(tag ? { tag } : {}) }, port };
        if (JSON.stringify(memo(p)) !== JSON.stringify(plain.evaluate(p))) {
          mismatches++;
          t.fail(`${intToIp(ip)} ${protocol} ${port} ${tag ?? ''}`);
        }
      }
    }
  }
  t.equal(mismatches, 0);
  t.ok(calls < addresses.length, `the evaluator ran ${calls} times for ${addresses.length * 6} packets`);
});
