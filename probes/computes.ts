/**
 * Reads the workspace's computes (or only the one named with --compute, plus the workspace's
 * imageBuildCompute when that is another compute): type, state, size, subnet, public IP and SSO settings. The ML SDK's 2022-10-01 model has no `enableSSO` (its deserializer
 * happens to keep unknown keys of the nested bag today, but nothing types or promises that), so
 * each compute is mapped from its raw JSON: page bodies for the list, the body of a single GET.
 */
import type { ComputeResource } from '@azure/arm-machinelearning';
import type { Probe, ProbeContext } from './probe.ts';
import { idKey, parseWorkspaceId, type ArmId } from '../src/model/arm-id.ts';
import { normalizeRegion } from '../src/model/cloud.ts';
import { failed, observed, type ComputeObs, type ComputesObs, type Observed } from '../src/model/snapshot.ts';
import { skipped, toProbeError } from '../src/azure/errors.ts';
import { bool, field, parseBody, str } from './raw.ts';

export const probe = {
  id: 'computes',
  title: 'reading the computes',
  needs: ['workspace'],
  async run(ctx, snapshot) {
    const wsId = ctx.target.workspaceId;
    const workspace = snapshot.workspace;
    if (workspace && !workspace.ok && workspace.error.kind === 'not-found') {
      return failed(skipped('reading the computes', 'the workspace was not found', wsId));
    }
    let ws: ArmId;
    try {
      ws = parseWorkspaceId(wsId);
    } catch (err) {
      return failed(toProbeError(err, `reading the computes of workspace ${wsId}`, wsId));
    }
    const name = ctx.target.computeName;
    if (!name) return readAll(ctx, ws);
    // Image builds run on the workspace's imageBuildCompute: with --compute, read that one too.
    const buildName = workspace?.ok ? workspace.value.imageBuildCompute : undefined;
    const readBuild = buildName && buildName.toLowerCase() !== name.toLowerCase();
    const [one, build] = await Promise.all([readOne(ctx, ws, name), readBuild ? readOne(ctx, ws, buildName) : undefined]);
    if (!one.ok) return failed<ComputesObs>(one.error);
    return observed<ComputesObs>(build ? { computes: [one.value], imageBuildCompute: build } : { computes: [one.value] });
  },
} satisfies Probe<'computes'>;

async function readOne(ctx: ProbeContext, ws: ArmId, computeName: string): Promise<Observed<ComputeObs>> {
  const wsName = ws.names[0] ?? '';
  const id = `${ws.id}/computes/${computeName}`;
  let raw: unknown;
  try {
    const typed = await ctx.azure.ml(ws.subscriptionId).computeOperations.get(ws.resourceGroup, wsName, computeName, {
      ...ctx.azure.call(ctx.signal),
      onResponse: (r) => {
        raw = parseBody(r.bodyAsText ?? undefined);
      },
    });
    return observed(toComputeObs(typed, raw));
  } catch (err) {
    const error = toProbeError(err, `reading compute '${computeName}' of workspace '${wsName}'`, id);
    if (error.kind === 'not-found') {
      error.message = `compute '${computeName}' was not found in workspace '${wsName}' (${[error.statusCode, error.code].filter(Boolean).join(' ')})`;
    }
    return failed(error);
  }
}

async function readAll(ctx: ProbeContext, ws: ArmId): Promise<Observed<ComputesObs>> {
  const wsName = ws.names[0] ?? '';
  // The classic client calls onResponse once per page, before it yields that page's items.
  const rawById = new Map<string, unknown>();
  const computes: ComputeObs[] = [];
  try {
    const pages = ctx.azure.ml(ws.subscriptionId).computeOperations.list(ws.resourceGroup, wsName, {
      ...ctx.azure.call(ctx.signal),
      onResponse: (r) => {
        const items = field(parseBody(r.bodyAsText ?? undefined), 'value');
        if (!Array.isArray(items)) return;
        for (const item of items) {
          const itemId = str(field(item, 'id'));
          if (itemId) rawById.set(idKey(itemId), item);
        }
      },
    });
    for await (const typed of pages) {
      computes.push(toComputeObs(typed, typed.id ? rawById.get(idKey(typed.id)) : undefined));
    }
  } catch (err) {
    return failed(toProbeError(err, `listing the computes of workspace '${wsName}'`, ws.id));
  }
  return observed({ computes });
}

/**
 * Maps a compute from its raw JSON when there is one, else from the typed model (which has the
 * same nesting, `properties.properties`, but lacks `enableSSO`).
 */
export function toComputeObs(typed: ComputeResource, raw: unknown): ComputeObs {
  const source: unknown = raw ?? typed;
  const props = field(source, 'properties');
  const inner = field(props, 'properties');
  const id = typed.id ?? str(field(source, 'id')) ?? '';
  const location = typed.location ?? str(field(source, 'location'));
  return {
    id,
    name: typed.name ?? str(field(source, 'name')) ?? id.split('/').pop() ?? '',
    computeType: str(field(props, 'computeType')) ?? typed.properties?.computeType ?? 'Unknown',
    location: location ? normalizeRegion(location) : undefined,
    provisioningState: str(field(props, 'provisioningState')) ?? typed.properties?.provisioningState,
    state: str(field(inner, 'state')) ?? str(field(inner, 'allocationState')),
    subnetId: str(field(field(inner, 'subnet'), 'id')),
    enableNodePublicIp: bool(field(inner, 'enableNodePublicIp')),
    enableSSO: bool(field(inner, 'enableSSO')),
    vmSize: str(field(inner, 'vmSize')),
  };
}
