/**
 * COMPUTE_SSO_DISABLED: a compute instance has single sign-on disabled (`enableSSO: false`), as
 * happens when an admin creates it on behalf of a user with a setup script or custom application.
 */
import type { ComputeObs, Snapshot } from '../model/snapshot.ts';
import type { FindingDraft, Rule, RuleResult } from './rule.ts';
import { azParts, undetermined, unknownFrom } from './support.ts';
import { tryParseArmId } from '../model/arm-id.ts';
import { bicepResource, bicepSnippet, raw, type BicepValue } from './support-bicep.ts';

const CODE = 'COMPUTE_SSO_DISABLED';

const isInstance = (c: ComputeObs) => c.computeType.toLowerCase() === 'computeinstance';

function check(s: Snapshot): RuleResult[] {
  if (!s.computes?.ok) return [undetermined(unknownFrom('computes', s.computes, 'the computes'))];
  const instances = s.computes.value.computes.filter(isInstance).sort((a, b) => a.name.localeCompare(b.name));
  if (instances.length === 0) {
    return [{ status: 'pass', resourceId: s.target.workspaceId, detail: 'Does not apply: no compute instance in scope (single sign-on is a compute-instance setting).' }];
  }
  return instances.map((c): RuleResult => {
    if (c.enableSSO === false) return { status: 'fail', finding: finding(c) };
    if (c.enableSSO === true) return { status: 'pass', resourceId: c.id, detail: `Compute instance ${c.name} has single sign-on enabled.` };
    return { status: 'undetermined', item: `single sign-on setting of compute instance ${c.name}`, reason: 'ARM did not report properties.properties.enableSSO for this compute instance', resourceId: c.id };
  });
}

function finding(c: ComputeObs): FindingDraft {
  const parsed = tryParseArmId(c.id);
  const p = azParts(c.id);
  const workspace = parsed?.names[0] ?? '<workspace>';
  const enableCommand = `az ml compute enable-sso --subscription ${p.subscription} -g ${p.resourceGroup} -w ${workspace} -n ${c.name}`;
  return {
    resourceId: c.id,
    confidence: 'medium',
    explanation:
      `Compute instance ${c.name} in workspace ${workspace} has single sign-on disabled (enableSSO false), which happens when an admin creates it on behalf of a user with a setup script or custom application. ` +
      `Without SSO the instance does not hold the assigned user's sign-in, so code that expects it has no token to use and azureml-core asks for device login; the documented fix is that the assigned user turns SSO on. ` +
      `The exact effect on the instance's managed-identity tokens is not documented (inferred risk), so fix the network causes first if any are reported.`,
    evidence: [{ resourceId: c.id, property: 'properties.properties.enableSSO', observed: 'false', expected: 'true' }],
    remediation: {
      summary:
        `The user assigned to ${c.name} enables single sign-on, either in Azure ML studio (Compute > ${c.name} > Details, turn on single sign-on) or with the ml CLI extension's preview command below (needs Microsoft.MachineLearningServices/workspaces/computes/enableSso/action, no write permission on the compute).`,
      azCli: [enableCommand],
      bicep: computeBicep(c, workspace, enableCommand),
      verify: `az resource show --ids ${c.id} --query properties.properties.enableSSO must print true; restart the notebook kernel on ${c.name} and retry, then run aml-netdoctor recheck <report.json>.`,
    },
    subjects: [`compute:${c.name.toLowerCase()}`],
  };
}

/**
 * The instance declared with single sign-on on, for templates that create it. On the existing
 * instance the documented way is the enableSso action by its assigned user (facts §7 / F#18), so the
 * snippet's comment says to run that.
 */
function computeBicep(c: ComputeObs, workspace: string, enableCommand: string): string {
  const instance: { [key: string]: BicepValue | undefined } = {
    vmSize: c.vmSize,
    subnet: c.subnetId ? { id: c.subnetId } : undefined,
    enableNodePublicIp: c.enableNodePublicIp,
    enableSSO: true,
  };
  const note = [
    `Compute instance ${c.name} as your template should declare it, with single sign-on on.`,
    'On the existing instance, the documented way to turn single sign-on on is the enableSso action by the',
    'user it is assigned to (Microsoft.MachineLearningServices/workspaces/computes/enableSso/action):',
    `  ${enableCommand}`,
    'Azure ML disables SSO at creation when an admin creates the instance on behalf of a user with a setup',
    'script or custom application, even with enableSSO true here; the assigned user then enables it as above.',
    'Keep the assigned user, setup scripts and other settings from your own template (aml-netdoctor does not read them).',
  ];
  return bicepSnippet(
    c.id,
    [
      bicepResource({ symbol: 'workspace', type: 'Microsoft.MachineLearningServices/workspaces', name: workspace, existing: true }),
      bicepResource({
        symbol: 'computeInstance',
        type: 'Microsoft.MachineLearningServices/workspaces/computes',
        name: c.name,
        parent: 'workspace',
        body: { location: c.location ?? raw('workspace.location'), properties: { computeType: 'ComputeInstance', properties: instance } },
      }),
    ],
    note.join('\n'),
  );
}

export const rule = {
  meta: {
    code: CODE,
    tier: 3,
    severity: 'low',
    title: 'Compute instance has single sign-on disabled',
    role: 'cause',
    // No network flow is broken; the instance's tokens come from the AML service token broker (facts §7).
    flows: ['aml-service'],
    description:
      'The compute instance has enableSSO false. Azure ML disables single sign-on when an admin creates a compute instance on behalf of a user and adds a setup script or custom application; the assigned user must enable it.',
    impact:
      "Without single sign-on the instance does not carry the assigned user's sign-in, so SDK code relying on it can end at the device-login prompt. The effect on managed-identity token minting is not documented (inferred risk), so this ranks below network causes.",
    resolution:
      'The assigned user enables single sign-on on the compute instance, in studio or with az ml compute enable-sso.',
    verification:
      "Show the compute instance's properties.properties.enableSSO: it must be true. Restart the notebook kernel and retry, then run aml-netdoctor recheck on the report.",
    needs: ['computes'],
    references: ['F#18', 'S20', 'S35', 'https://learn.microsoft.com/azure/machine-learning/how-to-create-compute-instance'],
  },
  check,
} satisfies Rule;
