import t from 'tap';
import { mulberry32 } from '../../src/sim/prng.ts';
import type { SecurityRuleObs } from '../../src/model/snapshot.ts';
import { ipToInt, maskOf, parseCidr, type Cidr } from '../../src/net/cidr.ts';
import { CompiledNsg, defaultSecurityRules, evaluateNsgLinear, type Endpoint, type NsgContext, type NsgDecision, type Packet } from '../../src/net/nsg.ts';
import { ServiceTagIndex } from '../../src/net/service-tags.ts';

const ip = (s: string): number => ipToInt(s) as number;
const cidr = (s: string): Cidr => parseCidr(s) as Cidr;

function rule(name: string, priority: number, access: 'Allow' | 'Deny', over: Partial<SecurityRuleObs> = {}): SecurityRuleObs {
  return {
    name, priority, access, direction: 'Outbound', protocol: '*',
    sourceAddressPrefixes: ['*'], destinationAddressPrefixes: ['*'], sourcePortRanges: ['*'], destinationPortRanges: ['*'],
    sourceApplicationSecurityGroupIds: [], destinationApplicationSecurityGroupIds: [], isDefault: false, ...over,
  };
}

const tags = new ServiceTagIndex([
  { name: 'AzureActiveDirectory', region: '', addressPrefixes: ['20.190.128.0/18'] },
  { name: 'Storage', region: '', addressPrefixes: ['20.38.0.0/16', '52.239.0.0/16'] },
  { name: 'Storage.westeurope', region: 'westeurope', addressPrefixes: ['20.38.108.0/23'] },
]);
const ctx: NsgContext = { virtualNetwork: [cidr('10.0.0.0/16'), cidr('10.10.0.0/16')], tags };
const symbolicCtx: NsgContext = { virtualNetwork: ctx.virtualNetwork, tags: ServiceTagIndex.empty() };
const SUBNET: Endpoint = { cidr: cidr('10.0.1.0/24') };

function out(destination: Endpoint, port = 443, protocol: Packet['protocol'] = 'Tcp'): Packet {
  return { direction: 'Outbound', protocol, source: SUBNET, destination, port };
}

/** Evaluates both ways and insists they agree, so every behaviour test also checks the index. */
function evaluate(rules: SecurityRuleObs[], p: Packet, context: NsgContext = ctx): NsgDecision {
  const indexed = new CompiledNsg(rules, context).evaluate(p);
  const linear = evaluateNsgLinear(rules, context, p);
  if (JSON.stringify(indexed) !== JSON.stringify(linear)) throw new Error(`indexed ${JSON.stringify(indexed)} != linear ${JSON.stringify(linear)}`);
  return indexed;
}

const withDefaults = (...rules: SecurityRuleObs[]): SecurityRuleObs[] => [...rules, ...defaultSecurityRules()];

t.test('a deny at 4000 beats the default internet allow and is named with its priority', async (t) => {
  const rules = withDefaults(rule('DenyInternetOutbound', 4000, 'Deny', { destinationAddressPrefixes: ['Internet'] }));
  const d = evaluate(rules, out({ ip: ip('20.190.130.1') }));
  t.equal(d.verdict, 'blocked');
  t.equal(d.detail, 'denied by securityRules/DenyInternetOutbound (priority 4000)');
  t.equal(d.rule?.name, 'DenyInternetOutbound');
});

t.test('without custom rules the defaults allow internet and VNet traffic and deny the rest', async (t) => {
  t.equal(evaluate(defaultSecurityRules(), out({ ip: ip('20.190.130.1') })).detail, 'allowed by defaultSecurityRules/AllowInternetOutBound (priority 65001)');
  t.equal(evaluate(defaultSecurityRules(), out({ ip: ip('10.10.0.5') })).detail, 'allowed by defaultSecurityRules/AllowVnetOutBound (priority 65000)');
  const d = evaluate(defaultSecurityRules(), out({ ip: ip('192.168.1.1') }));
  t.equal(d.detail, 'denied by defaultSecurityRules/DenyAllOutBound (priority 65500)');
});

t.test('the Internet deny does not touch a private endpoint inside the VNet', async (t) => {
  const rules = withDefaults(rule('DenyInternetOutbound', 4000, 'Deny', { destinationAddressPrefixes: ['Internet'] }));
  t.equal(evaluate(rules, out({ ip: ip('10.0.2.5') })).verdict, 'allowed');
});

