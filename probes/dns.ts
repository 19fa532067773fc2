/**
 * Resolves the workspace's names live, as the compute would: the workspace API and cert names, the
 * names the workspace private endpoints serve (api, cert, notebooks) and every compute instance's
 * names, against each configured resolver (or the system resolver). Each answer is kept as
 * observed: rcode, CNAME chain, IPv4 addresses. Rules judge them; this probe only asks.
 */
import { promises as dns } from 'node:dns';
import type { Probe, ProbeContext } from './probe.ts';
import { instanceFqdns, purposeOfName, type CloudProfile } from '../src/model/cloud.ts';
import {
  failed,
  observed,
  type ComputesObs,
  type DependenciesObs,
  type DnsLookupObs,
  type DnsObs,
  type DnsStatus,
  type Observed,
  type PrivateEndpointsObs,
  type WorkspaceObs,
} from '../src/model/snapshot.ts';
import { skipped } from '../src/azure/errors.ts';

const CONCURRENCY = 8;
/** Longest CNAME chain followed; real chains have two or three hops. */
const MAX_CNAME_HOPS = 8;
const WHAT = 'resolving workspace and compute names';

export interface NameToResolve {
  name: string;
  purpose: DnsLookupObs['purpose'];
  computeName?: string;
}

interface ResolverHandle {
  label: string;
  resolver: dns.Resolver;
  /** Set when the server string was rejected: every lookup on it reports this. */
  invalid?: string;
}

type LookupResult = Pick<DnsLookupObs, 'status' | 'cnames' | 'addresses' | 'message'>;

export const probe = {
  id: 'dns',
  title: 'resolving workspace and compute names',
  needs: ['workspace', 'computes', 'privateEndpoints', 'dependencies'],
  async run(ctx, snapshot) {
    const workspace = snapshot.workspace;
    if (!workspace) return failed(skipped(WHAT, 'the workspace was not read', ctx.target.workspaceId));
    if (!workspace.ok) return failed(skipped(WHAT, `reading the workspace failed (${workspace.error.message})`, ctx.target.workspaceId));

    const names = namesToResolve(ctx.cloud, workspace.value, snapshot.computes, snapshot.privateEndpoints, snapshot.dependencies);
    const resolvers = createResolvers(ctx);
    const cancel = () => resolvers.forEach((r) => r.resolver.cancel());
    ctx.signal.addEventListener('abort', cancel, { once: true });
    try {
      const jobs = names.flatMap((n) => resolvers.map((r) => ({ n, r })));
      const lookups = await mapLimit(jobs, CONCURRENCY, ctx.signal, async ({ n, r }): Promise<DnsLookupObs> => {
        const result = r.invalid ? { status: 'error' as const, cnames: [], addresses: [], message: r.invalid } : await lookup(r.resolver, n.name, ctx.dns.tries);
        return { name: n.name, purpose: n.purpose, ...(n.computeName ? { computeName: n.computeName } : {}), resolver: r.label, ...result };
      });
      if (ctx.signal.aborted) return failed({ kind: 'timeout', message: `${WHAT} was cancelled before it finished` });
      lookups.sort((a, b) => compare(a.name, b.name) || compare(a.resolver, b.resolver));
      ctx.log.debug({ names: names.length, resolvers: resolvers.length, lookups: lookups.length }, 'dns lookups done');
      return observed<DnsObs>({ resolvers: resolvers.map((r) => r.label), lookups });
    } finally {
      ctx.signal.removeEventListener('abort', cancel);
    }
  },
} satisfies Probe<'dns'>;

// ---------------------------------------------------------------------------------------------
// Which names

/** The names to resolve, deduplicated case-insensitively (first purpose wins), in a stable order. */
export function namesToResolve(
  cloud: CloudProfile,
  workspace: WorkspaceObs,
  computes: Observed<ComputesObs> | undefined,
  privateEndpoints: Observed<PrivateEndpointsObs> | undefined,
  dependencies?: Observed<DependenciesObs>,
): NameToResolve[] {
  const byName = new Map<string, NameToResolve>();
  const add = (n: NameToResolve) => {
    const name = n.name.toLowerCase().replace(/\.$/, '');
    if (!name || name.includes('*') || byName.has(name)) return;
    byName.set(name, { ...n, name });
  };

  if (workspace.fqdns.api) add({ name: workspace.fqdns.api, purpose: 'workspace-api' });
  if (workspace.fqdns.cert) add({ name: workspace.fqdns.cert, purpose: 'workspace-cert' });

  for (const fqdn of privateEndpointFqdns(privateEndpoints)) {
    const purpose = purposeOfName(cloud, fqdn);
    if (purpose !== 'other') add({ name: fqdn, purpose });
  }

  if (computes?.ok) {
    for (const compute of computes.value.computes) {
      if (compute.computeType.toLowerCase() !== 'computeinstance') continue;
      for (const name of instanceFqdns(cloud, compute.name, workspace.location)) {
        add({ name, purpose: 'instance-name', computeName: compute.name });
      }
    }
  }
  for (const name of dependencyNames(dependencies)) add({ name, purpose: 'dependency' });
  return [...byName.values()];
}

