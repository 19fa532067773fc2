/** Broken scenarios with their documented fix applied, for tests that need "the same estate, fixed". */
import { idKey, nameOf } from '../../src/model/arm-id.ts';
import type { Scenario, ScenarioDnsAnswer, ScenarioResource } from '../../src/sim/scenario.ts';

const ZONE_TYPE = 'microsoft.network/privatednszones';

/**
 * The same estate after the documented fix: every private DNS zone linked to every VNet, so the
 * compute's resolver answers the workspace names (and the instance names that CNAME to them) from
 * the zones' A records instead of publicly.
 */
export function linkZonesToEveryVnet(broken: Scenario): Scenario {
  const typeOf = (r: ScenarioResource) => (r.type ?? '').toLowerCase();
  const zones = broken.resources.filter((r) => typeOf(r) === ZONE_TYPE);
  const vnets = broken.resources.filter((r) => typeOf(r) === 'microsoft.network/virtualnetworks');
  const links = broken.resources.filter((r) => typeOf(r) === `${ZONE_TYPE}/virtualnetworklinks`);
  const added: ScenarioResource[] = [];
  for (const zone of zones) {
    for (const vnet of vnets) {
      const linked = links.some((l) => idKey(l.id).startsWith(`${idKey(zone.id)}/`) && idKey(String((l.properties?.virtualNetwork as { id?: string } | undefined)?.id)) === idKey(vnet.id));
      if (linked) continue;
      const name = `link-${nameOf(vnet.id)}`;
      added.push({
        id: `${zone.id}/virtualNetworkLinks/${name}`,
        name,
        type: 'Microsoft.Network/privateDnsZones/virtualNetworkLinks',
        location: 'global',
        properties: { provisioningState: 'Succeeded', registrationEnabled: false, virtualNetwork: { id: vnet.id }, virtualNetworkLinkState: 'Completed' },
      });
    }
  }
  const records = new Map<string, string[]>();
  for (const r of broken.resources.filter((x) => typeOf(x) === `${ZONE_TYPE}/a`)) {
    const zone = zones.find((z) => idKey(r.id).startsWith(`${idKey(z.id)}/`));
    const ips = ((r.properties?.aRecords as Array<{ ipv4Address: string }> | undefined) ?? []).map((a) => a.ipv4Address);
    if (zone) records.set(`${nameOf(r.id)}.${nameOf(zone.id)}`.toLowerCase(), ips);
  }
  const dns: Record<string, ScenarioDnsAnswer> = {};
  for (const [name, answer] of Object.entries(broken.dns)) {
    const chain = [name, ...(answer.cname ?? [])];
    const at = chain.findIndex((n) => records.has(n.toLowerCase()));
    dns[name] = at < 0 ? answer : { ...(at > 0 ? { cname: chain.slice(1, at + 1) } : {}), a: records.get((chain[at] as string).toLowerCase()) ?? [] };
  }
  return { ...broken, name: `${broken.name}-fixed`, resources: [...broken.resources, ...added], dns, faults: [] };
}