t.test('tag rules match by prefix when the tag prefixes are known', async (t) => {
  const rules = withDefaults(
    rule('AllowEntra', 100, 'Allow', { destinationAddressPrefixes: ['AzureActiveDirectory'], destinationPortRanges: ['80', '443'], protocol: 'Tcp' }),
    rule('DenyAll', 4000, 'Deny'),
  );
  t.equal(evaluate(rules, out({ tag: 'AzureActiveDirectory', ip: ip('20.190.128.0') })).detail, 'allowed by securityRules/AllowEntra (priority 100)');
  t.equal(evaluate(rules, out({ ip: ip('20.190.128.0') }, 8443)).verdict, 'blocked', 'port not allowed');
  t.equal(evaluate(rules, out({ ip: ip('20.190.128.0') }, 443, 'Udp')).verdict, 'blocked', 'protocol not allowed');
  t.equal(evaluate(rules, out({ ip: ip('40.126.0.1') })).verdict, 'blocked', 'address outside the tag');
});

t.test('tag rules match symbolically (parent tag included) when no prefixes are known', async (t) => {
  const rules = withDefaults(rule('AllowStorage', 100, 'Allow', { destinationAddressPrefixes: ['Storage'] }), rule('DenyAll', 4000, 'Deny'));
  t.equal(evaluate(rules, out({ tag: 'Storage.westeurope' }), symbolicCtx).detail, 'allowed by securityRules/AllowStorage (priority 100)');
  t.equal(evaluate(rules, out({ tag: 'AzureActiveDirectory' }), symbolicCtx).detail, 'denied by securityRules/DenyAll (priority 4000)');
  t.equal(evaluate(rules, out({ tag: 'Storage.westeurope' }), symbolicCtx).verdict, 'allowed');
});

t.test('a tag that cannot be expanded is undecidable for a public address, irrelevant for a private one', async (t) => {
  const rules = withDefaults(rule('DenyFrontDoor', 100, 'Deny', { destinationAddressPrefixes: ['AzureFrontDoor.Backend'] }));
  const d = evaluate(rules, out({ ip: ip('20.190.130.1') }));
  t.equal(d.verdict, 'undetermined');
  t.equal(d.rule?.name, 'DenyFrontDoor');
  t.match(d.detail, /securityRules\/DenyFrontDoor \(priority 100\) may apply \(service tag AzureFrontDoor.Backend could not be expanded\); otherwise allowed by defaultSecurityRules\/AllowInternetOutBound/);
  t.equal(evaluate(rules, out({ ip: ip('10.0.2.5') })).verdict, 'allowed');
});

t.test('an ASG rule before a deny makes the answer undetermined; after the deciding rule it does not matter', async (t) => {
  const asg = { destinationAddressPrefixes: [], destinationApplicationSecurityGroupIds: ['/subscriptions/s/asg/asg-web'] };
  const before = withDefaults(rule('AllowWeb', 200, 'Allow', asg), rule('DenyAll', 4000, 'Deny'));
  const d = evaluate(before, out({ ip: ip('20.190.130.1') }));
  t.equal(d.verdict, 'undetermined');
  t.match(d.detail, /securityRules\/AllowWeb \(priority 200\) may apply \(application security groups cannot be resolved\); otherwise denied by securityRules\/DenyAll \(priority 4000\)/);
  const after = withDefaults(rule('DenyAll', 100, 'Deny'), rule('AllowWeb', 200, 'Allow', asg));
  t.equal(evaluate(after, out({ ip: ip('20.190.130.1') })).verdict, 'blocked');
});

t.test('a source prefix covering only part of the compute subnet is undecidable', async (t) => {
  const partial = withDefaults(rule('DenyHalf', 100, 'Deny', { sourceAddressPrefixes: ['10.0.1.0/25'] }));
  const d = evaluate(partial, out({ ip: ip('20.190.130.1') }));
  t.equal(d.verdict, 'undetermined');
  t.match(d.detail, /10\.0\.1\.0\/25 covers only part of 10\.0\.1\.0\/24/);
  const whole = withDefaults(rule('DenyVnet', 100, 'Deny', { sourceAddressPrefixes: ['10.0.0.0/16'] }));
  t.equal(evaluate(whole, out({ ip: ip('20.190.130.1') })).verdict, 'blocked');
  const other = withDefaults(rule('DenyOther', 100, 'Deny', { sourceAddressPrefixes: ['10.0.2.0/24'] }));
  t.equal(evaluate(other, out({ ip: ip('20.190.130.1') })).verdict, 'allowed');
});

