/**
 * FIREWALL_BLOCKS_REQUIRED_DESTINATION: a compute subnet's route sends a required flow through an
 * Azure Firewall whose policy denies it (a Deny collection matches first) or has no rule that
 * allows it. Blames the firewall policy; tier 1 for auth-path flows, else 2. Flows that a network
 * rule with FQDNs was meant to allow while the DNS proxy is off get their own finding, which shares
 * a subject with (and is folded into) FIREWALL_FQDN_RULE_WITHOUT_DNS_PROXY.
 */
import { OUTBOUND_FLOWS } from '../flows/catalogue.ts';
import { idKey, nameOf, sameId } from '../model/arm-id.ts';
import type { FirewallPolicyObs, RuleCollectionGroupObs, RuleCollectionObs, Snapshot } from '../model/snapshot.ts';
import type { Evidence } from '../report/schema.ts';
import { FLOW_NEEDS, type FindingDraft, type FlowId, type Rule, type RuleContext, type RuleResult } from './rule.ts';
import { bicepResource, raw, type BicepValue } from './support-bicep.ts';
import {
  confidenceOf,
  deadFqdnNames,
  destinationOf,
  firewallOf,
  firewallPolicyResource,
  flowEvidence,
  flowIds,
  flowsOf,
  flowText,
  groupHits,
  hitDetails,
  judgeFlows,
  policyIdOfHop,
  policyOf,
  portGroups,
  fqdnSubject,
  snippetIn,
  sourcePrefixes,
  subnetSubjects,
  tierOf,
  verifyText,
  whoNeeds,
  type Hit,
} from './support-flows.ts';
import { azScope, isUnknown, listText, workspaceOf } from './support.ts';

const CODE = 'FIREWALL_BLOCKS_REQUIRED_DESTINATION';
const FLOWS: FlowId[] = [...OUTBOUND_FLOWS];

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  return judgeFlows(
    s,
    context,
    { flows: FLOWS, reasons: ['firewall-deny', 'firewall-no-matching-rule'], evidenceKinds: ['route', 'firewall'], requiredKind: 'route', subject: 'firewall rules', passes: 'no firewall on their route denies them' },
    (hits) => {
      // Priorities and group names handed out across findings, so the fixes of two findings never collide.
      const taken = new Map<string, Set<number>>();
      const names = new Map<string, Set<string>>();
      // Flows a dead FQDN network rule was meant to allow get their own finding, which that rule's finding absorbs.
      const dead = new Map<string, Set<string>>();
      const deadFor = (h: Hit) => {
        const key = idKey(policyIdOfHop(s, h.hop) ?? '');
        if (!dead.has(key)) dead.set(key, deadFqdnNames(s, policyIdOfHop(s, h.hop)));
        return destinationOf(h.flow).fqdns.some((n) => (dead.get(key) as Set<string>).has(n.toLowerCase()));
      };
      // Auth-path findings first: they get the first priorities.
      return groupHits(hits, (h) => `${h.flow.authPath ? 0 : 1}|${idKey(policyIdOfHop(s, h.hop) ?? '')}|${h.hop.reason}|${(h.hop.element ?? '').toLowerCase()}|${deadFor(h) ? 'fqdn' : ''}`).map((g) =>
        finding(s, g, taken, names, deadFor(g[0] as Hit)),
      );
    },
  );
}

/** The collection that denied the flow, found by its (and its group's) name in the hop element, in the policy or its base policy. */
interface Located {
  policy: FirewallPolicyObs;
  group: RuleCollectionGroupObs;
  collection: RuleCollectionObs;
}

function locate(s: Snapshot, policy: FirewallPolicyObs | undefined, element: string | undefined): Located | undefined {
  const text = (element ?? '').toLowerCase();
  if (!policy || !text) return undefined;
  const candidates: Located[] = [];
  for (const p of [policy, policyOf(s, policy.basePolicyId)]) {
    if (!p?.ruleCollectionGroups.ok) continue;
    for (const group of p.ruleCollectionGroups.value) {
      for (const collection of group.ruleCollections) {
        if (text.includes(collection.name.toLowerCase()) && text.includes(group.name.toLowerCase())) candidates.push({ policy: p, group, collection });
      }
    }
  }
  return candidates.sort((a, b) => b.collection.name.length - a.collection.name.length)[0];
}

