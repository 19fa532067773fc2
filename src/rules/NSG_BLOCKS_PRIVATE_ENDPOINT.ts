/**
 * NSG_BLOCKS_PRIVATE_ENDPOINT: an NSG rule denies the compute's traffic to the workspace private
 * endpoint (workspace-api, workspace-cert, notebooks, instance-name): outbound on the compute
 * subnet, or inbound on the endpoint's subnet when its private endpoint network policies apply NSGs.
 */
import type { Snapshot } from '../model/snapshot.ts';
import type { FlowResult } from '../flows/types.ts';
import { FLOW_NEEDS, type Rule, type RuleContext, type RuleResult } from './rule.ts';
import { judgeFlows, nsgFindings } from './support-flows.ts';

const CODE = 'NSG_BLOCKS_PRIVATE_ENDPOINT';

function impact(flows: FlowResult[]): string {
  const auth = flows.some((f) => f.authPath);
  return auth
    ? "The workspace API and cert names resolve to the private endpoint, so the compute instance's token request to the workspace cert API fails: azureml-core falls back to the device-login prompt, and jobs and the SDK cannot reach the workspace."
    : 'Notebooks and the compute instance’s own name are served through the workspace private endpoint: with the traffic denied, notebooks, file browsing and terminal access fail from the compute.';
}

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  return judgeFlows(
    s,
    context,
    { flows: ['workspace-api', 'workspace-cert', 'notebooks', 'instance-name'], reasons: ['nsg-deny'], evidenceKinds: ['nsg'], requiredKind: 'nsg', subject: 'NSG rules', passes: 'no NSG rule denies them' },
    (hits) => nsgFindings(s, hits, { impact, tierByFlow: true }),
  );
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'An NSG rule denies the compute traffic to the workspace private endpoint',
    role: 'cause',
    flows: ['workspace-api', 'workspace-cert', 'notebooks', 'instance-name'],
    description:
      "A network security group denies TCP 443 from the compute to the workspace private endpoint's address: outbound on the compute subnet (a Deny to VirtualNetwork or to the endpoint's prefix before any allow), or inbound on the endpoint's subnet when its privateEndpointNetworkPolicies is Enabled or NetworkSecurityGroupEnabled, which makes that subnet's NSG apply to private endpoint traffic.",
    impact:
      "The workspace API and cert names resolve to the endpoint, so the compute instance's managed-identity token request to the workspace cert API fails: azureml-core falls back to the device-login prompt and jobs cannot reach the workspace. Blocking only the notebooks or instance names breaks notebooks and terminal access (tier 2).",
    resolution:
      "Add an Allow rule for TCP 443 to the endpoint's private IPs (outbound on the compute subnet's NSG, or inbound from the compute subnet on the endpoint subnet's NSG) with a priority number lower than the blocking Deny rule.",
    verification:
      'Read the NSG\'s rules in priority order (az network nsg rule list --include-default), or the effective rules of a VM NIC in the compute subnet for an outbound deny: the Allow rule for TCP 443 to the endpoint\'s private IPs must come before the Deny. Then run aml-netdoctor recheck on the report: the workspace flows must be allowed.',
    needs: FLOW_NEEDS,
    references: [
      'F#9',
      'S3',
      'S4',
      'S16',
      'https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link',
      'https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy',
      'https://learn.microsoft.com/cli/azure/network/nsg/rule',
    ],
  },
  check,
} satisfies Rule;
