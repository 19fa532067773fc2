/**
 * A simulated Azure Resource Manager on loopback HTTPS, serving one scenario's resources to the
 * real SDK clients: resource GETs, paged collections, long-running diagnostic POSTs and injected
 * faults, with ARM's wire conventions (case-insensitive paths, `{value,nextLink}` pages, 202 +
 * Location polling, `{error:{code,message}}` bodies). Faults answer an ARM error, reset the
 * connection, hang, or send malformed JSON (ScenarioFault). It never connects anywhere.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { idKey, tryParseArmId, type ArmId } from '../model/arm-id.ts';
import { generateTls, type GeneratedTls } from './ca.ts';
import type { Scenario, ScenarioFault, ScenarioFaultKind, ScenarioOperation, ScenarioResource } from './scenario.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body?: unknown;
  /** The status answered; 0 when a `reset` or `hang` fault sent no answer. */
  status: number;
  /** The kind of fault that answered this request, if one did. */
  fault?: ScenarioFaultKind;
  /** When the request was received (Date.now()), for rate checks. */
  at: number;
}

export interface ArmSimulatorOptions {
  scenario: Pick<Scenario, 'resources' | 'operations' | 'faults'>;
  /** Default '127.0.0.1'; anything that is not a loopback address is refused. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Added to every response. */
  latencyMs?: number;
  /** Items per list page before a nextLink; default 2 so paging is always exercised. */
  pageSize?: number;
  /** How many 202 answers an LRO gives on its Location before the result; default 1. */
  lroPolls?: number;
  /** Reuse a CA; generated when absent. */
  tls?: GeneratedTls;
}

export interface ArmSimulator {
  /** https://127.0.0.1:<port> */
  url: string;
  caPem: string;
  requests: RecordedRequest[];
  /** Replaces the fault list (and resets `times` counters). */
  setFaults(faults: ScenarioFault[]): void;
  setLatency(ms: number): void;
  /** Writes ca.pem into `dir` and returns its path (for NODE_EXTRA_CA_CERTS in subprocesses). */
  writeCaFile(dir: string): Promise<string>;
  /** Stops listening and closes keep-alive sockets and requests left hanging by `hang` faults. */
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Misbehave instead of answering normally (`reset`, `hang`), or cut the JSON body short. */
  fault?: Exclude<ScenarioFaultKind, 'status'>;
}

interface StoredResource {
  resource: ScenarioResource;
  key: string;
  parsed: ArmId | undefined;
}

interface ActiveFault {
  fault: ScenarioFault;
  pattern: RegExp;
  query: RegExp | undefined;
  hits: number;
}

interface PendingOperation {
  result: unknown;
  /** Infinity for an operation that never finishes. */
  pollsLeft: number;
}

/** Record-set types below a private DNS zone: what `<zone>/ALL` lists. */
const RECORD_TYPES = new Set(['a', 'aaaa', 'cname', 'mx', 'ptr', 'soa', 'srv', 'txt']);

/** The identity the simulated ARM names in AuthorizationFailed messages. */
const SIM_CLIENT_ID = '00000000-0000-0000-0000-00000000a11e';

// ---------------------------------------------------------------------------------------------
// Pure helpers

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || h === '[::1]' || /^127(\.\d{1,3}){3}$/.test(h);
}

function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function armError(status: number, code: string, message: string, headers?: Record<string, string>): Reply {
  return { status, body: { error: { code, message } }, ...(headers ? { headers } : {}) };
}

function invalidRequest(message: string): Reply {
  return armError(400, 'InvalidRequest', message);
}

