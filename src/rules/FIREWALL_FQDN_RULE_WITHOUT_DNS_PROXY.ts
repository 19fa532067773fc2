/**
 * FIREWALL_FQDN_RULE_WITHOUT_DNS_PROXY: an Azure Firewall on the compute subnets' routes has a
 * policy whose network rules (its own or its base policy's) name destination FQDNs while the DNS
 * proxy is off: such rules never match. Judged from the firewall configuration; the flow analysis
 * finds the firewalls on the routes and the flows the rules were meant to allow, whose
 * FIREWALL_BLOCKS_REQUIRED_DESTINATION findings this rule absorbs.
 */
import { idKey, nameOf, parentId, sameId } from '../model/arm-id.ts';
import type { FirewallPolicyObs, FirewallsObs, Snapshot } from '../model/snapshot.ts';
import type { Evidence } from '../report/schema.ts';
import { FLOW_NEEDS, type FindingDraft, type FlowId, type Rule, type RuleContext, type RuleResult } from './rule.ts';
import {
  analysisOf,
  destinationOf,
  firewallPolicyResource,
  firewallsUsing,
  fqdnNetworkRules,
  fqdnSubject,
  outOfScope,
  policyEntry,
  policyIdOfHop,
  snippetIn,
  subnetOf,
  verifyText,
  type FqdnRule,
} from './support-flows.ts';
import { azScope, isUnknown, listText, undetermined, unknownFrom, valuesByKey, workspaceOf, type Unknown } from './support.ts';
import type { FlowAnalysis } from '../flows/types.ts';

const CODE = 'FIREWALL_FQDN_RULE_WITHOUT_DNS_PROXY';

interface OnPath {
  /** Policy id -> the firewalls (names) that use it. */
  policies: Map<string, { id: string; firewalls: string[] }>;
  unknowns: Unknown[];
}

/** Appliance addresses of the compute subnets' routes: configured route tables and effective routes. */
function applianceIps(s: Snapshot, analysis: FlowAnalysis, unknowns: Unknown[]): string[] {
  const ips = new Set<string>();
  const subnetIds = [...new Set(analysis.flows.flatMap((f) => (f.subnetId ? [f.subnetId] : [])))];
  for (const subnetId of subnetIds) {
    const rtId = subnetOf(s, subnetId)?.routeTableId;
    const entry = rtId && s.subnetPolicies?.ok ? s.subnetPolicies.value.routeTables.find((r) => sameId(r.id, rtId)) : undefined;
    if (rtId && !entry?.observed.ok) unknowns.push({ unknown: true, item: `route table ${nameOf(rtId)} of subnet ${nameOf(subnetId)}`, reason: entry && !entry.observed.ok ? entry.observed.error.message : 'not read', resourceId: rtId });
    if (entry?.observed.ok) entry.observed.value.routes.filter((r) => r.nextHopType.toLowerCase() === 'virtualappliance' && r.nextHopIpAddress).forEach((r) => ips.add(r.nextHopIpAddress as string));
  }
  if (s.vantage?.ok) {
    for (const v of s.vantage.value.subnets) {
      const routes = v.vantage?.effectiveRoutes;
      if (routes?.ok) routes.value.filter((r) => r.state.toLowerCase() === 'active' && r.nextHopType.toLowerCase() === 'virtualappliance').forEach((r) => r.nextHopIpAddresses.forEach((ip) => ips.add(ip)));
    }
  }
  return [...ips];
}

