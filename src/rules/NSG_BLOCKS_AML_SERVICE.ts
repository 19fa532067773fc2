/**
 * NSG_BLOCKS_AML_SERVICE: an NSG rule that applies to the compute subnet denies the aml-service
 * flow (TCP 443 / 18881 and UDP 5831 to the AzureMachineLearning tag).
 */
import type { Snapshot } from '../model/snapshot.ts';
import { FLOW_NEEDS, type Rule, type RuleContext, type RuleResult } from './rule.ts';
import { judgeFlows, nsgFindings } from './support-flows.ts';

const CODE = 'NSG_BLOCKS_AML_SERVICE';

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  return judgeFlows(s, context, { flows: ['aml-service'], reasons: ['nsg-deny'], evidenceKinds: ['nsg'], requiredKind: 'nsg', subject: 'NSG rules', passes: 'no NSG rule denies them' }, (hits) =>
    nsgFindings(s, hits, {
      impact: () =>
        "A compute instance's managed identity is served by an agent that fetches its tokens from the regional <region>.cert.api.azureml.ms service over the AzureMachineLearning tag: with the flow denied the token request fails silently, azureml-core falls back to the device-login prompt, and UDP 5831 (compute create, update and delete) and TCP 18881 (notebook IntelliSense) fail as well.",
    }),
  );
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'An NSG rule denies the compute outbound access to the Azure Machine Learning service',
    role: 'cause',
    flows: ['aml-service'],
    description:
      'A network security group that applies to the compute subnet (or to the vantage NIC) has a Deny rule that matches outbound traffic to the AzureMachineLearning service tag on TCP 443, TCP 18881 or UDP 5831 before any rule allows it.',
    impact:
      "The compute instance's managed-identity endpoint gets its tokens from the regional Azure ML cert API (<region>.cert.api.azureml.ms) over the AzureMachineLearning tag. Denied, the token request fails, azureml-core swallows the error and prints the device-login prompt; compute create, update and delete (UDP 5831) fail too.",
    resolution:
      'Add outbound Allow rules for TCP 443 and 18881 and for UDP 5831 to the AzureMachineLearning service tag with priority numbers lower than the blocking Deny rule.',
    verification:
      'Read the compute NIC\'s effective security rules (az network nic list-effective-nsg on a VM NIC in the compute subnet) or the NSG\'s rules in priority order: the Allow rules for AzureMachineLearning on TCP 443, 18881 and UDP 5831 must come before the Deny. Then run aml-netdoctor recheck on the report: the aml-service flow must be allowed.',
    needs: FLOW_NEEDS,
    references: [
      'F#9',
      'S3',
      'S4',
      'S6',
      'S23',
      'https://learn.microsoft.com/azure/machine-learning/how-to-secure-training-vnet',
      'https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall',
      'https://learn.microsoft.com/cli/azure/network/nsg/rule',
    ],
  },
  check,
} satisfies Rule;
