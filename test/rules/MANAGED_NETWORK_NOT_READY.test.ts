import t from 'tap';
import type { ManagedNetworkObs, Snapshot } from '../../src/model/snapshot.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/MANAGED_NETWORK_NOT_READY.ts';
import { BICEP_API, type BicepType } from '../../src/rules/support-bicep.ts';
import { SUB, WS_ID, healthySnapshot, value } from '../helpers/snapshot.ts';
import { fails, forbidden } from '../helpers/results.ts';

const ST_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.Storage/storageAccounts/stdemo`;
const SCOPE = `--subscription ${SUB} --resource-group rg-ml`;

/** The `resource <symbol> '<type>@<api>' = {` lines of a snippet, as `<type>` (with ` existing` when so). */
const declared = (bicep: string | undefined) => [...(bicep ?? '').matchAll(/^resource \w+ '([^@']+)@([^']+)'( existing)? = \{$/gm)].map((m) => `${m[1]}${m[3] ?? ''}${m[2] === BICEP_API[m[1] as BicepType] ? '' : ` (unexpected api ${m[2]})`}`);

const blobRule = (status: string | undefined) => ({
  name: '__SYS_PE_stdemo_blob', type: 'PrivateEndpoint', category: 'Required', ...(status ? { status } : {}),
  destination: { serviceResourceId: ST_ID, subresourceTarget: 'blob', sparkEnabled: false },
});

function managed(mn: Partial<ManagedNetworkObs>): Snapshot {
  const s = healthySnapshot();
  value(s.workspace).managedNetwork = { isolationMode: 'AllowOnlyApprovedOutbound', status: 'Active', outboundRules: [], ...mn };
  return s;
}

t.test('fails: isolation on, managed network never provisioned', async (t) => {
  const f = fails(rule.check(managed({ status: 'Inactive', outboundRules: [blobRule('Inactive')] })))[0] as FindingDraft;
  t.equal(f.resourceId, WS_ID, 'blames the workspace');
  t.equal(f.confidence, 'medium');
  t.match(f.explanation, /Workspace ws-demo uses managed virtual network isolation \(AllowOnlyApprovedOutbound\), but the managed network is Inactive/);
  t.equal(f.remediation.azCli[0], `az ml workspace provision-network ${SCOPE} --name ws-demo`);
  t.ok(f.evidence.some((e) => e.property === 'properties.managedNetwork.status.status' && e.observed === 'Inactive' && e.expected === 'Active'));
  t.match(f.remediation.verify, `az ml workspace show ${SCOPE} --name ws-demo`);
  t.equal(f.remediation.verify, `az ml workspace show ${SCOPE} --name ws-demo --query "[managed_network.status.status, managed_network.outbound_rules[?name=='__SYS_PE_stdemo_blob'].status | [0]]" -o tsv prints Active for each (2 lines); then run aml-netdoctor recheck <report.json>.`);
  const bicep = f.remediation.bicep;
  t.match(bicep, /^\/\/ Deploy to resource group rg-ml /);
  t.match(bicep, /Bicep cannot provision the managed network of an existing workspace/, 'says provisioning is az-only');
  t.same(declared(bicep), ['Microsoft.MachineLearningServices/workspaces']);
  t.match(bicep, `name: 'ws-demo'`, 'names the real workspace');
  t.match(bicep, `managedNetwork: {\n      isolationMode: 'AllowOnlyApprovedOutbound'\n    }`);
  t.notMatch(bicep, /'__SYS_PE_\w+': \{/, 'Azure ML\'s own rules are not declared');
});

t.test('fails: network Active but the private endpoint rule to the storage blob is not', async (t) => {
  const f = fails(rule.check(managed({ outboundRules: [blobRule('Inactive'), { name: 'pypi', type: 'FQDN', status: 'Inactive', destination: 'pypi.org' }] })))[0];
  t.equal(f?.resourceId, WS_ID);
  t.match(f?.explanation, /and the managed network is Active\. Private endpoint outbound rule __SYS_PE_stdemo_blob to stdemo \(blob\) is Inactive/);
  t.notMatch(f?.explanation, /pypi/, 'FQDN rules are not private endpoint rules');
  t.same(f?.remediation.azCli, [
    `az ml workspace outbound-rule show ${SCOPE} --workspace-name ws-demo --rule __SYS_PE_stdemo_blob`,
    `az network private-endpoint-connection list --id ${ST_ID} --query "[?properties.privateLinkServiceConnectionState.status!='Approved'].{name: name, status: properties.privateLinkServiceConnectionState.status}"`,
    `az network private-endpoint-connection approve --subscription ${SUB} -g rg-ml --resource-name stdemo --type Microsoft.Storage/storageAccounts -n <connection name from the list command> --description "Approved for Azure ML managed network"`,
  ]);
  t.ok(f?.evidence.some((e) => e.resourceId === ST_ID && e.property === 'properties.managedNetwork.outboundRules.__SYS_PE_stdemo_blob.status'));
  t.ok(f?.subjects?.includes(`dependency:${ST_ID.toLowerCase()}`));
  t.same(declared(f?.remediation.bicep), ['Microsoft.MachineLearningServices/workspaces']);
  t.match(f?.remediation.bicep, /__SYS_PE_stdemo_blob is a rule Azure ML creates itself/);
  t.match(f?.remediation.bicep, `pypi: {\n          type: 'FQDN'`, 'user-defined rules are kept in the declaration');
  t.match(f?.remediation.verify, `--query "managed_network.outbound_rules[?name=='__SYS_PE_stdemo_blob'].status | [0]" -o tsv prints Active; then run aml-netdoctor recheck`);
});

t.test('fails: a user-defined private endpoint rule is inactive; the rule is redeclared', async (t) => {
  const own = { ...blobRule('Inactive'), name: 'pe-stdemo-file', category: 'UserDefined', destination: { serviceResourceId: ST_ID, subresourceTarget: 'file', sparkEnabled: false, sparkStatus: 'Inactive' } };
  const f = fails(rule.check(managed({ outboundRules: [own] })))[0];
  const bicep = f?.remediation.bicep;
  t.same(declared(bicep), ['Microsoft.MachineLearningServices/workspaces existing', 'Microsoft.MachineLearningServices/workspaces/outboundRules']);
  t.match(bicep, `parent: workspace\n  name: 'pe-stdemo-file'\n  properties: {\n    type: 'PrivateEndpoint'\n    category: 'UserDefined'\n    destination: {\n      serviceResourceId: '${ST_ID}'\n      subresourceTarget: 'file'\n      sparkEnabled: false\n    }`);
  t.notMatch(bicep, /sparkStatus/, 'read-only fields are left out');
  t.match(f?.remediation.azCli[2], /az network private-endpoint-connection approve .* --resource-name stdemo/);
});

t.test('passes: provisioned, with every private endpoint rule Active', async (t) => {
  t.match(rule.check(managed({ outboundRules: [blobRule('Active')] })), [{ status: 'pass', resourceId: WS_ID, detail: /is Active and its private endpoint outbound rules \(__SYS_PE_stdemo_blob\) are Active/ }]);
  t.match(rule.check(managed({ isolationMode: 'AllowInternetOutbound' })), [{ status: 'pass', detail: /\(AllowInternetOutbound\) is Active\./ }]);
});

t.test('does not apply: no managed network, or isolation Disabled', async (t) => {
  t.match(rule.check(healthySnapshot()), [{ status: 'pass', resourceId: WS_ID, detail: /Does not apply: workspace ws-demo has no managed virtual network/ }]);
  t.match(rule.check(managed({ isolationMode: 'Disabled', status: 'Inactive' })), [{ status: 'pass', detail: /Does not apply.*isolation mode Disabled/ }]);
});

t.test('undetermined: status not reported', async (t) => {
  const s = managed({});
  delete value(s.workspace).managedNetwork?.status;
  t.match(rule.check(s), [{ status: 'undetermined', resourceId: WS_ID, reason: /did not report properties.managedNetwork.status/ }]);
  t.match(rule.check(managed({ outboundRules: [blobRule(undefined)] })), [{ status: 'undetermined', item: 'status of managed network outbound rule __SYS_PE_stdemo_blob' }]);
});

t.test('undetermined: workspace unreadable', async (t) => {
  const s = healthySnapshot();
  const err = forbidden(WS_ID);
  s.workspace = err;
  t.match(rule.check(s), [{ status: 'undetermined', reason: err.error.message }]);
});
