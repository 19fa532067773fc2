import t from 'tap';
import type { ProbeError, Snapshot } from '../../src/model/snapshot.ts';
import type { FindingDraft } from '../../src/rules/rule.ts';
import { rule } from '../../src/rules/PRIVATE_DNS_ZONE_MISSING.ts';
import { rule as groupRule } from '../../src/rules/PRIVATE_DNS_ZONE_GROUP_MISSING.ts';
import { BICEP_API } from '../../src/rules/support-bicep.ts';
import { API_FQDN, API_ZONE_ID, CERT_FQDN, HUB_SUB, NB_FQDN, NB_ZONE_ID, PE_ID, SPOKE_ID, WS_ID, healthySnapshot, value } from '../helpers/snapshot.ts';
import { fails, forbidden, passes } from '../helpers/results.ts';

const API_ZONE = 'privatelink.api.azureml.ms';
const pe = (s: Snapshot) => value(value(s.privateEndpoints).endpoints[0]?.observed);
const decl = (symbol: string, type: keyof typeof BICEP_API, existing = false) => `resource ${symbol} '${type}@${BICEP_API[type]}'${existing ? ' existing' : ''} = {`;
const zones = (s: Snapshot) => value(s.privateDnsZones);

/** The api zone was never created: no listing finds it and the zone group does not reference it. */
function dropApiZone(s: Snapshot): void {
  zones(s).zones = zones(s).zones.filter((z) => z.id !== API_ZONE_ID);
  for (const search of zones(s).searches) if (search.result.ok) search.result.value.zoneIds = search.result.value.zoneIds.filter((id) => id !== API_ZONE_ID);
  for (const g of value(pe(s).zoneGroups)) g.zoneConfigs = g.zoneConfigs.filter((c) => c.privateDnsZoneId !== API_ZONE_ID);
}

t.test('healthy snapshot: both required zones exist', async (t) => {
  const rs = rule.check(healthySnapshot());
  t.same(fails(rs), []);
  t.same(passes(rs).map((p) => p.resourceId), [API_ZONE_ID, NB_ZONE_ID]);
});

