/**
 * MANAGED_NETWORK_NOT_READY: managed virtual network isolation is on, but the managed network is
 * not provisioned (status not Active) or one of its private endpoint outbound rules is not Active
 * (its connection on the target resource was never approved, or provisioning failed).
 */
import { idKey, nameOf } from '../model/arm-id.ts';
import type { ManagedNetworkObs, Snapshot, WorkspaceObs } from '../model/snapshot.ts';
import type { Evidence } from '../report/schema.ts';
import type { FindingDraft, Rule, RuleResult } from './rule.ts';
import { azParts, judgedWorkspace, listText } from './support.ts';
import { bicepResource, bicepSnippet } from './support-bicep.ts';
import { isUserDefinedRule, outboundRuleBody, workspaceDeclaration, workspaceNotes } from './support-dependencies.ts';

const CODE = 'MANAGED_NETWORK_NOT_READY';

type OutboundRule = ManagedNetworkObs['outboundRules'][number];

const lower = (v: string | undefined) => (v ?? '').toLowerCase();
const isActive = (status: string | undefined) => lower(status) === 'active';
const isPrivateEndpointRule = (r: OutboundRule) => lower(r.type) === 'privateendpoint';

/** `destination.serviceResourceId` / `subresourceTarget` of a private endpoint rule (ARM shape). */
function target(r: OutboundRule): { resourceId?: string; subresource?: string } {
  const d = r.destination;
  if (typeof d !== 'object' || d === null) return {};
  const rec = d as Record<string, unknown>;
  const resourceId = typeof rec.serviceResourceId === 'string' ? rec.serviceResourceId : undefined;
  const subresource = typeof rec.subresourceTarget === 'string' ? rec.subresourceTarget : undefined;
  return { ...(resourceId ? { resourceId } : {}), ...(subresource ? { subresource } : {}) };
}

function ruleText(r: OutboundRule): string {
  const t = target(r);
  const to = t.resourceId ? ` to ${nameOf(t.resourceId)}${t.subresource ? ` (${t.subresource})` : ''}` : '';
  return `${r.name}${to} is ${r.status ?? 'not reported'}`;
}

function check(s: Snapshot): RuleResult[] {
  const ws = judgedWorkspace(s);
  if (Array.isArray(ws)) return ws;
  const mn = ws.managedNetwork;
  if (!mn || lower(mn.isolationMode) === '' || lower(mn.isolationMode) === 'disabled') {
    return [{ status: 'pass', resourceId: ws.id, detail: `Does not apply: workspace ${ws.name} has no managed virtual network (isolation mode ${mn?.isolationMode ?? 'not set (Disabled)'}).` }];
  }
  const peRules = mn.outboundRules.filter(isPrivateEndpointRule).sort((a, b) => a.name.localeCompare(b.name));
  const inactive = peRules.filter((r) => r.status !== undefined && !isActive(r.status));
  const networkDown = mn.status !== undefined && !isActive(mn.status);
  if (networkDown || inactive.length) return [{ status: 'fail', finding: finding(ws, mn, networkDown, inactive) }];

  if (mn.status === undefined) {
    return [{ status: 'undetermined', item: `managed network status of workspace ${ws.name}`, reason: 'ARM did not report properties.managedNetwork.status, so whether the managed network is provisioned is unknown', resourceId: ws.id }];
  }
  const unreported = peRules.filter((r) => r.status === undefined);
  if (unreported.length) {
    return unreported.map((r) => ({ status: 'undetermined', item: `status of managed network outbound rule ${r.name}`, reason: 'ARM did not report the rule status', resourceId: ws.id }));
  }
  return [{ status: 'pass', resourceId: ws.id, detail: `The managed network of ${ws.name} (${mn.isolationMode}) is Active${peRules.length ? ` and its private endpoint outbound rules (${listText(peRules.map((r) => r.name))}) are Active` : ''}.` }];
}

