/**
 * The verdict on real reports of bundled scenarios: the chain from the compute to the prompt, the
 * assumptions, and what to do next (the fix, or which read to grant).
 */
import t from 'tap';
import { grantSteps } from '../../src/report/verdict.ts';
import { scenarioReport } from '../helpers/reports.ts';

t.test('a DNS cause: compute -> name -> the public answer -> the unlinked zone -> device login', async (t) => {
  const r = await scenarioReport(t, 'zone-not-linked-hub-spoke');
  const v = r.verdict;
  t.equal(v.status, 'cause-found');
  t.same(v.chain.map((s) => s.kind).filter((k, i, a) => a.indexOf(k) === i), ['compute', 'name', 'address', 'rule', 'result']);
  t.match(v.chain[0]?.text, /ci-lee-marketing/);
  t.match(v.chain.find((s) => s.kind === 'name')?.text, /\.workspace\.eastus\.api\.azureml\.ms/);
  t.match(v.chain.find((s) => s.kind === 'address')?.text, /public|resolves/);
  const blamed = v.chain.find((s) => s.resourceId?.toLowerCase() === r.findings[0]?.resourceId.toLowerCase());
  t.ok(blamed, 'the chain names the blamed resource by id');
  t.match(v.chain.at(-1)?.text, /device login/);
  t.match(v.summary, /PRIVATE_DNS_ZONE_NOT_LINKED/);
  t.match(v.summary, /→/, 'the summary tells the chain');
  t.match(v.summary, r.findings[0]?.resourceId ?? '', 'the summary names the blamed resource id');
  t.match(v.summary, /also explains DNS_RESOLVES_PUBLIC_ADDRESS/);
  t.same(r.findings[0]?.flows, ['workspace-api', 'workspace-cert'], 'a DNS finding breaks the flows to its names');
  t.match(r.findings[0]?.rankReason, /auth path: breaks workspace-api, workspace-cert/);
  t.match(v.nextSteps[0], /az network private-dns link vnet create/);
  t.match(v.nextSteps.at(-1), /aml-netdoctor recheck/);
  t.equal(v.nextSteps.filter((n) => /aml-netdoctor recheck/.test(n)).length, 1, 'recheck is said once');
  t.ok(v.assumptions.some((a) => /computed from configuration/.test(a)), `assumptions: ${v.assumptions.join(' | ')}`);
});

t.test('an NSG cause: the chain goes through the route to the NSG rule that denies', async (t) => {
  const r = await scenarioReport(t, 'nsg-denies-entra-id');
  const v = r.verdict;
  const route = v.chain.find((s) => s.kind === 'route');
  t.ok(route, 'a route step');
  const rule = v.chain.find((s) => s.kind === 'rule');
  t.match(rule?.text, /Deny-AzureAD-Outbound/);
  t.match(rule?.resourceId, /networkSecurityGroups/);
  t.match(v.chain.at(-1)?.text, /Entra ID/);
  t.ok(v.chain.findIndex((s) => s.kind === 'route') < v.chain.findIndex((s) => s.kind === 'rule'), 'route before rule');
});

t.test('nothing found but evidence missing: undetermined, says which read to grant and how', async (t) => {
  const r = await scenarioReport(t, 'hub-subscription-forbidden');
  const v = r.verdict;
  t.equal(v.status, 'undetermined');
  t.same(v.chain, []);
  t.match(v.summary, /not a clean bill of health/);
  t.match(v.nextSteps[0], /az role assignment create --assignee <principal-object-id> --role "Reader" --scope \/subscriptions\//);
  t.ok(v.nextSteps.length <= 12, `a short list (${v.nextSteps.length}), the coverage section has the rest`);
});

t.test('healthy: no cause, says what was verified and what was assumed', async (t) => {
  const r = await scenarioReport(t, 'healthy-hub-spoke');
  t.equal(r.verdict.status, 'no-cause-found');
  t.same(r.verdict.chain, []);
  t.match(r.verdict.summary, /flows the computes depend on are allowed hop by hop/);
  t.ok(r.verdict.nextSteps.length > 0, 'still says what to try next');
});

t.test('grant steps: one role assignment per refused scope, Network Watcher actions for the vantage', async (t) => {
  const steps = grantSteps([
    { item: 'read a', status: 'undetermined', statusCode: 403, resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v', probe: 'networks', reason: '403' },
    { item: 'read b', status: 'undetermined', statusCode: 403, resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v', probe: 'networks', reason: '403' },
    { item: 'effective routes', status: 'undetermined', statusCode: 403, resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/n', probe: 'vantage', reason: '403' },
    { item: 'x1', status: 'undetermined', reason: 'timeout' },
    { item: 'x2', status: 'undetermined', reason: 'timeout' },
    { item: 'x3', status: 'undetermined', reason: 'timeout' },
    { item: 'x4', status: 'undetermined', reason: 'timeout' },
    { item: 'x5', status: 'undetermined', statusCode: 404, resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/z', reason: 'not found' },
  ]);
  t.equal(steps.filter((s) => s.includes('--role "Reader"')).length, 1, 'the same scope once');
  t.match(steps[1], /Network Contributor.*effectiveRouteTable/);
  t.match(steps.at(-1), /2 more undetermined check\(s\)/);
});
