import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { deliver, forbiddenAddress, signatureOf, verifySignature, webhookUrlProblem, WebhookTargetError, type DeliveryResult, type WebhookPolicy } from '../../src/service/webhook.ts';
import { createServer as createTcpServer } from 'node:net';

const SECRET = 'whsec-Zq8v1-never-print-me';
const PAYLOAD = { event: 'drift', workspace: { id: '/subscriptions/x/ws', name: 'ws' }, summary: 'ws: changed: 1 new' };

/** What the receiver answers to one attempt: a status (and headers), or nothing at all. */
type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

interface Received {
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Whether verifySignature accepted the attempt. */
  verified: boolean;
}

interface Receiver {
  url: string;
  received: Received[];
  connections: () => number;
}

/** A real HTTP receiver on 127.0.0.1 that verifies each attempt's signature and answers from `script` (the last answer repeats). */
async function receiver(t: Test, script: Answer[], host = '127.0.0.1'): Promise<Receiver> {
  const received: Received[] = [];
  const hung: ServerResponse[] = [];
  let connections = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const ts = req.headers['x-netdoctor-timestamp'];
      const sig = req.headers['x-netdoctor-signature'];
      const verified = verifySignature(SECRET, typeof ts === 'string' ? ts : undefined, body, typeof sig === 'string' ? sig : undefined, 300);
      received.push({ at: performance.now(), headers: req.headers, body: body.toString('utf8'), verified });
      const answer = script[Math.min(received.length - 1, script.length - 1)] ?? { status: 200 };
      if (answer === 'hang') {
        hung.push(res);
        return;
      }
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? `echo ${SECRET}? no: receiver body`);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const res of hung) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  const origin = host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
  return { url: `${origin}/hooks/netdoctor`, received, connections: () => connections };
}

/** Nothing in a result or an error may reveal the secret. */
function assertNoSecret(t: Test, what: unknown): void {
  const text = what instanceof Error ? `${what.message}\n${what.stack ?? ''}` : JSON.stringify(what);
  t.notMatch(text, SECRET, 'the secret is not in it');
}

