/**
 * FIREWALL_BLOCKS_REQUIRED_DESTINATION: a compute subnet's route sends a required flow through an
 * Azure Firewall whose policy denies it (a Deny collection matches first) or has no rule that
 * allows it. Blames the firewall policy; tier 1 for auth-path flows, else 2.
 */
import { idKey, nameOf, sameId } from '../model/arm-id.ts';
import type { FirewallPolicyObs, RuleCollectionGroupObs, RuleCollectionObs, Snapshot } from '../model/snapshot.ts';
import type { Evidence } from '../report/schema.ts';
import type { FindingDraft, FlowId, Rule, RuleContext, RuleResult } from './rule.ts';
import {
  confidenceOf,
  destinationOf,
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
  rerun,
  sourcePrefixes,
  subnetSubjects,
  tierOf,
  whoNeeds,
  type Hit,
} from './support-flows.ts';
import { azScope, listText } from './support.ts';

const CODE = 'FIREWALL_BLOCKS_REQUIRED_DESTINATION';
const FLOWS: FlowId[] = ['workspace-api', 'workspace-cert', 'aml-service', 'entra-id', 'arm', 'notebooks', 'storage', 'key-vault', 'container-registry', 'mcr', 'batch', 'instance-name'];

function check(s: Snapshot, context?: RuleContext): RuleResult[] {
  return judgeFlows(
    s,
    context,
    { flows: FLOWS, reasons: ['firewall-deny', 'firewall-no-matching-rule'], evidenceKinds: ['route', 'firewall'], requiredKind: 'route', subject: 'firewall rules', passes: 'no firewall on their route denies them' },
    (hits) => {
      // Priorities handed out across findings, so the commands of two findings never collide.
      const taken = new Map<string, Set<number>>();
      // Auth-path findings first: they get the first priorities.
      return groupHits(hits, (h) => `${h.flow.authPath ? 0 : 1}|${idKey(policyIdOfHop(s, h.hop) ?? '')}|${h.hop.reason}|${(h.hop.element ?? '').toLowerCase()}`).map((g) => finding(s, g, taken));
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

interface NewCollection {
  name: string;
  args: string;
}

/** Application rules for the names on 80/443, network rules for the rest (or for everything when a network rule denied). */
function collectionsFor(s: Snapshot, hit: Hit, networkOnly: boolean): NewCollection[] {
  const f = hit.flow;
  const d = destinationOf(f);
  const sources = sourcePrefixes(s, [f]).join(' ');
  const out: NewCollection[] = [];
  for (const g of portGroups(f)) {
    const web: string[] = g.protocol === 'Tcp' && !networkOnly && d.fqdns.length > 0 ? g.ports.filter((p) => p === '80' || p === '443') : [];
    const rest = g.ports.filter((p) => !web.includes(p));
    if (web.length) {
      const protocols = web.map((p) => (p === '80' ? 'Http=80' : 'Https=443')).join(' ');
      out.push({ name: `allow-${f.id}-app`, args: `--rule-name allow-${f.id} --rule-type ApplicationRule --source-addresses ${sources} --protocols ${protocols} --target-fqdns ${d.fqdns.join(' ')}` });
    }
    if (rest.length) {
      const proto = g.protocol === '*' ? 'Any' : g.protocol.toUpperCase();
      const dest = d.ips.length ? d.ips : d.tags.length ? d.tags : ['<destination>'];
      out.push({ name: `allow-${f.id}-${proto.toLowerCase()}`, args: `--rule-name allow-${f.id}-${proto.toLowerCase()} --rule-type NetworkRule --source-addresses ${sources} --ip-protocols ${proto} --destination-addresses ${dest.join(' ')} --destination-ports ${rest.join(' ')}` });
    }
  }
  return out;
}

function finding(s: Snapshot, hits: Hit[], taken: Map<string, Set<number>>): FindingDraft {
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

  const collections = hits.flatMap((h) => collectionsFor(s, h, networkDeny)).filter((c, i, all) => all.findIndex((x) => x.args === c.args) === i);
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
      `az network firewall policy rule-collection-group collection add-filter-collection ${azScope(policyId)} --policy-name ${bare ? `${policyName}-policy` : policyName} --rule-collection-group-name ${groupName} --name ${c.name} --collection-priority ${free[i] ?? `<free priority below ${below ?? 65001}>`} --action Allow ${c.args}`,
  );

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
      verify: `az network firewall policy rule-collection-group show ${azScope(policyId)} --policy-name ${bare ? `${policyName}-policy` : policyName} -n ${groupName} --query "ruleCollections[].{name:name, priority:priority, action:action.type}" -o table lists the new Allow collections; then ${rerun(ids)}`,
    },
    subjects: [`firewall:${idKey(policyId)}`, ...(sameId(policyId, hopPolicyId) ? [] : [`firewall:${idKey(hopPolicyId)}`]), ...subnetSubjects(hits)],
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
