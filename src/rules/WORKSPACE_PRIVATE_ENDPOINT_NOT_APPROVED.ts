/**
 * WORKSPACE_PRIVATE_ENDPOINT_NOT_APPROVED: a workspace private endpoint connection that is not
 * Approved (as the workspace or as the endpoint reports it), or a workspace private endpoint whose
 * provisioning failed.
 */
import { idKey, nameOf, sameId } from '../model/arm-id.ts';
import type { Evidence } from '../report/schema.ts';
import type { PrivateEndpointObs, PrivateLinkConnectionObs, ProbeError, Snapshot, WorkspaceObs, WorkspacePrivateEndpointConnection } from '../model/snapshot.ts';
import type { FindingDraft, Rule, RuleResult } from './rule.ts';
import { azParts, azScope, cloudOf, isWorkspaceEndpoint, judgedWorkspace, listText, workspaceFqdns } from './support.ts';
import { nameSubjects, zoneConfigLabel, zoneGroupCommand } from './support-endpoints.ts';
import { bicepResource, bicepSnippet, type BicepValue } from './support-bicep.ts';

const CODE = 'WORKSPACE_PRIVATE_ENDPOINT_NOT_APPROVED';
const APPROVE_NOTE = '"Approved by aml-netdoctor remediation"';

/** One private endpoint (or a workspace connection whose endpoint is unknown) and what was read about it. */
interface Item {
  key: string;
  peId?: string;
  connection?: WorkspacePrivateEndpointConnection;
  pe?: PrivateEndpointObs;
  peError?: ProbeError;
}

const isApproved = (status: string | undefined) => (status ?? '').toLowerCase() === 'approved';

function peConnection(pe: PrivateEndpointObs, ws: WorkspaceObs): PrivateLinkConnectionObs | undefined {
  return pe.connections.find((c) => sameId(c.privateLinkServiceId, ws.id));
}

function items(s: Snapshot, ws: WorkspaceObs): Item[] {
  const byKey = new Map<string, Item>();
  const probe = s.privateEndpoints;
  for (const c of ws.privateEndpointConnections) {
    const key = idKey(c.privateEndpointId ?? c.id);
    byKey.set(key, { key, connection: c, ...(c.privateEndpointId ? { peId: c.privateEndpointId } : {}) });
  }
  if (probe?.ok) {
    for (const e of probe.value.endpoints) {
      const key = idKey(e.id);
      const known = byKey.get(key);
      if (e.observed.ok) {
        // Endpoints the workspace does not list count only when they are workspace endpoints.
        if (!known && !isWorkspaceEndpoint(e.observed.value, ws)) continue;
        byKey.set(key, { ...(known ?? { key }), peId: e.id, pe: e.observed.value });
      } else {
        byKey.set(key, { ...(known ?? { key }), peId: e.id, peError: e.observed.error });
      }
    }
  }
  for (const item of byKey.values()) {
    if (item.peId && !item.pe && !item.peError) {
      item.peError = probe && !probe.ok ? probe.error : { kind: 'skipped', message: `private endpoint ${item.peId} was not read by the private endpoints probe`, resourceId: item.peId };
    }
  }
  return [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key));
}

function check(s: Snapshot): RuleResult[] {
  const ws = judgedWorkspace(s, '.');
  if (Array.isArray(ws)) return ws;
  const all = items(s, ws);
  if (all.length === 0) {
    if (s.privateEndpoints && !s.privateEndpoints.ok) return [{ status: 'undetermined', item: 'workspace private endpoints', reason: s.privateEndpoints.error.message }];
    return [{ status: 'pass', resourceId: ws.id, detail: `Workspace ${ws.name} has no private endpoint connection to judge (a missing endpoint is WORKSPACE_PRIVATE_ENDPOINT_MISSING).` }];
  }
  return all.map((item) => judge(s, ws, item));
}

