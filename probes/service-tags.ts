/**
 * Reads the Azure service tags (name -> IPv4 prefixes) as ARM publishes them for the workspace's
 * region, in the workspace's subscription. Flow analysis expands tag destinations and NSG/route
 * prefixes with them; without them it can only match tags by name.
 */
import type { ServiceTagInformation } from '@azure/arm-network';
import type { Probe } from './probe.ts';
import { normalizeRegion } from '../src/model/cloud.ts';
import { failed, observed, type ServiceTagObs } from '../src/model/snapshot.ts';
import { skipped, toProbeError } from '../src/azure/errors.ts';

export const probe = {
  id: 'serviceTags',
  title: 'reading the Azure service tags',
  needs: ['workspace'],
  async run(ctx, snapshot) {
    const workspace = snapshot.workspace;
    if (!workspace?.ok) {
      return failed(skipped('reading the service tags', 'the workspace could not be read', ctx.target.workspaceId));
    }
    const { subscriptionId, location } = workspace.value;
    if (!location) {
      return failed(skipped('reading the service tags', 'the workspace has no location', workspace.value.id));
    }
    const scope = `/subscriptions/${subscriptionId}/providers/Microsoft.Network/locations/${location}/serviceTags`;
    try {
      const result = await ctx.azure.network(subscriptionId).serviceTags.list(location, { ...ctx.azure.call(ctx.signal) });
      return observed({
        location,
        cloud: result.cloud,
        changeNumber: result.changeNumber,
        tags: (result.values ?? []).flatMap(toServiceTagObs),
      });
    } catch (err) {
      return failed(toProbeError(err, `listing the service tags of ${location} in subscription ${subscriptionId}`, scope));
    }
  },
} satisfies Probe<'serviceTags'>;

export function toServiceTagObs(v: ServiceTagInformation): ServiceTagObs[] {
  const name = v.name ?? v.id;
  if (!name) return [];
  const props = v.properties;
  return [
    {
      name,
      region: normalizeRegion(props?.region ?? ''),
      ...(props?.systemService ? { systemService: props.systemService } : {}),
      // The flows are IPv4; IPv6 prefixes (anything with a ':') would only confuse CIDR parsing.
      addressPrefixes: (props?.addressPrefixes ?? []).filter((p) => !p.includes(':')),
    },
  ];
}