/**
 * Free collection priorities in a group (100-65000): below a Deny collection (highest first), or,
 * when nothing matched, any free ones (lowest first).
 */
function freeCollectionPriorities(group: RuleCollectionGroupObs | undefined, taken: Set<number>, below: number | undefined, count: number): number[] {
  const used = new Set([...(group?.ruleCollections ?? []).map((c) => c.priority), ...taken]);
  const out: number[] = [];
  const [from, step] = below === undefined ? [100, 1] : [Math.min(below - 1, 65000), -1];
  for (let p = from; p >= 100 && p <= 65000 && out.length < count; p += step) if (!used.has(p)) out.push(p);
  out.forEach((p) => taken.add(p));
  return out;
}

type NewRule =
  | { ruleType: 'ApplicationRule'; name: string; sources: string[]; protocols: Array<{ protocolType: 'Http' | 'Https'; port: number }>; fqdns: string[] }
  | { ruleType: 'NetworkRule'; name: string; sources: string[]; ipProtocols: string; destinations: string[]; ports: string[] };

interface NewCollection {
  name: string;
  rule: NewRule;
}

function ruleArgs(r: NewRule): string {
  return r.ruleType === 'ApplicationRule'
    ? `--rule-name ${r.name} --rule-type ApplicationRule --source-addresses ${r.sources.join(' ')} --protocols ${r.protocols.map((p) => `${p.protocolType}=${p.port}`).join(' ')} --target-fqdns ${r.fqdns.join(' ')}`
    : `--rule-name ${r.name} --rule-type NetworkRule --source-addresses ${r.sources.join(' ')} --ip-protocols ${r.ipProtocols} --destination-addresses ${r.destinations.join(' ')} --destination-ports ${r.ports.join(' ')}`;
}

function ruleBicep(r: NewRule): BicepValue {
  return r.ruleType === 'ApplicationRule'
    ? { ruleType: r.ruleType, name: r.name, sourceAddresses: r.sources, protocols: r.protocols.map((p) => ({ protocolType: p.protocolType, port: p.port })), targetFqdns: r.fqdns }
    : { ruleType: r.ruleType, name: r.name, sourceAddresses: r.sources, ipProtocols: [r.ipProtocols], destinationAddresses: r.destinations, destinationPorts: r.ports };
}

/** Application rules for the names on 80/443, network rules for the rest (or for everything when a network rule denied). */
function collectionsFor(s: Snapshot, hit: Hit, networkOnly: boolean): NewCollection[] {
  const f = hit.flow;
  const d = destinationOf(f);
  const sources = sourcePrefixes(s, [f]);
  const out: NewCollection[] = [];
  for (const g of portGroups(f)) {
    const web: string[] = g.protocol === 'Tcp' && !networkOnly && d.fqdns.length > 0 ? g.ports.filter((p) => p === '80' || p === '443') : [];
    const rest = g.ports.filter((p) => !web.includes(p));
    if (web.length) {
      const protocols = web.map((p) => (p === '80' ? { protocolType: 'Http' as const, port: 80 } : { protocolType: 'Https' as const, port: 443 }));
      out.push({ name: `allow-${f.id}-app`, rule: { ruleType: 'ApplicationRule', name: `allow-${f.id}`, sources, protocols, fqdns: d.fqdns } });
    }
    if (rest.length) {
      const proto = g.protocol === '*' ? 'Any' : g.protocol.toUpperCase();
      const dest = d.ips.length ? d.ips : d.tags.length ? d.tags : ['<destination>'];
      out.push({ name: `allow-${f.id}-${proto.toLowerCase()}`, rule: { ruleType: 'NetworkRule', name: `allow-${f.id}-${proto.toLowerCase()}`, sources, ipProtocols: proto, destinations: dest, ports: rest } });
    }
  }
  return out;
}

/** A free rule collection group priority (100-65000) in the policy: below `below` (highest first), or the lowest free one. */
function freeGroupPriority(groups: RuleCollectionGroupObs[], taken: Set<number>, below: number | undefined): number | undefined {
  const used = new Set([...groups.map((g) => g.priority), ...taken]);
  const [from, step] = below === undefined ? [100, 1] : [Math.min(below - 1, 65000), -1];
  for (let p = from; p >= 100 && p <= 65000; p += step) {
    if (!used.has(p)) {
      taken.add(p);
      return p;
    }
  }
  return undefined;
}

