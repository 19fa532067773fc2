/**
 * NSG_BLOCKS_REQUIRED_INBOUND: a compute in the subnet has a public IP and the compute subnet's
 * NSG denies the aml-inbound flow (TCP 44224 from the AzureMachineLearning tag).
 */
import type { Snapshot } from '../model/snapshot.ts';
import { FLOW_NEEDS, type Rule, type RuleContext, type RuleResult } from './rule.ts';
import { judgeFlows, nsgFindings } from './support-flows.ts';

const CODE = 'NSG_BLOCKS_REQUIRED_INBOUND';

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  return judgeFlows(s, context, { flows: ['aml-inbound'], reasons: ['nsg-deny'], evidenceKinds: ['nsg'], requiredKind: 'nsg', subject: 'NSG rules', passes: 'no NSG rule denies them' }, (hits) =>
    nsgFindings(s, hits, {
      impact: () =>
        'Azure Machine Learning manages public-IP computes through inbound TCP 44224 from the AzureMachineLearning tag: denied, compute creation, start and updates fail or hang. Computes without a public IP (enableNodePublicIp false) need no inbound rule.',
    }),
  );
}

export const rule = {
  meta: {
    code: CODE,
    tier: 2,
    severity: 'high',
    title: 'An NSG rule denies the inbound management traffic a public-IP compute needs',
    role: 'cause',
    flows: ['aml-inbound'],
    description:
      "A compute in the subnet has a public IP (enableNodePublicIp is not false) and the compute subnet's network security group denies inbound TCP 44224 from the AzureMachineLearning service tag before any rule allows it, often through the default DenyAllInBound rule.",
    impact:
      'The Azure Machine Learning service reaches public-IP computes on TCP 44224 to manage them. With that denied, compute creation, start and updates fail or hang; sign-in is not affected.',
    resolution:
      'Add an inbound Allow rule for TCP 44224 from the AzureMachineLearning service tag to VirtualNetwork with a priority number lower than the blocking Deny rule, or recreate the compute without a public IP (enableNodePublicIp false), which needs no inbound rule.',
    verification:
      'Read the NSG\'s inbound rules in priority order (az network nsg rule list --include-default): the Allow rule for TCP 44224 from AzureMachineLearning must come before the Deny. Then run aml-netdoctor recheck on the report: the aml-inbound flow must be allowed.',
    needs: FLOW_NEEDS,
    references: [
      'F#17',
      'S4',
      'S5',
      'S7',
      'https://learn.microsoft.com/azure/machine-learning/how-to-secure-training-vnet',
      'https://learn.microsoft.com/cli/azure/network/nsg/rule',
    ],
  },
  check,
} satisfies Rule;
