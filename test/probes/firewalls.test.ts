import t from 'tap';
import type { Test } from 'tap';
import { probe } from '../../probes/firewalls.ts';
import { probe as workspace } from '../../probes/workspace.ts';
import { probe as computes } from '../../probes/computes.ts';
import { probe as privateEndpoints } from '../../probes/private-endpoints.ts';
import { probe as networks } from '../../probes/networks.ts';
import { probe as subnetPolicies } from '../../probes/subnet-policies.ts';
import type { ScenarioResource } from '../../src/sim/scenario.ts';
import type { EffectiveRouteObs, FirewallsObs, Snapshot } from '../../src/model/snapshot.ts';
import { gets, hubAndSpoke, runProbes, snapshotWith, wire, withSim, type SimOptions, type SimRun } from '../helpers/sim.ts';
import { HUB_ID, HUB_SUB, SPOKE_ID, SUB, SUBNET_ID } from '../helpers/snapshot.ts';

const THIRD_SUB = '33333333-3333-3333-3333-333333333333';
const HUB_NET = `/subscriptions/${HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network`;
const RT = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/routeTables/rt-compute`;
const FW = `${HUB_NET}/azureFirewalls/fw-hub`;
const FW_VWAN = `/subscriptions/${SUB}/resourceGroups/rg-vwan/providers/Microsoft.Network/azureFirewalls/fw-vwan`;
const FW_SUBNET = `${HUB_ID}/subnets/AzureFirewallSubnet`;
const POLICY = `/subscriptions/${HUB_SUB}/resourceGroups/rg-fw/providers/Microsoft.Network/firewallPolicies/fwp-ml`;
const BASE = `/subscriptions/${SUB}/resourceGroups/rg-corp/providers/Microsoft.Network/firewallPolicies/fwp-corp`;
const IPG = `/subscriptions/${HUB_SUB}/resourceGroups/rg-fw/providers/Microsoft.Network/ipGroups/ipg-spokes`;
const NIC_MGMT = `${HUB_NET}/networkInterfaces/nva-mgmt`;
const NIC_LOCKED = `${HUB_NET}/networkInterfaces/nva-locked`;
const NIC_NVA = `${HUB_NET}/networkInterfaces/nva-data`;
const VM_NIC = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkInterfaces/vm-probe-nic`;

const FW_IP = '10.10.3.4';
const VWAN_IP = '10.50.0.4';
const NVA_IP = '10.10.4.4';

function nic(id: string, ip: string): ScenarioResource {
  return {
    id,
    location: 'eastus',
    properties: {
      enableIPForwarding: true,
      ipConfigurations: [{ id: `${id}/ipConfigurations/ipconfig1`, name: 'ipconfig1', properties: { privateIPAddress: ip, privateIPAllocationMethod: 'Static', subnet: { id: `${HUB_ID}/subnets/snet-nva` } } }],
    },
  };
}

function firewall(id: string, props: Record<string, unknown>): ScenarioResource {
  return {
    id,
    location: 'East US',
    properties: { provisioningState: 'Succeeded', threatIntelMode: 'Alert', applicationRuleCollections: [], natRuleCollections: [], networkRuleCollections: [], firewallPolicy: { id: POLICY }, ...props },
  };
}

function group(policyId: string, name: string, priority: number, ruleCollections: Array<Record<string, unknown>>): ScenarioResource {
  return { id: `${policyId}/ruleCollectionGroups/${name}`, properties: { priority, provisioningState: 'Succeeded', ruleCollections } };
}

const filter = (name: string, priority: number, action: string, rules: Array<Record<string, unknown>>) => ({ ruleCollectionType: 'FirewallPolicyFilterRuleCollection', name, priority, action: { type: action }, rules });

