import t from 'tap';
import net from 'node:net';
import { promises as dns } from 'node:dns';
import dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import { startDnsServer, type SimDnsServer } from '../../src/sim/dns-server.ts';
import type { ScenarioDnsAnswer } from '../../src/sim/scenario.ts';

const GUID = '6c1f4e0a-1111-4222-8333-944445555666';
const API = `${GUID}.workspace.westeurope.api.azureml.ms`;
const API_PL = `${GUID}.workspace.westeurope.privatelink.api.azureml.ms`;
const EDGE = 'westeurope.workspace.edge.example.net';

const answers: Record<string, ScenarioDnsAnswer> = {
  // Mixed case and a trailing dot in the key: matching must ignore both.
  [`${API.toUpperCase()}.`]: { cname: [API_PL, EDGE], a: ['10.20.1.5', '10.20.1.6'] },
  'missing.notebooks.azure.net': { rcode: 'NXDOMAIN' },
  'broken.instances.azureml.ms': { rcode: 'SERVFAIL' },
  'refused.instances.azureml.ms': { rcode: 'REFUSED' },
  'silent.instances.azureml.ms': { rcode: 'TIMEOUT' },
  'public.cert.api.azureml.ms': { a: ['20.50.1.2'] },
  'dangling.api.azureml.ms': { cname: ['dangling.privatelink.api.azureml.ms'], rcode: 'NXDOMAIN' },
};

let server: SimDnsServer;

function resolverFor(s: SimDnsServer, timeout = 1000): dns.Resolver {
  const r = new dns.Resolver({ timeout, tries: 1 });
  r.setServers([s.address]);
  return r;
}

async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return String((err as { code?: unknown }).code);
  }
}

t.before(async () => {
  server = await startDnsServer({ answers });
});
t.teardown(() => server.close());

t.test('listens on loopback and reports its address', async (t) => {
  t.equal(server.host, '127.0.0.1');
  t.ok(server.port > 0);
  t.equal(server.address, `127.0.0.1:${server.port}`);
});

t.test('A query follows the CNAME chain to the A records of its last name', async (t) => {
  const r = resolverFor(server);
  t.same((await r.resolve4(API)).sort(), ['10.20.1.5', '10.20.1.6']);
  t.same(await r.resolveCname(API), [API_PL], 'a CNAME query answers only the first hop');
  t.same(await r.resolveCname(API_PL), [EDGE], 'a chain element answers the rest of its chain');
  t.same((await r.resolve4(EDGE)).sort(), ['10.20.1.5', '10.20.1.6'], 'the last element carries the A records');
  t.equal(await errorCode(r.resolveCname(EDGE)), 'ENODATA', 'the last element has no CNAME');
});

t.test('the answer section carries the chain with TTLs', async (t) => {
  const reply = await tcpQuery(server.port, API, 'A');
  t.same(
    reply.answers?.map((a) => [a.type, a.name, 'data' in a ? a.data : undefined]),
    [
      ['CNAME', API, API_PL],
      ['CNAME', API_PL, EDGE],
      ['A', EDGE, '10.20.1.5'],
      ['A', EDGE, '10.20.1.6'],
    ],
  );
  t.ok(reply.answers?.every((a) => 'ttl' in a && a.ttl === 60));
});

t.test('names match case-insensitively, with or without a trailing dot', async (t) => {
  const r = resolverFor(server);
  t.same((await r.resolve4(API.toUpperCase())).sort(), ['10.20.1.5', '10.20.1.6']);
  t.same(await r.resolve4('PUBLIC.Cert.Api.AzureML.ms.'), ['20.50.1.2']);
});

t.test('failure rcodes reach the client as node:dns errors', async (t) => {
  const r = resolverFor(server);
  t.equal(await errorCode(r.resolve4('missing.notebooks.azure.net')), 'ENOTFOUND');
  t.equal(await errorCode(r.resolve4('nobody.example.org')), 'ENOTFOUND', 'unknown names are NXDOMAIN');
  t.equal(await errorCode(r.resolve4('broken.instances.azureml.ms')), 'ESERVFAIL');
  t.equal(await errorCode(r.resolve4('refused.instances.azureml.ms')), 'EREFUSED');
  t.equal(await errorCode(r.resolve4('dangling.api.azureml.ms')), 'ENOTFOUND', 'NXDOMAIN at the end of a chain');
  t.same(await r.resolveCname('dangling.api.azureml.ms'), ['dangling.privatelink.api.azureml.ms'], 'the CNAME itself still answers');
});

