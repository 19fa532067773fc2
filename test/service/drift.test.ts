import t from 'tap';
import type { Finding, Report } from '../../src/report/schema.ts';
import { driftOf, driftPayload, type DriftFinding } from '../../src/service/drift.ts';
import { scenarioReport } from '../helpers/reports.ts';

// Real reports, diagnosed once for the whole file (the simulators are torn down at the end).
// zone-not-linked: 3 findings; the api zone folds two DNS_RESOLVES_PUBLIC_ADDRESS symptoms.
const zone = await scenarioReport(t, 'zone-not-linked-hub-spoke');
// dns-zone-missing: PRIVATE_DNS_ZONE_MISSING blames the same endpoint twice (two zones).
const zoneMissing = await scenarioReport(t, 'dns-zone-missing');
// hub-subscription-forbidden: reads of the hub fail with 403, verdict undetermined, no findings.
const forbidden = await scenarioReport(t, 'hub-subscription-forbidden');
const healthy = await scenarioReport(t, 'healthy-hub-spoke');

const copy = (r: Report): Report => structuredClone(r);
const ids = (items: DriftFinding[]): string[] => items.map((f) => `${f.code}@${f.resourceId.split('/').pop()}`);
/** `report` as a report of `workspace`'s workspace (drift compares runs of one workspace). */
const asWorkspaceOf = (report: Report, workspace: Report): Report => ({ ...copy(report), workspace: { ...workspace.workspace } });
const without = (r: Report, pred: (f: Finding) => boolean): Report => {
  const c = copy(r);
  c.findings = c.findings.filter((f) => !pred(f)).map((f, i) => ({ ...f, rank: i + 1 }));
  return c;
};
const isApiZone = (f: Finding): boolean => f.code === 'PRIVATE_DNS_ZONE_NOT_LINKED' && f.resourceId.endsWith('privatelink.api.azureml.ms');

t.test('the reports these tests rely on have the shape the comments say', async (t) => {
  t.equal(zone.verdict.status, 'cause-found');
  t.equal(zone.findings.length, 3);
  t.equal(zone.findings.find(isApiZone)?.symptoms?.length, 2);
  t.equal(new Set(zoneMissing.findings.map((f) => `${f.code}|${f.resourceId}`)).size < zoneMissing.findings.length, true);
  t.equal(forbidden.verdict.status, 'undetermined');
  t.ok(forbidden.coverage.some((c) => c.status === 'undetermined'));
  t.equal(healthy.findings.length, 0);
  t.equal(healthy.coverage.some((c) => c.status === 'undetermined'), false);
});

t.test('first run with findings: all new, a change; symptoms are not counted on their own', async (t) => {
  const d = driftOf(undefined, zone);
  t.equal(d.firstRun, true);
  t.equal(d.changed, true);
  t.same(ids(d.new), ['PRIVATE_DNS_ZONE_NOT_LINKED@privatelink.api.azureml.ms', 'PRIVATE_DNS_ZONE_NOT_LINKED@privatelink.notebooks.azure.net', 'COMPUTE_INSTANCE_NAME_UNRESOLVABLE@ci-lee-marketing']);
  t.same(d.new.map((f) => f.rank), [1, 2, 3]);
  t.same([d.resolved, d.persisting, d.unknown], [[], [], []]);
  t.equal(d.summary, 'mlw-marketing-eus: first run: 3 new; verdict cause-found');
});

t.test('two findings blaming the same resource with the same code are one drift item, with the best rank', async (t) => {
  const d = driftOf(undefined, zoneMissing);
  const keys = d.new.map((f) => `${f.code}|${f.resourceId.toLowerCase()}`);
  t.equal(new Set(keys).size, keys.length);
  t.equal(d.new.length, zoneMissing.findings.length - 1);
  t.equal(d.new.find((f) => f.code === 'PRIVATE_DNS_ZONE_MISSING')?.rank, 1);
});

t.test('first run without findings is not a change', async (t) => {
  const d = driftOf(undefined, healthy);
  t.equal(d.changed, false);
  t.same([d.new, d.resolved, d.persisting, d.unknown], [[], [], [], []]);
  t.equal(d.summary, 'mlw-retail-forecast: first run: no findings; verdict no-cause-found');
});