t.test('a delivery: JSON body, the documented headers, a signature the receiver verifies', async (t) => {
  const rx = await receiver(t, [{ status: 204 }]);
  const now = new Date('2025-06-01T12:00:00Z');
  const res = await deliver({ url: rx.url, secret: SECRET }, PAYLOAD);
  t.match(res, { status: 'delivered', attempts: 1, httpStatus: 204 });
  t.notOk(res.error);
  t.type(res.durationMs, 'number');
  t.equal(rx.received.length, 1);
  const got = rx.received[0] as Received;
  t.equal(got.verified, true, 'verifySignature accepts what deliver sent');
  t.same(JSON.parse(got.body), PAYLOAD);
  t.equal(got.headers['content-type'], 'application/json');
  t.equal(got.headers['x-netdoctor-event'], 'drift');
  t.match(got.headers['x-netdoctor-delivery'], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.equal(got.headers['x-netdoctor-delivery'], res.deliveryId);
  t.match(got.headers['x-netdoctor-timestamp'], /^\d{10}$/);
  t.equal(got.headers['x-netdoctor-signature'], signatureOf(SECRET, got.headers['x-netdoctor-timestamp'] as string, got.body));
  assertNoSecret(t, res);

  // The timestamp comes from the clock it is given.
  const rx2 = await receiver(t, [{ status: 200 }]);
  await deliver({ url: rx2.url, secret: SECRET }, PAYLOAD, { now: () => now });
  t.equal(rx2.received[0]?.headers['x-netdoctor-timestamp'], String(now.getTime() / 1000));
  t.equal(rx2.received[0]?.verified, false, 'a timestamp far from the receiver clock is refused');
});

t.test('verifySignature: wrong secret, changed body or timestamp, stale or malformed headers are refused', async (t) => {
  const body = JSON.stringify(PAYLOAD);
  const now = new Date('2025-06-01T12:00:00Z');
  const ts = String(now.getTime() / 1000);
  const sig = signatureOf(SECRET, ts, body);
  t.match(sig, /^sha256=[0-9a-f]{64}$/);
  t.equal(verifySignature(SECRET, ts, body, sig, 300, now), true);
  t.equal(verifySignature(SECRET, ts, Buffer.from(body), sig, 300, now), true, 'raw bytes work too');
  t.equal(verifySignature(SECRET, Number(ts), body, sig.toUpperCase().replace('SHA256=', 'sha256='), 300, now), true, 'hex case does not matter');
  t.equal(verifySignature('other-secret', ts, body, sig, 300, now), false);
  t.equal(verifySignature(SECRET, ts, body.replace('1 new', '2 new'), sig, 300, now), false);
  t.equal(verifySignature(SECRET, String(Number(ts) + 1), body, sig, 300, now), false, 'the timestamp is signed');
  t.equal(verifySignature(SECRET, ts, body, sig, 300, new Date(now.getTime() + 301_000)), false, 'too old');
  t.equal(verifySignature(SECRET, ts, body, sig, 300, new Date(now.getTime() + 299_000)), true, 'within tolerance');
  t.equal(verifySignature(SECRET, ts, body, sig.slice(0, -2), 300, now), false, 'short');
  t.equal(verifySignature(SECRET, ts, body, sig.replace('sha256=', 'sha1='), 300, now), false);
  t.equal(verifySignature(SECRET, ts, body, undefined, 300, now), false);
  t.equal(verifySignature(SECRET, undefined, body, sig, 300, now), false);
  t.equal(verifySignature(SECRET, '12abc', body, sig, 300, now), false);
});

t.test('503 twice then 200: retried with the same delivery id, each attempt signed afresh', async (t) => {
  const rx = await receiver(t, [{ status: 503 }, { status: 503 }, { status: 200 }]);
  const res = await deliver({ url: rx.url, secret: SECRET }, PAYLOAD, { attempts: 5, baseDelayMs: 5 });
  t.match(res, { status: 'delivered', attempts: 3, httpStatus: 200 });
  t.same(res.history.map((h) => h.httpStatus), [503, 503, 200]);
  t.equal(rx.received.length, 3);
  t.same(rx.received.map((r) => r.verified), [true, true, true]);
  t.equal(new Set(rx.received.map((r) => r.headers['x-netdoctor-delivery'])).size, 1);
  assertNoSecret(t, res);
});

t.test('429 with Retry-After: the next attempt waits that long, not the (tiny) backoff', async (t) => {
  const rx = await receiver(t, [{ status: 429, headers: { 'retry-after': '1' } }, { status: 200 }]);
  const res = await deliver({ url: rx.url, secret: SECRET }, PAYLOAD, { baseDelayMs: 1 });
  t.match(res, { status: 'delivered', attempts: 2 });
  t.equal(res.history[0]?.delayMs, 1000);
  const gap = (rx.received[1]?.at ?? 0) - (rx.received[0]?.at ?? 0);
  t.ok(gap >= 950, `waited ${Math.round(gap)} ms`);
});

t.test('a Retry-After beyond the cap is capped', async (t) => {
  const rx = await receiver(t, [{ status: 429, headers: { 'retry-after': '3600' } }, { status: 200 }]);
  const started = performance.now();
  const res = await deliver({ url: rx.url, secret: SECRET }, PAYLOAD, { baseDelayMs: 1, maxDelayMs: 50 });
  t.match(res, { status: 'delivered', attempts: 2 });
  t.equal(res.history[0]?.delayMs, 50);
  t.ok(performance.now() - started < 2000);
});

t.test('400 is not retried', async (t) => {
  const rx = await receiver(t, [{ status: 400 }, { status: 200 }]);
  const res = await deliver({ url: rx.url, secret: SECRET }, PAYLOAD, { attempts: 5, baseDelayMs: 1 });
  t.match(res, { status: 'failed', attempts: 1, httpStatus: 400, error: /answered 400; not retried/ });
  t.equal(rx.received.length, 1);
  t.notMatch(JSON.stringify(res), /receiver body/, 'the response body is not echoed');
  assertNoSecret(t, res);
});

t.test('a redirect is not followed', async (t) => {
  const other = await receiver(t, [{ status: 200 }]);
  const rx = await receiver(t, [{ status: 307, headers: { location: other.url } }]);
  const res = await deliver({ url: rx.url, secret: SECRET }, PAYLOAD, { attempts: 3, baseDelayMs: 1 });
  t.match(res, { status: 'failed', attempts: 1, httpStatus: 307, error: /redirects are not followed/ });
  t.equal(other.received.length, 0);
});

t.test('5xx until the attempts run out: failed, with the last status', async (t) => {
  const rx = await receiver(t, [{ status: 500 }, { status: 502 }]);
  const res = await deliver({ url: rx.url, secret: SECRET }, PAYLOAD, { attempts: 3, baseDelayMs: 1 });
  t.match(res, { status: 'failed', attempts: 3, httpStatus: 502, error: 'the receiver answered 502' });
  t.equal(rx.received.length, 3);
  t.equal(res.history[2]?.delayMs, undefined, 'no wait after the last attempt');
  assertNoSecret(t, res);
});

t.test('a receiver that hangs past the timeout: retried, then delivered', async (t) => {
  const rx = await receiver(t, ['hang', { status: 200 }]);
  const res = await deliver({ url: rx.url, secret: SECRET }, PAYLOAD, { timeoutMs: 150, baseDelayMs: 1 });
  t.match(res, { status: 'delivered', attempts: 2, httpStatus: 200 });
  t.match(res.history[0], { error: 'no answer within 150 ms' });
  t.ok((res.history[0]?.durationMs ?? 0) >= 140);
});

t.test('a receiver that always hangs: fails after the attempts, each cut at the timeout', async (t) => {
  const rx = await receiver(t, ['hang']);
  const res = await deliver({ url: rx.url, secret: SECRET }, PAYLOAD, { attempts: 2, timeoutMs: 100, baseDelayMs: 1 });
  t.match(res, { status: 'failed', attempts: 2, error: 'no answer within 100 ms' });
  t.equal(res.httpStatus, undefined);
  t.equal(rx.received.length, 2);
  t.ok(res.durationMs < 2000);
  assertNoSecret(t, res);
});

t.test('connection refused is retried and reported', async (t) => {
  const rx = await receiver(t, [{ status: 200 }]);
  const closed = new URL(rx.url);
  // A port nobody listens on: take one from a server and close it.
  const tmp = createServer();
  await new Promise<void>((resolve) => tmp.listen(0, '127.0.0.1', resolve));
  closed.port = String((tmp.address() as AddressInfo).port);
  await new Promise<void>((resolve) => tmp.close(() => resolve()));
  const res = await deliver({ url: closed.toString(), secret: SECRET }, PAYLOAD, { attempts: 3, baseDelayMs: 1 });
  t.match(res, { status: 'failed', attempts: 3, error: /ECONNREFUSED/ });
  assertNoSecret(t, res);
});

t.test('cancelled during the backoff: stops, says cancelled', async (t) => {
  const rx = await receiver(t, [{ status: 503 }]);
  const ac = new AbortController();
  const pending = deliver({ url: rx.url, secret: SECRET }, PAYLOAD, { attempts: 5, baseDelayMs: 10_000, maxDelayMs: 10_000, signal: ac.signal });
  while (rx.received.length === 0) await new Promise((r) => setTimeout(r, 5));
  const res: DeliveryResult = await Promise.race([
    (async () => {
      ac.abort();
      return pending;
    })(),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('not cancelled within 2 s')), 2000)),
  ]);
  t.match(res, { status: 'cancelled', attempts: 1, httpStatus: 503 });
  t.equal(rx.received.length, 1);
});

