/**
 * Counting ARM requests by operation, as a pipeline policy. The operation is a low-cardinality
 * label derived from the request: the method and the provider type path with every name stripped
 * (`GET Microsoft.Network/virtualNetworks/subnets`), never the URL, so no subscription id, resource
 * group or resource name ever becomes a label value.
 */
import { isRestError, type PipelinePolicy } from '@azure/core-rest-pipeline';

/** Where the policy reports each attempt: `status` is undefined when no response came back. */
export interface ArmMetricsSink {
  armResponse(operation: string, status: number | undefined): void;
}

const METHODS = new Set(['GET', 'PUT', 'POST', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
/** `Microsoft.Network/virtualNetworks/subnets`: a namespace, then type segments. */
const TYPE_PATH = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)+(\/[A-Za-z][A-Za-z0-9]*)*$/;

function segmentsOf(url: string): string[] | undefined {
  try {
    return new URL(url).pathname.split('/').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** The resource type path of an ARM URL: the last `providers/<Namespace>` and its type segments. */
function typePath(segs: string[]): string | undefined {
  const lower = segs.map((s) => s.toLowerCase());
  for (let i = segs.length - 2; i >= 0; i--) {
    if (lower[i] !== 'providers' || !segs[i + 1]?.includes('.')) continue;
    // After the namespace, types and names alternate: type, name, type, name, ... (or an action).
    const types = segs.slice(i + 2).filter((_, j) => j % 2 === 0);
    return [segs[i + 1], ...types].join('/');
  }
  if (lower[0] !== 'subscriptions') return undefined;
  if (segs.length <= 2) return 'Microsoft.Resources/subscriptions';
  if (lower[2] === 'resourcegroups') return segs.length <= 4 ? 'Microsoft.Resources/resourceGroups' : 'Microsoft.Resources/resourceGroups/resources';
  return undefined;
}

/** `GET Microsoft.Network/virtualNetworks`, or `<METHOD> other` for a URL that is not an ARM resource path. */
export function armOperation(method: string, url: string): string {
  const verb = METHODS.has(method.toUpperCase()) ? method.toUpperCase() : 'OTHER';
  const segs = segmentsOf(url);
  const type = segs ? typePath(segs) : undefined;
  return `${verb} ${type !== undefined && TYPE_PATH.test(type) ? type : 'other'}`;
}

/** Reports every attempt (add with position `perRetry`, so retried 429s are counted too). */
export function armMetricsPolicy(sink: ArmMetricsSink): PipelinePolicy {
  return {
    name: 'netdoctorArmMetrics',
    async sendRequest(request, next) {
      const operation = armOperation(request.method, request.url);
      try {
        const response = await next(request);
        sink.armResponse(operation, response.status);
        return response;
      } catch (err) {
        sink.armResponse(operation, isRestError(err) ? err.response?.status : undefined);
        throw err;
      }
    },
  };
}