t.test('the same report twice: everything persists, no change', async (t) => {
  const d = driftOf(zone, copy(zone));
  t.equal(d.changed, false);
  t.equal(d.persisting.length, 3);
  t.same([d.new, d.resolved, d.unknown], [[], [], []]);
  t.match(d.summary, /: no change: 3 persisting; verdict cause-found$/);
});

t.test('resource ids are compared case-insensitively', async (t) => {
  const upper = copy(zone);
  for (const f of upper.findings) f.resourceId = f.resourceId.toUpperCase();
  const d = driftOf(zone, upper);
  t.equal(d.changed, false);
  t.equal(d.persisting.length, 3);
});

t.test('a new finding: listed as new with its current rank, the rest persist', async (t) => {
  const d = driftOf(without(zone, isApiZone), zone);
  t.equal(d.changed, true);
  t.same(ids(d.new), ['PRIVATE_DNS_ZONE_NOT_LINKED@privatelink.api.azureml.ms']);
  t.equal(d.new[0]?.rank, 1);
  t.same(ids(d.persisting), ['PRIVATE_DNS_ZONE_NOT_LINKED@privatelink.notebooks.azure.net', 'COMPUTE_INSTANCE_NAME_UNRESOLVABLE@ci-lee-marketing']);
  t.match(d.summary, /: changed: 1 new, 2 persisting; verdict cause-found$/);
});

t.test('a fixed root cause is one resolved item, not one per folded symptom', async (t) => {
  const d = driftOf(zone, without(zone, isApiZone));
  t.equal(d.changed, true);
  t.same(ids(d.resolved), ['PRIVATE_DNS_ZONE_NOT_LINKED@privatelink.api.azureml.ms']);
  t.equal(d.resolved[0]?.rank, 1, 'resolved items keep their previous rank');
  t.equal(d.persisting.length, 2);
  t.same([d.new, d.unknown], [[], []]);
});

t.test('everything fixed: all resolved, the verdict change is reported', async (t) => {
  const fixed = asWorkspaceOf(healthy, zone);
  const d = driftOf(zone, fixed);
  t.equal(d.changed, true);
  t.equal(d.resolved.length, 3);
  t.equal(d.previousStatus, 'cause-found');
  t.equal(d.status, 'no-cause-found');
  t.match(d.summary, /: changed: 3 resolved; verdict cause-found -> no-cause-found$/);
});

t.test('a verdict change alone is a change (undetermined -> no-cause-found, no findings either side)', async (t) => {
  const readable = asWorkspaceOf(healthy, forbidden);
  const d = driftOf(forbidden, readable);
  t.equal(d.changed, true);
  t.same([d.new, d.resolved, d.persisting, d.unknown], [[], [], [], []]);
  t.match(d.summary, /verdict undetermined -> no-cause-found$/);
  t.equal(driftOf(forbidden, copy(forbidden)).changed, false, 'undetermined twice is no change');
});