t.test('only https, or http to 127.0.0.1 / localhost: others are refused before any connection', async (t) => {
  const refused = [
    ['http://example.com/hooks/tok-Abc123', /must use https .*not example\.com/],
    ['http://10.0.0.4:8080/hooks/tok-Abc123', /must use https .*not 10\.0\.0\.4/],
    ['ftp://127.0.0.1/hooks/tok-Abc123', /must use https, not ftp/],
    ['http://user:pw@127.0.0.1/hooks/tok-Abc123', /must not contain credentials/],
    ['127.0.0.1:8080/hooks', /not a valid absolute URL/],
  ] as const;
  for (const [url, message] of refused) {
    const err = await deliver({ url, secret: SECRET }, PAYLOAD).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(err, WebhookTargetError, url);
    t.match((err as Error).message, message);
    t.notMatch((err as Error).message, /tok-Abc123|pw/, 'the URL path and credentials are not echoed');
    assertNoSecret(t, err);
  }
  t.equal(webhookUrlProblem('https://hooks.example.com/x'), undefined);
  t.equal(webhookUrlProblem('http://localhost:8080/x'), undefined);
  t.equal(webhookUrlProblem('http://127.0.0.1:8080/x'), undefined);

  // A loopback receiver that is not on the list (IPv6 ::1) sees no connection at all.
  const v6 = await receiver(t, [{ status: 200 }], '::1').catch(() => undefined);
  if (v6) {
    await t.rejects(deliver({ url: v6.url, secret: SECRET }, PAYLOAD), WebhookTargetError);
    await new Promise((r) => setTimeout(r, 50));
    t.equal(v6.connections(), 0, 'no connection was made');
  }
});