t.test('a rule restricted to some source ports is undecidable (the source port is ephemeral)', async (t) => {
  const rules = withDefaults(rule('DenyHighPorts', 100, 'Deny', { sourcePortRanges: ['1024-65535'] }));
  t.equal(evaluate(rules, out({ ip: ip('20.190.130.1') })).verdict, 'undetermined');
});

t.test('effective rules keep their names and use the expanded prefixes instead of the tag', async (t) => {
  const effective = [
    rule('securityRules/AllowEntra', 100, 'Allow', { destinationAddressPrefixes: ['AzureActiveDirectory'], expandedDestinationAddressPrefixes: ['20.190.128.0/18'], destinationPortRanges: ['443-443'], sourcePortRanges: ['0-65535'] }),
    rule('defaultSecurityRules/DenyAllOutBound', 65500, 'Deny', { isDefault: true, sourcePortRanges: ['0-65535'], destinationPortRanges: ['0-65535'] }),
  ];
  t.equal(evaluate(effective, out({ ip: ip('20.190.130.1') }), symbolicCtx).detail, 'allowed by securityRules/AllowEntra (priority 100)');
  const d = evaluate(effective, out({ tag: 'AzureActiveDirectory', ip: ip('40.126.0.1') }), symbolicCtx);
  t.equal(d.detail, 'denied by defaultSecurityRules/DenyAllOutBound (priority 65500)');
});

t.test('inbound from AzureMachineLearning on 44224 needs an explicit rule', async (t) => {
  const inbound = (rules: SecurityRuleObs[]): NsgDecision =>
    evaluate(rules, { direction: 'Inbound', protocol: 'Tcp', source: { tag: 'AzureMachineLearning' }, destination: SUBNET, port: 44224 }, symbolicCtx);
  t.equal(inbound(defaultSecurityRules()).detail, 'denied by defaultSecurityRules/DenyAllInBound (priority 65500)');
  const allow = rule('AllowAmlInbound', 130, 'Allow', { direction: 'Inbound', protocol: 'Tcp', sourceAddressPrefixes: ['AzureMachineLearning'], destinationAddressPrefixes: ['VirtualNetwork'], destinationPortRanges: ['44224'] });
  t.equal(inbound(withDefaults(allow)).detail, 'allowed by securityRules/AllowAmlInbound (priority 130)');
});

t.test('outbound rules never decide inbound packets and vice versa', async (t) => {
  const rules = withDefaults(rule('DenyAllIn', 100, 'Deny', { direction: 'Inbound' }));
  t.equal(evaluate(rules, out({ ip: ip('20.190.130.1') })).verdict, 'allowed');
});

// ---------------------------------------------------------------- indexed vs linear