function judge(s: Snapshot, ws: WorkspaceObs, item: Item): RuleResult {
  const problems: Evidence[] = [];
  const c = item.connection;
  if (c?.status !== undefined && !isApproved(c.status)) {
    problems.push({ resourceId: c.id, property: 'properties.privateLinkServiceConnectionState.status', observed: c.status, expected: 'Approved' });
  }
  const pe = item.pe;
  const peConn = pe ? peConnection(pe, ws) : undefined;
  if (pe && peConn?.status !== undefined && !isApproved(peConn.status)) {
    const index = Math.max(0, pe.connections.indexOf(peConn));
    const list = peConn.manual ? 'manualPrivateLinkServiceConnections' : 'privateLinkServiceConnections';
    problems.push({ resourceId: pe.id, property: `properties.${list}[${index}].properties.privateLinkServiceConnectionState.status`, observed: peConn.status, expected: 'Approved' });
  }
  if (pe && (pe.provisioningState ?? '').toLowerCase() === 'failed') {
    problems.push({ resourceId: pe.id, property: 'properties.provisioningState', observed: pe.provisioningState ?? 'Failed', expected: 'Succeeded' });
  }
  const label = pe?.name ?? (item.peId ? nameOf(item.peId) : c?.name ?? item.key);
  if (problems.length > 0) return { status: 'fail', finding: finding(s, ws, item, problems) };
  if (!pe) {
    const reason = item.peError?.message ?? `private endpoint of connection ${c?.name ?? item.key} is unknown`;
    return { status: 'undetermined', item: `provisioning state of private endpoint ${label}`, reason, ...(item.peId ? { resourceId: item.peId } : {}) };
  }
  if (c?.status === undefined && peConn?.status === undefined) {
    return { status: 'undetermined', item: `connection state of private endpoint ${label}`, reason: 'neither the workspace nor the endpoint reported privateLinkServiceConnectionState.status', resourceId: pe.id };
  }
  return { status: 'pass', resourceId: pe.id, detail: `Private endpoint ${pe.name}: connection to ${ws.name} is ${c?.status ?? peConn?.status}, provisioning state ${pe.provisioningState ?? 'not reported'}.` };
}

