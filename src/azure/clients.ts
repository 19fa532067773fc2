/**
 * The Azure access layer: the one factory for every SDK client the probes use.
 *
 * - Cloud: AzureCloud (default), AzureUSGovernment, AzureChinaCloud, or an explicit ARM endpoint
 *   (`--arm-endpoint` / NETDOCTOR_ARM_ENDPOINT) such as the simulated ARM.
 * - Credential: NETDOCTOR_ACCESS_TOKEN (a pre-acquired ARM bearer token) when set, else
 *   DefaultAzureCredential.
 * - TLS: Node's trust store plus NODE_EXTRA_CA_CERTS (read by Node at start-up); `ca` adds a CA in
 *   process (the demo's simulated ARM). Proxy: HTTPS_PROXY / NO_PROXY, honoured by the pipeline.
 * - Bounded retries (429/503 honour Retry-After up to `maxRetryAfterMs`), a per-call timeout, and
 *   the same timeout on requests an SDK sends without the caller's signal (later list pages).
 * - Optional, per attempt: a per-subscription token bucket (`throttle`, src/azure/throttle.ts) and
 *   request counting by operation (`metrics`, src/azure/arm-metrics.ts).
 * - Optional, per sweep: a single-flight cache of GET answers shared by every client (`sharedReads`,
 *   src/azure/shared-reads.ts), outside the retries and the throttle.
 * - api-version overrides where an SDK is older than the fields we read (the ML SDK's 2022-10-01
 *   model has no managedNetwork or enableSSO: we ask for a newer version and read the raw body).
 */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { DefaultAzureCredential } from '@azure/identity';
