import t from 'tap';
import { buildReport, exitCodeOf } from '../../src/report/build.ts';
import { renderText } from '../../src/report/render-text.ts';
import type { Rule, RuleMeta } from '../../src/rules/rule.ts';
import { clone, WS_ID } from '../helpers/snapshot.ts';
import { networkSnapshot as healthySnapshot, nsgOf, nsgRule } from '../helpers/network-snapshot.ts';

function meta(code: string, tier: 1 | 2 | 3 = 1): RuleMeta {
  return { code, tier, severity: 'critical', title: `${code} title`, role: 'cause', flows: ['workspace-api'], description: '', impact: '', resolution: '', verification: '', needs: ['workspace'], references: [] };
}

const failing = (code: string, tier: 1 | 2 | 3 = 1): Rule => ({
  meta: meta(code, tier),
  check: () => [{ status: 'fail', finding: { resourceId: `/subscriptions/x/r/${code}`, confidence: 'medium', explanation: `${code} explained.`, evidence: [{ observed: 'a', expected: 'b' }], remediation: { summary: `fix ${code}`, azCli: [`az fix ${code}`], bicep: `// fix ${code}\n`, verify: `check ${code}` } } }],
});
const passing = (code: string): Rule => ({ meta: meta(code), check: () => [{ status: 'pass', resourceId: '/x', detail: 'fine' }] });
const unsure = (code: string): Rule => ({ meta: meta(code), check: () => [{ status: 'undetermined', item: 'zone links', reason: '403 AuthorizationFailed reading zone' }] });
const crashing: Rule = { meta: meta('CRASHES'), check: () => { throw new Error('boom'); } };

t.test('tier 1 finding: cause-found, exit 1, verdict names the cause and the fix', async (t) => {
  const report = buildReport(healthySnapshot(), [passing('OK_RULE'), failing('SOME_CAUSE')]);
  t.equal(report.verdict.status, 'cause-found');
  t.match(report.verdict.summary, /SOME_CAUSE/);
  t.match(report.verdict.summary, /fix SOME_CAUSE/);
  t.equal(report.findings[0]?.rank, 1);
  t.equal(report.findings[0]?.docs, 'docs/rules/SOME_CAUSE.md');
  t.equal(exitCodeOf(report), 1);
  t.equal(report.workspace.id, WS_ID);
  t.equal(report.workspace.name, 'ws-demo');
});

t.test('nothing found and nothing missing: no-cause-found, exit 0', async (t) => {
  const report = buildReport(healthySnapshot(), [passing('A'), failing('HYGIENE', 3)]);
  t.equal(report.verdict.status, 'no-cause-found');
  t.equal(exitCodeOf(report), 0);
  t.match(report.verdict.summary, /HYGIENE/);
  t.match(report.verdict.summary, /flows the computes depend on are allowed hop by hop/);
  t.ok(report.flows.length > 5 && report.flows.every((f) => f.verdict === 'allowed'), 'every flow traced and allowed');
});

t.test('an undetermined flow is a coverage gap: the verdict is never no-cause-found', async (t) => {
  const s = clone(healthySnapshot());
  delete s.subnetPolicies;
  const report = buildReport(s, [passing('A')]);
  t.equal(report.verdict.status, 'undetermined');
  t.ok(report.coverage.some((c) => c.status === 'undetermined' && c.item.startsWith('flow ')), 'flows listed as undetermined');
  t.notOk(report.flows.some((f) => f.verdict === 'allowed' && f.hops.some((h) => h.kind === 'nsg' && h.verdict !== 'allowed')));
});

t.test('an undetermined rule makes the verdict undetermined (never no-cause-found) and exit 3', async (t) => {
  const report = buildReport(healthySnapshot(), [passing('A'), unsure('B')]);
  t.equal(report.verdict.status, 'undetermined');
  t.equal(exitCodeOf(report), 3);
  t.ok(report.coverage.some((c) => c.status === 'undetermined' && c.item.startsWith('B:') && c.reason?.includes('403')));
  t.match(report.verdict.summary, /Reader/);
});

