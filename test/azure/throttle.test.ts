/**
 * Per-subscription ARM throttling, against the simulated ARM with the real SDK clients: the rate
 * per subscription holds over any window while subscriptions proceed independently, and a 429 with
 * Retry-After pauses the whole subscription (not only the request that got it).
 */
import t from 'tap';
import { createAzureClients, staticTokenCredential, type AzureAccessOptions } from '../../src/azure/clients.ts';
import { toProbeError } from '../../src/azure/errors.ts';
import { ArmThrottle, remainingRequests, retryAfterMs, subscriptionOf, TokenBucket } from '../../src/azure/throttle.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { diagnose } from '../../src/diagnose.ts';
import { createMetrics } from '../../src/service/metrics.ts';
import { startArmSimulator, type ArmSimulator, type RecordedRequest } from '../../src/sim/arm-server.ts';
import type { ScenarioResource } from '../../src/sim/scenario.ts';
import { startScenario } from '../helpers/reports.ts';

const SUB_A = 'aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa';
const SUB_B = 'bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb';
const vnet = (sub: string, name: string): ScenarioResource => ({
  id: `/subscriptions/${sub}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/${name}`,
  location: 'westeurope',
  properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] } },
});

let sim: ArmSimulator;
t.before(async () => {
  sim = await startArmSimulator({ scenario: { resources: [vnet(SUB_A, 'vnet-a1'), vnet(SUB_A, 'vnet-a2'), vnet(SUB_B, 'vnet-b')] } });
});
t.teardown(() => sim.close());
t.beforeEach(() => {
  sim.setFaults([]);
  sim.requests.length = 0;
});

function clients(extra: Partial<AzureAccessOptions>) {
  return createAzureClients({ armEndpoint: sim.url, ca: sim.caPem, credential: staticTokenCredential('throttle-test'), retryDelayMs: 5, ...extra });
}

const ofSub = (sub: string) => (r: RecordedRequest) => r.path.toLowerCase().startsWith(`/subscriptions/${sub}/`);

/** Most requests arriving in any window of `windowMs` that starts at a request. */
function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0; i < sorted.length; i++) {
    let n = 0;
    for (let j = i; j < sorted.length && (sorted[j] as number) < (sorted[i] as number) + windowMs; j++) n++;
    most = Math.max(most, n);
  }
  return most;
}

/** How much closer than sent two requests may arrive at the simulator, on a busy test machine. */
const JITTER_MS = 300;

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

t.test('Retry-After and the remaining-requests headers are read as ARM sends them', async (t) => {
  const h = (o: Record<string, string>) => ({ get: (name: string) => o[name] });
  const now = Date.parse('2025-03-01T10:00:00Z');
  t.equal(retryAfterMs(h({ 'retry-after': '7' }), now), 7000, 'seconds');
  t.equal(retryAfterMs(h({ 'retry-after': 'Sat, 01 Mar 2025 10:00:05 GMT' }), now), 5000, 'an HTTP date');
  t.equal(retryAfterMs(h({ 'retry-after': 'Sat, 01 Mar 2025 09:00:00 GMT' }), now), 0, 'a date in the past is no wait');
  t.equal(retryAfterMs(h({ 'retry-after-ms': '250', 'retry-after': '9' }), now), 250, 'retry-after-ms first, as the SDK reads it');
  t.equal(retryAfterMs(h({ 'x-ms-retry-after-ms': '40' }), now), 40);
  t.equal(retryAfterMs(h({ 'retry-after': 'soon' }), now), undefined);
  t.equal(remainingRequests(h({ 'x-ms-ratelimit-remaining-subscription-reads': '240', 'x-ms-ratelimit-remaining-subscription-global-reads': '3599' })), 240);
  t.equal(remainingRequests(h({ 'x-ms-ratelimit-remaining-subscription-reads': 'n/a' })), undefined);
  t.equal(subscriptionOf(`https://management.azure.com/subscriptions/${SUB_A.toUpperCase()}/resourceGroups/rg?api-version=1`), SUB_A);
  t.equal(subscriptionOf('https://management.azure.com/providers/Microsoft.Network/operations'), '', 'tenant-level requests share one bucket');
});

t.test('a bucket holds no more tokens than ARM says are left', async (t) => {
  const bucket = new TokenBucket(20, 10);
  bucket.limitTo(0);
  const started = Date.now();
  await bucket.take();
  t.ok(Date.now() - started >= 40, `waited for a token to refill (${Date.now() - started} ms)`);
  t.throws(() => new ArmThrottle({ readsPerSecond: 0 }), RangeError);
  t.throws(() => new ArmThrottle({ burst: 0.5 }), RangeError);
});