function finding(s: Snapshot, ws: WorkspaceObs, item: Item, problems: Evidence[]): FindingDraft {
  const pe = item.pe;
  const c = item.connection;
  const peConn = pe ? peConnection(pe, ws) : undefined;
  const peName = pe?.name ?? (item.peId ? nameOf(item.peId) : c?.name ?? 'the private endpoint');
  const status = c?.status ?? peConn?.status;
  const failed = problems.some((p) => p.property === 'properties.provisioningState');
  const statusBad = status !== undefined && !isApproved(status);
  const resourceId = pe?.id ?? c?.id ?? item.peId ?? item.key;

  const what: string[] = [];
  if (statusBad) what.push(`its connection to workspace ${ws.name} is ${status}, not Approved`);
  if (failed) what.push('its provisioning state is Failed');
  const explanation =
    `Private endpoint ${peName}${pe?.vnetId ? ` in ${nameOf(pe.vnetId)}` : ''} is the workspace's private path, but ${listText(what)}. ` +
    `Until the connection is Approved and the endpoint provisioned, traffic to the workspace API and cert names through it is not delivered, so a compute that resolves them to the endpoint's IP cannot get its managed-identity token and falls back to device login.` +
    (!pe && item.peError ? ` The endpoint itself could not be read (${item.peError.message}), so its provisioning state is unknown.` : '');

  const azCli: string[] = [];
  let summary: string;
  const lower = (status ?? '').toLowerCase();
  const connectionId = c?.id;
  if (failed || lower === 'disconnected') {
    summary = `Recreate private endpoint ${peName}: ${failed ? 'a Failed endpoint does not recover by itself' : 'a Disconnected connection was removed from the workspace and cannot be re-approved'}. Recreate its DNS zone group afterwards.`;
    if (pe) {
      azCli.push(`az network private-endpoint delete ${azScope(pe.id)} -n ${pe.name}`);
      azCli.push(`az network private-endpoint create ${azScope(pe.id)} -n ${pe.name}${pe.location ? ` -l ${pe.location}` : ''} --subnet ${pe.subnetId ?? '<subnet id>'} --private-connection-resource-id ${ws.id} --group-id amlworkspace --connection-name ${peConn?.name ?? pe.name}`);
      if (pe.zoneGroups.ok) {
        for (const g of pe.zoneGroups.value) {
          g.zoneConfigs.forEach((z, i) => {
            azCli.push(zoneGroupCommand(i === 0 ? 'create' : 'add', { scopeId: pe.id, endpoint: pe.name, group: g.name, zoneId: z.privateDnsZoneId, label: z.name ?? zoneConfigLabel(cloudOf(s), nameOf(z.privateDnsZoneId)) }));
          });
        }
      }
    }
  } else if (connectionId) {
    summary = `Approve the private endpoint connection ${c?.name} on workspace ${ws.name} (needs Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/write). If a Rejected connection cannot be approved, delete and recreate the endpoint.`;
    azCli.push(`az network private-endpoint-connection approve --id ${connectionId} --description ${APPROVE_NOTE}`);
  } else {
    const w = azParts(ws.id);
    summary = `Approve the pending connection from ${peName} on workspace ${ws.name} (find its name with the list command first).`;
    azCli.push(`az network private-endpoint-connection list --id ${ws.id} --query "[?contains(properties.privateEndpoint.id, '${peName}')].id" -o tsv`);
    azCli.push(`az network private-endpoint-connection approve --subscription ${w.subscription} -g ${w.resourceGroup} --resource-name ${ws.name} --type Microsoft.MachineLearningServices/workspaces -n <connection name from the list command> --description ${APPROVE_NOTE}`);
  }
  const recreate = failed || lower === 'disconnected';
  const approveCommand = azCli.find((c) => c.includes('private-endpoint-connection approve')) ?? '';
  const why = failed ? 'a Failed endpoint does not recover by itself' : 'a Disconnected connection cannot be re-approved';
  const bicep = recreate && pe ? recreateBicep(s, ws, pe, peConn, why) : approvalBicep(ws, peName, recreate, approveCommand);
  const verify = pe
    ? `az network private-endpoint show ${azScope(pe.id)} -n ${pe.name} --query "[provisioningState, ${connectionPath(pe, peConn)}.privateLinkServiceConnectionState.status]" -o tsv must print Succeeded and Approved; then run aml-netdoctor recheck <report.json>.`
    : `az network private-endpoint-connection show --id ${connectionId ?? '<connection id>'} --query properties.privateLinkServiceConnectionState.status -o tsv must print Approved; then run aml-netdoctor recheck <report.json>.`;

  const endpoints = pe ? [pe] : [];
  return {
    resourceId,
    confidence: 'medium',
    explanation,
    evidence: problems,
    remediation: { summary, azCli, bicep, verify },
    subjects: nameSubjects(workspaceFqdns(ws, endpoints, cloudOf(s))),
  };
}

/** `privateLinkServiceConnections[i]` (or the manual list) of the endpoint's connection to the workspace. */
function connectionPath(pe: PrivateEndpointObs, peConn: PrivateLinkConnectionObs | undefined): string {
  const list = peConn?.manual ? 'manualPrivateLinkServiceConnections' : 'privateLinkServiceConnections';
  return `${list}[${peConn ? Math.max(0, pe.connections.indexOf(peConn)) : 0}]`;
}

/**
 * Approval is an action on the workspace's connection, not a resource to declare: redeploying the
 * endpoint would not approve it, so the snippet only says what to run.
 */
