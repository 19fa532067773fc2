/**
 * Reads the Azure ML workspace: network access settings, private endpoint connections, the
 * resources it depends on, and (from the raw body, which the ML SDK's model drops) its managed
 * network.
 */
import type { Workspace } from '@azure/arm-machinelearning';
import type { Probe } from './probe.ts';
import { parseWorkspaceId, tryParseArmId } from '../src/model/arm-id.ts';
import { normalizeRegion, workspaceApiFqdn, workspaceCertFqdn, type CloudProfile } from '../src/model/cloud.ts';
import { failed, observed, type ManagedNetworkObs, type WorkspaceObs } from '../src/model/snapshot.ts';
import { toProbeError } from '../src/azure/errors.ts';
import { field, isObject, parseBody, str } from './raw.ts';

export const probe = {
  id: 'workspace',
  title: 'reading the workspace',
  needs: [],
  async run(ctx) {
    const id = ctx.target.workspaceId;
    let raw: unknown;
    try {
      const ws = parseWorkspaceId(id);
      const typed = await ctx.azure.ml(ws.subscriptionId).workspaces.get(ws.resourceGroup, ws.names[0] ?? '', {
        ...ctx.azure.call(ctx.signal),
        onResponse: (r) => {
          raw = parseBody(r.bodyAsText ?? undefined);
        },
      });
      return observed(toWorkspaceObs(ctx.cloud, id, typed, raw));
    } catch (err) {
      return failed(toProbeError(err, `reading workspace ${id}`, id));
    }
  },
} satisfies Probe<'workspace'>;

export function toWorkspaceObs(cloud: CloudProfile, requestedId: string, w: Workspace, raw: unknown): WorkspaceObs {
  const id = w.id ?? requestedId;
  const parsed = tryParseArmId(id) ?? parseWorkspaceId(requestedId);
  const location = normalizeRegion(w.location ?? str(field(raw, 'location')) ?? '');
  const workspaceGuid = w.workspaceId ?? str(field(field(raw, 'properties'), 'workspaceId'));
  const obs: WorkspaceObs = {
    id,
    name: w.name ?? parsed.names[0] ?? '',
    subscriptionId: parsed.subscriptionId,
    resourceGroup: parsed.resourceGroup,
    location,
    workspaceGuid,
    publicNetworkAccess: w.publicNetworkAccess,
    allowPublicAccessWhenBehindVnet: w.allowPublicAccessWhenBehindVnet,
    privateEndpointConnections: (w.privateEndpointConnections ?? []).map((c) => ({
      id: c.id ?? '',
      name: c.name ?? '',
      privateEndpointId: c.privateEndpoint?.id,
      status: c.privateLinkServiceConnectionState?.status,
      description: c.privateLinkServiceConnectionState?.description,
      provisioningState: c.provisioningState,
    })),
    storageAccountId: w.storageAccount,
    keyVaultId: w.keyVault,
    containerRegistryId: w.containerRegistry,
    applicationInsightsId: w.applicationInsights,
    imageBuildCompute: w.imageBuildCompute,
    hbiWorkspace: w.hbiWorkspace,
    v1LegacyMode: w.v1LegacyMode,
    discoveryUrl: w.discoveryUrl,
    managedNetwork: toManagedNetwork(field(field(raw, 'properties'), 'managedNetwork')),
    fqdns:
      workspaceGuid && location
        ? { api: workspaceApiFqdn(cloud, workspaceGuid, location), cert: workspaceCertFqdn(cloud, workspaceGuid, location) }
        : {},
  };
  return obs;
}

/**
 * `properties.managedNetwork`: `outboundRules` is a map keyed by rule name on the wire (older
 * previews used an array of named rules; both are accepted). `status` is `{ status, sparkReady }`.
 */
export function toManagedNetwork(mn: unknown): ManagedNetworkObs | undefined {
  if (!isObject(mn)) return undefined;
  const rules = mn.outboundRules;
  const entries: Array<[string, unknown]> = Array.isArray(rules)
    ? rules.map((r, i): [string, unknown] => [str(field(r, 'name')) ?? `rule-${i}`, r])
    : isObject(rules)
      ? Object.entries(rules)
      : [];
  const status = mn.status;
  return {
    isolationMode: str(mn.isolationMode),
    status: isObject(status) ? str(status.status) : str(status),
    outboundRules: entries.map(([name, rule]) => {
      // Rules may nest their settings under `properties` in some api-versions.
      const body = isObject(field(rule, 'properties')) ? field(rule, 'properties') : rule;
      return {
        name,
        type: str(field(body, 'type')),
        category: str(field(body, 'category')),
        status: str(field(body, 'status')),
        destination: field(body, 'destination'),
      };
    }),
  };
}