t.test('an empty secret is refused before sending', async (t) => {
  const rx = await receiver(t, [{ status: 200 }]);
  await t.rejects(deliver({ url: rx.url, secret: '' }, PAYLOAD), { name: 'WebhookTargetError', message: /secret is empty/ });
  t.equal(rx.connections(), 0);
});

t.test('with the service policy: https to allow-listed hosts only, never to internal addresses', async (t) => {
  const policy: WebhookPolicy = { allowedHosts: ['hooks.example.com', '*.receivers.example.net'] };
  t.equal(webhookUrlProblem('https://hooks.example.com/aml', policy), undefined);
  t.equal(webhookUrlProblem('https://team-a.receivers.example.net/x', policy), undefined, 'a wildcard covers subdomains');
  t.match(webhookUrlProblem('https://receivers.example.net/x', policy), /not on the service's allow-list/, 'but not the bare domain');
  t.match(webhookUrlProblem('https://evilreceivers.example.net/x', policy), /not on the service's allow-list/);
  t.match(webhookUrlProblem('https://hooks.example.com.evil.test/x', policy), /not on the service's allow-list/);
  t.match(webhookUrlProblem('http://hooks.example.com/aml', policy), /must use https/);
  t.match(webhookUrlProblem('https://169.254.169.254/metadata/identity/oauth2/token', policy), /private, loopback, link-local/, 'the metadata endpoint');
  t.match(webhookUrlProblem('https://10.0.0.4/hook', policy), /private/);
  t.match(webhookUrlProblem('https://[fd00::1]/hook', policy), /private/);
  t.match(webhookUrlProblem('http://127.0.0.1:9/hook', policy), /must use https/, 'loopback only when the policy allows it');
  t.equal(webhookUrlProblem('http://127.0.0.1:9/hook', { ...policy, allowLoopback: true }), undefined);
  t.match(webhookUrlProblem('https://hooks.example.com/aml', { allowedHosts: [] }), /not enabled on this service/);
});

t.test('forbidden addresses: private, loopback, link-local, shared, multicast, ULA, mapped IPv4', async (t) => {
  for (const ip of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '127.0.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', 'fe80::1', 'fd12::1', '::ffff:169.254.169.254', '::ffff:10.0.0.1'])
    t.ok(forbiddenAddress(ip), `${ip} is refused`);
  for (const ip of ['20.50.2.1', '52.239.1.2', '172.32.0.1', '2603:1030::1']) t.equal(forbiddenAddress(ip), undefined, `${ip} is allowed`);
  t.equal(forbiddenAddress('127.0.0.1', true), undefined, 'loopback when allowed');
  t.ok(forbiddenAddress('10.0.0.1', true), 'but never a private address');
});

t.test('an allow-listed name that resolves to an internal address is refused when connecting (no DNS rebinding)', async (t) => {
  let connections = 0;
  const listener = createTcpServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  t.teardown(() => listener.close());
  const port = (listener.address() as AddressInfo).port;
  // `localhost` passes the allow-list check by name; what it resolves to is checked at connect time.
  const result = await deliver({ url: `https://localhost:${port}/hook`, secret: 's3cret-for-the-test' }, { a: 1 }, { policy: { allowedHosts: ['localhost'] }, attempts: 2, baseDelayMs: 1 });
  t.equal(result.status, 'failed');
  t.match(result.error, /private, loopback, link-local/);
  t.equal(connections, 0, 'no connection was made');
});