t.test('N tokens per second per subscription, over any window, while two subscriptions proceed side by side', async (t) => {
  const rate = 10;
  const burst = 2;
  const perSub = 20;
  const c = clients({ throttle: new ArmThrottle({ readsPerSecond: rate, burst }) });
  const started = Date.now();
  await Promise.all([
    ...Array.from({ length: perSub }, () => c.network(SUB_A).virtualNetworks.get('rg-net', 'vnet-a1', c.call())),
    ...Array.from({ length: perSub }, () => c.network(SUB_B).virtualNetworks.get('rg-net', 'vnet-b', c.call())),
  ]);
  const elapsed = Date.now() - started;
  for (const sub of [SUB_A, SUB_B]) {
    const times = sim.requests.filter(ofSub(sub)).map((r) => r.at);
    t.equal(times.length, perSub, `${sub}: every request reached ARM once`);
    // Within any window: at most the burst plus what refills during it. The simulator stamps
    // arrivals, not sends: requests sent apart can arrive closer (new TLS connections, a loaded
    // machine), so windows are widened by that jitter. Unthrottled, all 20 arrive within ~50 ms.
    for (const windowMs of [400, 800]) {
      const allowed = Math.floor(burst + (rate * (windowMs + JITTER_MS)) / 1000);
      const most = busiestWindow(times, windowMs);
      t.ok(most <= allowed, `${sub}: at most ${allowed} requests in ${windowMs} ms (busiest: ${most})`);
    }
    const span = Math.max(...times) - Math.min(...times);
    t.ok(span >= ((perSub - burst) / rate) * 1000 - JITTER_MS, `${sub}: spread over ${span} ms, not sent at once`);
  }
  // One shared bucket would need (2 * 20 - 2) / 10 = 3.8 s; independent buckets 1.8 s.
  t.ok(elapsed < 2800, `the subscriptions did not wait for each other (${elapsed} ms)`);
  const a = sim.requests.filter(ofSub(SUB_A)).map((r) => r.at);
  const b = sim.requests.filter(ofSub(SUB_B)).map((r) => r.at);
  t.ok(Math.min(...b) < Math.max(...a) && Math.min(...a) < Math.max(...b), 'their requests interleave');
});

t.test('a 429 with Retry-After pauses that subscription: its other requests wait, other subscriptions do not', async (t) => {
  sim.setFaults([{ method: 'GET', path: 'virtualNetworks/vnet-a1$', status: 429, retryAfterSeconds: 1, times: 1 }]);
  const throttle = new ArmThrottle({ readsPerSecond: 50, burst: 50 });
  const metrics = createMetrics();
  const c = clients({ throttle, metrics });
  const throttled = c.network(SUB_A).virtualNetworks.get('rg-net', 'vnet-a1', c.call());
  await until(() => throttle.bucket(SUB_A).pausedUntil > 0);
  const t429 = sim.requests.find((r) => r.status === 429)?.at ?? NaN;
  const fired = Date.now();
  const others = await Promise.all([
    ...Array.from({ length: 5 }, () => c.network(SUB_A).virtualNetworks.get('rg-net', 'vnet-a2', c.call())),
    ...Array.from({ length: 5 }, () => c.network(SUB_B).virtualNetworks.get('rg-net', 'vnet-b', c.call())),
  ]);
  t.equal((await throttled).name, 'vnet-a1', 'the throttled request is retried and succeeds');
  t.equal(others.length, 10);

  const a2 = sim.requests.filter((r) => r.path.endsWith('/vnet-a2')).map((r) => r.at);
  const b = sim.requests.filter(ofSub(SUB_B)).map((r) => r.at);
  t.equal(a2.length, 5);
  t.ok(Math.min(...a2) >= t429 + 900, `subscription A's other requests waited out the Retry-After (first ${Math.min(...a2) - t429} ms after the 429)`);
  t.ok(Math.max(...b) - fired < 500, `subscription B went straight through (${Math.max(...b) - fired} ms)`);
  t.same(
    sim.requests.filter((r) => r.path.endsWith('/vnet-a1')).map((r) => r.status),
    [429, 200],
    'one 429, one retry',
  );
  const text = await metrics.registry.metrics();
  t.match(text, /netdoctor_arm_throttled_total\{operation="GET Microsoft.Network\/virtualNetworks"\} 1\n/);
  t.match(text, /netdoctor_arm_requests_total\{operation="GET Microsoft.Network\/virtualNetworks",status_class="2xx"\} 11\n/);
  t.match(text, /netdoctor_arm_requests_total\{operation="GET Microsoft.Network\/virtualNetworks",status_class="4xx"\} 1\n/);
});

