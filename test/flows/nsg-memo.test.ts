import t from 'tap';
import { configuredRules } from '../../src/flows/context.ts';
import { memoizedNsg, nsgMemo } from '../../src/flows/nsg-memo.ts';
import { intToIp, parseCidr } from '../../src/net/cidr.ts';
import { CompiledNsg, type NsgContext, type Packet } from '../../src/net/nsg.ts';
import { ServiceTagIndex } from '../../src/net/service-tags.ts';
import { AAD_PREFIXES, SERVICE_TAGS, computeNsg, nsgRule } from '../helpers/network-snapshot.ts';

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

t.test('addresses of one class get the same decisions; the class tells tag members apart', async (t) => {
  const tags = new ServiceTagIndex(SERVICE_TAGS);
  const ctx: NsgContext = { virtualNetwork: [parseCidr('10.20.0.0/16'), parseCidr('10.10.0.0/16')].filter((c) => !!c), tags };
  const aad = SERVICE_TAGS.find((x) => x.name === 'AzureActiveDirectory')?.addressPrefixes ?? [];
  const rules = configuredRules({
    ...computeNsg(),
    rules: [...computeNsg().rules, nsgRule('DenyAadExpanded', 104, 'Deny', 'AzureActiveDirectory', ['80'], { expandedDestinationAddressPrefixes: [...aad] }), nsgRule('DenySome', 105, 'Deny', '20.190.130.0/24', ['443'])],
  });
  const plain = new CompiledNsg(rules, ctx);
  const { addressClass } = nsgMemo(rules, ctx, (p) => plain.evaluate(p));
  const source = { cidr: parseCidr('10.20.1.0/24') };
  const decisions = (ip: number) => JSON.stringify([443, 80].map((port) => plain.evaluate({ direction: 'Outbound', protocol: 'Tcp', source, destination: { ip, tag: 'AzureActiveDirectory' }, port })));
  const byClass = new Map<number, string>();
  let checked = 0;
  for (const prefix of [...AAD_PREFIXES, '20.190.130.0/24', '10.10.1.0/24', '8.8.8.0/24']) {
    const c = parseCidr(prefix);
    if (!c) continue;
    for (let i = 0; i < 4096; i += 61) {
      const ip = (c.base + i) >>> 0;
      const cls = addressClass(ip);
      const seen = byClass.get(cls);
      if (seen === undefined) byClass.set(cls, decisions(ip));
      else if (seen !== decisions(ip)) t.fail(`${intToIp(ip)} shares class ${cls} but not its decisions`);
      checked++;
    }
  }
  t.ok(checked > 200, `${checked} addresses`);
  t.ok(byClass.size >= 4 && byClass.size < 20, `${byClass.size} classes: AAD, AAD with the /24 deny, the VNet, the rest`);
  const aadIp = parseCidr(AAD_PREFIXES[0] ?? '')?.base ?? 0;
  t.equal(addressClass(aadIp), addressClass((aadIp + 4000) >>> 0), 'two AAD addresses outside the /24 share a class');
  t.not(addressClass(aadIp), addressClass(parseCidr('8.8.8.8')?.base ?? 0), 'an AAD address and a public non-tag address do not');
});