t.test('AAAA on a known name is NODATA', async (t) => {
  const r = resolverFor(server);
  t.equal(await errorCode(r.resolve6('public.cert.api.azureml.ms')), 'ENODATA');
  const reply = await tcpQuery(server.port, 'public.cert.api.azureml.ms', 'AAAA');
  t.equal(rcodeOf(reply), 0);
  t.same(reply.answers, []);
});

t.test('TIMEOUT sends nothing: the client times out', async (t) => {
  const r = resolverFor(server, 200);
  const started = Date.now();
  t.equal(await errorCode(r.resolve4('silent.instances.azureml.ms')), 'ETIMEOUT');
  t.ok(Date.now() - started < 3000, 'gave up within the resolver timeout');
});

t.test('every query is recorded with the rcode answered', async (t) => {
  const before = server.queries.length;
  const r = resolverFor(server, 200);
  await errorCode(r.resolve4('Broken.Instances.azureml.ms'));
  await errorCode(r.resolve4('silent.instances.azureml.ms'));
  await r.resolveCname(API);
  t.same(server.queries.slice(before), [
    { name: 'broken.instances.azureml.ms', type: 'A', rcode: 'SERVFAIL', transport: 'udp' },
    { name: 'silent.instances.azureml.ms', type: 'A', rcode: 'TIMEOUT', transport: 'udp' },
    { name: API, type: 'CNAME', rcode: 'NOERROR', transport: 'udp' },
  ]);
});

t.test('TCP: a length-prefixed query gets an authoritative answer with id and question echoed', async (t) => {
  const reply = await tcpQuery(server.port, 'public.cert.api.azureml.ms', 'A', 4242);
  t.equal(reply.id, 4242);
  t.equal(reply.type, 'response');
  t.ok(reply.flag_aa, 'AA set');
  t.ok(reply.flag_ra, 'RA set');
  t.equal(rcodeOf(reply), 0);
  t.same(reply.questions, [{ name: 'public.cert.api.azureml.ms', type: 'A', class: 'IN' }]);
  t.same(reply.answers?.map((a) => ('data' in a ? a.data : undefined)), ['20.50.1.2']);

  const nx = await tcpQuery(server.port, 'missing.notebooks.azure.net', 'A');
  t.equal(rcodeOf(nx), 3, 'NXDOMAIN over TCP too');
});

t.test('an answer too large for UDP is truncated and the client retries over TCP', async (t) => {
  const many = Array.from({ length: 60 }, (_, i) => `10.30.0.${i + 1}`);
  const s = await startDnsServer({ answers: { 'many.example.test': { a: many } } });
  t.teardown(() => s.close());
  const got = await resolverFor(s).resolve4('many.example.test');
  t.same(got.sort(), [...many].sort(), 'all addresses arrive');
  t.equal(s.queries.length, 2, 'asked once over UDP (truncated), once over TCP');
});

t.test('setAnswers replaces the answers', async (t) => {
  const s = await startDnsServer({ answers: { 'a.example.test': { a: ['10.0.0.1'] } } });
  t.teardown(() => s.close());
  t.same(await resolverFor(s).resolve4('a.example.test'), ['10.0.0.1']);
  s.setAnswers({ 'a.example.test': { a: ['10.0.0.2'] } });
  t.same(await resolverFor(s).resolve4('a.example.test'), ['10.0.0.2']);
});

t.test('a chain ending on another key continues with that key', async (t) => {
  const s = await startDnsServer({
    answers: { 'front.example.test': { cname: ['back.example.test'] }, 'back.example.test': { a: ['10.0.0.9'] } },
  });
  t.teardown(() => s.close());
  t.same(await resolverFor(s).resolve4('front.example.test'), ['10.0.0.9']);
});

