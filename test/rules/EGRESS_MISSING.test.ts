import t from 'tap';
import { rule } from '../../src/rules/EGRESS_MISSING.ts';
import { COMPUTE_ID, SUB, SUBNET_ID, clone, healthySnapshot } from '../helpers/snapshot.ts';
import { FW_IP, context, fails, flow, hop, ok, onlyFinding, passes, policy, POLICY_ID, subnet, undetermineds, withFirewall } from '../helpers/flows.ts';

const NAT_ID = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/natGateways/nat-old`;

function privateSubnet() {
  const s = clone(healthySnapshot());
  subnet(s).defaultOutboundAccess = false;
  return s;
}

t.test('fail (engine): a private subnet without NAT gateway or public IP', async (t) => {
  const results = rule.check(privateSubnet());
  const f = onlyFinding(results);
  t.equal(rule.meta.code, 'EGRESS_MISSING');
  t.equal(f.resourceId, SUBNET_ID, 'blames the compute subnet');
  t.same(f.flows, ['aml-service', 'entra-id', 'arm', 'mcr', 'batch'], 'the private endpoint flows still work');
  t.equal(f.tier, 1);
  t.same(f.remediation.azCli, [
    `az network public-ip create --subscription ${SUB} -g rg-net -n pip-nat-snet-compute --location eastus --sku Standard --allocation-method Static`,
    `az network nat gateway create --subscription ${SUB} -g rg-net -n nat-snet-compute --location eastus --public-ip-addresses pip-nat-snet-compute --idle-timeout 4`,
    `az network vnet subnet update --subscription ${SUB} -g rg-net --vnet-name vnet-spoke -n snet-compute --nat-gateway nat-snet-compute`,
  ]);
  t.match(f.remediation.summary, /--next-hop-ip-address <firewall private IP>/);
  t.match(f.explanation, /it has no NAT gateway, ci-alice has no public IP \(enableNodePublicIp false\) and default outbound access is off/);
  t.match(f.evidence, [{ property: 'properties.natGateway.id', observed: 'none' }, { property: 'properties.defaultOutboundAccess', observed: 'false' }, { resourceId: COMPUTE_ID, property: 'properties.properties.enableNodePublicIp' }]);
  t.match(f.remediation.verify, /az network vnet subnet show .* -n snet-compute .*flows aml-service, entra-id, arm, mcr, batch must be allowed/);
  t.match(f.remediation.verify, /--query natGateway\.id -o tsv should print the id of NAT gateway nat-snet-compute .*; then run aml-netdoctor recheck <report\.json>\.$/);
  const bicep = f.remediation.bicep;
  t.match(bicep, /^\/\/ Deploy to resource group rg-net \(subscription 11111111-1111-1111-1111-111111111111\)/);
  t.match(bicep, "resource natPublicIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {\n  name: 'pip-nat-snet-compute'\n  location: 'eastus'\n  sku: {\n    name: 'Standard'\n  }\n  properties: {\n    publicIPAllocationMethod: 'Static'");
  t.match(bicep, /resource natGateway 'Microsoft\.Network\/natGateways@2024-05-01' = \{\n  name: 'nat-snet-compute'\n  location: 'eastus'[\s\S]*publicIpAddresses: \[\n\s+\{\n\s+id: natPublicIp\.id\n/);
  t.match(bicep, "resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' existing = {\n  name: 'vnet-spoke'\n}");
  t.match(bicep, "resource computeSubnet 'Microsoft.Network/virtualNetworks/subnets@2024-05-01' = {\n  parent: vnet\n  name: 'snet-compute'\n  properties: {\n    addressPrefix: '10.20.1.0/24'\n    natGateway: {\n      id: natGateway.id\n    }", 'the subnet keeps its address prefix and points at the NAT gateway');
  t.match(bicep, /defaultOutboundAccess: false\n/);
  t.match(bicep, /A subnet deployment replaces all its properties/);
  t.same(passes(results), []);
});

t.test('fail (engine): a NAT gateway without a public IP gets one', async (t) => {
  const s = privateSubnet();
  subnet(s).natGatewayId = NAT_ID;
  s.subnetPolicies = { ok: true, value: { routeTables: [], nsgs: [], natGateways: [{ id: NAT_ID, observed: { ok: true, value: { id: NAT_ID, name: 'nat-old', publicIpAddressIds: [], publicIpPrefixIds: [] } } }] } };
  const f = onlyFinding(rule.check(s));
  t.same(f.remediation.azCli, [
    `az network public-ip create --subscription ${SUB} -g rg-net -n pip-nat-snet-compute --location eastus --sku Standard --allocation-method Static`,
    `az network nat gateway update --subscription ${SUB} -g rg-net -n nat-old --public-ip-addresses pip-nat-snet-compute`,
  ]);
  t.match(f.explanation, /its NAT gateway nat-old has no public IP or prefix/);
  t.match(f.remediation.bicep, /resource natGateway 'Microsoft\.Network\/natGateways@2024-05-01' = \{\n  name: 'nat-old'[\s\S]*id: natPublicIp\.id/, 'the existing NAT gateway gets the public IP');
  t.notMatch(f.remediation.bicep, /virtualNetworks\/subnets/, 'the subnet already points at it');
  t.match(f.remediation.verify, new RegExp(`^az network nat gateway show --subscription ${SUB} -g rg-net -n nat-old --query "publicIpAddresses\\[\\]\\.id" -o tsv should print the id of public IP pip-nat-snet-compute .*then run aml-netdoctor recheck <report\\.json>\\.$`));
});

t.test('tier 2 when only flows off the auth path lack egress; the firewall alternative names its IP', async (t) => {
  const s = privateSubnet();
  withFirewall(s, policy(POLICY_ID, []));
  const f = onlyFinding(rule.check(s, context([flow('mcr', [hop('route', 'blocked', 'no egress', { reason: 'no-egress', resourceId: SUBNET_ID })]), flow('entra-id', [ok('route'), ok('nsg')])])));
  t.equal(f.tier, 2);
  t.same(f.flows, ['mcr']);
  t.match(f.remediation.summary, new RegExp(`--next-hop-ip-address ${FW_IP.replace(/\./g, '\\.')}`));
});

t.test('pass: egress through default outbound access (engine)', async (t) => {
  const r = rule.check(healthySnapshot());
  t.same(fails(r), []);
  t.match(passes(r), [{ resourceId: SUBNET_ID, detail: /entra-id.* from subnet snet-compute: the subnet has a way out for them/ }]);
});

t.test('undetermined (engine): the NAT gateway could not be read', async (t) => {
  const s = privateSubnet();
  subnet(s).natGatewayId = NAT_ID;
  s.subnetPolicies = { ok: true, value: { routeTables: [], nsgs: [], natGateways: [{ id: NAT_ID, observed: { ok: false, error: { kind: 'forbidden', message: '403 AuthorizationFailed reading nat-old' } } }] } };
  const r = rule.check(s);
  t.same(fails(r), []);
  t.same(passes(r), []);
  t.match(undetermineds(r), [{ item: /egress of flows from subnet snet-compute/, reason: /route hop undetermined \(evidence-missing\).*403 AuthorizationFailed reading nat-old/, resourceId: NAT_ID }]);
});
