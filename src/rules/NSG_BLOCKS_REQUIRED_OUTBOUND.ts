/**
 * NSG_BLOCKS_REQUIRED_OUTBOUND: an NSG rule that applies to the compute subnet denies a flow the
 * computes need for jobs, images and node management: arm, storage, key-vault,
 * container-registry, mcr or batch.
 */
import type { Snapshot } from '../model/snapshot.ts';
import type { FlowResult } from '../flows/types.ts';
import { FLOW_NEEDS, type FlowId, type Rule, type RuleContext, type RuleResult } from './rule.ts';
import { judgeFlows, nsgFindings } from './support-flows.ts';
import { listText } from './support.ts';

const CODE = 'NSG_BLOCKS_REQUIRED_OUTBOUND';
const FLOWS: FlowId[] = ['arm', 'storage', 'key-vault', 'container-registry', 'mcr', 'batch'];

const EFFECT: Partial<Record<FlowId, string>> = {
  arm: 'SDK v2 and CLI operations on the workspace go through Azure Resource Manager and fail',
  storage: 'jobs cannot read or write the default datastore, code snapshots and the notebook file share',
  'key-vault': 'jobs and the workspace cannot read their secrets (storage keys, registry credentials)',
  'container-registry': 'job and environment images cannot be pulled from or pushed to the workspace registry',
  mcr: 'Microsoft base images cannot be pulled, so environments and jobs fail to start',
  batch: 'the Batch node management channel is cut, so computes stay in creating or become unusable',
};

function impact(flows: FlowResult[]): string {
  const effects = [...new Set(flows.flatMap((f) => EFFECT[f.id] ?? []))];
  return `Effect: ${listText(effects)}.`;
}

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  return judgeFlows(s, context, { flows: FLOWS, reasons: ['nsg-deny'], evidenceKinds: ['nsg'], requiredKind: 'nsg', subject: 'NSG rules', passes: 'no NSG rule denies them' }, (hits) => nsgFindings(s, hits, { impact }));
}

export const rule = {
  meta: {
    code: CODE,
    tier: 2,
    severity: 'high',
    title: 'An NSG rule denies outbound traffic the computes need for jobs, images or node management',
    role: 'cause',
    flows: FLOWS,
    description:
      'A network security group that applies to the compute subnet (or to the vantage NIC) has a Deny rule that matches one of the required outbound flows before any rule allows it: Azure Resource Manager, the default storage account (TCP 443 and 445), the key vault, the container registry, Microsoft Container Registry or Batch node management. The evidence names the flow and port.',
    impact:
      'Sign-in still works, but jobs, environment image builds and compute lifecycle break: datastores and code snapshots are unreachable, images cannot be pulled, secrets cannot be read, and without Batch node management computes stay in creating or become unusable.',
    resolution:
      "Add outbound Allow rules for the flow's ports to its service tag (Storage.<region>, AzureKeyVault.<region>, MicrosoftContainerRegistry and AzureFrontDoor.FirstParty, BatchNodeManagement.<region>, AzureResourceManager) or private endpoint addresses, with priority numbers lower than the blocking Deny rule.",
    verification:
      'Read the compute NIC\'s effective security rules (az network nic list-effective-nsg on a VM NIC in the compute subnet) or the NSG\'s rules in priority order: each new Allow rule for the flow\'s service tag or address and ports must come before the Deny. Then run aml-netdoctor recheck on the report: the flows must be allowed.',
    needs: FLOW_NEEDS,
    references: [
      'F#16',
      'S3',
      'S4',
      'S17',
      'S29',
      'https://learn.microsoft.com/azure/machine-learning/how-to-secure-training-vnet',
      'https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall',
      'https://learn.microsoft.com/cli/azure/network/nsg/rule',
    ],
  },
  check,
} satisfies Rule;