t.test('MALFORMED sends bytes that are no DNS message; the client rejects the reply', async (t) => {
  const s = await startDnsServer({ answers: { 'bad.example.test': { a: ['10.0.0.1'], rcode: 'MALFORMED' } } });
  t.teardown(() => s.close());
  t.equal(await errorCode(resolverFor(s, 200).resolve4('bad.example.test')), 'EBADRESP');
  t.same(s.queries.map((q) => q.rcode), ['MALFORMED'], 'recorded as sent');
});

t.test('TCP_RESET truncates over UDP and resets the TCP connection the client retries on', async (t) => {
  const s = await startDnsServer({ answers: { 'reset.example.test': { a: ['10.0.0.1'], rcode: 'TCP_RESET' } } });
  t.teardown(() => s.close());
  const code = await errorCode(resolverFor(s, 200).resolve4('reset.example.test'));
  t.match(code, /^(ECONNREFUSED|ECONNRESET|ETIMEOUT)$/, 'the client reports a connection failure');
  t.same(
    s.queries.map((q) => `${q.transport} ${q.rcode}`),
    ['udp TRUNCATED', 'tcp RESET'],
    'answered with TC over UDP, then the TCP connection was reset',
  );
  await t.rejects(tcpQuery(s.port, 'reset.example.test', 'A'), /ECONNRESET|no TCP answer|socket/i, 'a raw TCP query sees the reset');
});

t.test('times makes a failure transient: the first queries fail, later ones answer', async (t) => {
  const s = await startDnsServer({
    answers: {
      'flaky.example.test': { cname: ['flaky.privatelink.example.test'], a: ['10.0.0.7'], rcode: 'SERVFAIL', times: 2 },
      'slow.example.test': { a: ['10.0.0.8'], rcode: 'TIMEOUT', times: 1 },
      'resets.example.test': { a: ['10.0.0.9'], rcode: 'TCP_RESET', times: 1 },
    },
  });
  t.teardown(() => s.close());
  const r = resolverFor(s, 200);
  t.equal(await errorCode(r.resolve4('flaky.example.test')), 'ESERVFAIL', 'first query fails');
  t.equal(await errorCode(r.resolveCname('flaky.privatelink.example.test')), 'ESERVFAIL', 'a chain member spends the same budget');
  t.same(await r.resolve4('flaky.example.test'), ['10.0.0.7'], 'then the name answers');
  t.same(await r.resolveCname('flaky.example.test'), ['flaky.privatelink.example.test']);

  const retrying = new dns.Resolver({ timeout: 200, tries: 2 });
  retrying.setServers([s.address]);
  t.same(await retrying.resolve4('slow.example.test'), ['10.0.0.8'], 'a resolver that tries again gets the answer after one silence');
  t.same(await retrying.resolve4('resets.example.test'), ['10.0.0.9'], 'and after one reset TCP connection');
  t.same(
    s.queries.filter((q) => q.name !== 'flaky.example.test' && q.name !== 'flaky.privatelink.example.test').map((q) => `${q.transport} ${q.rcode}`),
    ['udp TIMEOUT', 'udp NOERROR', 'udp TRUNCATED', 'tcp RESET', 'tcp NOERROR'],
  );
});

t.test('refuses a non-loopback host', async (t) => {
  await t.rejects(startDnsServer({ answers: {}, host: '0.0.0.0' }), /loopback/);
  await t.rejects(startDnsServer({ answers: {}, host: '10.1.2.3' }), /loopback/);
});

function rcodeOf(p: DecodedPacket): number {
  return (p.flags ?? 0) & 0xf;
}

/** One DNS query over TCP (2-byte length prefix), built and read with dns-packet. */
function tcpQuery(port: number, name: string, type: 'A' | 'AAAA' | 'CNAME', id = 1): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    socket.setTimeout(3000, () => {
      socket.destroy();
      reject(new Error('no TCP answer'));
    });
    socket.on('error', reject);
    socket.on('connect', () => {
      socket.write(dnsPacket.streamEncode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < buf.readUInt16BE(0) + 2) return;
      socket.end();
      resolve(dnsPacket.decode(buf.subarray(2, buf.readUInt16BE(0) + 2)));
    });
  });
}