/**
 * The data-plane names of dependencies reached through private endpoints (`<acct>.blob.core.windows.net`,
 * `<kv>.vault.azure.net`, `<acr>.azurecr.io` and the endpoints' own FQDNs): the flow analysis
 * checks they resolve to the endpoint. Dependencies without a private endpoint go out by service
 * tag and need no lookup.
 */
function dependencyNames(dependencies: Observed<DependenciesObs> | undefined): string[] {
  if (!dependencies?.ok) return [];
  return dependencies.value.resources.flatMap(({ observed: d }) => {
    if (!d.ok || d.value.privateEndpoints.length === 0) return [];
    return [...d.value.hostNames, ...d.value.privateEndpoints.flatMap((pe) => (pe.endpoint.ok ? pe.endpoint.value.fqdns : []))];
  });
}

function privateEndpointFqdns(privateEndpoints: Observed<PrivateEndpointsObs> | undefined): string[] {
  if (!privateEndpoints?.ok) return [];
  const fqdns: string[] = [];
  for (const { observed: pe } of privateEndpoints.value.endpoints) {
    if (!pe.ok) continue;
    fqdns.push(...pe.value.customDnsConfigs.map((c) => c.fqdn));
    if (pe.value.nicIpConfigurations.ok) fqdns.push(...pe.value.nicIpConfigurations.value.flatMap((c) => c.fqdns));
  }
  return fqdns;
}

// ---------------------------------------------------------------------------------------------
// Asking

function createResolvers(ctx: ProbeContext): ResolverHandle[] {
  const options = { timeout: ctx.dns.timeoutMs, tries: ctx.dns.tries };
  if (ctx.dns.servers.length === 0) return [{ label: 'system', resolver: new dns.Resolver(options) }];
  return ctx.dns.servers.map((server) => {
    const label = server.trim();
    const resolver = new dns.Resolver(options);
    try {
      resolver.setServers([label]);
      return { label, resolver };
    } catch (err) {
      return { label, resolver, invalid: `invalid DNS server '${label}': ${err instanceof Error ? err.message : String(err)}` };
    }
  });
}

function errorCode(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : '';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function statusOf(code: string): DnsStatus {
  switch (code) {
    case 'ENOTFOUND':
      return 'nxdomain';
    case 'ENODATA':
      return 'nodata';
    case 'ESERVFAIL':
      return 'servfail';
    case 'EREFUSED':
      return 'refused';
    case 'ETIMEOUT':
      return 'timeout';
    default:
      return 'error';
  }
}

/**
 * Asks again after SERVFAIL, up to `tries` attempts in all, as stub resolvers do (glibc's
 * `attempts`): c-ares retries timeouts and unreadable replies itself, but takes a single SERVFAIL
 * as final, and one transient server failure must not become a finding.
 */
async function askWithRetry<T>(tries: number, ask: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ask();
    } catch (err) {
      if (attempt >= tries || errorCode(err) !== 'ESERVFAIL') throw err;
    }
  }
}

/** Follows the CNAME chain one hop at a time; stops at the first name without a CNAME or on any error. */
async function cnameChain(resolver: dns.Resolver, name: string, tries: number): Promise<string[]> {
  const chain: string[] = [];
  let current = name;
  while (chain.length < MAX_CNAME_HOPS) {
    let next: string | undefined;
    const asked = current;
    try {
      next = (await askWithRetry(tries, () => resolver.resolveCname(asked)))[0]?.toLowerCase().replace(/\.$/, '');
    } catch {
      break; // ENODATA / ENOTFOUND: no CNAME here; anything else shows in the A lookup's status
    }
    if (!next || next === name || chain.includes(next)) break;
    chain.push(next);
    current = next;
  }
  return chain;
}

async function lookup(resolver: dns.Resolver, name: string, tries: number): Promise<LookupResult> {
  const [cnames, a] = await Promise.all([
    cnameChain(resolver, name, tries),
    askWithRetry(tries, () => resolver.resolve4(name)).then(
      (v) => ({ ok: true as const, v }),
      (e: unknown) => ({ ok: false as const, e }),
    ),
  ]);
  // A chain that ends without A records comes back as an empty list, not ENODATA.
  if (a.ok) return a.v.length > 0 ? { status: 'ok', cnames, addresses: a.v } : { status: 'nodata', cnames, addresses: [] };
  const status = statusOf(errorCode(a.e));
  return { status, cnames, addresses: [], ...(status === 'error' ? { message: errorMessage(a.e) } : {}) };
}

/** Runs `fn` over `items` with at most `limit` in flight; stops starting new ones once `signal` aborts. */
async function mapLimit<T, R>(items: T[], limit: number, signal: AbortSignal, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal.aborted) {
      const item = items[next++] as T;
      results.push(await fn(item));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
