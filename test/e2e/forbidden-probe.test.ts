/**
 * Acceptance: with one probe's reads forbidden (403), that probe's items are undetermined, the
 * verdict is never no-cause-found and the exit code is not 0.
 */
import t from 'tap';
import { loadScenario } from '../../src/sim/scenario-files.ts';
import { diagnoseArgs, runCli, startEstate } from '../helpers/estate.ts';

const scenario = await loadScenario('healthy-hub-spoke');

const cases: Array<{ probe: string; path: string; coverage: string }> = [
  { probe: 'workspace', path: 'Microsoft\\.MachineLearningServices/workspaces/[^/]+$', coverage: 'read the workspace' },
  { probe: 'computes', path: '/computes', coverage: 'read the computes' },
  { probe: 'private endpoints', path: 'Microsoft\\.Network/privateEndpoints/', coverage: 'read the workspace private endpoints' },
  { probe: 'virtual networks', path: 'Microsoft\\.Network/virtualNetworks/', coverage: 'read the virtual networks and peerings' },
  { probe: 'private DNS zones', path: 'Microsoft\\.Network/privateDnsZones', coverage: 'read the private DNS zones, records and links' },
];

t.test('the healthy baseline itself is healthy (so the faults below are what changes the result)', async (t) => {
  const estate = await startEstate(t, scenario);
  const run = await runCli(diagnoseArgs(scenario, estate), estate);
  t.equal(run.code, 0, run.stderr);
  t.equal(run.report?.verdict.status, 'no-cause-found');
});

for (const c of cases) {
  t.test(`${c.probe} forbidden`, async (t) => {
    const estate = await startEstate(t, scenario, [{ path: c.path, status: 403 }]);
    const run = await runCli(diagnoseArgs(scenario, estate), estate);
    const report = run.report;
    if (!report) return t.fail(`no report: ${run.stderr}`);
    t.not(run.code, 0, 'exit code is not 0');
    t.not(report.verdict.status, 'no-cause-found');
    const gap = report.coverage.find((i) => i.item === c.coverage && i.status === 'undetermined');
    t.ok(gap, `coverage marks "${c.coverage}" undetermined`);
    t.match(gap?.reason ?? '', /403/);
    t.ok(report.coverage.some((i) => i.status === 'undetermined' && /^[A-Z_]+: /.test(i.item)), 'rules that needed it are undetermined too');
  });
}
