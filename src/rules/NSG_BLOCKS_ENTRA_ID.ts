/**
 * NSG_BLOCKS_ENTRA_ID: an NSG rule that applies to the compute subnet denies the entra-id flow
 * (TCP 80/443 to the AzureActiveDirectory tag, login.microsoftonline.com).
 */
import type { Snapshot } from '../model/snapshot.ts';
import { FLOW_NEEDS, type Rule, type RuleContext, type RuleResult } from './rule.ts';
import { judgeFlows, nsgFindings } from './support-flows.ts';

const CODE = 'NSG_BLOCKS_ENTRA_ID';

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  return judgeFlows(s, context, { flows: ['entra-id'], reasons: ['nsg-deny'], evidenceKinds: ['nsg'], requiredKind: 'nsg', subject: 'NSG rules', passes: 'no NSG rule denies them' }, (hits) =>
    nsgFindings(s, hits, {
      impact: () =>
        'Without Entra ID the compute gets no token at all: the SDK falls back to the device-login prompt, and the device-code sign-in itself cannot complete from the compute because it needs login.microsoftonline.com too.',
    }),
  );
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'An NSG rule denies the compute outbound access to Entra ID',
    role: 'cause',
    flows: ['entra-id'],
    description:
      'A network security group that applies to the compute subnet (or, with a vantage VM, to its NIC) has a Deny rule that matches outbound TCP 80/443 to the AzureActiveDirectory service tag (login.microsoftonline.com) before any rule allows it, typically a custom DenyInternet or DenyAll rule with a lower priority number than the allow rules.',
    impact:
      'Every token the compute needs comes from Entra ID. With the flow denied, managed-identity and CLI credentials fail, azureml-core prints the device-login prompt, and the device-code sign-in cannot complete either, because it needs the same endpoint.',
    resolution:
      'Add an outbound Allow rule for TCP 80 and 443 to the AzureActiveDirectory service tag with a priority number lower than the blocking Deny rule, leaving the Deny in place for everything else.',
    verification:
      'Read the compute NIC\'s effective security rules (az network nic list-effective-nsg on a VM NIC in the compute subnet) or the NSG\'s rules in priority order: the new outbound Allow rule for AzureActiveDirectory on TCP 80 and 443 must come before the Deny. Then run aml-netdoctor recheck on the report: the entra-id flow must be allowed.',
    needs: FLOW_NEEDS,
    references: [
      'F#10',
      'S3',
      'S6',
      'https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall',
      'https://learn.microsoft.com/azure/machine-learning/how-to-secure-training-vnet',
      'https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview',
      'https://learn.microsoft.com/cli/azure/network/nsg/rule',
    ],
  },
  check,
} satisfies Rule;