t.test('findings absent from an undetermined run are unknown, never resolved', async (t) => {
  // The previous run found the zone problems; now the hub reads fail with 403 and nothing is found.
  const previous = asWorkspaceOf(zone, forbidden);
  const d = driftOf(previous, forbidden);
  t.same(d.resolved, []);
  t.equal(d.unknown.length, 3);
  t.match(d.unknown[0], { code: 'PRIVATE_DNS_ZONE_NOT_LINKED', rank: 1, reason: /check\(s\) could not be completed in this run \(first: / });
  t.equal(d.changed, true, 'the verdict moved from cause-found to undetermined');
  t.match(d.summary, /: changed: 3 unknown \(evidence missing\); verdict cause-found -> undetermined$/);
});

t.test('one gap in the coverage keeps an absent finding unknown even when the verdict did not move', async (t) => {
  const current = without(zone, isApiZone);
  current.coverage.push(...forbidden.coverage.filter((c) => c.status === 'undetermined').slice(0, 1));
  const d = driftOf(zone, current);
  t.same(ids(d.unknown), ['PRIVATE_DNS_ZONE_NOT_LINKED@privatelink.api.azureml.ms']);
  t.same(d.resolved, []);
  t.equal(d.changed, false, 'unknown alone is not a change');
});

t.test('a finding the current run filtered out (--min-tier, --exclude) is unknown, not resolved', async (t) => {
  const tier1 = without(zone, (f) => f.tier > 1);
  tier1.filters = { minTier: 1, exclude: [] };
  t.same(ids(driftOf(zone, tier1).unknown), ['COMPUTE_INSTANCE_NAME_UNRESOLVABLE@ci-lee-marketing']);
  const excluded = without(zone, isApiZone);
  excluded.filters = { exclude: ['PRIVATE_DNS_ZONE_NOT_LINKED'] };
  const d = driftOf(zone, excluded);
  t.same(ids(d.unknown), ['PRIVATE_DNS_ZONE_NOT_LINKED@privatelink.api.azureml.ms']);
  t.match(d.unknown[0]?.reason, /excluded/);
});

t.test('a finding now folded into a newly found root cause persists under it instead of being resolved', async (t) => {
  // Before: the public DNS answer was reported on its own (its cause unseen); now the unlinked zone explains it.
  const api = zone.findings.find(isApiZone) as Finding;
  const symptom = api.symptoms?.[0];
  if (!symptom) throw new Error('expected a folded symptom');
  const previous = without(zone, isApiZone);
  const { symptoms: _, ...root } = api;
  previous.findings.unshift({ ...root, code: symptom.code, title: symptom.title, resourceId: symptom.resourceId, rank: 1 });
  const d = driftOf(previous, zone);
  t.same(ids(d.new), ['PRIVATE_DNS_ZONE_NOT_LINKED@privatelink.api.azureml.ms']);
  t.same(d.resolved, []);
  t.match(d.persisting[0], { code: 'DNS_RESOLVES_PUBLIC_ADDRESS', rank: 1, foldedInto: 'PRIVATE_DNS_ZONE_NOT_LINKED' });
  t.equal(d.persisting.length, 3);
  // And back: the symptom is a finding on its own again, the zone problem is resolved.
  const back = driftOf(zone, previous);
  t.same(ids(back.resolved), ['PRIVATE_DNS_ZONE_NOT_LINKED@privatelink.api.azureml.ms']);
  t.same(back.new, [], 'it was present before, folded');
});

t.test('reports of two workspaces are refused', async (t) => {
  t.throws(() => driftOf(zone, healthy), /same workspace/);
});

t.test('payload: small, lists new, resolved and unknown findings, leaves the report path to the caller', async (t) => {
  const current = without(zone, isApiZone);
  current.coverage.push({ item: 'read the private DNS zones', status: 'undetermined', reason: '403' });
  current.verdict.status = 'undetermined';
  const previous = without(zone, (f) => f.code === 'COMPUTE_INSTANCE_NAME_UNRESOLVABLE');
  current.findings.push({ ...(zone.findings[2] as Finding), rank: 2 });
  const d = driftOf(previous, current);
  const p = driftPayload({ id: zone.workspace.id, name: 'marketing' }, d, current, '/v1/workspaces/x/runs/42');
  t.same(Object.keys(p).sort(), ['event', 'generatedAt', 'new', 'persistingCount', 'previousGeneratedAt', 'reportPath', 'resolved', 'summary', 'unknown', 'verdict', 'workspace']);
  t.same(p.workspace, { id: zone.workspace.id, name: 'marketing' });
  t.same(p.verdict, { status: 'undetermined', previousStatus: 'cause-found' });
  t.same(p.new, [{ code: 'COMPUTE_INSTANCE_NAME_UNRESOLVABLE', title: zone.findings[2]?.title, tier: 3, resourceId: zone.findings[2]?.resourceId, rank: 2 }]);
  t.same(p.unknown.map((f) => f.code), ['PRIVATE_DNS_ZONE_NOT_LINKED']);
  t.match(p.unknown[0], { rank: 1, reason: /could not be completed/ });
  t.same(p.resolved, []);
  t.equal(p.persistingCount, 1);
  t.equal(p.reportPath, '/v1/workspaces/x/runs/42');
  t.equal(p.summary, d.summary);
  t.notMatch(JSON.stringify(p), /"(explanation|remediation|evidence|symptoms|flows|coverage)":/, 'no finding bodies: the stored report has them');
  t.equal(driftPayload({ id: zone.workspace.id }, driftOf(undefined, zone), zone).reportPath, null);
  t.equal(driftPayload({ id: zone.workspace.id }, driftOf(undefined, zone), zone).workspace.name, 'mlw-marketing-eus');
});
