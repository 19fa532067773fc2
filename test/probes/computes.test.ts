import t from 'tap';
import { probe } from '../../probes/computes.ts';
import { exactly, gets, snapshotWith, wire, withSim } from '../helpers/sim.ts';
import { SPOKE_ID, SUB, SUBNET_ID, WS_ID } from '../helpers/snapshot.ts';

const OTHER_SUBNET = `${SPOKE_ID}/subnets/snet-train`;

const computes = [
  wire.compute('ci-alice', 'ComputeInstance', { vmSize: 'STANDARD_DS3_V2', subnet: { id: SUBNET_ID }, enableNodePublicIp: false, enableSSO: true, state: 'Running' }),
  wire.compute('cpu-cluster', 'AmlCompute', { vmSize: 'Standard_NC6s_v3', subnet: { id: OTHER_SUBNET }, enableNodePublicIp: false, allocationState: 'Steady', scaleSettings: { minNodeCount: 0, maxNodeCount: 4 } }),
  // Third item: lands on the second page (page size 2).
  wire.compute('ci-bob', 'ComputeInstance', { vmSize: 'STANDARD_DS3_V2', subnet: { id: SUBNET_ID }, enableSSO: false, state: 'Stopped' }),
  wire.compute('serverless', 'Kubernetes', { namespace: 'default' }),
];

t.test('lists every compute across pages and reads enableSSO from the raw JSON', async (t) => {
  const { sim, ctx } = await withSim(t, [wire.workspace(), ...computes], { pageSize: 2 });
  const out = await probe.run(ctx, snapshotWith(ctx));
  if (!out.ok) throw new Error(out.error.message);
  t.same(
    out.value.computes.map((c) => c.name),
    ['ci-alice', 'cpu-cluster', 'ci-bob', 'serverless'],
  );
  const [alice, cluster, bob, k8s] = out.value.computes;
  t.same(alice, { id: `${WS_ID}/computes/ci-alice`, name: 'ci-alice', computeType: 'ComputeInstance', location: 'eastus', provisioningState: 'Succeeded', state: 'Running', subnetId: SUBNET_ID, enableNodePublicIp: false, enableSSO: true, vmSize: 'STANDARD_DS3_V2' });
  t.match(cluster, { computeType: 'AmlCompute', state: 'Steady', subnetId: OTHER_SUBNET, enableNodePublicIp: false, enableSSO: undefined, vmSize: 'Standard_NC6s_v3' });
  t.match(bob, { computeType: 'ComputeInstance', state: 'Stopped', enableSSO: false, enableNodePublicIp: undefined }, 'enableSSO false on the second page is kept; an absent enableNodePublicIp stays undefined');
  t.match(k8s, { computeType: 'Kubernetes', subnetId: undefined, vmSize: undefined });
  t.equal(gets(sim, /\/computes$/).length, 2, 'two pages requested');
});

t.test('with --compute reads only that compute', async (t) => {
  const { sim, ctx } = await withSim(t, [wire.workspace(), ...computes], { target: { computeName: 'ci-bob' } });
  const out = await probe.run(ctx, snapshotWith(ctx));
  if (!out.ok) throw new Error(out.error.message);
  t.same(out.value.computes.map((c) => [c.name, c.enableSSO]), [['ci-bob', false]]);
  t.same(
    sim.requests.map((r) => r.path),
    [`${WS_ID}/computes/ci-bob`],
  );
});

/** The workspace as the workspace probe observed it, naming an image build compute. */
function workspaceNaming(imageBuildCompute: string) {
  return { ok: true as const, value: { id: WS_ID, name: 'ws-demo', subscriptionId: SUB, resourceGroup: 'rg-ml', location: 'eastus', privateEndpointConnections: [], imageBuildCompute, fqdns: {} } };
}