import { NetworkManagementClient } from '@azure/arm-network';
import { PrivateDnsManagementClient } from '@azure/arm-privatedns';
import { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import { StorageManagementClient } from '@azure/arm-storage';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { CLOUDS, type CloudName, type CloudProfile } from '../model/cloud.ts';
import { armMetricsPolicy, type ArmMetricsSink } from './arm-metrics.ts';
import { RETRY_AFTER_HEADERS, retryAfterMs, type ArmThrottle } from './throttle.ts';
import type { SharedReads, SharedReadsTarget } from './shared-reads.ts';

/** api-version sent by the ML client: newest stable that carries managedNetwork and enableSSO. */
export const ML_API_VERSION = '2025-09-01';

export interface AzureAccessOptions {
  cloud?: CloudName;
  /** Overrides the cloud's ARM endpoint (simulated ARM, private clouds). */
  armEndpoint?: string;
  credential: TokenCredential;
  /** Extra trusted CA certificate(s), PEM. */
  ca?: string;
  /** Retries for 408/429/5xx and connection errors. Default 3. */
  maxRetries?: number;
  /** First back-off delay. Default 800 ms (exponential, capped at 8 s). */
  retryDelayMs?: number;
  /** Longest Retry-After honoured; longer ones are shortened to this. Default 20 s. */
  maxRetryAfterMs?: number;
  /** Per-call timeout including retries and LRO polling. Default 60 s. */
  timeoutMs?: number;
  /** LRO polling interval when the service gives no Retry-After. Default 2000 ms. */
  lroPollIntervalMs?: number;
  /** Per-subscription token buckets every attempt waits on (src/azure/throttle.ts); none when absent. */
  throttle?: ArmThrottle;
  /** Receives every ARM attempt, by operation and status (src/azure/arm-metrics.ts). */
  metrics?: ArmMetricsSink;
  /** GET answers shared by every client for one sweep and one credential (src/azure/shared-reads.ts); none when absent. */
  sharedReads?: SharedReads;
}

export interface CallOptions {
  abortSignal: AbortSignal;
  updateIntervalInMs?: number;
}

export interface AzureClients {
  cloud: CloudProfile;
  armEndpoint: string;
  network(subscriptionId: string): NetworkManagementClient;
  privateDns(subscriptionId: string): PrivateDnsManagementClient;
  ml(subscriptionId: string): AzureMachineLearningWorkspaces;
  storage(subscriptionId: string): StorageManagementClient;
  keyVault(subscriptionId: string): KeyVaultManagementClient;
  containerRegistry(subscriptionId: string): ContainerRegistryManagementClient;
  /** Options for one SDK call: abort on `signal` or after the per-call timeout. */
  call(signal?: AbortSignal): CallOptions;
}

/** Static credential for a pre-acquired token (the token is never logged). */
export function staticTokenCredential(token: string, expiresOnTimestamp = Date.now() + 60 * 60 * 1000): TokenCredential {
  return {
    async getToken(): Promise<AccessToken> {
      return { token, expiresOnTimestamp, tokenType: 'Bearer' };
    },
  };
}

/** NETDOCTOR_ACCESS_TOKEN when set, otherwise DefaultAzureCredential. */
export function credentialFromEnv(env: NodeJS.ProcessEnv = process.env): TokenCredential {
  const token = env.NETDOCTOR_ACCESS_TOKEN?.trim();
  if (token) return staticTokenCredential(token.replace(/^Bearer\s+/i, ''));
  return new DefaultAzureCredential();
}

/**
 * Shortens Retry-After values longer than `maxMs`, so a throttled call waits a bounded time. The
 * shortened wait is given as `retry-after-ms` (read first by the retry strategy, exact to the ms).
 */
function capRetryAfterPolicy(maxMs: number): PipelinePolicy {
  return {
    name: 'netdoctorCapRetryAfter',
    async sendRequest(request, next) {
      const response = await next(request);
      if (response.status === 429 || response.status === 503) {
        const ms = retryAfterMs(response.headers);
        if (ms !== undefined && ms > maxMs) {
          for (const [name] of RETRY_AFTER_HEADERS) response.headers.delete(name);
          response.headers.set('retry-after-ms', String(Math.max(0, Math.round(maxMs))));
        }
      }
      return response;
    },
  };
}

/**
 * Gives a request that carries no abort signal the per-call timeout (retries included). The modular
 * SDKs (network, private DNS, storage, …) fetch the second and later pages of a listing without the
 * caller's options, so neither the per-call timeout nor a cancelled diagnosis reaches them: without
 * this, a page that never answers hangs the diagnosis for good.
 */
function unsignalledTimeoutPolicy(timeoutMs: number): PipelinePolicy {
  return {
    name: 'netdoctorUnsignalledTimeout',
    sendRequest(request, next) {
      if (!request.abortSignal) request.abortSignal = AbortSignal.timeout(timeoutMs);
      return next(request);
    },
  };
}

export function createAzureClients(options: AzureAccessOptions): AzureClients {
  const cloud = CLOUDS[options.cloud ?? 'AzureCloud'];
  const armEndpoint = (options.armEndpoint ?? cloud.armEndpoint).replace(/\/+$/, '');
  const scope = `${cloud.armAudience}/.default`;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const common = {
    endpoint: armEndpoint,
    retryOptions: {
      maxRetries: options.maxRetries ?? 3,
      retryDelayInMs: options.retryDelayMs ?? 800,
      maxRetryDelayInMs: 8_000,
    },
    ...(options.ca ? { tlsOptions: { ca: options.ca } } : {}),
    // perRetry policies run once per attempt, outermost first. The throttle is outside the cap, so
    // a 429 pauses the subscription for the capped Retry-After the retry policy will actually wait.
    additionalPolicies: [
      { policy: unsignalledTimeoutPolicy(timeoutMs), position: 'perCall' as const },
      ...(options.throttle ? [{ policy: options.throttle.policy(), position: 'perRetry' as const }] : []),
      ...(options.metrics ? [{ policy: armMetricsPolicy(options.metrics), position: 'perRetry' as const }] : []),
      { policy: capRetryAfterPolicy(options.maxRetryAfterMs ?? 20_000), position: 'perRetry' as const },
    ],
    userAgentOptions: { userAgentPrefix: 'aml-netdoctor' },
  };
  const network = new Map<string, NetworkManagementClient>();
  const dns = new Map<string, PrivateDnsManagementClient>();
  const ml = new Map<string, AzureMachineLearningWorkspaces>();
  const storage = new Map<string, StorageManagementClient>();
  const keyVault = new Map<string, KeyVaultManagementClient>();
  const registry = new Map<string, ContainerRegistryManagementClient>();
  const memo = <C extends { pipeline: SharedReadsTarget }>(m: Map<string, C>, sub: string, make: () => C): C => {
    const key = sub.toLowerCase();
    let c = m.get(key);
    if (!c) {
      c = make();
      options.sharedReads?.attach(c.pipeline);
      m.set(key, c);
    }
    return c;
  };
  return {
    cloud,
    armEndpoint,
    network: (sub) => memo(network, sub, () => new NetworkManagementClient(options.credential, sub, { ...common, credentials: { scopes: [scope] } })),
    privateDns: (sub) => memo(dns, sub, () => new PrivateDnsManagementClient(options.credential, sub, { ...common, credentials: { scopes: [scope] } })),
    ml: (sub) => memo(ml, sub, () => new AzureMachineLearningWorkspaces(options.credential, sub, { ...common, credentialScopes: [scope], apiVersion: ML_API_VERSION })),
    // Modular clients like network(); key vault and registry would otherwise derive the token scope from the endpoint.
    storage: (sub) => memo(storage, sub, () => new StorageManagementClient(options.credential, sub, { ...common, credentials: { scopes: [scope] } })),
    keyVault: (sub) => memo(keyVault, sub, () => new KeyVaultManagementClient(options.credential, sub, { ...common, credentials: { scopes: [scope] } })),
    containerRegistry: (sub) => memo(registry, sub, () => new ContainerRegistryManagementClient(options.credential, sub, { ...common, credentials: { scopes: [scope] } })),
    call(signal) {
      const timeout = AbortSignal.timeout(timeoutMs);
      return {
        abortSignal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        ...(options.lroPollIntervalMs !== undefined ? { updateIntervalInMs: options.lroPollIntervalMs } : {}),
      };
    },
  };
}