interface GroupPlan {
  policyId: string;
  policyName: string;
  /** The new group's name and priority (a placeholder text when none is free). */
  name: string;
  priority: number | string;
  /** Create the policy itself (a firewall without one). */
  create?: { firewallName: string; location?: string; tier?: string };
}

/**
 * A rule collection group is deployed as a whole (its collections replace the existing ones), so
 * the Bicep form puts the allows into a new group evaluated before the group that denies.
 */
function groupBicep(s: Snapshot, plan: GroupPlan, collections: NewCollection[], located: Located | undefined, denied: boolean): string {
  const group = bicepResource({
    symbol: 'allowGroup',
    type: 'Microsoft.Network/firewallPolicies/ruleCollectionGroups',
    name: plan.name,
    parent: 'policy',
    body: {
      properties: {
        priority: typeof plan.priority === 'number' ? plan.priority : raw('0 // no free priority: see the comment at the top'),
        ruleCollections: collections.map((c, i) => ({
          ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
          name: c.name,
          priority: 100 + i,
          action: { type: 'Allow' },
          rules: [ruleBicep(c.rule)],
        })),
      },
    },
  });
  if (plan.create) {
    return snippetIn(
      s,
      [plan.policyId],
      [firewallPolicyResource({ symbol: 'policy', name: plan.policyName, ...(plan.create.location ? { location: plan.create.location } : {}), ...(plan.create.tier ? { tier: plan.create.tier } : {}) }), group],
      `Azure Firewall ${plan.create.firewallName} has no policy: this creates ${plan.policyName} with the allows.\nThen attach it: az network firewall update ${azScope(plan.policyId)} -n ${plan.create.firewallName} --firewall-policy ${plan.policyName}`,
    );
  }
  const order = located
    ? typeof plan.priority === 'number'
      ? `Group ${plan.name} (priority ${plan.priority}) is evaluated before group ${located.group.name} (priority ${located.group.priority}), which holds the Deny collection ${located.collection.name}.`
      : `Group ${plan.name} must be evaluated before group ${located.group.name} (priority ${located.group.priority}), which holds the Deny collection ${located.collection.name}, but no lower group priority is free: ${plan.priority}.`
    : denied
      ? `Group ${plan.name} (priority ${plan.priority}, the lowest free number) holds the allows; the Deny that matched could not be located, so check that its group has a higher priority number.`
      : `Group ${plan.name} holds the allows; no Deny matches these flows, so its priority only orders it among the groups.`;
  return snippetIn(
    s,
    [plan.policyId],
    [bicepResource({ symbol: 'policy', type: 'Microsoft.Network/firewallPolicies', name: plan.policyName, existing: true }), group],
    `${order}\nA rule collection group is deployed as a whole, so the allows go into a new group rather than into an existing one (whose other collections a deployment would remove).`,
  );
}

/** Where the Bicep form puts the allows: a new group in the policy (or the group of a new policy). */
function groupPlan(s: Snapshot, policyId: string, bare: boolean, groupName: string, groups: RuleCollectionGroupObs[], located: Located | undefined, taken: Map<string, Set<number>>, names: Map<string, Set<string>>): GroupPlan {
  const policyName = nameOf(policyId);
  if (bare) {
    const fw = firewallOf(s, policyId);
    const ws = workspaceOf(s);
    const location = fw?.location ?? (isUnknown(ws) ? undefined : ws.location);
    return { policyId, policyName: `${policyName}-policy`, name: groupName, priority: 100, create: { firewallName: policyName, ...(location ? { location } : {}), ...(fw?.skuTier ? { tier: fw.skuTier } : {}) } };
  }
  const key = idKey(policyId);
  const usedNames = names.get(key) ?? new Set(groups.map((g) => g.name.toLowerCase()));
  names.set(key, usedNames);
  let name = 'aml-netdoctor-allow';
  for (let i = 2; usedNames.has(name); i++) name = `aml-netdoctor-allow-${i}`;
  usedNames.add(name);
  const prioritiesKey = `${key}|groups`;
  if (!taken.has(prioritiesKey)) taken.set(prioritiesKey, new Set());
  const below = located?.group.priority;
  const move = `move group ${located?.group.name ?? 'the denying group'} to a higher number first (az network firewall policy rule-collection-group update ${azScope(policyId)} --policy-name ${policyName} -n ${located?.group.name ?? '<group>'} --priority <higher free number>)`;
  const priority = freeGroupPriority(groups, taken.get(prioritiesKey) as Set<number>, below) ?? `<free group priority below ${below ?? 65001}>: ${move}`;
  return { policyId, policyName, name, priority };
}