t.test('fails: the api zone exists nowhere', async (t) => {
  const s = healthySnapshot();
  dropApiZone(s);
  const rs = rule.check(s);
  const found = fails(rs);
  t.equal(found.length, 1);
  const f = found[0] as FindingDraft;
  t.equal(f.resourceId, PE_ID, 'blames the workspace private endpoint');
  t.match(f.explanation, /pe-ws-demo serves .* but no private DNS zone privatelink\.api\.azureml\.ms exists/);
  t.match(f.explanation, /device login/);
  t.ok(f.evidence.some((e) => e.resourceId === `/subscriptions/${HUB_SUB}` && e.observed.includes('privatelink.notebooks.azure.net') && e.expected === `a zone named ${API_ZONE}`), 'listing evidence');
  t.ok(f.evidence.some((e) => e.resourceId === PE_ID && e.observed === NB_ZONE_ID), 'zone group evidence');
  const zoneId = `/subscriptions/${HUB_SUB}/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/${API_ZONE}`;
  t.same(f.remediation.azCli, [
    `az network private-dns zone create --subscription ${HUB_SUB} -g rg-dns -n ${API_ZONE}`,
    `az network private-dns link vnet create --subscription ${HUB_SUB} -g rg-dns -z ${API_ZONE} -n vnet-spoke-link -v ${SPOKE_ID} -e false`,
    `az network private-endpoint dns-zone-group add --subscription ${HUB_SUB} -g rg-hub --endpoint-name pe-ws-demo -n default --private-dns-zone ${zoneId} --zone-name api`,
  ]);
  t.same(f.subjects, [`zone:${API_ZONE}`, `name:${API_FQDN}`, `name:${CERT_FQDN}`]);
  t.same(passes(rs).map((p) => p.resourceId), [NB_ZONE_ID], 'the notebooks zone still passes');

  const bicep = f.remediation.bicep;
  const [zoneFile, groupFile] = bicep.split(/\n(?=\/\/ Deploy to )/);
  t.match(zoneFile, `-g rg-dns -f fix.bicep`, 'the zone deploys to its resource group');
  t.match(zoneFile, `${decl('apiZone', 'Microsoft.Network/privateDnsZones')}\n  name: '${API_ZONE}'\n  location: 'global'`);
  t.match(zoneFile, decl('apiZoneLink1', 'Microsoft.Network/privateDnsZones/virtualNetworkLinks'));
  t.match(zoneFile, `name: 'vnet-spoke-link'`);
  t.match(zoneFile, `registrationEnabled: false`);
  t.match(zoneFile, `id: '${SPOKE_ID}'`, 'linked to the compute VNet');
  t.match(groupFile, `-g rg-hub -f fix.bicep`, 'the zone group deploys to the endpoint resource group');
  t.match(groupFile, `${decl('pe', 'Microsoft.Network/privateEndpoints', true)}\n  name: 'pe-ws-demo'`);
  t.match(groupFile, decl('zoneGroup', 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups'));
  t.match(groupFile, `privateDnsZoneId: '${NB_ZONE_ID}'`, 'the zone group keeps the notebooks zone');
  t.match(groupFile, `name: 'api'\n        properties: {\n          privateDnsZoneId: '${zoneId}'`, 'and gains the new zone');
  t.match(f.remediation.verify, `-z ${API_ZONE}`);
  t.match(f.remediation.verify, /then run aml-netdoctor recheck <report\.json>\.$/);
});

t.test('the zone group finding of a missing zone shares a subject with it, so ranking folds it in', async (t) => {
  t.same(rule.meta.absorbs, ['PRIVATE_DNS_ZONE_GROUP_MISSING', 'PRIVATE_DNS_RECORD_MISSING']);
  const s = healthySnapshot();
  dropApiZone(s);
  const zoneFinding = fails(rule.check(s))[0];
  const groupFinding = fails(groupRule.check(s))[0];
  t.ok(zoneFinding && groupFinding, 'both rules fail');
  t.ok(zoneFinding?.subjects?.includes(`zone:${API_ZONE}`) && groupFinding?.subjects?.includes(`zone:${API_ZONE}`), 'zone:<zone name> is shared');
});

t.test('both zones missing: each zone is created beside the endpoint, one file, referenced symbolically', async (t) => {
  const s = healthySnapshot();
  dropApiZone(s);
  zones(s).zones = [];
  for (const search of zones(s).searches) if (search.result.ok) search.result.value.zoneIds = [];
  pe(s).zoneGroups = { ok: true, value: [] };
  const found = fails(rule.check(s));
  t.equal(found.length, 2);
  const bicep = found[0]?.remediation.bicep ?? '';
  t.equal(bicep.match(/\/\/ Deploy to /g)?.length, 1, 'one file: zone and endpoint share rg-hub');
  t.match(bicep, `-g rg-hub -f fix.bicep`);
  t.match(bicep, `privateDnsZoneId: apiZone.id`);
  t.notMatch(bicep, NB_ZONE_ID, 'a group without configs keeps nothing');
});

t.test('fails: the zone group references a deleted zone', async (t) => {
  const s = healthySnapshot();
  const entry = zones(s).zones.find((z) => z.id === API_ZONE_ID);
  if (!entry) throw new Error('fixture');
  entry.observed = { ok: false, error: { kind: 'not-found', message: `404 ResourceNotFound reading ${API_ZONE_ID}` } };
  entry.foundBy = ['zone-group'];
  for (const search of zones(s).searches) if (search.result.ok) search.result.value.zoneIds = search.result.value.zoneIds.filter((id) => id !== API_ZONE_ID);
  const f = fails(rule.check(s))[0];
  t.ok(f);
  t.match(f?.explanation, /still references privatelink\.api\.azureml\.ms \(rg-dns\), which no longer exists/);
  t.ok(f?.remediation.azCli.some((c) => c === `az network private-endpoint dns-zone-group remove --subscription ${HUB_SUB} -g rg-hub --endpoint-name pe-ws-demo -n default --zone-name api`), 'replaces the dangling config');
  t.equal(f?.remediation.bicep.match(/privateDnsZoneId: /g)?.length, 2, 'the Bicep zone group holds the notebooks zone and the new api zone, not the dangling one twice');
});

t.test('fails: the notebooks zone is missing, and the finding names the notebooks FQDN', async (t) => {
  const s = healthySnapshot();
  zones(s).zones = zones(s).zones.filter((z) => z.id !== NB_ZONE_ID);
  for (const search of zones(s).searches) if (search.result.ok) search.result.value.zoneIds = search.result.value.zoneIds.filter((id) => id !== NB_ZONE_ID);
  for (const g of value(pe(s).zoneGroups)) g.zoneConfigs = g.zoneConfigs.filter((c) => c.privateDnsZoneId !== NB_ZONE_ID);
  const f = fails(rule.check(s))[0];
  t.same(f?.subjects, ['zone:privatelink.notebooks.azure.net', `name:${NB_FQDN}`]);
  t.ok(f?.remediation.azCli.some((c) => c.includes('--zone-name notebooks')));
});

t.test('undetermined: the api zone is not found and a subscription listing failed', async (t) => {
  const s = healthySnapshot();
  dropApiZone(s);
  const err = forbidden(`/subscriptions/${HUB_SUB}/providers/Microsoft.Network/privateDnsZones`);
  const search = zones(s).searches.find((x) => x.subscriptionId === HUB_SUB);
  if (!search) throw new Error('fixture');
  search.result = err;
  const rs = rule.check(s);
  t.same(fails(rs), []);
  t.ok(rs.some((r) => r.status === 'undetermined' && r.reason === err.error.message && r.item.includes(API_ZONE)), 'api zone undetermined with the listing error');
  t.notOk(passes(rs).some((p) => p.resourceId === API_ZONE_ID || p.detail.includes(API_ZONE)), 'no pass for the api zone');
});

t.test('public workspace or no endpoint: passes with a does-not-apply detail', async (t) => {
  const pub = healthySnapshot();
  dropApiZone(pub);
  value(pub.workspace).publicNetworkAccess = 'Enabled';
  t.match(rule.check(pub), [{ status: 'pass', resourceId: WS_ID, detail: /Does not apply/ }]);
  const none = healthySnapshot();
  dropApiZone(none);
  value(none.privateEndpoints).endpoints = [];
  t.match(rule.check(none), [{ status: 'pass', resourceId: WS_ID, detail: /Does not apply/ }]);
});

const gaps: Array<{ name: string; mutate: (s: Snapshot, err: { ok: false; error: ProbeError }) => void }> = [
  { name: 'private DNS zones probe failed', mutate: (s, e) => (s.privateDnsZones = e) },
  { name: 'private endpoints unreadable', mutate: (s, e) => (s.privateEndpoints = e) },
  { name: 'workspace unreadable', mutate: (s, e) => (s.workspace = e) },
];

for (const g of gaps) {
  t.test(`undetermined: ${g.name}`, async (t) => {
    const s = healthySnapshot();
    const err = forbidden(g.name);
    g.mutate(s, err);
    const rs = rule.check(s);
    t.same(passes(rs), [], 'never a pass on missing evidence');
    t.same(fails(rs), []);
    t.ok(rs.some((r) => r.status === 'undetermined' && r.reason === err.error.message));
  });
}
