import t from 'tap';
import type { ComputeObs, ProbeId, Snapshot } from '../../src/model/snapshot.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/COMPUTE_SSO_DISABLED.ts';
import { COMPUTE_ID, SUB, SUBNET_ID, WS_ID, healthySnapshot, value } from '../helpers/snapshot.ts';
import { fails, forbidden, passes } from '../helpers/results.ts';
import { BICEP_API } from '../../src/rules/support-bicep.ts';

const compute = (s: Snapshot): ComputeObs => {
  const c = value(s.computes).computes[0];
  if (!c) throw new Error('fixture');
  return c;
};

t.test('healthy snapshot: the compute instance has SSO enabled', async (t) => {
  const rs = rule.check(healthySnapshot());
  t.same(fails(rs), []);
  t.match(passes(rs), [{ resourceId: COMPUTE_ID, detail: /ci-alice has single sign-on enabled/ }]);
});

t.test('fails: enableSSO false', async (t) => {
  const s = healthySnapshot();
  compute(s).enableSSO = false;
  const found = fails(rule.check(s));
  t.equal(found.length, 1);
  const f = found[0] as FindingDraft;
  t.equal(f.resourceId, COMPUTE_ID);
  t.match(f.explanation, /Compute instance ci-alice in workspace ws-demo has single sign-on disabled/);
  t.same(f.evidence, [{ resourceId: COMPUTE_ID, property: 'properties.properties.enableSSO', observed: 'false', expected: 'true' }]);
  t.same(f.remediation.azCli, [`az ml compute enable-sso --subscription ${SUB} -g rg-ml -w ws-demo -n ci-alice`]);
  t.match(f.remediation.summary, /user assigned to ci-alice/);
  t.match(f.remediation.verify, `az resource show --ids ${COMPUTE_ID} --query properties.properties.enableSSO`);
  t.match(f.remediation.verify, /must print true; .* then run aml-netdoctor recheck <report\.json>\.$/);
  const bicep = f.remediation.bicep;
  t.match(bicep, `az deployment group create --subscription ${SUB} -g rg-ml -f fix.bicep`, 'deploys to the workspace resource group');
  t.match(bicep, `resource workspace 'Microsoft.MachineLearningServices/workspaces@${BICEP_API['Microsoft.MachineLearningServices/workspaces']}' existing = {\n  name: 'ws-demo'\n}`);
  t.match(
    bicep,
    `resource computeInstance 'Microsoft.MachineLearningServices/workspaces/computes@${BICEP_API['Microsoft.MachineLearningServices/workspaces/computes']}' = {\n  parent: workspace\n  name: 'ci-alice'\n  location: 'eastus'\n  properties: {\n    computeType: 'ComputeInstance'\n    properties: {`,
  );
  t.match(bicep, `subnet: {\n        id: '${SUBNET_ID}'\n      }`, 'keeps the instance in its subnet');
  t.match(bicep, 'enableSSO: true');
  t.match(bicep, `//   az ml compute enable-sso --subscription ${SUB} -g rg-ml -w ws-demo -n ci-alice`, 'the comment says how the existing instance gets SSO');
  t.match(bicep, '// Azure ML disables SSO at creation when an admin creates the instance on behalf of a user');
});

t.test('judges every compute instance and ignores clusters; applies to private and public workspaces alike', async (t) => {
  const s = healthySnapshot();
  value(s.workspace).publicNetworkAccess = 'Enabled';
  const computes = value(s.computes).computes;
  computes.push({ ...compute(s), id: `${WS_ID}/computes/ci-bob`, name: 'ci-bob', enableSSO: false });
  computes.push({ id: `${WS_ID}/computes/cpu-cluster`, name: 'cpu-cluster', computeType: 'AmlCompute', subnetId: compute(s).subnetId as string });
  const rs = rule.check(s);
  t.same(fails(rs).map((f) => f.resourceId), [`${WS_ID}/computes/ci-bob`]);
  t.same(passes(rs).map((p) => p.resourceId), [COMPUTE_ID]);
  t.equal(rs.length, 2, 'no result for the cluster');
});

t.test('no compute instance in scope: passes with a does-not-apply detail', async (t) => {
  const s = healthySnapshot();
  value(s.computes).computes = [{ id: `${WS_ID}/computes/cpu-cluster`, name: 'cpu-cluster', computeType: 'AmlCompute' }];
  t.match(rule.check(s), [{ status: 'pass', detail: /Does not apply/ }]);
});

t.test('undetermined: ARM did not report enableSSO', async (t) => {
  const s = healthySnapshot();
  delete compute(s).enableSSO;
  const rs = rule.check(s);
  t.same(passes(rs), []);
  t.match(rs, [{ status: 'undetermined', resourceId: COMPUTE_ID, reason: /did not report properties\.properties\.enableSSO/ }]);
});

t.test('undetermined: computes unreadable', async (t) => {
  const s = healthySnapshot();
  const err = forbidden(`${WS_ID}/computes`);
  s.computes = err;
  const rs = rule.check(s);
  t.same(passes(rs), []);
  t.same(fails(rs), []);
  t.match(rs, [{ status: 'undetermined', reason: err.error.message }]);
});

/** The snapshot with only these probes' keys. */
const only = (s: Snapshot, keys: readonly ProbeId[]): Snapshot => ({ target: s.target, collectedAt: s.collectedAt, ...Object.fromEntries(keys.map((k) => [k, s[k]])) });

t.test('meta.needs: the listed probes give the same results, and each of them is read', async (t) => {
  const s = healthySnapshot();
  compute(s).enableSSO = false;
  const full = rule.check(s);
  t.same(rule.check(only(s, rule.meta.needs)), full);
  for (const k of rule.meta.needs) t.notSame(rule.check(only(s, rule.meta.needs.filter((n) => n !== k))), full, `${k} is read`);
});
