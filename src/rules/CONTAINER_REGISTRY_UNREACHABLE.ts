/**
 * CONTAINER_REGISTRY_UNREACHABLE: the workspace's container registry is network-restricted (public
 * access disabled, or default action Deny) and either is not Premium (private endpoints and network
 * rules need Premium) or has no approved registry private endpoint the compute can reach.
 */
import { analyzeFlows } from '../flows/analyze.ts';
import type { DependencyObs, Snapshot } from '../model/snapshot.ts';
import { FLOW_NEEDS, type Rule, type RuleContext, type RuleResult } from './rule.ts';
import { azScope } from './support.ts';
import { REGISTRY, judgeDependencyNetwork, type DependencyProblem } from './support-dependencies.ts';

const CODE = 'CONTAINER_REGISTRY_UNREACHABLE';

function skuProblem(d: DependencyObs): DependencyProblem | undefined {
  if (!d.sku || d.sku.toLowerCase() === 'premium') return undefined;
  return {
    text: `It is on the ${d.sku} SKU: private endpoints and network rules need Premium, so no private path to it can exist.`,
    evidence: [{ resourceId: d.id, property: 'sku.name', observed: d.sku, expected: 'Premium' }],
    summary: `Move ${d.name} to the Premium SKU (private endpoints and network rules need it).`,
    azCli: [`az acr update ${azScope(d.id)} -n ${d.name} --sku Premium`],
    edit: { sku: 'Premium' },
    check: { query: 'sku.name', prints: 'Premium' },
  };
}

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  return judgeDependencyNetwork(s, () => context?.flows ?? analyzeFlows(s), {
    spec: REGISTRY,
    problem: skuProblem,
    breaks:
      'Computes cannot pull environment images from the registry (and image builds cannot push to it), so jobs and deployments fail while preparing the image; this breaks jobs, not sign-in itself.',
  });
}

export const rule = {
  meta: {
    code: CODE,
    tier: 2,
    severity: 'high',
    title: 'Container registry is network-restricted and not reachable from the compute',
    role: 'cause',
    flows: ['container-registry'],
    description:
      "The workspace's container registry has public network access disabled or network rules that deny by default, and either it is not on the Premium SKU (private endpoints and network rules need Premium) or it has no approved registry private endpoint in the compute VNet or a VNet peered with it.",
    impact:
      'Computes cannot pull the environment images jobs run in, and image builds cannot push them, so jobs and deployments fail while preparing the environment. This breaks jobs; it does not by itself cause the device-login prompt.',
    resolution:
      'Move the registry to Premium (`az acr update --sku Premium`) and create a registry private endpoint (with a DNS zone group for privatelink.azurecr.io in the public cloud) in the compute VNet or a VNet peered with it; approve a pending endpoint connection. Then make sure image builds run on a CPU compute cluster in the VNet (IMAGE_BUILD_COMPUTE_MISSING).',
    verification:
      '`az acr show --ids <registry id>` shows sku.name Premium and the new registry private endpoint connection as Approved (privateEndpointConnections[].privateLinkServiceConnectionState.status); from the compute, nslookup <registry>.azurecr.io returns the private endpoint address. Then `aml-netdoctor recheck` the report and run a job with a custom environment.',
    needs: FLOW_NEEDS,
    references: [
      'F#23',
      'S16',
      'S17',
      'https://learn.microsoft.com/azure/machine-learning/how-to-secure-workspace-vnet',
      'https://learn.microsoft.com/azure/container-registry/container-registry-private-link',
    ],
  },
  check,
} satisfies Rule;
