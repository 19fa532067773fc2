/**
 * Every probe, in run order. The runner (src/collect.ts) orders by `needs`; this order is the
 * tie-break and the order progress is reported in.
 */
import type { Probe } from './probe.ts';
import type { ProbeId } from '../src/model/snapshot.ts';
import { probe as workspace } from './workspace.ts';
import { probe as computes } from './computes.ts';
import { probe as privateEndpoints } from './private-endpoints.ts';
import { probe as networks } from './networks.ts';
import { probe as privateDnsZones } from './private-dns-zones.ts';
import { probe as dns } from './dns.ts';
import { probe as serviceTags } from './service-tags.ts';
import { probe as subnetPolicies } from './subnet-policies.ts';
import { probe as vantage } from './vantage.ts';
import { probe as firewalls } from './firewalls.ts';
import { probe as dependencies } from './dependencies.ts';

export const probes = [workspace, computes, privateEndpoints, networks, privateDnsZones, dependencies, dns, serviceTags, subnetPolicies, vantage, firewalls] as const;

export const probeById: { readonly [K in ProbeId]: Probe<K> } = {
  workspace,
  computes,
  privateEndpoints,
  networks,
  privateDnsZones,
  dns,
  serviceTags,
  subnetPolicies,
  vantage,
  firewalls,
  dependencies,
};
