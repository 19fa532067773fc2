import t from 'tap';
import { probe } from '../../probes/service-tags.ts';
import { probe as workspace } from '../../probes/workspace.ts';
import type { ProbeContext } from '../../probes/probe.ts';
import type { ScenarioResource } from '../../src/sim/scenario.ts';
import { exactly, gets, runProbes, snapshotWith, wire, withSim } from '../helpers/sim.ts';
import { SUB, WS_GUID } from '../helpers/snapshot.ts';

const TAGS_ID = `/subscriptions/${SUB}/providers/Microsoft.Network/locations/eastus/serviceTags`;

/** The serviceTags singleton as ARM serves it (shape of the ServiceTagsList example). */
function serviceTags(): ScenarioResource {
  const tag = (name: string, region: string, systemService: string, addressPrefixes: string[]) => ({
    name,
    id: name,
    serviceTagChangeNumber: '12',
    properties: { changeNumber: '3', region, state: 'GA', systemService, addressPrefixes, networkFeatures: ['NSG', 'UDR', 'FW'] },
  });
  return {
    id: TAGS_ID,
    name: 'Public',
    type: 'Microsoft.Network/serviceTags',
    changeNumber: '63',
    cloud: 'Public',
    values: [
      tag('AzureActiveDirectory', '', 'AzureAD', ['20.190.128.0/18', '40.126.0.0/18', '2603:1006:2000::/48']),
      tag('Storage.EastUS', 'EastUS', 'AzureStorage', ['20.38.98.0/24', '2603:1030:7::/48']),
      tag('AzureMachineLearning', '', 'AzureMachineLearning', ['13.66.87.135/32']),
      tag('AzureFrontDoor.FirstParty', '', 'AzureFrontDoor', ['2a01:111:2050::/44']),
    ],
  };
}

async function run(ctx: ProbeContext) {
  const snapshot = await runProbes(ctx, [workspace]);
  return probe.run(ctx, snapshot);
}

const estate = (): ScenarioResource[] => [wire.workspace({ workspaceId: WS_GUID }), serviceTags()];

t.test('lists the tags of the workspace region in its subscription, IPv4 prefixes only', async (t) => {
  const { sim, ctx } = await withSim(t, estate());
  const out = await run(ctx);
  if (!out.ok) throw new Error(out.error.message);
  t.match(out.value, { location: 'eastus', cloud: 'Public', changeNumber: '63' });
  t.same(out.value.tags, [
    { name: 'AzureActiveDirectory', region: '', systemService: 'AzureAD', addressPrefixes: ['20.190.128.0/18', '40.126.0.0/18'] },
    { name: 'Storage.EastUS', region: 'eastus', systemService: 'AzureStorage', addressPrefixes: ['20.38.98.0/24'] },
    { name: 'AzureMachineLearning', region: '', systemService: 'AzureMachineLearning', addressPrefixes: ['13.66.87.135/32'] },
    { name: 'AzureFrontDoor.FirstParty', region: '', systemService: 'AzureFrontDoor', addressPrefixes: [] },
  ]);
  t.equal(gets(sim, /\/serviceTags$/).length, 1);
  t.equal(gets(sim, /\/serviceTags$/)[0]?.path, TAGS_ID, 'asked in the workspace subscription for its normalized region');
});

t.test('a failed listing is a failed observation', async (t) => {
  const { ctx } = await withSim(t, estate(), { faults: [{ path: exactly(TAGS_ID), status: 403 }] });
  const out = await run(ctx);
  t.match(out, { ok: false, error: { kind: 'forbidden', code: 'AuthorizationFailed', resourceId: TAGS_ID } });
});

t.test('is not attempted when the workspace could not be read', async (t) => {
  const { sim, ctx } = await withSim(t, estate());
  const out = await probe.run(ctx, snapshotWith(ctx, { workspace: { ok: false, error: { kind: 'forbidden', message: '403' } } }));
  t.match(out, { ok: false, error: { kind: 'skipped' } });
  t.equal(sim.requests.length, 0);
});

t.test('is not attempted when the workspace has no location', async (t) => {
  const { sim, ctx } = await withSim(t, [wire.workspace({ workspaceId: WS_GUID }, undefined, ''), serviceTags()]);
  const out = await run(ctx);
  t.match(out, { ok: false, error: { kind: 'skipped', message: /no location/ } });
  t.equal(gets(sim, /serviceTags/).length, 0);
});