function approvalBicep(ws: WorkspaceObs, peName: string, recreate: boolean, approveCommand: string): string {
  const note = recreate
    ? [
        `Nothing to deploy yet: private endpoint ${peName} could not be read, so it cannot be declared here.`,
        `Delete it and create it again (subnet, group id amlworkspace, connection to ${ws.name}) with its DNS zone group.`,
      ]
    : [
        `Nothing to deploy: approving the connection from ${peName} is an action on workspace ${ws.name}'s private endpoint connection,`,
        'which Bicep does not perform, and redeploying the endpoint would not approve it. Run instead:',
        `  ${approveCommand}`,
      ];
  return bicepSnippet(ws.id, [], note.join('\n'));
}

/** The endpoint as it was (subnet, connection, zone groups), to deploy after deleting the failed or disconnected one. */
function recreateBicep(s: Snapshot, ws: WorkspaceObs, pe: PrivateEndpointObs, peConn: PrivateLinkConnectionObs | undefined, why: string): string {
  const connection = {
    name: peConn?.name ?? pe.name,
    properties: {
      privateLinkServiceId: ws.id,
      groupIds: peConn?.groupIds.length ? peConn.groupIds : ['amlworkspace'],
    },
  };
  const properties: { [key: string]: BicepValue } = {
    subnet: { id: pe.subnetId ?? '<subnet id>' },
    [peConn?.manual ? 'manualPrivateLinkServiceConnections' : 'privateLinkServiceConnections']: [connection],
  };
  const declarations = [bicepResource({ symbol: 'pe', type: 'Microsoft.Network/privateEndpoints', name: pe.name, body: { location: pe.location ?? ws.location, properties } })];
  const groups = pe.zoneGroups.ok ? pe.zoneGroups.value : [];
  groups.forEach((g, i) => {
    declarations.push(
      bicepResource({
        symbol: i === 0 ? 'zoneGroup' : `zoneGroup${i + 1}`,
        type: 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups',
        name: g.name,
        parent: 'pe',
        body: {
          properties: {
            privateDnsZoneConfigs: g.zoneConfigs.map((z) => ({ name: z.name ?? zoneConfigLabel(cloudOf(s), nameOf(z.privateDnsZoneId)), properties: { privateDnsZoneId: z.privateDnsZoneId } })),
          },
        },
      }),
    );
  });
  const note = [
    `Recreate private endpoint ${pe.name} (${why}): delete it first, then deploy this.`,
    `  az network private-endpoint delete ${azScope(pe.id)} -n ${pe.name}`,
    ...(pe.zoneGroups.ok ? [] : [`Its DNS zone groups could not be read (${pe.zoneGroups.error.message}): add a privateDnsZoneGroups child for the workspace zones.`]),
    ...(peConn?.manual ? [`A manual connection must then be approved on workspace ${ws.name}.`] : []),
  ];
  return bicepSnippet(pe.id, declarations, note.join('\n'));
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'Workspace private endpoint connection not approved, or endpoint provisioning failed',
    role: 'cause',
    flows: ['workspace-api', 'workspace-cert', 'notebooks'],
    description:
      "A workspace private endpoint exists, but its connection to the workspace is Pending, Rejected or Disconnected (as the workspace's privateEndpointConnections or the endpoint's own connection reports it), or the endpoint's provisioning state is Failed.",
    impact:
      "Traffic through an unapproved or failed endpoint does not reach the workspace. The compute instance's managed-identity token request to the workspace cert API fails, azureml-core swallows the error and prints the device-login prompt.",
    resolution:
      'Approve the connection on the workspace (az network private-endpoint-connection approve), or delete and recreate an endpoint whose provisioning failed or whose connection was removed, with its DNS zone group.',
    verification:
      "Show the endpoint's provisioning state and its connection state: they must be Succeeded and Approved (or show the workspace's connection when the endpoint cannot be read). Then run aml-netdoctor recheck on the report.",
    needs: ['workspace', 'privateEndpoints'],
    references: ['F#2', 'S33', 'S16', 'https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link'],
  },
  check,
} satisfies Rule;