function finding(s: Snapshot, hits: Hit[], taken: Map<string, Set<number>>, names: Map<string, Set<string>>, deadFqdn: boolean): FindingDraft {
  const first = hits[0] as Hit;
  const hopPolicyId = policyIdOfHop(s, first.hop) ?? 'unknown firewall policy';
  const hopPolicy = policyOf(s, hopPolicyId);
  const located = first.hop.reason === 'firewall-deny' ? locate(s, hopPolicy, first.hop.element) : undefined;
  const policyId = located?.policy.id ?? hopPolicyId;
  const policyName = nameOf(policyId);
  const groups = (located?.policy ?? hopPolicy)?.ruleCollectionGroups;
  const firstGroup = groups?.ok ? [...groups.value].sort((a, b) => a.priority - b.priority)[0] : undefined;
  const group = located?.group ?? firstGroup;
  const groupName = group?.name ?? (/\/azureFirewalls\//i.test(policyId) ? 'aml-required' : '<rule-collection-group>');
  const networkDeny = !!located?.collection.rules.some((r) => r.ruleType === 'NetworkRule');
  const flows = flowsOf(hits);
  const ids = flowIds(hits);

  const collections = hits.flatMap((h) => collectionsFor(s, h, networkDeny)).filter((c, i, all) => all.findIndex((x) => ruleArgs(x.rule) === ruleArgs(c.rule)) === i);
  const below = located?.collection.priority;
  const groupKey = `${idKey(policyId)}|${groupName.toLowerCase()}`;
  if (!taken.has(groupKey)) taken.set(groupKey, new Set());
  const free = freeCollectionPriorities(group, taken.get(groupKey) as Set<number>, below, collections.length);
  // A firewall without a policy (no rules at all): create one and attach it first.
  const bare = /\/azureFirewalls\//i.test(policyId);
  const setup = bare
    ? [
        `az network firewall policy create ${azScope(policyId)} -n ${policyName}-policy`,
        `az network firewall policy rule-collection-group create ${azScope(policyId)} --policy-name ${policyName}-policy -n ${groupName} --priority 100`,
        `az network firewall update ${azScope(policyId)} -n ${policyName} --firewall-policy ${policyName}-policy`,
      ]
    : [];
  const azCli = collections.map(
    (c, i) =>
      `az network firewall policy rule-collection-group collection add-filter-collection ${azScope(policyId)} --policy-name ${bare ? `${policyName}-policy` : policyName} --rule-collection-group-name ${groupName} --name ${c.name} --collection-priority ${free[i] ?? `<free priority below ${below ?? 65001}>`} --action Allow ${ruleArgs(c.rule)}`,
  );
  const plan = groupPlan(s, policyId, bare, groupName, groups?.ok ? groups.value : [], located, taken, names);
  const policyShown = bare ? `${policyName}-policy` : policyName;

  const cause = located
    ? `rule collection ${located.collection.name} (priority ${located.collection.priority}, ${located.collection.action ?? 'Deny'}) in group ${located.group.name}${located.policy.id === hopPolicyId ? '' : ` of base policy ${located.policy.name}`} matches first`
    : first.hop.reason === 'firewall-deny'
      ? `a Deny rule matches first (${first.hop.element ?? 'rule not named'})`
      : 'no network or application rule allows it, so the firewall denies it by default';
  const auth = flows.some((f) => f.authPath);
  const explanation =
    `${whoNeeds(flows)} ${listText(flows.map(flowText))}. The route sends this traffic through an Azure Firewall with policy ${nameOf(hopPolicyId)}, and ${cause}: ${hitDetails(hits)}. ` +
    (auth
      ? 'These flows are on the auth path: the token request fails, azureml-core falls back to the device-login prompt, and the device-code sign-in may not complete either.'
      : 'Sign-in is not affected, but jobs, images or notebooks that need these destinations fail.');

  const evidence: Evidence[] = [
    located
      ? { resourceId: `${located.policy.id}/ruleCollectionGroups/${located.group.name}`, property: `properties.ruleCollections[${located.collection.name}]`, observed: `${located.collection.action ?? 'Deny'} collection, priority ${located.collection.priority}, matches ${listText(ids)}`, expected: `an Allow rule for ${listText(ids)} evaluated before it` }
      : { resourceId: hopPolicyId, property: 'properties.ruleCollectionGroups', observed: first.hop.element ?? `no rule matches ${listText(ids)}`, expected: `an Allow rule for ${listText(ids)}` },
    ...hits.map(flowEvidence),
  ];
  return {
    resourceId: policyId,
    confidence: confidenceOf(flows),
    explanation,
    evidence,
    remediation: {
      summary:
        (bare ? `Azure Firewall ${policyName} has no policy and so no rules: create a policy with a rule collection group and attach it. Then a` : 'A') +
        `llow ${listText(ids)} in firewall policy ${bare ? `${policyName}-policy` : policyName}${located ? ` with collections of a lower priority number than ${located.collection.name} (${located.collection.priority}) in group ${located.group.name}` : ''}: application rules for the names on TCP 80/443, network rules with the service tag or private endpoint addresses for other ports (such as UDP 5831 and TCP 18881 to AzureMachineLearning). ` +
        (networkDeny ? 'The deny is a network rule, and Azure Firewall processes all network rules before any application rule, so the allows must be network rules too. ' : '') +
        'FQDNs in network rules need the DNS proxy; prefer application rules or service tags.',
      azCli: [...setup, ...azCli],
      bicep: groupBicep(s, plan, collections, located, first.hop.reason === 'firewall-deny'),
      verify: verifyText(
        `az network firewall policy rule-collection-group list ${azScope(policyId)} --policy-name ${policyShown} --query "[].ruleCollections[].name" -o tsv`,
        `${listText(collections.map((c) => c.name))} among the collection names`,
        ids,
      ),
    },
    subjects: [
      `firewall:${idKey(policyId)}`,
      ...(sameId(policyId, hopPolicyId) ? [] : [`firewall:${idKey(hopPolicyId)}`]),
      // Blocks that a dead FQDN network rule explains fold into FIREWALL_FQDN_RULE_WITHOUT_DNS_PROXY.
      ...(deadFqdn ? [fqdnSubject(hopPolicyId)] : []),
      ...subnetSubjects(hits),
    ],
    flows: ids,
    tier: tierOf(flows),
  };
}

export const rule = {
  meta: {
    code: CODE,
    tier: 1,
    severity: 'critical',
    title: 'The Azure Firewall on the compute route does not allow a required destination',
    role: 'cause',
    flows: FLOWS,
    description:
      "The compute subnet's route sends a required flow through an Azure Firewall, and the firewall policy (rule collection groups of the base policy first, then its own, network rules before application rules) either matches it with a Deny collection first or has no rule that allows it, which Azure Firewall treats as deny. Tier 1 when the flow is on the auth path (workspace API and cert, the Azure ML service, Entra ID, ARM), else tier 2.",
    impact:
      'On the auth path the token request from the compute fails and azureml-core falls back to the device-login prompt; for Entra ID the device-code sign-in cannot complete either. For other flows, jobs, image pulls, notebooks or compute lifecycle fail.',
    resolution:
      'Add Allow collections to the policy, ahead of any Deny that matches: application rules for the FQDNs on TCP 80/443, network rules with the service tag (for example AzureMachineLearning for UDP 5831 and TCP 18881) or the private endpoint addresses for other ports.',
    verification:
      'List the collections of the firewall policy (az network firewall policy rule-collection-group list): the new Allow collections must be there, in a group or at a priority evaluated before any Deny that matched. Then run aml-netdoctor recheck on the report: the flows must be allowed.',
    needs: FLOW_NEEDS,
    references: [
      'F#13',
      'S3',
      'S4',
      'S31',
      'https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall',
      'https://learn.microsoft.com/azure/firewall/rule-processing',
      'https://learn.microsoft.com/cli/azure/network/firewall/policy/rule-collection-group/collection',
    ],
  },
  check,
} satisfies Rule;
