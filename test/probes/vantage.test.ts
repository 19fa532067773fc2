import t from 'tap';
import { probe, firstAddress, nextHopDestinations } from '../../probes/vantage.ts';
import { probe as workspace } from '../../probes/workspace.ts';
import { probe as computes } from '../../probes/computes.ts';
import { probe as privateEndpoints } from '../../probes/private-endpoints.ts';
import { probe as networks } from '../../probes/networks.ts';
import type { ProbeContext } from '../../probes/probe.ts';
import type { ArmSimulator } from '../../src/sim/arm-server.ts';
import type { ScenarioFault, ScenarioOperation, ScenarioResource } from '../../src/sim/scenario.ts';
import { observed, type ServiceTagsObs, type VantagesObs } from '../../src/model/snapshot.ts';
import { gets, hubAndSpoke, runProbes, snapshotWith, wire, withSim } from '../helpers/sim.ts';
import { NB_IP, PE_IP, SPOKE_ID, SUB, SUBNET_ID, WS_ID } from '../helpers/snapshot.ts';

// The Microsoft-managed subscription holding the Azure ML nodes' NICs.
const MS_SUB = '99999999-9999-9999-9999-999999999999';
const ML_NIC = `/subscriptions/${MS_SUB}/resourceGroups/0123abcd-ml/providers/Microsoft.Network/networkInterfaces/ci-alice-nic`;
const ML_NIC_GONE = `/subscriptions/${MS_SUB}/resourceGroups/0123abcd-ml/providers/Microsoft.Network/networkInterfaces/ci-old-nic`;
const VMSS_IPC = `/subscriptions/${MS_SUB}/resourceGroups/0123abcd-ml/providers/Microsoft.Compute/virtualMachineScaleSets/cluster/virtualMachines/0/networkInterfaces/n/ipConfigurations/ipconfig1`;
const NET = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network`;
const TEAM_NIC = `/subscriptions/${SUB}/resourceGroups/rg-team/providers/Microsoft.Network/networkInterfaces/team-vm-nic`;
const SPARE_NIC = `${NET}/networkInterfaces/spare-nic`;
const ST_PE_NIC = `${NET}/networkInterfaces/pe-storage.nic`;
const JUMP_RG = `/subscriptions/${SUB}/resourceGroups/rg-jump`;
const VM_ID = `${JUMP_RG}/providers/Microsoft.Compute/virtualMachines/vm-jump`;
const JUMP_NIC = `${JUMP_RG}/providers/Microsoft.Network/networkInterfaces/vm-jump-nic`;
const JUMP_NIC_2 = `${JUMP_RG}/providers/Microsoft.Network/networkInterfaces/vm-jump-nic-mgmt`;
const OTHER_VM_NIC = `${JUMP_RG}/providers/Microsoft.Network/networkInterfaces/vm-other-nic`;
const LATER_NIC = `${NET}/networkInterfaces/later-vm-nic`;
const MGMT_SUBNET = `${SPOKE_ID}/subnets/snet-mgmt`;
const NSG_ID = `${NET}/networkSecurityGroups/nsg-compute`;
const NIC_NSG_ID = `${JUMP_RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-jump`;
const UDR_ID = `${NET}/routeTables/rt-compute`;
const WATCHER_RG = `/subscriptions/${SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers`;
const WATCHER = `${WATCHER_RG}/NetworkWatcher_eastus`;
const WATCHER_WEST = `${WATCHER_RG}/NetworkWatcher_westus`;
const JUMP_IP = '10.20.1.10';

const ipc = (nicId: string) => ({ id: `${nicId}/ipConfigurations/ipconfig1` });

/** A VM NIC (or a bare one) with one ipConfiguration in `subnetId`. */
function vmNic(id: string, ip: string, subnetId: string, props: Record<string, unknown> = {}): ScenarioResource {
  return {
    id,
    location: 'eastus',
    properties: {
      provisioningState: 'Succeeded',
      ipConfigurations: [{ name: 'ipconfig1', id: `${id}/ipConfigurations/ipconfig1`, properties: { primary: true, privateIPAddress: ip, privateIPAllocationMethod: 'Dynamic', subnet: { id: subnetId } } }],
      ...props,
    },
  };
}

const watcher = (id: string, location: string): ScenarioResource => ({ id, location, properties: { provisioningState: 'Succeeded' } });

/** The hub-and-spoke estate with a crowded compute subnet: ML node NICs, a VMSS node, a team VM, a spare NIC, a storage PE NIC, the jumpbox. */
function estate(subnetIpConfigs: Array<{ id: string }>): ScenarioResource[] {
  return [
    ...hubAndSpoke().filter((r) => r.id !== SUBNET_ID),
    wire.subnet(SPOKE_ID, 'snet-compute', '10.20.1.0/24', { networkSecurityGroup: { id: NSG_ID }, routeTable: { id: UDR_ID }, ipConfigurations: subnetIpConfigs }),
    wire.subnet(SPOKE_ID, 'snet-mgmt', '10.20.2.0/24'),
    vmNic(ML_NIC, '10.20.1.4', SUBNET_ID),
    vmNic(TEAM_NIC, '10.20.1.5', SUBNET_ID, { virtualMachine: { id: `/subscriptions/${SUB}/resourceGroups/rg-team/providers/Microsoft.Compute/virtualMachines/team-vm` } }),
    vmNic(SPARE_NIC, '10.20.1.6', SUBNET_ID),
    vmNic(ST_PE_NIC, '10.20.1.7', SUBNET_ID, { privateEndpoint: { id: `${NET}/privateEndpoints/pe-storage` } }),
    vmNic(JUMP_NIC, JUMP_IP, SUBNET_ID, { virtualMachine: { id: VM_ID }, networkSecurityGroup: { id: NIC_NSG_ID } }),
    vmNic(JUMP_NIC_2, '10.20.2.10', MGMT_SUBNET, { virtualMachine: { id: VM_ID }, primary: false }),
    vmNic(OTHER_VM_NIC, '10.20.2.11', MGMT_SUBNET, { virtualMachine: { id: `${JUMP_RG}/providers/Microsoft.Compute/virtualMachines/vm-other` } }),
    vmNic(LATER_NIC, '10.20.1.12', SUBNET_ID, { virtualMachine: { id: `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Compute/virtualMachines/later` } }),
    watcher(WATCHER_WEST, 'westus'),
    watcher(WATCHER, 'East US'),
  ];
}

const CROWDED = [ipc(ML_NIC), ipc(ML_NIC_GONE), { id: VMSS_IPC }, ipc(TEAM_NIC), ipc(SPARE_NIC), ipc(ST_PE_NIC), ipc(JUMP_NIC), ipc(LATER_NIC)];

const ROUTES = {
  value: [
    { addressPrefix: ['10.20.0.0/16'], nextHopIpAddress: [], nextHopType: 'VnetLocal', source: 'Default', state: 'Active' },
    { addressPrefix: ['10.10.0.0/16'], nextHopIpAddress: [], nextHopType: 'VNetPeering', source: 'Default', state: 'Active' },
    { addressPrefix: ['0.0.0.0/0'], nextHopIpAddress: [], nextHopType: 'Internet', source: 'Default', state: 'Invalid' },
    { name: 'to-firewall', addressPrefix: ['0.0.0.0/0'], nextHopIpAddress: ['10.10.0.4'], nextHopType: 'VirtualAppliance', source: 'User', state: 'Active', disableBgpRoutePropagation: false },
  ],
};

const NSGS = {
  value: [
    {
      networkSecurityGroup: { id: NSG_ID },
      association: { subnet: { id: SUBNET_ID } },
      effectiveSecurityRules: [
        {
          name: 'securityRules/AllowAml',
          protocol: 'Tcp',
          sourcePortRange: '0-65535',
          destinationPortRange: '',
          destinationPortRanges: ['443-443', '18881-18881'],
          sourceAddressPrefix: 'VirtualNetwork',
          destinationAddressPrefix: 'AzureMachineLearning',
          expandedSourceAddressPrefix: ['10.20.0.0/16', '10.10.0.0/16'],
          expandedDestinationAddressPrefix: ['13.66.87.135/32', '20.40.0.0/20'],
          access: 'Allow',
          priority: 100,
          direction: 'Outbound',
        },
        { name: 'securityRules/DenyInternet', protocol: 'All', sourcePortRange: '0-65535', destinationPortRange: '0-65535', sourceAddressPrefix: '0.0.0.0/0', destinationAddressPrefix: 'Internet', access: 'Deny', priority: 4000, direction: 'Outbound' },
        { name: 'defaultSecurityRules/AllowVnetOutBound', protocol: 'All', sourcePortRange: '0-65535', destinationPortRange: '0-65535', sourceAddressPrefix: 'VirtualNetwork', destinationAddressPrefix: 'VirtualNetwork', access: 'Allow', priority: 65000, direction: 'Outbound' },
      ],
    },
    {
      networkSecurityGroup: { id: NIC_NSG_ID },
      association: { networkInterface: { id: JUMP_NIC } },
      effectiveSecurityRules: [
        { name: 'securityRules/AllowSsh', protocol: 'Tcp', sourcePortRange: '0-65535', destinationPortRange: '22-22', sourceAddressPrefix: '203.0.113.7/32', destinationAddressPrefix: '0.0.0.0/0', access: 'Allow', priority: 300, direction: 'Inbound' },
      ],
    },
  ],
};

const TAGS: ServiceTagsObs = {
  location: 'eastus',
  cloud: 'Public',
  changeNumber: '42',
  tags: [
    { name: 'AzureActiveDirectory', region: '', systemService: 'AzureAD', addressPrefixes: ['20.190.128.0/18', '40.126.0.0/18'] },
    { name: 'AzureMachineLearning', region: '', addressPrefixes: ['13.66.87.135/32', '20.40.0.0/20'] },
    { name: 'AzureResourceManager', region: '', addressPrefixes: ['20.37.158.0/23'] },
    { name: 'BatchNodeManagement.eastus', region: 'eastus', addressPrefixes: ['13.68.128.0/24'] },
    { name: 'Storage.westus', region: 'westus', addressPrefixes: ['20.150.0.0/16'] },
    { name: 'Storage.eastus', region: 'eastus', addressPrefixes: ['20.38.98.0/24'] },
    // MicrosoftContainerRegistry absent: the mcr flow gets no next hop.
  ],
};

const op = (resourceId: string, action: string, result: unknown, match?: Record<string, string>): ScenarioOperation => ({ resourceId, action, result, ...(match ? { match } : {}) });

function operations(nicId = JUMP_NIC): ScenarioOperation[] {
  return [
    op(nicId, 'effectiveRouteTable', ROUTES),
    op(nicId, 'effectiveNetworkSecurityGroups', NSGS),
    op(WATCHER, 'nextHop', { nextHopType: 'VNetPeering', routeTableId: 'System Route' }, { destinationIPAddress: PE_IP }),
    op(WATCHER, 'nextHop', { nextHopType: 'VNetPeering', routeTableId: 'System Route' }, { destinationIPAddress: NB_IP }),
    op(WATCHER, 'nextHop', { nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.10.0.4', routeTableId: UDR_ID }, { destinationIPAddress: '20.190.128.0' }),
    op(WATCHER, 'nextHop', { nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.10.0.4', routeTableId: UDR_ID }, { destinationIPAddress: '13.66.87.135' }),
    op(WATCHER, 'nextHop', { nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.10.0.4', routeTableId: UDR_ID }, { destinationIPAddress: '20.37.158.0' }),
    op(WATCHER, 'nextHop', { nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.10.0.4', routeTableId: UDR_ID }, { destinationIPAddress: '13.68.128.0' }),
    // No answer for the Storage address: that one next hop fails (404), the others do not.
  ];
}

const FORBID_MS = { path: `^/subscriptions/${MS_SUB}/`, status: 403 };
const FORBID_TEAM = { path: '/resourceGroups/rg-team/', status: 403 };

async function run(ctx: ProbeContext): Promise<VantagesObs> {
  const snapshot = await runProbes(ctx, [workspace, computes, privateEndpoints, networks]);
  snapshot.serviceTags = observed(TAGS);
  const out = await probe.run(ctx, snapshot);
  if (!out.ok) throw new Error(out.error.message);
  return out.value;
}

const nicGets = (sim: ArmSimulator, id: string) => gets(sim, new RegExp(`${id.split('/').pop()?.replace(/\./g, '\\.')}$`, 'i'));
const posts = (sim: ArmSimulator, action: string) => sim.requests.filter((r) => r.method === 'POST' && r.path.toLowerCase().endsWith(`/${action.toLowerCase()}`));

t.test('walks the subnet: skips what cannot stand for the compute and picks the jumpbox', async (t) => {
  const { sim, ctx } = await withSim(t, estate(CROWDED), { operations: operations(), faults: [FORBID_MS, FORBID_TEAM] });
  const obs = await run(ctx);
  t.equal(obs.subnets.length, 1);
  const entry = obs.subnets[0];
  t.equal(entry?.subnetId, SUBNET_ID);
  t.same(entry?.skipped, [
    { id: VMSS_IPC, why: 'not a network interface' },
    { id: TEAM_NIC, why: '403 AuthorizationFailed' },
    { id: SPARE_NIC, why: 'no virtual machine attached' },
    { id: ST_PE_NIC, why: 'private endpoint NIC' },
  ]);
  t.match(entry?.vantage, { subnetId: SUBNET_ID, nicId: JUMP_NIC, vmId: VM_ID, privateIp: JUMP_IP, how: 'subnet', networkWatcherId: WATCHER });
  t.equal(nicGets(sim, ML_NIC).length, 0, 'NICs of the Microsoft-managed subscription are tried last, so not at all here');
  t.equal(nicGets(sim, LATER_NIC).length, 0, 'the walk stops at the first VM NIC');
});

t.test('normalizes the effective routes and the effective NSG rules', async (t) => {
  const { ctx } = await withSim(t, estate(CROWDED), { operations: operations(), faults: [FORBID_MS, FORBID_TEAM] });
  const v = (await run(ctx)).subnets[0]?.vantage;
  if (!v?.effectiveRoutes.ok || !v.effectiveNsgs.ok) throw new Error('effective routes or NSGs not read');
  t.same(v.effectiveRoutes.value[3], { name: 'to-firewall', source: 'User', state: 'Active', addressPrefixes: ['0.0.0.0/0'], nextHopType: 'VirtualAppliance', nextHopIpAddresses: ['10.10.0.4'] });
  t.same(v.effectiveRoutes.value.map((r) => [r.nextHopType, r.state]), [['VnetLocal', 'Active'], ['VNetPeering', 'Active'], ['Internet', 'Invalid'], ['VirtualAppliance', 'Active']]);
  const [subnetNsg, nicNsg] = v.effectiveNsgs.value;
  t.match(subnetNsg, { networkSecurityGroupId: NSG_ID, association: 'subnet', associatedId: SUBNET_ID });
  t.match(nicNsg, { networkSecurityGroupId: NIC_NSG_ID, association: 'network-interface', associatedId: JUMP_NIC });
  t.same(subnetNsg?.rules[0], {
    name: 'securityRules/AllowAml',
    priority: 100,
    direction: 'Outbound',
    access: 'Allow',
    protocol: 'Tcp',
    sourceAddressPrefixes: ['VirtualNetwork'],
    destinationAddressPrefixes: ['AzureMachineLearning'],
    expandedSourceAddressPrefixes: ['10.20.0.0/16', '10.10.0.0/16'],
    expandedDestinationAddressPrefixes: ['13.66.87.135/32', '20.40.0.0/20'],
    sourcePortRanges: ['0-65535'],
    destinationPortRanges: ['443-443', '18881-18881'],
    sourceApplicationSecurityGroupIds: [],
    destinationApplicationSecurityGroupIds: [],
    isDefault: false,
  });
  t.match(subnetNsg?.rules[1], { name: 'securityRules/DenyInternet', protocol: '*', access: 'Deny', destinationAddressPrefixes: ['Internet'], expandedDestinationAddressPrefixes: [], isDefault: false });
  t.match(subnetNsg?.rules[2], { name: 'defaultSecurityRules/AllowVnetOutBound', protocol: '*', priority: 65000, isDefault: true });
  t.match(nicNsg?.rules[0], { direction: 'Inbound', destinationPortRanges: ['22-22'], sourceAddressPrefixes: ['203.0.113.7/32'] });
});

t.test('asks the regional Network Watcher the next hop per destination; a failing one fails alone', async (t) => {
  const { sim, ctx } = await withSim(t, estate(CROWDED), { operations: operations(), faults: [FORBID_MS, FORBID_TEAM] });
  const v = (await run(ctx)).subnets[0]?.vantage;
  const expected = [
    [PE_IP, 'workspace-api'],
    [NB_IP, 'notebooks'],
    ['20.190.128.0', 'entra-id'],
    ['13.66.87.135', 'aml-service'],
    ['20.37.158.0', 'arm'],
    ['13.68.128.0', 'batch'],
    ['20.38.98.0', 'storage'],
  ];
  t.same(v?.nextHops.map((h) => [h.destinationIp, h.flow]), expected, 'no mcr: its tag is absent');
  t.same(
    posts(sim, 'nextHop').map((r) => r.body).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    expected
      .map(([ip]) => ({ targetResourceId: VM_ID, sourceIPAddress: JUMP_IP, destinationIPAddress: ip, targetNicResourceId: JUMP_NIC }))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  );
  t.ok(posts(sim, 'nextHop').every((r) => r.path.toLowerCase() === `${WATCHER}/nextHop`.toLowerCase()), 'only the East US watcher is asked');
  t.same(v?.nextHops[0]?.result, { ok: true, value: { nextHopType: 'VNetPeering', routeTableId: 'System Route' } });
  t.same(v?.nextHops[2]?.result, { ok: true, value: { nextHopType: 'VirtualAppliance', nextHopIpAddress: '10.10.0.4', routeTableId: UDR_ID } });
  t.match(v?.nextHops[6]?.result, { ok: false, error: { kind: 'not-found', resourceId: WATCHER } });
  t.match(v?.nextHops.filter((h) => !h.result.ok).map((h) => h.flow), ['storage']);
});

t.test('--vantage-vm given as a VM id: its NIC in the compute subnet, no walk', async (t) => {
  const { sim, ctx } = await withSim(t, estate(CROWDED), { operations: operations(), faults: [FORBID_MS, FORBID_TEAM], target: { vantageVmId: VM_ID } });
  const entry = (await run(ctx)).subnets[0];
  t.same(entry?.skipped, []);
  t.match(entry?.vantage, { nicId: JUMP_NIC, vmId: VM_ID, privateIp: JUMP_IP, how: 'given', effectiveRoutes: { ok: true }, networkWatcherId: WATCHER });
  t.equal(gets(sim, /\/rg-jump\/providers\/Microsoft\.Network\/networkInterfaces$/).length, 2, "the VM's resource group NICs are listed (two pages)");
  t.equal(nicGets(sim, TEAM_NIC).length + nicGets(sim, SPARE_NIC).length, 0, "the subnet's NICs are not walked");
});

t.test('--vantage-vm given as a NIC id', async (t) => {
  const { sim, ctx } = await withSim(t, estate(CROWDED), { operations: operations(), target: { vantageVmId: JUMP_NIC } });
  const entry = (await run(ctx)).subnets[0];
  t.same(entry?.skipped, []);
  t.match(entry?.vantage, { nicId: JUMP_NIC, vmId: VM_ID, how: 'given' });
  t.equal(nicGets(sim, ML_NIC).length, 0);
});

t.test('--vantage-vm outside the compute subnet: says so and walks the subnet', async (t) => {
  const { ctx } = await withSim(t, estate(CROWDED), { operations: operations(), faults: [FORBID_MS, FORBID_TEAM], target: { vantageVmId: OTHER_VM_NIC } });
  const entry = (await run(ctx)).subnets[0];
  t.same(entry?.skipped[0], { id: OTHER_VM_NIC, why: 'not in this subnet' });
  t.match(entry?.vantage, { nicId: JUMP_NIC, how: 'subnet' });
});

t.test('no readable VM NIC: no vantage, every skip explained, nothing posted', async (t) => {
  const subnet = [ipc(ML_NIC), ipc(ML_NIC_GONE), { id: VMSS_IPC }, ipc(SPARE_NIC), ipc(ST_PE_NIC)];
  const { sim, ctx } = await withSim(t, estate(subnet), { operations: operations(), faults: [FORBID_MS] });
  const entry = (await run(ctx)).subnets[0];
  t.equal(entry?.vantage, undefined);
  t.same(entry?.skipped, [
    { id: VMSS_IPC, why: 'not a network interface' },
    { id: SPARE_NIC, why: 'no virtual machine attached' },
    { id: ST_PE_NIC, why: 'private endpoint NIC' },
    { id: ML_NIC, why: '403 AuthorizationFailed' },
    { id: ML_NIC_GONE, why: '403 AuthorizationFailed' },
  ]);
  t.equal(sim.requests.filter((r) => r.method === 'POST').length, 0);
});

t.test('a NIC that no longer exists is skipped as 404', async (t) => {
  const deleted = `${NET}/networkInterfaces/deleted-vm-nic`;
  const { ctx } = await withSim(t, estate([ipc(deleted), ipc(JUMP_NIC)]), { operations: operations() });
  const entry = (await run(ctx)).subnets[0];
  t.same(entry?.skipped, [{ id: deleted, why: '404' }]);
  t.match(entry?.vantage, { nicId: JUMP_NIC });
});

t.test('no Network Watcher in the region: routes and NSGs still read, no next hops', async (t) => {
  const resources = estate(CROWDED).filter((r) => r.id !== WATCHER);
  const { sim, ctx } = await withSim(t, resources, { operations: operations(), faults: [FORBID_MS, FORBID_TEAM] });
  const v = (await run(ctx)).subnets[0]?.vantage;
  t.match(v, { nicId: JUMP_NIC, effectiveRoutes: { ok: true }, effectiveNsgs: { ok: true }, nextHops: [] });
  t.equal(v?.networkWatcherId, undefined);
  t.equal(posts(sim, 'nextHop').length, 0);
});

t.test('effective routes that cannot be read fail alone', async (t) => {
  const faults: ScenarioFault[] = [FORBID_MS, FORBID_TEAM, { method: 'POST', path: '/effectiveRouteTable$', status: 400, code: 'NetworkInterfaceNotAttachedToRunningVm', message: 'VM vm-jump is deallocated.' }];
  const { ctx } = await withSim(t, estate(CROWDED), { operations: operations(), faults });
  const v = (await run(ctx)).subnets[0]?.vantage;
  t.match(v?.effectiveRoutes, { ok: false, error: { statusCode: 400, code: 'NetworkInterfaceNotAttachedToRunningVm', resourceId: JUMP_NIC } });
  t.match(v?.effectiveNsgs, { ok: true });
  t.equal(v?.nextHops.length, 7);
});

t.test('is not attempted when the computes could not be read', async (t) => {
  const { sim, ctx } = await withSim(t, []);
  const out = await probe.run(ctx, snapshotWith(ctx, { computes: { ok: false, error: { kind: 'forbidden', message: '403' } } }));
  t.match(out, { ok: false, error: { kind: 'skipped' } });
  t.equal(sim.requests.length, 0);
});

t.test('next hop destinations fall back to customDnsConfigs; first address of a prefix', async (t) => {
  t.equal(firstAddress('20.190.128.0/18'), '20.190.128.0');
  t.equal(firstAddress('52.239.152.77/22'), '52.239.152.0');
  t.equal(firstAddress('13.66.87.135'), '13.66.87.135');
  t.equal(firstAddress('2603:1030::/48'), undefined);
  const { ctx } = await withSim(t, []);
  const pe = {
    id: 'pe', name: 'pe', subscriptionId: SUB, resourceGroup: 'rg', connections: [], networkInterfaceIds: [],
    customDnsConfigs: [{ fqdn: 'x.workspace.eastus.api.azureml.ms', ipAddresses: ['10.1.0.4'] }, { fqdn: 'ml-x.eastus.notebooks.azure.net', ipAddresses: ['10.1.0.5'] }],
    nicIpConfigurations: { ok: false as const, error: { kind: 'forbidden' as const, message: '403' } },
    zoneGroups: { ok: true as const, value: [] },
  };
  const tags: ServiceTagsObs = { location: 'eastus', tags: [{ name: 'AzureActiveDirectory', region: '', addressPrefixes: ['2603:1056::/40', '20.190.128.0/18'] }] };
  const snapshot = snapshotWith(ctx, { privateEndpoints: observed({ endpoints: [{ id: 'pe', observed: observed(pe) }] }), serviceTags: observed(tags) });
  t.same(nextHopDestinations(snapshot), [
    { ip: '10.1.0.4', flow: 'workspace-api' },
    { ip: '10.1.0.5', flow: 'notebooks' },
    { ip: '20.190.128.0', flow: 'entra-id' },
  ]);
});