t.test('CompiledNsg and evaluateNsgLinear agree on thousands of random rule sets and packets', async (t) => {
  const rand = mulberry32(4242);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const bases = ['10.0.0.0', '10.0.1.0', '10.10.0.0', '10.20.0.0', '20.190.128.0', '20.38.108.0', '52.239.0.0', '168.63.129.16', '8.8.8.0'].map(ip);
  const randomIp = (): number => (pick(bases) + Math.floor(rand() * 0x400)) >>> 0;
  const randomCidr = (minLen: number): Cidr => {
    const len = minLen + Math.floor(rand() * (33 - minLen));
    return { base: (randomIp() & maskOf(len)) >>> 0, len };
  };
  const text = (c: Cidr): string => `${[c.base >>> 24, (c.base >>> 16) & 255, (c.base >>> 8) & 255, c.base & 255].join('.')}/${c.len}`;
  const words = ['*', 'Internet', 'VirtualNetwork', 'AzureLoadBalancer', 'AzureActiveDirectory', 'Storage', 'Storage.westeurope', 'AzureMachineLearning', 'BatchNodeManagement.westeurope', 'AzureCloud', '2001:db8::/32', '0.0.0.0/0'];
  const prefix = (): string => (rand() < 0.55 ? text(randomCidr(8)) : pick(words));
  const prefixes = (): string[] => Array.from({ length: 1 + Math.floor(rand() * 3) }, prefix);
  const ports = (): string[] => Array.from({ length: 1 + Math.floor(rand() * 2) }, () => pick(['*', '443', '0-65535', '400-500', '5831', '44224', '80', 'x']));
  const randomRule = (i: number): SecurityRuleObs => {
    const asgSource = rand() < 0.05;
    const asgDest = rand() < 0.05;
    return {
      name: `r${i}`,
      priority: 100 + Math.floor(rand() * 400),
      direction: rand() < 0.5 ? 'Inbound' : 'Outbound',
      access: rand() < 0.5 ? 'Allow' : 'Deny',
      protocol: pick(['*', 'Tcp', 'Udp', 'Icmp']),
      sourceAddressPrefixes: asgSource ? [] : prefixes(),
      destinationAddressPrefixes: asgDest ? [] : prefixes(),
      ...(rand() < 0.1 ? { expandedDestinationAddressPrefixes: Array.from({ length: 2 }, () => text(randomCidr(8))) } : {}),
      sourcePortRanges: rand() < 0.05 ? ['1024-65535'] : pick([['*'], ['0-65535']]),
      destinationPortRanges: ports(),
      sourceApplicationSecurityGroupIds: asgSource ? ['/asg/a'] : [],
      destinationApplicationSecurityGroupIds: asgDest ? ['/asg/b'] : [],
      isDefault: false,
    };
  };
  const endpoint = (): Endpoint => {
    const kind = rand();
    if (kind < 0.45) return { ip: randomIp() };
    if (kind < 0.7) return { cidr: randomCidr(16) };
    if (kind < 0.85) return { tag: pick(['AzureActiveDirectory', 'Storage.westeurope', 'AzureMachineLearning', 'VirtualNetwork', 'Storage']), ip: randomIp() };
    return { tag: pick(['AzureActiveDirectory', 'Storage.westeurope', 'Storage', 'AzureMachineLearning', 'VirtualNetwork', 'AzureLoadBalancer', 'Internet']) };
  };

  const verdicts = { allowed: 0, blocked: 0, undetermined: 0 };
  let compared = 0;
  const disagreements: string[] = [];
  for (let set = 0; set < 60; set++) {
    const context = rand() < 0.5 ? ctx : symbolicCtx;
    const rules = Array.from({ length: 1 + Math.floor(rand() * 60) }, (_, i) => randomRule(i));
    if (rand() < 0.7) rules.push(...defaultSecurityRules());
    const compiled = new CompiledNsg(rules, context);
    for (let k = 0; k < 100; k++) {
      const p: Packet = {
        direction: rand() < 0.5 ? 'Inbound' : 'Outbound',
        protocol: rand() < 0.7 ? 'Tcp' : 'Udp',
        source: endpoint(),
        destination: endpoint(),
        port: pick([443, 80, 5831, 445, 44224, 450, Math.floor(rand() * 65536)]),
      };
      const a = compiled.evaluate(p);
      const b = evaluateNsgLinear(rules, context, p);
      compared++;
      verdicts[a.verdict]++;
      if (a.verdict !== b.verdict || a.rule !== b.rule || a.detail !== b.detail) disagreements.push(`${JSON.stringify(p)}: ${a.detail} | ${b.detail}`);
    }
  }
  t.equal(compared, 6000);
  t.same(disagreements.slice(0, 3), []);
  t.ok(verdicts.allowed > 300 && verdicts.blocked > 300 && verdicts.undetermined > 300, `all verdicts exercised: ${JSON.stringify(verdicts)}`);
});

t.test('large rule sets: the index finds the deciding rule among thousands (timing is in npm run bench)', async (t) => {
  const many = Array.from({ length: 3000 }, (_, i) =>
    rule(`deny-${i}`, 100 + i, 'Deny', { destinationAddressPrefixes: [`52.${Math.floor(i / 250)}.${i % 250}.0/24`] }),
  );
  const rules = withDefaults(...many);
  const compiled = new CompiledNsg(rules, ctx);
  const p = out({ ip: ip('52.3.17.9') });
  t.equal(compiled.evaluate(p).detail, 'denied by securityRules/deny-767 (priority 867)');
  t.same(compiled.evaluate(p), evaluateNsgLinear(rules, ctx, p), 'same answer as the linear scan');
  const miss = out({ ip: ip('52.99.1.1') });
  t.equal(compiled.evaluate(miss).detail, evaluateNsgLinear(rules, ctx, miss).detail, 'and for an address no custom rule covers');
});