function policiesOnPath(s: Snapshot, fw: FirewallsObs, analysis: FlowAnalysis): OnPath {
  const unknowns: Unknown[] = [];
  const policies = new Map<string, { id: string; firewalls: string[] }>();
  const add = (policyId: string, firewall: string) => {
    const p = policies.get(idKey(policyId)) ?? { id: policyId, firewalls: [] };
    if (!p.firewalls.includes(firewall)) p.firewalls.push(firewall);
    policies.set(idKey(policyId), p);
  };
  for (const ip of applianceIps(s, analysis, unknowns)) {
    const owner = fw.appliances.find((a) => a.ip === ip);
    const firewallId = owner?.owner === 'firewall' ? owner.ownerId : fw.firewalls.find((f) => f.observed.ok && f.observed.value.privateIpAddresses.includes(ip))?.id;
    if (!firewallId) continue;
    const entry = fw.firewalls.find((f) => sameId(f.id, firewallId));
    if (!entry?.observed.ok) {
      unknowns.push({ unknown: true, item: `Azure Firewall ${nameOf(firewallId)} (next hop ${ip})`, reason: entry && !entry.observed.ok ? entry.observed.error.message : 'not read', resourceId: firewallId });
      continue;
    }
    if (entry.observed.value.firewallPolicyId) add(entry.observed.value.firewallPolicyId, entry.observed.value.name);
  }
  // Firewall hops of the traced flows name the policy they evaluated.
  for (const f of analysis.flows) {
    for (const h of f.hops) {
      const id = h.kind === 'firewall' ? policyIdOfHop(s, h) : undefined;
      if (id && /\/firewallPolicies\//i.test(id) && !policies.has(idKey(id))) add(id, 'the firewall on the route');
    }
  }
  return { policies, unknowns };
}

/** Flows through this policy blocked at the firewall whose names a dead FQDN rule lists. */
function brokenFlows(s: Snapshot, analysis: FlowAnalysis, policyId: string, rules: FqdnRule[]): FlowId[] {
  const names = new Set(rules.flatMap((r) => r.rule.destinationFqdns.map((n) => n.toLowerCase())));
  const ids = analysis.flows
    .filter((f) => f.hops.some((h) => h.kind === 'firewall' && h.verdict === 'blocked' && sameId(policyIdOfHop(s, h), policyId)))
    .filter((f) => destinationOf(f).fqdns.some((n) => names.has(n)))
    .map((f) => f.id);
  return [...new Set(ids)];
}

/**
 * The policy with the DNS proxy on. A policy deployment sets every top-level property, so the ones
 * read are carried over and the comment says which others to copy; the VNets' DNS must then point
 * at the firewall (a VNet deployment would replace its subnets, so that stays an az command).
 */
function proxyBicep(s: Snapshot, analysis: FlowAnalysis, policy: FirewallPolicyObs): string {
  const fws = firewallsUsing(s, policy.id);
  const fw = fws[0];
  const ws = workspaceOf(s);
  const location = fw?.location ?? (isUnknown(ws) ? undefined : ws.location);
  const ip = fws.flatMap((f) => f.privateIpAddresses)[0] ?? '<firewall private IP>';
  const vnets = [...new Set(analysis.flows.flatMap((f) => (f.subnetId ? [parentId(f.subnetId)] : [])))];
  const dns = vnets.map((v) => `az network vnet update ${azScope(v)} -n ${nameOf(v)} --dns-servers ${ip}`);
  const note = [
    `Turns on the DNS proxy of firewall policy ${policy.name}, so its network rules with FQDNs can match.`,
    'Deploying the policy sets all its properties: copy from az network firewall policy show anything else it has (dnsSettings.servers, intrusionDetection, insights, snat, explicitProxy, tags).',
    `Then point the compute VNets' DNS at the firewall (${ip}) so the firewall and the computes resolve names alike, and restart the computes:`,
    ...dns.map((c) => `  ${c}`),
  ];
  return snippetIn(
    s,
    [policy.id],
    [
      firewallPolicyResource({
        symbol: 'policy',
        name: policy.name,
        ...(location ? { location } : {}),
        ...(fw?.skuTier ? { tier: fw.skuTier } : {}),
        ...(policy.basePolicyId ? { basePolicyId: policy.basePolicyId } : {}),
        ...(policy.threatIntelMode ? { threatIntelMode: policy.threatIntelMode } : {}),
        dnsProxy: true,
      }),
    ],
    note.join('\n'),
  );
}

function finding(s: Snapshot, analysis: FlowAnalysis, policy: FirewallPolicyObs, firewalls: string[], rules: FqdnRule[], proxy: boolean | undefined): FindingDraft {
  const flows = brokenFlows(s, analysis, policy.id, rules);
  const ruleText = (r: FqdnRule) => `${r.rule.name} (${r.policy.id === policy.id ? '' : `base policy ${r.policy.name}, `}${r.group}/${r.collection}: ${r.rule.destinationFqdns.join(', ')} ${r.rule.ipProtocols.join('/')} ${r.rule.destinationPorts.join(', ')})`;
  const explanation =
    `Firewall policy ${policy.name}, used by ${listText(firewalls)} on the compute subnets' routes, has network rules that name FQDNs: ${listText(rules.map(ruleText))}. ` +
    `Its DNS proxy is off (dnsSettings.enableProxy ${proxy === false ? 'false' : 'not set'}), and Azure Firewall resolves FQDNs in network rules only through its DNS proxy, so these rules never match and the traffic they were meant to allow falls through to a deny. ` +
    (flows.length ? `This breaks ${listText(flows)}.` : 'No traced flow depends on them right now, but the rules silently do nothing.');
  const evidence: Evidence[] = [
    { resourceId: policy.id, property: 'properties.dnsSettings.enableProxy', observed: String(proxy ?? 'not set (false)'), expected: 'true while network rules use destinationFqdns' },
    ...rules.map((r): Evidence => ({ resourceId: `${r.policy.id}/ruleCollectionGroups/${r.group}`, property: `properties.ruleCollections[${r.collection}].rules[${r.rule.name}].destinationFqdns`, observed: r.rule.destinationFqdns.join(', '), expected: 'honoured only with the DNS proxy on; use application rules (80/443) or service tags instead' })),
  ];
  return {
    resourceId: policy.id,
    confidence: 'medium',
    explanation,
    evidence,
    remediation: {
      summary:
        `Enable the DNS proxy on firewall policy ${policy.name}, and point the compute VNets' DNS at the firewall's private IP so the firewall and the computes resolve names alike (keep the private DNS zones reachable from the firewall's VNet). ` +
        'Or move the FQDNs into application rules (TCP 80/443) and use service tags, such as AzureMachineLearning for UDP 5831, in network rules.',
      azCli: [`az network firewall policy update ${azScope(policy.id)} -n ${policy.name} --enable-dns-proxy true`],
      bicep: proxyBicep(s, analysis, policy),
      verify: verifyText(`az network firewall policy show ${azScope(policy.id)} -n ${policy.name} --query dnsSettings.enableProxy -o tsv`, 'true', flows),
    },
    // Shared with the FIREWALL_BLOCKS_REQUIRED_DESTINATION findings of the flows these rules were meant to allow.
    subjects: [fqdnSubject(policy.id)],
    flows,
  };
}

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  const analysis = analysisOf(s, context);
  const early = outOfScope(s, analysis);
  if (early) return early;
  if (!s.firewalls?.ok) return [undetermined(unknownFrom("Azure Firewalls on the compute subnets' routes", s.firewalls, 'the firewalls'))];
  const fw = s.firewalls.value;
  const { policies, unknowns } = policiesOnPath(s, fw, analysis);
  const results: RuleResult[] = unknowns.map(undetermined);
  if (policies.size === 0 && unknowns.length === 0) {
    return [{ status: 'pass', resourceId: s.target.workspaceId, detail: "Does not apply: no Azure Firewall is on the compute subnets' routes." }];
  }
  for (const { id, firewalls } of valuesByKey(policies)) {
    const entry = policyEntry(fw, id);
    if (!entry?.observed.ok) {
      results.push(undetermined({ unknown: true, item: `firewall policy ${nameOf(id)}`, reason: entry && !entry.observed.ok ? entry.observed.error.message : 'not read', resourceId: id }));
      continue;
    }
    const policy = entry.observed.value;
    const found = fqdnNetworkRules(fw, policy);
    if (isUnknown(found)) {
      results.push(undetermined(found));
      continue;
    }
    const { rules, proxy } = found;
    if (rules.length === 0) results.push({ status: 'pass', resourceId: id, detail: `Firewall policy ${policy.name} has no network rule with destination FQDNs.` });
    else if (proxy === true) results.push({ status: 'pass', resourceId: id, detail: `Firewall policy ${policy.name} has the DNS proxy on, so its ${rules.length} FQDN network rule${rules.length > 1 ? 's' : ''} can match.` });
    else results.push({ status: 'fail', finding: finding(s, analysis, policy, firewalls, rules, proxy) });
  }
  return results;
}