/** The ML policy: three groups (two pages), DNS proxy on, a base policy in another subscription. */
function policies(): ScenarioResource[] {
  const groups = ['rcg-network', 'rcg-app', 'rcg-dnat'].map((n) => ({ id: `${POLICY}/ruleCollectionGroups/${n}` }));
  return [
    { id: POLICY, location: 'eastus', properties: { provisioningState: 'Succeeded', threatIntelMode: 'Deny', dnsSettings: { enableProxy: true, servers: [] }, basePolicy: { id: BASE }, ruleCollectionGroups: groups } },
    group(POLICY, 'rcg-network', 200, [
      filter('allow-aml-network', 110, 'Allow', [
        { ruleType: 'NetworkRule', name: 'aml-tags', ipProtocols: ['TCP'], sourceAddresses: ['10.20.0.0/16'], destinationAddresses: ['AzureMachineLearning', 'AzureActiveDirectory'], destinationPorts: ['443'] },
        { ruleType: 'NetworkRule', name: 'aml-udp', ipProtocols: ['UDP'], sourceIpGroups: [IPG], destinationFqdns: ['eastus.api.azureml.ms'], destinationIpGroups: [IPG], destinationPorts: ['5831'] },
      ]),
    ]),
    group(POLICY, 'rcg-app', 300, [
      filter('allow-aml-app', 100, 'Allow', [
        {
          ruleType: 'ApplicationRule',
          name: 'azureml',
          sourceAddresses: ['*'],
          protocols: [{ protocolType: 'Https', port: 443 }, { protocolType: 'Http' }],
          targetFqdns: ['*.azureml.ms'],
          fqdnTags: ['AzureKubernetesService'],
          webCategories: ['ComputersAndTechnology'],
          terminateTLS: false,
        },
      ]),
    ]),
    group(POLICY, 'rcg-dnat', 100, [
      {
        ruleCollectionType: 'FirewallPolicyNatRuleCollection',
        name: 'inbound-ssh',
        priority: 100,
        action: { type: 'DNAT' },
        rules: [{ ruleType: 'NatRule', name: 'ssh', ipProtocols: ['TCP'], sourceAddresses: ['*'], destinationAddresses: ['20.1.2.3'], destinationPorts: ['22'], translatedAddress: '10.20.1.4', translatedPort: '22' }],
      },
    ]),
    // A base policy naming the child as its own base: ARM forbids it, the probe must still stop.
    { id: BASE, location: 'eastus', properties: { provisioningState: 'Succeeded', threatIntelMode: 'Alert', basePolicy: { id: POLICY } } },
    group(BASE, 'rcg-corp', 50, [filter('deny-crypto', 100, 'Deny', [{ ruleType: 'NetworkRule', name: 'mining-pools', ipProtocols: ['Any'], sourceAddresses: ['*'], destinationAddresses: ['198.51.100.0/24'], destinationPorts: ['*'] }])]),
  ];
}

/** Hub and spoke; the compute subnet routes through `nextHop`; the hub holds a firewall and an NVA subnet. */
function estate(nextHop: string): ScenarioResource[] {
  const nvaConfigs = [NIC_MGMT, NIC_LOCKED, NIC_NVA].map((n) => ({ id: `${n}/ipConfigurations/ipconfig1` }));
  return [
    ...hubAndSpoke().filter((r) => r.id !== SUBNET_ID),
    wire.subnet(SPOKE_ID, 'snet-compute', '10.20.1.0/24', { routeTable: { id: RT } }),
    {
      id: RT,
      location: 'eastus',
      properties: {
        routes: [
          { id: `${RT}/routes/default`, name: 'default', properties: { addressPrefix: '0.0.0.0/0', nextHopType: 'VirtualAppliance', nextHopIpAddress: nextHop } },
          { id: `${RT}/routes/aml`, name: 'aml', properties: { addressPrefix: 'AzureMachineLearning', nextHopType: 'Internet' } },
        ],
      },
    },
    wire.subnet(HUB_ID, 'AzureFirewallSubnet', '10.10.3.0/26', { ipConfigurations: [{ id: `${FW}/azureFirewallIpConfigurations/ipconfig` }] }),
    wire.subnet(HUB_ID, 'snet-nva', '10.10.4.0/24', { ipConfigurations: nvaConfigs }),
    firewall(FW, {
      sku: { name: 'AZFW_VNet', tier: 'Standard' },
      ipConfigurations: [{ id: `${FW}/azureFirewallIpConfigurations/ipconfig`, name: 'ipconfig', properties: { privateIPAddress: FW_IP, subnet: { id: FW_SUBNET }, publicIPAddress: { id: `${HUB_NET}/publicIPAddresses/pip-fw` } } }],
    }),
    firewall(FW_VWAN, { sku: { name: 'AZFW_Hub', tier: 'Premium' }, hubIPAddresses: { privateIPAddress: VWAN_IP, publicIPs: { count: 1, addresses: [{ address: '20.9.9.9' }] } } }),
    nic(NIC_MGMT, '10.10.4.5'),
    nic(NIC_LOCKED, '10.10.4.6'),
    nic(NIC_NVA, NVA_IP),
    ...policies(),
  ];
}