t.test('rules that are a tag expansion are found through the tag index, with the linear answers', async (t) => {
  const rand = mulberry32(77);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const slash24 = (first: number, n: number): string => `${first}.${(n >> 8) & 255}.${n & 255}.0/24`;
  const listing = (first: number, from: number, count: number): string[] => Array.from({ length: count }, (_, i) => slash24(first, from + i * 3));
  const tagList = [
    { name: 'AzureActiveDirectory', region: '', addressPrefixes: listing(20, 0, 120) },
    { name: 'Storage', region: '', addressPrefixes: listing(52, 0, 300) },
    { name: 'Storage.westeurope', region: 'westeurope', addressPrefixes: listing(52, 30, 20) },
    { name: 'AzureMachineLearning', region: '', addressPrefixes: [...listing(40, 0, 80), '0.0.0.0/0'] },
    // Listings that are not plain prefixes: a word, IPv6.
    { name: 'AzureFrontDoor.Backend', region: '', addressPrefixes: [...listing(13, 0, 40), 'Internet'] },
    { name: 'AzureMonitor', region: '', addressPrefixes: [...listing(13, 200, 40), '2603:1000::/40'] },
  ];
  const context: NsgContext = { virtualNetwork: [cidr('10.0.0.0/16')], tags: new ServiceTagIndex(tagList) };
  const addresses = tagList.flatMap((tag) => tag.addressPrefixes.flatMap((p) => (p === '0.0.0.0/0' ? [] : [parseCidr(p)?.base].filter((b) => b !== undefined).map((b) => b + 7))));
  const randomIp = (): number => (rand() < 0.8 ? pick(addresses) : pick([ip('10.0.1.9'), ip('8.8.8.8'), ip('52.0.1.1'), ip('20.1.200.1')]));
  const expandedRule = (i: number): SecurityRuleObs => {
    const tag = pick(tagList);
    const side = rand() < 0.7 ? 'destination' : 'source';
    const texts = rand() < 0.5 ? tag.addressPrefixes : [...tag.addressPrefixes];
    const expanded = rand() < 0.15 ? texts.slice(1) : texts; // sometimes not the tag's listing
    const asg = rand() < 0.1 ? ['/asg/x'] : [];
    return rule(`x${i}`, 100 + i, rand() < 0.5 ? 'Allow' : 'Deny', {
      protocol: pick(['*', 'Tcp', 'Udp']),
      destinationPortRanges: [pick(['443', '80', '*'])],
      ...(side === 'destination' ? { destinationApplicationSecurityGroupIds: asg } : { sourceApplicationSecurityGroupIds: asg }),
      ...(side === 'destination'
        ? { destinationAddressPrefixes: [tag.name], expandedDestinationAddressPrefixes: expanded }
        : { sourceAddressPrefixes: [tag.name], expandedSourceAddressPrefixes: expanded }),
    });
  };
  const plainRule = (i: number): SecurityRuleObs => rule(`p${i}`, 100 + i, rand() < 0.5 ? 'Allow' : 'Deny', { destinationAddressPrefixes: [pick(['Internet', 'VirtualNetwork', '52.0.0.0/8', '20.0.0.0/16'])], destinationPortRanges: [pick(['443', '80'])] });
  const endpoint = (): Endpoint => {
    const kind = rand();
    if (kind < 0.6) return { ip: randomIp(), ...(rand() < 0.5 ? { tag: pick(tagList).name } : {}) };
    if (kind < 0.8) return { cidr: pick([cidr('10.0.1.0/24'), cidr('52.0.0.0/16'), cidr('20.0.0.0/8')]) };
    return { tag: pick([...tagList.map((x) => x.name), 'VirtualNetwork']) };
  };
  const disagreements: string[] = [];
  const verdicts = { allowed: 0, blocked: 0, undetermined: 0 };
  for (let set = 0; set < 40; set++) {
    const rules = withDefaults(...Array.from({ length: 2 + Math.floor(rand() * 12) }, (_, i) => (rand() < 0.6 ? expandedRule(i) : plainRule(i))));
    const compiled = new CompiledNsg(rules, context);
    for (let k = 0; k < 60; k++) {
      const p: Packet = { direction: 'Outbound', protocol: rand() < 0.7 ? 'Tcp' : 'Udp', source: rand() < 0.5 ? SUBNET : endpoint(), destination: endpoint(), port: pick([443, 80]) };
      const a = compiled.evaluate(p);
      const b = evaluateNsgLinear(rules, context, p);
      verdicts[a.verdict]++;
      if (JSON.stringify(a) !== JSON.stringify(b)) disagreements.push(`${JSON.stringify(p)}: ${a.detail} | ${b.detail}`);
    }
  }
  t.same(disagreements.slice(0, 3), []);
  t.ok(verdicts.allowed > 200 && verdicts.blocked > 200 && verdicts.undetermined > 50, `all verdicts exercised: ${JSON.stringify(verdicts)}`);
});