t.test('a failed read anywhere in the snapshot shows in coverage', async (t) => {
  const s = clone(healthySnapshot());
  if (s.networks?.ok) {
    const hub = s.networks.value.vnets[1];
    if (hub) hub.observed = { ok: false, error: { kind: 'forbidden', message: '403 AuthorizationFailed reading virtual network vnet-hub', resourceId: hub.id } };
  }
  const report = buildReport(s, [passing('A')]);
  const gap = report.coverage.find((c) => c.status === 'undetermined');
  t.match(gap, { item: 'read the virtual networks and peerings', reason: /vnet-hub/ });
  t.equal(report.verdict.status, 'undetermined');
});

t.test('a rule that throws is reported as undetermined, not as healthy', async (t) => {
  const report = buildReport(healthySnapshot(), [crashing]);
  t.ok(report.coverage.some((c) => c.status === 'undetermined' && /boom/.test(c.reason ?? '')));
  t.not(report.verdict.status, 'no-cause-found');
});

t.test('text rendering shows verdict, ranked findings, commands and gaps', async (t) => {
  const report = buildReport(healthySnapshot(), [failing('SOME_CAUSE'), unsure('B')]);
  const text = renderText(report);
  t.match(text, /Verdict: CAUSE FOUND/);
  t.match(text, /1\. \[tier 1 · critical · confidence medium\] SOME_CAUSE/);
  t.match(text, /\$ az fix SOME_CAUSE/);
  t.match(text, /1 undetermined/);
});

t.test('text rendering lists the flows: one line each, the hops of a blocked flow with the deciding one marked', async (t) => {
  const s = clone(healthySnapshot());
  nsgOf(s).rules.unshift(nsgRule('DenyAadOutbound', 90, 'Deny', 'AzureActiveDirectory', ['*'], { protocol: '*' }));
  const text = renderText(buildReport(s, [passing('A')]));
  t.match(text, /Flows from vnet-spoke\/subnets\/snet-compute \(ci-alice\), routes and NSGs computed from configuration:/);
  t.match(text, /\n  ok      workspace-api +\S+ \(private endpoint /, 'an allowed flow is one line');
  t.match(text, /\n  BLOCKED entra-id +login\.microsoftonline\.com \(AzureActiveDirectory\) \[TCP 80, TCP 443\]/);
  t.match(text, /x nsg: .*DenyAadOutbound/s, 'the blocking hop is marked and names the rule');
  t.notMatch(text, /from from/);
});

t.test('operator filters: --exclude does not run the rule, --min-tier drops less severe findings and renumbers', async (t) => {
  const all = buildReport(healthySnapshot(), [failing('A', 1), failing('B', 2), failing('C', 3)]);
  t.same(all.findings.map((f) => [f.code, f.rank]), [['A', 1], ['B', 2], ['C', 3]]);
  t.equal(all.filters, undefined, 'no filters, none recorded');
  const tier2 = buildReport(healthySnapshot(), [failing('A', 1), failing('B', 2), failing('C', 3)], { minTier: 2, exclude: ['a'] });
  t.same(tier2.findings.map((f) => [f.code, f.rank]), [['B', 1]]);
  t.same(tier2.filters, { minTier: 2, exclude: ['A'] });
  t.notOk(tier2.coverage.some((c) => c.item.startsWith('A:')), 'an excluded rule is not run');
  t.match(tier2.verdict.summary, /--min-tier 2/);
  t.equal(exitCodeOf(tier2), 1);
});

t.test('the report carries its scope so recheck can repeat it', async (t) => {
  const s = clone(healthySnapshot());
  s.target = { ...s.target, subscriptions: ['22222222-2222-2222-2222-222222222222'], vantageVmId: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1' };
  const report = buildReport(s, [passing('A')]);
  t.match(report.scope, {
    subscriptions: ['22222222-2222-2222-2222-222222222222'],
    vantageVmId: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1',
    cloud: s.target.cloud,
    dnsServers: s.target.dnsServers,
  });
});