function finding(ws: WorkspaceObs, mn: ManagedNetworkObs, networkDown: boolean, inactive: OutboundRule[]): FindingDraft {
  const scope = `--subscription ${ws.subscriptionId} --resource-group ${ws.resourceGroup}`;
  const sentences: string[] = [];
  if (networkDown) {
    sentences.push(`Workspace ${ws.name} uses managed virtual network isolation (${mn.isolationMode}), but the managed network is ${mn.status}: it is provisioned lazily when the first compute is created, or on request, and has not been provisioned.`);
  } else {
    sentences.push(`Workspace ${ws.name} uses managed virtual network isolation (${mn.isolationMode}) and the managed network is Active.`);
  }
  if (inactive.length) {
    sentences.push(`Private endpoint outbound rule${inactive.length > 1 ? 's' : ''} ${listText(inactive.map(ruleText))}: traffic from managed computes to ${inactive.length > 1 ? 'those resources' : 'that resource'} has no path until the endpoint is Active (its connection approved on the target resource).`);
  }
  sentences.push('Computes in the managed network cannot reach the workspace storage, key vault or registry, so compute creation, jobs and image builds fail; this breaks jobs and compute lifecycle, not sign-in itself.');

  const evidence: Evidence[] = [];
  if (networkDown) evidence.push({ resourceId: ws.id, property: 'properties.managedNetwork.status.status', observed: mn.status ?? '', expected: 'Active' });
  for (const r of inactive) {
    const t = target(r);
    evidence.push({ resourceId: t.resourceId ?? ws.id, property: `properties.managedNetwork.outboundRules.${r.name}.status`, observed: r.status ?? '', expected: 'Active' });
  }

  const azCli: string[] = [];
  const summary: string[] = [];
  if (networkDown) {
    azCli.push(`az ml workspace provision-network ${scope} --name ${ws.name}`);
    summary.push(`Provision the managed network of ${ws.name} now (it takes a few minutes; computes created before it must be recreated).`);
  }
  for (const r of inactive) {
    const t = target(r);
    azCli.push(`az ml workspace outbound-rule show ${scope} --workspace-name ${ws.name} --rule ${r.name}`);
    if (t.resourceId) {
      const p = azParts(t.resourceId);
      azCli.push(`az network private-endpoint-connection list --id ${t.resourceId} --query "[?properties.privateLinkServiceConnectionState.status!='Approved'].{name: name, status: properties.privateLinkServiceConnectionState.status}"`);
      azCli.push(`az network private-endpoint-connection approve --subscription ${p.subscription} -g ${p.resourceGroup} --resource-name ${p.name} --type ${resourceType(t.resourceId)} -n <connection name from the list command> --description "Approved for Azure ML managed network"`);
    }
  }
  if (inactive.length) {
    summary.push(
      `For each inactive private endpoint rule, approve the managed endpoint's connection on its target (${listText(inactive.map((r) => nameOf(target(r).resourceId ?? r.name)))}); whoever provisions the network needs Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/read and write. If the rule stays inactive, delete and re-add it with az ml workspace outbound-rule remove/set and provision the network again.`,
    );
  }
  return {
    resourceId: ws.id,
    confidence: 'medium',
    explanation: sentences.join(' '),
    evidence,
    remediation: {
      summary: summary.join(' '),
      azCli,
      bicep: bicep(ws, networkDown, inactive),
      verify: verify(ws, scope, networkDown, inactive),
    },
    subjects: [`managed-network:${idKey(ws.id)}`, ...inactive.flatMap((r) => (target(r).resourceId ? [`dependency:${idKey(target(r).resourceId as string)}`] : []))],
  };
}

/**
 * Provisioning the network and approving endpoint connections have no declarative form: the snippet
 * says so and declares the closest thing. For the network and Azure ML's own rules that is the
 * workspace's managed network settings (user-defined rules included); for inactive user-defined
 * rules alone, those rules (re-put once their target approves the connection).
 */
