/**
 * STORAGE_NETWORK_BLOCKS_COMPUTE: the workspace's default storage account is network-restricted
 * (public access disabled, or default action Deny) and admits neither a compute subnet (no
 * reachable approved blob/file private endpoint, no virtual network rule with the service endpoint)
 * nor, through a resource instance rule or the trusted-services bypass, the workspace itself.
 */
import { analyzeFlows } from '../flows/analyze.ts';
import type { DependencyObs, Snapshot, WorkspaceObs } from '../model/snapshot.ts';
import { FLOW_NEEDS, type Rule, type RuleContext, type RuleResult } from './rule.ts';
import { azScope } from './support.ts';
import { STORAGE, bypassesAzureServices, judgeDependencyNetwork, type WorkspaceAdmission } from './support-dependencies.ts';

const CODE = 'STORAGE_NETWORK_BLOCKS_COMPUTE';

// Resource instance rules may use `*` for a whole id segment (…/resourcegroups/*/…/workspaces/*).
function ruleMatches(pattern: string, id: string): boolean {
  const p = pattern.toLowerCase().replace(/\/+$/, '').split('/');
  const i = id.toLowerCase().replace(/\/+$/, '').split('/');
  return p.length === i.length && p.every((seg, n) => seg === '*' || seg === i[n]);
}

function workspaceAdmission(d: DependencyObs, ws: WorkspaceObs): WorkspaceAdmission {
  const n = d.network;
  const rule = n.resourceAccessRules.find((r) => ruleMatches(r.resourceId, ws.id));
  if (rule) return { admitted: true, how: `resource instance rule ${rule.resourceId}`, evidence: [], summary: '', azCli: [] };
  if (bypassesAzureServices(n)) return { admitted: true, how: `trusted Azure services may bypass the rules (bypass ${n.bypass.join(', ')})`, evidence: [], summary: '', azCli: [] };
  const keep = n.bypass.filter((b) => !['none', 'azureservices'].includes(b.toLowerCase()));
  return {
    admitted: false,
    how: `no resource instance rule names workspace ${ws.name} and trusted Azure services may not bypass the rules (bypass ${n.bypass.join(', ') || 'None'})`,
    evidence: [
      { resourceId: d.id, property: 'properties.networkAcls.resourceAccessRules', observed: n.resourceAccessRules.map((r) => r.resourceId).join(', ') || 'none', expected: `a rule for ${ws.id}` },
      { resourceId: d.id, property: 'properties.networkAcls.bypass', observed: n.bypass.join(', ') || 'None', expected: 'includes AzureServices (or a resource instance rule for the workspace)' },
    ],
    summary:
      `Add a resource instance rule for workspace ${ws.name} so the Azure ML service can reach ${d.name}` +
      ` (or allow trusted Azure services: \`az storage account update ${azScope(d.id)} -n ${d.name} --bypass ${[...keep, 'AzureServices'].join(' ')}\`).`,
    azCli: [`az storage account network-rule add ${azScope(d.id)} --account-name ${d.name} --resource-id ${ws.id} --tenant-id $(az account show --subscription ${ws.subscriptionId} --query tenantId -o tsv)`],
    // The snapshot does not hold the workspace's tenant: the declaration uses the deployment subscription's.
    edit: { resourceAccessRules: [{ resourceId: ws.id }] },
    check: { query: `networkRuleSet.resourceAccessRules[?ends_with(resourceId, '/workspaces/${ws.name}')].resourceId | [0]`, prints: ws.id },
  };
}

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  return judgeDependencyNetwork(s, () => context?.flows ?? analyzeFlows(s), {
    spec: STORAGE,
    workspaceAdmission,
    breaks:
      'Jobs cannot read or write the workspace datastores, compute instances cannot mount the notebooks file share (SMB 445), and snapshot uploads and image builds fail with 403 AuthorizationFailure or time out; this breaks jobs and notebooks, not sign-in itself.',
  });
}

export const rule = {
  meta: {
    code: CODE,
    tier: 2,
    severity: 'high',
    title: 'Default storage account network rules shut out the compute or the workspace',
    role: 'cause',
    flows: ['storage'],
    description:
      "The workspace's default storage account has public network access disabled or network rules that deny by default, and nothing admits the compute: no approved blob and file private endpoint in the compute VNet or a VNet peered with it, and no virtual network rule for the compute subnet with the Microsoft.Storage service endpoint on it. Or the workspace itself is shut out: no resource instance rule for it and trusted Azure services may not bypass the rules.",
    impact:
      'Jobs cannot read or write datastores, compute instances cannot mount the notebooks file share, and snapshot uploads and environment image builds fail (403 AuthorizationFailure or timeouts). This breaks jobs and notebooks; it does not by itself cause the device-login prompt.',
    resolution:
      'Create blob and file private endpoints (with a DNS zone group for privatelink.blob.core.windows.net and privatelink.file.core.windows.net in the public cloud) in the compute VNet, or, with public access enabled, add a virtual network rule for the compute subnet and the Microsoft.Storage service endpoint on it. Admit the workspace with a resource instance rule (`az storage account network-rule add --resource-id <workspace id> --tenant-id <tenant id>`) or the trusted-services bypass.',
    verification:
      '`az storage account show --ids <account id>` lists each new blob and file private endpoint connection as Approved (privateEndpointConnections[].privateLinkServiceConnectionState.status), the compute subnet under networkRuleSet.virtualNetworkRules, and the workspace under networkRuleSet.resourceAccessRules; from the compute, nslookup <account>.blob.core.windows.net returns the private endpoint address. Then `aml-netdoctor recheck` the report and run a job that reads the default datastore.',
    needs: FLOW_NEEDS,
    references: [
      'F#21',
      'S17',
      'S4',
      'https://learn.microsoft.com/azure/machine-learning/how-to-secure-workspace-vnet',
      'https://learn.microsoft.com/azure/storage/common/storage-network-security',
    ],
  },
  check,
} satisfies Rule;
