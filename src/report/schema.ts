/**
 * The report: one JSON object, the single source every renderer and the API work from.
 * TypeBox schemas (with `$id`) so the same definitions type the code and document the API.
 */
import { Type, type Static } from 'typebox';

export const Tier = Type.Enum([1, 2, 3], {
  $id: 'Tier',
  description: '1 = breaks the auth path (explains the device-login prompt), 2 = breaks jobs, images or compute lifecycle, 3 = client access or hygiene.',
});
export type Tier = Static<typeof Tier>;

export const Severity = Type.Enum(['critical', 'high', 'medium', 'low'], { $id: 'Severity' });
export type Severity = Static<typeof Severity>;

export const Confidence = Type.Enum(['high', 'medium', 'low'], {
  $id: 'Confidence',
  description: 'high: observed live (DNS answers) or computed by Azure; medium: read from configuration and unambiguous; low: inferred with assumptions (listed in the explanation).',
});
export type Confidence = Static<typeof Confidence>;

export const Evidence = Type.Object(
  {
    resourceId: Type.Optional(Type.String({ description: 'ARM id of the resource the evidence was read from.' })),
    property: Type.Optional(Type.String({ description: 'ARM property path or DNS query, e.g. properties.dhcpOptions.dnsServers or "A <name> @ <resolver>".' })),
    observed: Type.String({ description: 'What was found.' }),
    expected: Type.String({ description: 'What a working setup has.' }),
  },
  { $id: 'Evidence', additionalProperties: false },
);
export type Evidence = Static<typeof Evidence>;

export const Remediation = Type.Object(
  {
    summary: Type.String(),
    azCli: Type.Array(Type.String(), { description: 'az CLI commands with the real names filled in, in order.' }),
    bicep: Type.String({ description: 'The same fix as infrastructure as code: a Bicep snippet with the real names filled in (a comment on its first lines names the resource group to deploy it to).' }),
    verify: Type.String({ description: 'How to confirm the fix: a command to run and what it should print, then `aml-netdoctor recheck`.' }),
  },
  { $id: 'Remediation', additionalProperties: false },
);
export type Remediation = Static<typeof Remediation>;

export const Symptom = Type.Object(
  {
    code: Type.String({ description: 'Code of the folded finding.' }),
    title: Type.String(),
    resourceId: Type.String(),
    confidence: Confidence,
    explanation: Type.String(),
    evidence: Type.Array(Evidence),
    flows: Type.Optional(Type.Array(Type.String())),
  },
  {
    $id: 'Symptom',
    additionalProperties: false,
    description: 'A finding folded into the root cause that explains it (an observed DNS answer, or a consequence such as a record missing because its zone is missing). It is evidence of the cause, not a separate finding.',
  },
);
export type Symptom = Static<typeof Symptom>;

export const Finding = Type.Object(
  {
    code: Type.String({ description: 'Stable finding code from the failure catalogue.' }),
    tier: Tier,
    severity: Severity,
    confidence: Confidence,
    title: Type.String(),
    resourceId: Type.String({ description: 'The resource this finding blames (where the fix goes).' }),
    explanation: Type.String(),
    evidence: Type.Array(Evidence),
    remediation: Remediation,
    docs: Type.String({ description: 'Path of the rule documentation page.' }),
    rank: Type.Integer({ minimum: 1, description: '1 = most likely cause of the device-login prompt.' }),
    rankReason: Type.String({ description: 'Why this finding has its rank, in one line (tier, confidence, what it absorbs).' }),
    symptoms: Type.Optional(Type.Array(Symptom, { description: 'Findings this root cause explains, folded into it.' })),
    flows: Type.Optional(Type.Array(Type.String(), { description: 'Ids of the flows this finding breaks.' })),
  },
  { $id: 'Finding', additionalProperties: false },
);
export type Finding = Static<typeof Finding>;

export const FlowVerdict = Type.Enum(['allowed', 'blocked', 'undetermined'], {
  $id: 'FlowVerdict',
  description: 'allowed: every hop lets the flow through; blocked: a named element stops it; undetermined: a hop could not be decided (the hop says what could not be read). Nothing undecidable is ever reported as allowed.',
});
export type FlowVerdict = Static<typeof FlowVerdict>;