function bicep(ws: WorkspaceObs, networkDown: boolean, inactive: OutboundRule[]): string {
  const system = inactive.filter((r) => !isUserDefinedRule(r));
  const notes = ['Bicep cannot provision the managed network of an existing workspace or approve a private endpoint connection: run az ml workspace provision-network and the approval commands (see the az commands).'];
  if (networkDown || system.length) {
    if (system.length) notes.push(`${listText(system.map((r) => r.name))} ${system.length > 1 ? 'are rules' : 'is a rule'} Azure ML creates itself: it becomes Active once its connection is approved and the network provisioned.`);
    return bicepSnippet(ws.id, [workspaceDeclaration(ws, {})], [...notes, ...workspaceNotes(ws)].join('\n'));
  }
  const declarations = [bicepResource({ symbol: 'workspace', type: 'Microsoft.MachineLearningServices/workspaces', name: ws.name, existing: true })];
  inactive.forEach((r, i) => {
    const body = outboundRuleBody(r);
    if (body) declarations.push(bicepResource({ symbol: `rule${i + 1}`, type: 'Microsoft.MachineLearningServices/workspaces/outboundRules', name: r.name, parent: 'workspace', body: { properties: body } }));
  });
  return bicepSnippet(ws.id, declarations, notes.join('\n'));
}

/** One az ml query for the network status and the inactive rules' status, all of which should print Active. */
function verify(ws: WorkspaceObs, scope: string, networkDown: boolean, inactive: OutboundRule[]): string {
  const queries = [...(networkDown ? ['managed_network.status.status'] : []), ...inactive.map((r) => `managed_network.outbound_rules[?name=='${r.name}'].status | [0]`)];
  const query = queries.length === 1 ? (queries[0] as string) : `[${queries.join(', ')}]`;
  const prints = queries.length === 1 ? 'Active' : `Active for each (${queries.length} lines)`;
  return `az ml workspace show ${scope} --name ${ws.name} --query "${query}" -o tsv prints ${prints}; then run aml-netdoctor recheck <report.json>.`;
}

/** `Microsoft.Storage/storageAccounts` from a resource id. */
function resourceType(id: string): string {
  const m = /\/providers\/([^/]+)\/([^/]+)\//i.exec(id);
  return m ? `${m[1]}/${m[2]}` : '<resource type>';
}

export const rule = {
  meta: {
    code: CODE,
    tier: 2,
    severity: 'high',
    title: 'Managed virtual network is not provisioned, or a private endpoint outbound rule is not active',
    role: 'cause',
    flows: ['storage', 'key-vault', 'container-registry'],
    description:
      'The workspace uses managed virtual network isolation (AllowInternetOutbound or AllowOnlyApprovedOutbound), but the managed network has not been provisioned (status not Active), or a private endpoint outbound rule, such as the one to the default storage account, is not Active.',
    impact:
      'Managed computes reach the workspace storage, key vault and registry only through the managed network and its private endpoints. Until it is provisioned and the endpoints are Active, compute creation, jobs and image builds fail. This breaks jobs and compute lifecycle; it does not by itself cause the device-login prompt.',
    resolution:
      'Provision the managed network with `az ml workspace provision-network`, recreate computes created before managed isolation was enabled, and get each inactive private endpoint rule Active by approving its connection on the target resource (or removing and re-adding the rule).',
    verification:
      '`az ml workspace show --name <workspace> --query managed_network.status.status -o tsv` prints Active, and every private endpoint rule in managed_network.outbound_rules has status Active (`az ml workspace outbound-rule list`). Then `aml-netdoctor recheck` the report and create a compute or run a job.',
    needs: ['workspace'],
    references: [
      'F#25',
      'S14',
      'S15',
      'https://learn.microsoft.com/azure/machine-learning/how-to-managed-network',
      'https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-managed-network',
    ],
  },
  check,
} satisfies Rule;
