/**
 * KEY_VAULT_NETWORK_BLOCKS_COMPUTE: the workspace's key vault is network-restricted (public access
 * disabled, or default action Deny) and admits neither a compute subnet (no reachable approved
 * vault private endpoint, no virtual network rule with the service endpoint) nor, through the
 * trusted-services bypass, the workspace itself.
 */
import { analyzeFlows } from '../flows/analyze.ts';
import type { DependencyObs, Snapshot, WorkspaceObs } from '../model/snapshot.ts';
import { FLOW_NEEDS, type Rule, type RuleContext, type RuleResult } from './rule.ts';
import { azScope } from './support.ts';
import { KEY_VAULT, bypassesAzureServices, judgeDependencyNetwork, type WorkspaceAdmission } from './support-dependencies.ts';

const CODE = 'KEY_VAULT_NETWORK_BLOCKS_COMPUTE';

function workspaceAdmission(d: DependencyObs, ws: WorkspaceObs): WorkspaceAdmission {
  const n = d.network;
  if (bypassesAzureServices(n)) return { admitted: true, how: `trusted Azure services may bypass the firewall (bypass ${n.bypass.join(', ')})`, evidence: [], summary: '', azCli: [] };
  return {
    admitted: false,
    how: `trusted Azure services may not bypass the firewall (bypass ${n.bypass.join(', ') || 'None'}), and Azure ML reaches the vault as a trusted service`,
    evidence: [{ resourceId: d.id, property: 'properties.networkAcls.bypass', observed: n.bypass.join(', ') || 'None', expected: 'AzureServices' }],
    summary: `Allow trusted Microsoft services to bypass the firewall of ${d.name} so workspace ${ws.name} can read its secrets.`,
    azCli: [`az keyvault update ${azScope(d.id)} --name ${d.name} --bypass AzureServices`],
    edit: { bypass: ['AzureServices'] },
    check: { query: 'properties.networkAcls.bypass', prints: 'AzureServices' },
  };
}

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  return judgeDependencyNetwork(s, () => context?.flows ?? analyzeFlows(s), {
    spec: KEY_VAULT,
    workspaceAdmission,
    breaks:
      'Jobs and compute cannot fetch the secrets the workspace keeps there (storage keys, registry credentials, datastore secrets), so they fail with 403 Forbidden or time out; this breaks jobs, not sign-in itself.',
  });
}

export const rule = {
  meta: {
    code: CODE,
    tier: 2,
    severity: 'high',
    title: 'Key vault network rules shut out the compute or the workspace',
    role: 'cause',
    flows: ['key-vault'],
    description:
      "The workspace's key vault has public network access disabled or a firewall that denies by default, and nothing admits the compute: no approved vault private endpoint in the compute VNet or a VNet peered with it, and no virtual network rule for the compute subnet with the Microsoft.KeyVault service endpoint on it. Or the workspace itself is shut out: trusted Microsoft services may not bypass the firewall.",
    impact:
      'The key vault holds the storage connection string, registry credentials and datastore secrets. Jobs and computes that cannot read them fail (403 Forbidden or timeouts). This breaks jobs; it does not by itself cause the device-login prompt.',
    resolution:
      'Create a vault private endpoint (with a DNS zone group for privatelink.vaultcore.azure.net in the public cloud) in the compute VNet, or, with public access enabled, add a virtual network rule for the compute subnet and the Microsoft.KeyVault service endpoint on it. Keep "Allow trusted Microsoft services to bypass this firewall" on (`az keyvault update --bypass AzureServices`).',
    verification:
      '`az keyvault show --ids <vault id>` lists the new vault private endpoint connection as Approved (properties.privateEndpointConnections[].privateLinkServiceConnectionState.status), the compute subnet under properties.networkAcls.virtualNetworkRules, and properties.networkAcls.bypass AzureServices; from the compute, nslookup <vault>.vault.azure.net returns the private endpoint address. Then `aml-netdoctor recheck` the report and rerun a job that uses a datastore.',
    needs: FLOW_NEEDS,
    references: [
      'F#22',
      'S17',
      'https://learn.microsoft.com/azure/machine-learning/how-to-secure-workspace-vnet',
      'https://learn.microsoft.com/azure/key-vault/general/network-security',
    ],
  },
  check,
} satisfies Rule;