export const HopKind = Type.Enum(['dns', 'route', 'nsg', 'firewall', 'peering', 'destination'], { $id: 'HopKind' });
export type HopKind = Static<typeof HopKind>;

/** Machine-readable reason of a blocked or undetermined hop; rules match on it. */
export const HopReason = Type.Enum(
  [
    'dns-failed',
    'dns-wrong-address',
    'route-none',
    'no-path',
    'route-unowned-appliance',
    'route-appliance-across-peering',
    'route-asymmetric',
    'no-egress',
    'nsg-deny',
    'firewall-deny',
    'firewall-no-matching-rule',
    'peering-not-connected',
    'peering-no-forwarded-traffic',
    'endpoint-not-approved',
    'destination-network-rules',
    'destination-sku',
    'not-evaluable',
    'evidence-missing',
  ],
  { $id: 'HopReason' },
);
export type HopReason = Static<typeof HopReason>;

export const FlowHop = Type.Object(
  {
    kind: HopKind,
    resourceId: Type.Optional(Type.String({ description: 'The element that decided this hop: NSG, route table, firewall policy, peering, private endpoint, storage account…' })),
    element: Type.Optional(Type.String({ description: 'The rule or route inside it, e.g. "securityRules/DenyInternet (priority 4000)" or "route default 0.0.0.0/0 -> VirtualAppliance 10.0.1.4".' })),
    detail: Type.String(),
    verdict: FlowVerdict,
    reason: Type.Optional(HopReason),
  },
  { $id: 'FlowHop', additionalProperties: false },
);
export type FlowHop = Static<typeof FlowHop>;

export const Flow = Type.Object(
  {
    id: Type.String({ description: 'Flow id from the failure catalogue: workspace-api, entra-id, storage, …' }),
    subnetId: Type.Optional(Type.String({ description: 'The compute subnet the flow was traced from.' })),
    computes: Type.Array(Type.String(), { description: 'Computes in that subnet this flow applies to.' }),
    direction: Type.Enum(['outbound', 'inbound']),
    destination: Type.String({ description: 'Name, address or service tag, e.g. "login.microsoftonline.com (AzureActiveDirectory)".' }),
    ports: Type.Array(Type.String(), { description: 'e.g. "TCP 443", "UDP 5831".' }),
    authPath: Type.Boolean({ description: 'Whether a break here explains the device-login prompt.' }),
    verdict: FlowVerdict,
    source: Type.Enum(['azure', 'computed'], { description: "azure: effective routes/NSGs and next hop read from Azure through a VM in the subnet; computed: evaluated from configuration." }),
    hops: Type.Array(FlowHop),
    notes: Type.Optional(Type.Array(Type.String(), { description: 'Assumptions made and disagreements found (e.g. Network Watcher next hop differs from the computed route).' })),
  },
  { $id: 'Flow', additionalProperties: false },
);
export type Flow = Static<typeof Flow>;

export const CoverageItem = Type.Object(
  {
    item: Type.String({ description: 'What was (or could not be) checked, e.g. "rule PRIVATE_DNS_ZONE_NOT_LINKED" or "read virtual network vnet-hub".' }),
    status: Type.Enum(['ok', 'undetermined']),
    reason: Type.Optional(Type.String()),
    resourceId: Type.Optional(Type.String()),
    probe: Type.Optional(Type.String({ description: 'The probe whose read failed (workspace, networks, privateDnsZones, vantage, …).' })),
    statusCode: Type.Optional(Type.Integer({ description: 'HTTP status of the failed read (403: the identity may not read it).' })),
    errorCode: Type.Optional(Type.String({ description: 'ARM error code of the failed read, e.g. AuthorizationFailed.' })),
  },
  { $id: 'CoverageItem', additionalProperties: false },
);
export type CoverageItem = Static<typeof CoverageItem>;

export const VerdictStatus = Type.Enum(['cause-found', 'no-cause-found', 'undetermined'], { $id: 'VerdictStatus' });
export type VerdictStatus = Static<typeof VerdictStatus>;

export const ChainStep = Type.Object(
  {
    kind: Type.Enum(['compute', 'name', 'address', 'route', 'rule', 'result']),
    text: Type.String({ description: 'This link of the chain in words, e.g. "resolves to 20.43.1.5 (public)".' }),
    name: Type.Optional(Type.String({ description: 'Name of the resource at this link.' })),
    resourceId: Type.Optional(Type.String({ description: 'ARM id of the resource at this link.' })),
  },
  { $id: 'ChainStep', additionalProperties: false },
);
export type ChainStep = Static<typeof ChainStep>;