/** ARM's message for a resource that does not exist. */
function notFound(id: string): Reply {
  const p = tryParseArmId(id);
  if (!p) return armError(404, 'ResourceNotFound', `The Resource '${id}' was not found.`);
  // ARM names the type/name chain: 'Microsoft.Network/virtualNetworks/vnet' or '…/virtualNetworks/vnet/subnets/s'.
  const label = [p.namespace, ...p.types.flatMap((t, i) => [t, p.names[i] ?? ''])].join('/');
  return armError(404, 'ResourceNotFound', `The Resource '${label}' under resource group '${p.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The RBAC action ARM would check for a request, e.g. `Microsoft.Network/virtualNetworks/read`. */
export function derivedAction(method: string, path: string): string {
  const segs = path.split('/').filter(Boolean);
  const lower = segs.map((s) => s.toLowerCase());
  const prov = lower.lastIndexOf('providers');
  if (prov < 0 || prov + 1 >= segs.length) return lower.includes('resourcegroups') ? 'Microsoft.Resources/subscriptions/resourceGroups/read' : 'Microsoft.Resources/subscriptions/read';
  const ns = segs[prov + 1] as string;
  const rest = segs.slice(prov + 2);
  const types = rest.filter((_, i) => i % 2 === 0);
  if (method.toUpperCase() === 'POST' && rest.length % 2 === 1 && rest.length > 1) {
    const action = types.pop() as string;
    return [ns, ...types, action, 'action'].join('/');
  }
  return [ns, ...types, 'read'].join('/');
}

/** The ARM error body a `status` fault answers with. */
export function faultReply(fault: ScenarioFault, method: string, path: string): Reply {
  const s = fault.status ?? 500;
  if (s === 401) return armError(s, fault.code ?? 'AuthenticationFailed', fault.message ?? 'Authentication failed. The access token is invalid or expired.');
  if (s === 403) {
    const message =
      fault.message ??
      `The client '${SIM_CLIENT_ID}' with object id '${SIM_CLIENT_ID}' does not have authorization to perform action '${derivedAction(method, path)}' over scope '${path}' or the scope is invalid. If access was recently granted, please refresh your credentials.`;
    return armError(s, fault.code ?? 'AuthorizationFailed', message);
  }
  if (s === 404) {
    const nf = notFound(path);
    if (!fault.code && !fault.message) return nf;
    return armError(s, fault.code ?? 'ResourceNotFound', fault.message ?? (nf.body as { error: { message: string } }).error.message);
  }
  if (s === 429) {
    return armError(s, fault.code ?? 'TooManyRequests', fault.message ?? 'The request is being throttled.', { 'retry-after': String(fault.retryAfterSeconds ?? 1) });
  }
  const retry: Record<string, string> | undefined = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : undefined;
  if (s >= 500) return armError(s, fault.code ?? 'InternalServerError', fault.message ?? 'The server encountered an internal error. Please retry the request.', retry);
  if (s === 400) return armError(s, fault.code ?? 'InvalidRequest', fault.message ?? 'The request is invalid.', retry);
  return armError(s, fault.code ?? 'Error', fault.message ?? `Simulated fault ${s}.`, retry);
}

function compilePattern(what: string, source: string): RegExp {
  try {
    return new RegExp(source, 'i');
  } catch (e) {
    throw new Error(`Invalid fault ${what} pattern '${source}': ${(e as Error).message}`);
  }
}

function compileFaults(faults: ScenarioFault[]): ActiveFault[] {
  return faults.map((fault) => ({
    fault,
    pattern: compilePattern('path', fault.path),
    query: fault.query !== undefined ? compilePattern('query', fault.query) : undefined,
    hits: 0,
  }));
}

/** Text that starts like the JSON answer but is cut short, so no JSON parser accepts it. */
export function malformedJson(body: unknown): string {
  const text = body === undefined ? '{"value":[{"id":"' : JSON.stringify(body);
  return text.slice(0, Math.max(1, Math.floor(text.length / 2)));
}

/** Default name/type derived from the id, overridden by whatever the scenario stored. */
function present(r: StoredResource): ScenarioResource {
  const copy = structuredClone(r.resource);
  if (r.parsed) {
    const p = r.parsed;
    return { name: p.names[p.names.length - 1], type: [p.namespace, ...p.types].join('/'), ...copy };
  }
  return copy;
}

/** Items of the resource's property arrays whose id is a direct child of the resource. */
function embeddedChildren(parent: StoredResource): StoredResource[] {
  const out: StoredResource[] = [];
  for (const value of Object.values(parent.resource.properties ?? {})) {
    if (!Array.isArray(value)) continue;
    for (const item of value as unknown[]) {
      if (typeof item !== 'object' || item === null || typeof (item as { id?: unknown }).id !== 'string') continue;
      const resource = item as ScenarioResource;
      const key = idKey(resource.id);
      if (key.startsWith(`${parent.key}/`) && key.slice(parent.key.length + 1).split('/').length === 2) {
        out.push({ resource, key, parsed: tryParseArmId(resource.id) });
      }
    }
  }
  return out;
}

/** Every key of `match` is in `body` with the same value (as strings, case-insensitive). */
function bodyMatches(match: Record<string, string> | undefined, body: unknown): boolean {
  if (!match) return true;
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Record<string, unknown>;
  return Object.entries(match).every(([k, v]) => {
    const actual = b[k];
    return (typeof actual === 'string' || typeof actual === 'number' || typeof actual === 'boolean') && String(actual).toLowerCase() === v.toLowerCase();
  });
}

// ---------------------------------------------------------------------------------------------
// The resource store

class Estate {
  readonly all: StoredResource[];
  private readonly byKey = new Map<string, StoredResource>();
  /** Direct children by parent key (`<parent>/<type>/<name>`), in `all` order: listings of a large estate stay fast. */
  private readonly byParent = new Map<string, StoredResource[]>();
  private readonly operations: ScenarioOperation[];

  constructor(resources: ScenarioResource[], operations: ScenarioOperation[]) {
    this.all = resources.map((resource) => ({ resource, key: idKey(resource.id), parsed: tryParseArmId(resource.id) }));
    for (const r of this.all) this.byKey.set(r.key, r);
    // Children written inline (a VNet's properties.subnets with ids) are addressable too, as in ARM.
    for (const child of this.all.flatMap(embeddedChildren)) {
      if (this.byKey.has(child.key)) continue;
      this.all.push(child);
      this.byKey.set(child.key, child);
    }
    for (const r of this.all) {
      const parent = r.key.split('/').slice(0, -2).join('/');
      const siblings = this.byParent.get(parent);
      if (siblings) siblings.push(r);
      else this.byParent.set(parent, [r]);
    }
    this.operations = operations;
  }

  get(id: string): StoredResource | undefined {
    return this.byKey.get(idKey(id));
  }

  /** A parent exists when it is stored or when something is stored below it. */
  exists(id: string): boolean {
    const key = idKey(id);
    return this.byKey.has(key) || this.all.some((r) => r.key.startsWith(`${key}/`));
  }

  children(parentId: string, childType: string): StoredResource[] {
    const parent = idKey(parentId);
    const type = childType.toLowerCase();
    return (this.byParent.get(parent) ?? []).filter((r) => {
      const rest = r.key.slice(parent.length + 1).split('/');
      if (rest.length !== 2) return false;
      return type === 'all' ? RECORD_TYPES.has(rest[0] as string) : rest[0] === type;
    });
  }

  topLevel(sub: string, rg: string | undefined, ns: string, type: string): StoredResource[] {
    return this.all.filter((r) => {
      const p = r.parsed;
      return (
        !!p &&
        p.types.length === 1 &&
        p.subscriptionId === sub.toLowerCase() &&
        (rg === undefined || p.resourceGroup.toLowerCase() === rg.toLowerCase()) &&
        p.namespace.toLowerCase() === ns.toLowerCase() &&
        p.types[0]?.toLowerCase() === type.toLowerCase()
      );
    });
  }

  /** The first operation on this resource and action whose `match` (if any) the request body satisfies. */
  operation(resourceId: string, action: string, body: unknown): ScenarioOperation | undefined {
    return this.operations.find(
      (o) => idKey(o.resourceId) === idKey(resourceId) && o.action.toLowerCase() === action.toLowerCase() && bodyMatches(o.match, body),
    );
  }

  /** A resource as GET returns it: a VNet carries its subnets and peerings. */
  view(r: StoredResource): ScenarioResource {
    const out = present(r);
    const p = r.parsed;
    if (p && p.namespace.toLowerCase() === 'microsoft.network' && p.types.length === 1 && p.types[0]?.toLowerCase() === 'virtualnetworks') {
      const props: Record<string, unknown> = { ...(out.properties ?? {}) };
      if (props.subnets === undefined) props.subnets = this.children(r.resource.id, 'subnets').map(present);
      if (props.virtualNetworkPeerings === undefined) props.virtualNetworkPeerings = this.children(r.resource.id, 'virtualNetworkPeerings').map(present);
      out.properties = props;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// The server

export async function startArmSimulator(options: ArmSimulatorOptions): Promise<ArmSimulator> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) throw new Error(`The simulated ARM only listens on loopback addresses; refusing host '${host}'.`);
  const tls = options.tls ?? (await generateTls());
  const pageSize = Math.max(1, options.pageSize ?? 2);
  const lroPolls = Math.max(0, options.lroPolls ?? 1);
  const estate = new Estate(options.scenario.resources, options.scenario.operations ?? []);
  let faults = compileFaults(options.scenario.faults ?? []);
  let latencyMs = options.latencyMs ?? 0;
  let baseUrl = '';
  const requests: RecordedRequest[] = [];
  const pendingOps = new Map<string, PendingOperation>();
  const timers = new Set<NodeJS.Timeout>();
  /** Requests a `hang` fault never answers: destroyed on close(). */
  const hanging = new Set<ServerResponse>();

  function matchFault(method: string, path: string, rawQuery: string): ScenarioFault | undefined {
    for (const f of faults) {
      if (f.fault.method && f.fault.method.toUpperCase() !== method) continue;
      if (!f.pattern.test(path)) continue;
      if (f.query && !f.query.test(rawQuery)) continue;
      if (f.fault.times !== undefined && f.hits >= f.fault.times) continue;
      f.hits += 1;
      return f.fault;
    }
    return undefined;
  }

  function page(items: StoredResource[], path: string, query: Record<string, string>): Reply {
    const skip = Math.max(0, Number.parseInt(query.$skiptoken ?? '0', 10) || 0);
    const value = items.slice(skip, skip + pageSize).map((r) => estate.view(r));
    const body: { value: ScenarioResource[]; nextLink?: string } = { value };
    if (skip + pageSize < items.length) {
      body.nextLink = `${baseUrl}${path.split('/').map(encodeURIComponent).join('/')}?$skiptoken=${skip + pageSize}`;
    }
    return { status: 200, body };
  }

  function startOperation(sub: string, ns: string, location: string, op: ScenarioOperation): Reply {
    const opId = randomUUID();
    pendingOps.set(opId, { result: op.result, pollsLeft: op.neverFinishes ? Number.POSITIVE_INFINITY : lroPolls });
    const base = `${baseUrl}/subscriptions/${sub}/providers/${ns}/locations/${encodeURIComponent(location)}`;
    return {
      status: 202,
      headers: {
        location: `${base}/operationResults/${opId}`,
        'azure-asyncoperation': `${base}/operations/${opId}`,
        'retry-after': '0',
      },
    };
  }

  /** One poll of either URL of an operation; both share the countdown so they agree on completion. */
  function pollOperation(kind: string, opId: string): Reply {
    const op = pendingOps.get(opId.toLowerCase());
    if (!op) return armError(404, 'OperationNotFound', `The operation '${opId}' was not found.`);
    const running = op.pollsLeft > 0;
    if (running) op.pollsLeft -= 1;
    if (kind === 'operationresults') return running ? { status: 202, headers: { 'retry-after': '0' } } : { status: 200, body: op.result };
    return { status: 200, body: { id: opId, name: opId, status: running ? 'InProgress' : 'Succeeded' } };
  }

  function route(method: string, segs: string[], path: string, query: Record<string, string>, body: unknown): Reply {
    const lower = segs.map((s) => s.toLowerCase());
    if (lower[0] !== 'subscriptions' || segs.length < 2) return invalidRequest(`The request path '${path}' is not a supported ARM path.`);
    const sub = segs[1] as string;

    // /subscriptions/{s}/providers/{ns}/...
    if (lower[2] === 'providers') {
      const ns = segs[3] as string;
      if (segs.length === 5 && method === 'GET') return page(estate.topLevel(sub, undefined, ns, segs[4] as string), path, query);
      // Subscription-level singletons stored as resources, e.g. .../locations/{region}/serviceTags.
      const single = method === 'GET' ? estate.get(path) : undefined;
      if (single) return { status: 200, body: structuredClone(single.resource) };
      if (segs.length === 8 && method === 'GET' && lower[4] === 'locations' && (lower[6] === 'operationresults' || lower[6] === 'operations')) {
        return pollOperation(lower[6], segs[7] as string);
      }
      return invalidRequest(`'${method} ${path}' is not supported by the simulated ARM.`);
    }

    if (lower[2] !== 'resourcegroups' || segs.length < 4) return invalidRequest(`'${method} ${path}' is not supported by the simulated ARM.`);
    const rg = segs[3] as string;
    const rgId = `/subscriptions/${sub}/resourceGroups/${rg}`;

    if (segs.length === 4 && method === 'GET') {
      if (!estate.exists(rgId)) return armError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
      return { status: 200, body: { id: rgId, name: rg, type: 'Microsoft.Resources/resourceGroups', properties: { provisioningState: 'Succeeded' } } };
    }
    if (lower[4] !== 'providers' || segs.length < 7) return invalidRequest(`'${method} ${path}' is not supported by the simulated ARM.`);
    const ns = segs[5] as string;
    const rest = segs.slice(6);

    if (rest.length === 1) {
      if (method !== 'GET') return invalidRequest(`'${method} ${path}' is not supported by the simulated ARM.`);
      return page(estate.topLevel(sub, rg, ns, rest[0] as string), path, query);
    }
    if (rest.length % 2 === 0) {
      if (method !== 'GET') return invalidRequest(`'${method}' on a resource is not supported by the simulated ARM (it is read-only).`);
      const found = estate.get(path);
      return found ? { status: 200, body: estate.view(found) } : notFound(path);
    }
    // Odd: <parent id>/<childType or action>
    const parentId = `/${segs.slice(0, -1).join('/')}`;
    const last = segs[segs.length - 1] as string;
    if (method === 'GET') {
      if (!estate.exists(parentId)) return notFound(parentId);
      return page(estate.children(parentId, last), path, query);
    }
    if (method === 'POST') {
      const parent = estate.get(parentId);
      if (!parent) return notFound(parentId);
      const op = estate.operation(parentId, last, body);
      if (!op) return notFound(path);
      const location = typeof parent.resource.location === 'string' && parent.resource.location ? parent.resource.location : 'global';
      return startOperation(sub, ns, location, op);
    }
    return invalidRequest(`'${method} ${path}' is not supported by the simulated ARM.`);
  }

  function handle(req: IncomingMessage, rawBody: string): Reply {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'https://sim.invalid');
    const rawQuery = url.search.replace(/^\?/, '');
    const segs = url.pathname.split('/').filter(Boolean).map(safeDecode);
    const path = `/${segs.join('/')}`;
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined) continue;
      headers[k] = k === 'authorization' ? '[redacted]' : Array.isArray(v) ? v.join(', ') : v;
    }
    const record: RecordedRequest = { method, path, query, headers, status: 0, at: Date.now() };
    if (rawBody) {
      try {
        record.body = JSON.parse(rawBody) as unknown;
      } catch {
        record.body = rawBody;
      }
    }
    requests.push(record);

    let reply: Reply;
    const auth = req.headers.authorization ?? '';
    if (!/^Bearer\s+\S+/i.test(auth)) {
      reply = armError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing or is not a Bearer token.");
    } else {
      const fault = matchFault(method, path, rawQuery);
      reply = fault ? replyForFault(fault, method, path, () => route(method, segs, path, query, record.body)) : route(method, segs, path, query, record.body);
      if (fault) record.fault = fault.kind ?? 'status';
    }
    record.status = reply.fault === 'reset' || reply.fault === 'hang' ? 0 : reply.status;
    return reply;
  }

  function replyForFault(fault: ScenarioFault, method: string, path: string, normal: () => Reply): Reply {
    const kind = fault.kind ?? 'status';
    if (kind === 'status') return faultReply(fault, method, path);
    if (kind === 'malformed-json') return { status: 200, body: normal().body, fault: kind };
    return { status: 0, fault: kind };
  }

  function send(res: ServerResponse, reply: Reply): void {
    if (res.destroyed || res.writableEnded) return;
    if (reply.fault === 'reset') {
      res.socket?.destroy();
      return;
    }
    if (reply.fault === 'hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    const headers: Record<string, string> = { 'x-ms-request-id': randomUUID(), ...reply.headers };
    if (reply.fault === 'malformed-json') {
      const text = malformedJson(reply.body);
      res.writeHead(200, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
      return;
    }
    if (reply.body === undefined) {
      res.writeHead(reply.status, { ...headers, 'content-length': '0' });
      res.end();
      return;
    }
    const text = JSON.stringify(reply.body);
    res.writeHead(reply.status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
    res.end(text);
  }

  const server = https.createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    res.on('error', () => {});
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      let reply: Reply;
      try {
        reply = handle(req, Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        reply = armError(500, 'InternalServerError', `Simulated ARM failed: ${(e as Error).message}`);
      }
      if (latencyMs <= 0) return send(res, reply);
      const timer = setTimeout(() => {
        timers.delete(timer);
        send(res, reply);
      }, latencyMs);
      timers.add(timer);
    });
  });
  server.on('tlsClientError', () => {}); // clients that reject our certificate are expected in tests

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `https://${urlHost(host)}:${port}`;

  return {
    url: baseUrl,
    caPem: tls.caPem,
    requests,
    setFaults(next) {
      faults = compileFaults(next);
    },
    setLatency(ms) {
      latencyMs = Math.max(0, ms);
    },
    async writeCaFile(dir) {
      await mkdir(dir, { recursive: true });
      const file = join(dir, 'ca.pem');
      await writeFile(file, tls.caPem);
      return file;
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const res of hanging) res.destroy();
      hanging.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