/** Runs the probes the firewall probe needs (vantage given inline, as its probe would record it). */
async function upstream(run: SimRun, vantageRoutes?: EffectiveRouteObs[]): Promise<Snapshot> {
  const snapshot = await runProbes(run.ctx, [workspace, computes, privateEndpoints, networks, subnetPolicies]);
  if (vantageRoutes) {
    snapshot.vantage = {
      ok: true,
      value: {
        subnets: [
          {
            subnetId: SUBNET_ID,
            vantage: { subnetId: SUBNET_ID, nicId: VM_NIC, how: 'subnet', effectiveRoutes: { ok: true, value: vantageRoutes }, effectiveNsgs: { ok: true, value: [] }, nextHops: [] },
            skipped: [],
          },
        ],
      },
    };
  }
  return snapshot;
}

async function diagnose(t: Test, nextHop: string, opts: SimOptions = {}, vantageRoutes?: EffectiveRouteObs[]): Promise<{ run: SimRun; obs: FirewallsObs }> {
  const run = await withSim(t, estate(nextHop), opts);
  const out = await probe.run(run.ctx, await upstream(run, vantageRoutes));
  if (!out.ok) throw new Error(out.error.message);
  return { run, obs: out.value };
}

const effective = (prefix: string, nextHopType: string, ips: string[], state = 'Active'): EffectiveRouteObs => ({ source: 'User', state, addressPrefixes: [prefix], nextHopType, nextHopIpAddresses: ips });