export const rule = {
  meta: {
    code: CODE,
    tier: 2,
    severity: 'high',
    title: "Firewall network rules use FQDNs while the policy's DNS proxy is off",
    role: 'cause',
    flows: ['aml-service', 'entra-id', 'arm', 'storage', 'key-vault', 'container-registry', 'mcr', 'batch'],
    description:
      "An Azure Firewall on the compute subnets' routes has a policy (or base policy) with network rules that list destination FQDNs, while the policy's DNS proxy (dnsSettings.enableProxy) is off. Azure Firewall only resolves FQDNs in network rules through its DNS proxy, so these rules never match; wildcards are not supported in them either.",
    impact:
      'The traffic those rules were written to allow falls through to a deny, typically the Azure ML ports that are not HTTP(S) such as UDP 5831 and TCP 18881, or storage on TCP 445: compute creation, notebooks or file shares fail, and the firewall configuration looks correct at first sight.',
    resolution:
      "Enable the DNS proxy on the firewall policy (and use the firewall as the computes' DNS server so both resolve alike), or replace the FQDN network rules with application rules for HTTP(S) and service tags for other ports.",
    verification:
      "Show the policy's DNS settings (az network firewall policy show --query dnsSettings.enableProxy): true. Then run aml-netdoctor recheck on the report: the flows the FQDN rules allow must be allowed.",
    needs: FLOW_NEEDS,
    absorbs: ['FIREWALL_BLOCKS_REQUIRED_DESTINATION'],
    references: [
      'F#14',
      'S3',
      'S31',
      'https://learn.microsoft.com/azure/firewall/fqdn-filtering-network-rules',
      'https://learn.microsoft.com/azure/firewall/dns-settings',
      'https://learn.microsoft.com/cli/azure/network/firewall/policy',
    ],
  },
  check,
} satisfies Rule;