export const Verdict = Type.Object(
  {
    status: VerdictStatus,
    summary: Type.String({ description: 'The answer in one paragraph: the chain from the compute to the device-login prompt, the fix, and what could not be checked.' }),
    chain: Type.Array(ChainStep, { description: 'compute -> name -> address -> route -> rule -> result, for the top finding (empty when no cause was found).' }),
    assumptions: Type.Array(Type.String(), { description: 'What the diagnosis assumed, e.g. "routes computed from configuration: no readable VM in the subnet".' }),
    nextSteps: Type.Array(Type.String(), { description: 'What to do next: the fix to apply, or what to check and which read to grant when evidence is missing.' }),
  },
  { $id: 'Verdict', additionalProperties: false },
);
export type Verdict = Static<typeof Verdict>;

export const Report = Type.Object(
  {
    workspace: Type.Object({
      id: Type.String(),
      name: Type.String(),
      location: Type.Optional(Type.String()),
      computeName: Type.Optional(Type.String()),
    }),
    generatedAt: Type.String({ format: 'date-time' }),
    tool: Type.Object({ name: Type.String(), version: Type.String() }),
    scope: Type.Object(
      {
        subscriptions: Type.Array(Type.String(), { description: 'Extra subscriptions searched (hub, DNS).' }),
        vantageVmId: Type.Optional(Type.String({ description: 'The VM or NIC asked for as vantage.' })),
        cloud: Type.Optional(Type.String({ description: 'The Azure cloud diagnosed (AzureCloud, AzureUSGovernment, AzureChinaCloud).' })),
        dnsServers: Type.Optional(Type.Array(Type.String(), { description: 'The resolvers live DNS was asked through (empty: the system resolver).' })),
      },
      { additionalProperties: false, description: 'What the diagnosis was asked to look at beyond the workspace; recheck repeats it.' },
    ),
    filters: Type.Optional(
      Type.Object(
        {
          minTier: Type.Optional(Tier),
          exclude: Type.Array(Type.String()),
        },
        { additionalProperties: false, description: 'Operator filters applied (--min-tier, --exclude): findings they removed are not in this report.' },
      ),
    ),
    verdict: Verdict,
    findings: Type.Array(Finding, { description: 'Ordered by rank: tier first, then confidence, causes before their symptoms.' }),
    flows: Type.Array(Flow, { description: 'Every flow the computes depend on, traced hop by hop from each compute subnet.' }),
    coverage: Type.Array(CoverageItem),
  },
  { $id: 'Report', additionalProperties: false },
);
export type Report = Static<typeof Report>;

export const RecheckStatus = Type.Enum(['fixed', 'still-failing', 'undetermined'], {
  $id: 'RecheckStatus',
  description: 'fixed: the rule now passes for the blamed resource; still-failing: it fails again; undetermined: the evidence could not be read again (never counted as fixed).',
});
export type RecheckStatus = Static<typeof RecheckStatus>;

export const RecheckResult = Type.Object(
  {
    workspace: Type.Object({ id: Type.String(), name: Type.String() }),
    generatedAt: Type.String({ format: 'date-time' }),
    previousGeneratedAt: Type.String({ format: 'date-time', description: 'When the report being rechecked was made.' }),
    tool: Type.Object({ name: Type.String(), version: Type.String() }),
    probes: Type.Array(Type.String(), { description: 'The probes run again (those behind the findings, and what they need).' }),
    findings: Type.Array(
      Type.Object(
        {
          code: Type.String(),
          resourceId: Type.String(),
          title: Type.String(),
          tier: Tier,
          previousRank: Type.Integer({ minimum: 1 }),
          status: RecheckStatus,
          detail: Type.String({ description: 'Why: the rule result for the blamed resource now.' }),
        },
        { additionalProperties: false },
      ),
    ),
    newFindings: Type.Array(Finding, { description: 'Findings of the rechecked rules that the report did not have (a fix can move the break).' }),
    summary: Type.String(),
  },
  { $id: 'RecheckResult', additionalProperties: false },
);
export type RecheckResult = Static<typeof RecheckResult>;