t.test('appliance addresses owned by Azure Firewalls: firewall, policy, all rule groups and base policy', async (t) => {
  const { run, obs } = await diagnose(t, FW_IP, {}, [effective('0.0.0.0/0', 'VirtualAppliance', [FW_IP]), effective('10.0.0.0/8', 'VirtualAppliance', [VWAN_IP]), effective('192.168.0.0/16', 'VirtualAppliance', ['10.77.0.4'], 'Invalid')]);
  t.same(obs.appliances, [
    { ip: FW_IP, owner: 'firewall', ownerId: FW },
    { ip: VWAN_IP, owner: 'firewall', ownerId: FW_VWAN },
  ], 'route table and effective route addresses, each once; invalid routes ignored');
  t.same(obs.searches, [
    { subscriptionId: SUB, result: { ok: true, value: { count: 1 } } },
    { subscriptionId: HUB_SUB, result: { ok: true, value: { count: 1 } } },
  ], 'the workspace subscription and the hub subscription were searched');

  t.same(obs.firewalls.map((f) => f.id), [FW, FW_VWAN]);
  t.same(obs.firewalls[0]?.observed, {
    ok: true,
    value: { id: FW, name: 'fw-hub', location: 'eastus', skuName: 'AZFW_VNet', skuTier: 'Standard', privateIpAddresses: [FW_IP], subnetIds: [FW_SUBNET], firewallPolicyId: POLICY, hasClassicRules: false, provisioningState: 'Succeeded' },
  });
  t.match(obs.firewalls[1]?.observed, { ok: true, value: { skuName: 'AZFW_Hub', privateIpAddresses: [VWAN_IP], subnetIds: [] } });

  t.same(obs.policies.map((p) => p.id), [POLICY, BASE]);
  t.equal(gets(run.sim, /firewallPolicies\/fwp-ml$/).length, 1, 'a policy shared by two firewalls is read once');
  t.equal(gets(run.sim, /firewallPolicies\/fwp-corp$/).length, 1, 'the base policy is read once although it names the child as its base');
  const groupPages = gets(run.sim, /fwp-ml\/ruleCollectionGroups$/);
  t.equal(groupPages.length, 2, 'both pages of rule collection groups were read');
  t.ok(groupPages[1]?.query.$skiptoken, 'the second page followed nextLink');

  const policy = obs.policies[0]?.observed;
  if (!policy?.ok) throw new Error('policy not read');
  t.match(policy.value, { id: POLICY, name: 'fwp-ml', basePolicyId: BASE, dnsProxyEnabled: true, threatIntelMode: 'Deny' });
  if (!policy.value.ruleCollectionGroups.ok) throw new Error('groups not read');
  t.same(policy.value.ruleCollectionGroups.value, [
    {
      id: `${POLICY}/ruleCollectionGroups/rcg-network`,
      name: 'rcg-network',
      priority: 200,
      ruleCollections: [
        {
          name: 'allow-aml-network',
          priority: 110,
          ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
          action: 'Allow',
          rules: [
            { ruleType: 'NetworkRule', name: 'aml-tags', ipProtocols: ['TCP'], sourceAddresses: ['10.20.0.0/16'], sourceIpGroups: [], destinationAddresses: ['AzureMachineLearning', 'AzureActiveDirectory'], destinationIpGroups: [], destinationFqdns: [], destinationPorts: ['443'] },
            { ruleType: 'NetworkRule', name: 'aml-udp', ipProtocols: ['UDP'], sourceAddresses: [], sourceIpGroups: [IPG], destinationAddresses: [], destinationIpGroups: [IPG], destinationFqdns: ['eastus.api.azureml.ms'], destinationPorts: ['5831'] },
          ],
        },
      ],
    },
    {
      id: `${POLICY}/ruleCollectionGroups/rcg-app`,
      name: 'rcg-app',
      priority: 300,
      ruleCollections: [
        {
          name: 'allow-aml-app',
          priority: 100,
          ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
          action: 'Allow',
          rules: [
            {
              ruleType: 'ApplicationRule',
              name: 'azureml',
              sourceAddresses: ['*'],
              sourceIpGroups: [],
              protocols: [{ protocolType: 'Https', port: 443 }, { protocolType: 'Http', port: 80 }],
              targetFqdns: ['*.azureml.ms'],
              fqdnTags: ['AzureKubernetesService'],
              webCategories: ['ComputersAndTechnology'],
              targetUrls: [],
              destinationAddresses: [],
            },
          ],
        },
      ],
    },
    {
      id: `${POLICY}/ruleCollectionGroups/rcg-dnat`,
      name: 'rcg-dnat',
      priority: 100,
      ruleCollections: [{ name: 'inbound-ssh', priority: 100, ruleCollectionType: 'FirewallPolicyNatRuleCollection', action: 'DNAT', rules: [{ ruleType: 'NatRule', name: 'ssh' }] }],
    },
  ]);

  const base = obs.policies[1]?.observed;
  if (!base?.ok) throw new Error('base policy not read');
  t.equal(base.value.dnsProxyEnabled, undefined, 'no DNS settings: proxy unknown, not false');
  t.match(base.value.ruleCollectionGroups, { ok: true, value: [{ name: 'rcg-corp', priority: 50, ruleCollections: [{ action: 'Deny', rules: [{ ruleType: 'NetworkRule', name: 'mining-pools', ipProtocols: ['Any'] }] }] }] });
});