t.test('the pause is the Retry-After the retry policy actually waits (capped by maxRetryAfterMs)', async (t) => {
  sim.setFaults([{ method: 'GET', path: 'virtualNetworks/vnet-a1$', status: 429, retryAfterSeconds: 30, times: 1 }]);
  const throttle = new ArmThrottle({ readsPerSecond: 50, burst: 50 });
  const c = clients({ throttle, maxRetryAfterMs: 600 });
  const started = Date.now();
  const throttled = c.network(SUB_A).virtualNetworks.get('rg-net', 'vnet-a1', c.call());
  await until(() => throttle.bucket(SUB_A).pausedUntil > 0);
  t.ok(throttle.bucket(SUB_A).pausedUntil - Date.now() <= 600, 'paused for the capped wait, not 30 s');
  await Promise.all([throttled, c.network(SUB_A).virtualNetworks.get('rg-net', 'vnet-a2', c.call())]);
  t.ok(Date.now() - started < 3000, `both done in ${Date.now() - started} ms`);
  const t429 = sim.requests.find((r) => r.status === 429)?.at ?? NaN;
  const sibling = sim.requests.find((r) => r.path.endsWith('/vnet-a2'))?.at ?? NaN;
  t.ok(sibling - t429 >= 500, `the sibling still waited for the pause (${sibling - t429} ms)`);
});

t.test('a request waiting for a token is cancelled by its abort signal and never sent', async (t) => {
  const c = clients({ throttle: new ArmThrottle({ readsPerSecond: 0.2, burst: 1 }) });
  await c.network(SUB_A).virtualNetworks.get('rg-net', 'vnet-a1', c.call());
  const started = Date.now();
  const err = await c.network(SUB_A).virtualNetworks.get('rg-net', 'vnet-a2', c.call(AbortSignal.timeout(150))).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err, 'rejected');
  t.equal(toProbeError(err, 'reading vnet-a2').kind, 'timeout', 'reported as a timeout');
  t.ok(Date.now() - started < 2000, 'promptly, without waiting 5 s for the token');
  t.equal(sim.requests.filter((r) => r.path.endsWith('/vnet-a2')).length, 0, 'never reached ARM');
});

t.test('a bundled scenario whose ARM answers 429 + Retry-After: 1 still completes, the subscription slowed down', async (t) => {
  const run = await startScenario(t, 'large-estate-throttled');
  const rate = 25;
  const throttle = new ArmThrottle({ readsPerSecond: rate, burst: 250 });
  const metrics = createMetrics();
  const azure = createAzureClients({ armEndpoint: run.arm.url, ca: run.arm.caPem, credential: staticTokenCredential('t'), retryDelayMs: 1, lroPollIntervalMs: 5, timeoutMs: 20_000, throttle, metrics });
  const report = await diagnose(run.req, { ...run.deps, azure, metrics }, AbortSignal.timeout(60_000));
  t.equal(report.verdict.status, run.scenario.expect.verdict, 'the expected verdict');

  const sub = (run.req.workspaceId.split('/')[2] ?? '').toLowerCase();
  const requests = run.arm.requests.filter(ofSub(sub));
  const throttledAt = requests.filter((r) => r.status === 429).map((r) => r.at);
  t.ok(throttledAt.length >= 1, `ARM answered ${throttledAt.length} 429s`);
  const resumed = requests.filter((r) => r.at >= Math.max(...throttledAt) + 950).map((r) => r.at);
  t.ok(resumed.length >= 5, `${resumed.length} requests after the last pause`);
  // The bucket restarts empty after a pause: the requests that waited go out at the refill rate.
  const span = Math.max(...resumed) - Math.min(...resumed);
  t.ok(span >= ((resumed.length - 1) / rate) * 1000 - 150, `after the pause: ${resumed.length} requests over ${span} ms, not in a burst`);
  const text = await metrics.registry.metrics();
  t.match(text, new RegExp(`netdoctor_arm_throttled_total\\{operation="GET Microsoft.Network/privateDnsZones"\\} ${throttledAt.length}\\n`));
  t.match(text, /netdoctor_diagnoses_total\{outcome="no-cause-found"\} 1\n/);
});

t.test('NETDOCTOR_ARM_READS_PER_SECOND and NETDOCTOR_ARM_BURST are validated at start-up', async (t) => {
  const config = loadConfig({ NETDOCTOR_ARM_READS_PER_SECOND: '12.5', NETDOCTOR_ARM_BURST: '40' });
  t.equal(config.NETDOCTOR_ARM_READS_PER_SECOND, 12.5);
  t.equal(config.NETDOCTOR_ARM_BURST, 40);
  t.notOk('NETDOCTOR_ARM_READS_PER_SECOND' in loadConfig({}), 'unset: the throttle uses the ARM defaults');
  for (const [variable, value] of [
    ['NETDOCTOR_ARM_READS_PER_SECOND', '0'],
    ['NETDOCTOR_ARM_READS_PER_SECOND', 'fast'],
    ['NETDOCTOR_ARM_READS_PER_SECOND', '-5'],
    ['NETDOCTOR_ARM_BURST', '0'],
    ['NETDOCTOR_ARM_BURST', '2.5'],
  ] as const) {
    const err = t.throws(() => loadConfig({ [variable]: value })) as unknown;
    t.ok(err instanceof ConfigError && err.problems.some((p) => p.variable === variable && p.message.includes(`'${value}'`)), `${variable}=${value} is named with its value`);
  }
});