t.test('with --compute also reads the image build compute the workspace names', async (t) => {
  const { sim, ctx } = await withSim(t, [wire.workspace(), ...computes], { target: { computeName: 'ci-alice' } });
  const out = await probe.run(ctx, snapshotWith(ctx, { workspace: workspaceNaming('cpu-cluster') }));
  if (!out.ok) throw new Error(out.error.message);
  t.same(out.value.computes.map((c) => c.name), ['ci-alice'], 'the build compute is not one of the analysed computes');
  t.match(out.value.imageBuildCompute, { ok: true, value: { name: 'cpu-cluster', computeType: 'AmlCompute', subnetId: OTHER_SUBNET, vmSize: 'Standard_NC6s_v3' } });
  t.same(sim.requests.map((r) => r.path).sort(), [`${WS_ID}/computes/ci-alice`, `${WS_ID}/computes/cpu-cluster`]);
});

t.test('the image build compute is not read again when it is the --compute', async (t) => {
  const { sim, ctx } = await withSim(t, [wire.workspace(), ...computes], { target: { computeName: 'cpu-cluster' } });
  const out = await probe.run(ctx, snapshotWith(ctx, { workspace: workspaceNaming('CPU-Cluster') }));
  if (!out.ok) throw new Error(out.error.message);
  t.equal(out.value.imageBuildCompute, undefined);
  t.equal(sim.requests.length, 1);
});

t.test('an image build compute that does not exist fails alone', async (t) => {
  const { ctx } = await withSim(t, [wire.workspace(), ...computes], { target: { computeName: 'ci-alice' } });
  const out = await probe.run(ctx, snapshotWith(ctx, { workspace: workspaceNaming('gone-cluster') }));
  if (!out.ok) throw new Error(out.error.message);
  t.same(out.value.computes.map((c) => c.name), ['ci-alice']);
  t.match(out.value.imageBuildCompute, { ok: false, error: { kind: 'not-found', resourceId: `${WS_ID}/computes/gone-cluster` } });
});

t.test('a --compute that does not exist is a not-found naming the compute and the workspace', async (t) => {
  const { ctx } = await withSim(t, [wire.workspace(), ...computes], { target: { computeName: 'ci-carol' } });
  const out = await probe.run(ctx, snapshotWith(ctx));
  t.equal(out.ok, false);
  if (out.ok) return;
  t.match(out.error, { kind: 'not-found', statusCode: 404, resourceId: `${WS_ID}/computes/ci-carol` });
  t.equal(out.error.message, "compute 'ci-carol' was not found in workspace 'ws-demo' (404 ResourceNotFound)");
});

t.test('a listing the caller may not read is a forbidden observation', async (t) => {
  const { ctx } = await withSim(t, [wire.workspace(), ...computes], { faults: [{ path: exactly(`${WS_ID}/computes`), status: 403 }] });
  const out = await probe.run(ctx, snapshotWith(ctx));
  t.equal(out.ok, false);
  if (out.ok) return;
  t.match(out.error, { kind: 'forbidden', code: 'AuthorizationFailed', resourceId: WS_ID });
  t.match(out.error.message, /listing the computes of workspace 'ws-demo'/);
});

t.test('is not attempted when the workspace does not exist', async (t) => {
  const { sim, ctx } = await withSim(t, []);
  const snapshot = snapshotWith(ctx, { workspace: { ok: false, error: { kind: 'not-found', message: '404 reading workspace' } } });
  const out = await probe.run(ctx, snapshot);
  t.match(out, { ok: false, error: { kind: 'skipped', resourceId: WS_ID } });
  t.equal(sim.requests.length, 0);
});

t.test('is still attempted when the workspace read was forbidden (computes have their own permission)', async (t) => {
  const { ctx } = await withSim(t, [wire.workspace(), ...computes], { target: { computeName: 'ci-alice' } });
  const snapshot = snapshotWith(ctx, { workspace: { ok: false, error: { kind: 'forbidden', message: '403 reading workspace' } } });
  const out = await probe.run(ctx, snapshot);
  t.equal(out.ok, true);
});