t.test('an appliance address owned by a NIC is a third-party appliance; unreadable NICs are skipped', async (t) => {
  const { run, obs } = await diagnose(t, NVA_IP, { faults: [{ path: 'networkInterfaces/nva-locked$', status: 403 }] });
  t.same(obs.appliances, [{ ip: NVA_IP, owner: 'nic', ownerId: NIC_NVA }]);
  t.same(obs.firewalls, []);
  t.same(obs.policies, []);
  t.equal(gets(run.sim, /networkInterfaces\/nva-locked$/).length, 1, 'the forbidden NIC was tried and skipped');
  t.equal(gets(run.sim, /networkInterfaces\/fw-hub$/).length, 0, 'firewall ipConfigurations are not read as NICs');
  t.equal(gets(run.sim, /firewallPolicies/).length, 0);
});

t.test('an unfound address in a subnet with an unreadable NIC is unknown, never none', async (t) => {
  // 10.10.4.9 is in snet-nva, but no readable NIC has it and nva-locked answers 403.
  const { obs } = await diagnose(t, '10.10.4.9', { faults: [{ path: 'networkInterfaces/nva-locked$', status: 403 }] });
  t.equal(obs.appliances[0]?.owner, 'unknown');
  t.match(obs.appliances[0]?.why, /1 NIC\(s\) in its subnet could not be read \(.*403/);
});

t.test('an address nothing owns is none; a failed firewall listing is recorded', async (t) => {
  const { run, obs } = await diagnose(t, '10.10.9.4', {
    target: { subscriptions: [THIRD_SUB] },
    faults: [{ path: `^/subscriptions/${THIRD_SUB}/providers/Microsoft.Network/azureFirewalls$`, status: 403 }],
  });
  t.same(obs.appliances, [{ ip: '10.10.9.4', owner: 'none' }]);
  t.same(obs.searches.map((s) => [s.subscriptionId, s.result.ok]), [[SUB, true], [THIRD_SUB, false], [HUB_SUB, true]]);
  t.match(obs.searches[1]?.result, { ok: false, error: { kind: 'forbidden', code: 'AuthorizationFailed' } });
  t.equal(gets(run.sim, /networkInterfaces\//).filter((r) => !r.path.includes('pe-ws-demo')).length, 0, 'no NIC read: no subnet holds the address');
});

t.test('no virtual-appliance route: nothing is asked of ARM', async (t) => {
  const run = await withSim(t, hubAndSpoke());
  const snapshot = await upstream(run, [effective('0.0.0.0/0', 'Internet', [])]);
  const before = run.sim.requests.length;
  const out = await probe.run(run.ctx, snapshot);
  t.same(out, { ok: true, value: { appliances: [], searches: [], firewalls: [], policies: [] } });
  t.equal(run.sim.requests.length, before);
});

t.test('is not attempted when neither route tables nor effective routes were read', async (t) => {
  const run = await withSim(t, []);
  const failure = { ok: false as const, error: { kind: 'forbidden' as const, message: '403' } };
  const out = await probe.run(run.ctx, snapshotWith(run.ctx, { subnetPolicies: failure, vantage: failure }));
  t.match(out, { ok: false, error: { kind: 'skipped' } });
  t.equal(run.sim.requests.length, 0);
});

t.test('unlistable rule groups and a missing base policy fail alone', async (t) => {
  const { obs } = await diagnose(t, FW_IP, { faults: [{ path: 'fwp-ml/ruleCollectionGroups$', status: 403 }, { path: 'firewallPolicies/fwp-corp$', status: 404 }] });
  t.equal(obs.firewalls[0]?.observed.ok, true);
  t.match(obs.policies[0], { id: POLICY, observed: { ok: true, value: { basePolicyId: BASE, dnsProxyEnabled: true, ruleCollectionGroups: { ok: false, error: { kind: 'forbidden', resourceId: POLICY } } } } });
  t.match(obs.policies[1], { id: BASE, observed: { ok: false, error: { kind: 'not-found', resourceId: BASE } } });
});
