/**
 * ARM resource ids: parsing, validation and comparison. ARM treats ids case-insensitively, so every
 * comparison in the project goes through `sameId` / `idKey`.
 */
export interface ArmId {
  /** The id as given, trimmed, without a trailing slash. */
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  /** Provider namespace, e.g. `Microsoft.Network`. */
  namespace: string;
  /** Type segments below the provider, e.g. `['virtualNetworks', 'subnets']`. */
  types: string[];
  /** Name segments, one per type, e.g. `['vnet-a', 'snet-compute']`. */
  names: string[];
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A segment of dots only is never an ARM name, and URL normalisation would turn `..` into a path
// trick (…/resourceGroups/../providers/… reaches another ARM path), so it is rejected too.
const SEGMENT = /^(?!\.+$)[^/?#\s]+$/;

export class ArmIdError extends Error {
  readonly code = 'INVALID_ARM_ID';
}

/** Parses a resource id below a resource group. Throws ArmIdError with a message naming what is wrong. */
export function parseArmId(input: string): ArmId {
  // A lone surrogate cannot be sent (encodeURIComponent throws) nor stored (it becomes U+FFFD).
  if (!input.isWellFormed()) throw new ArmIdError(`'${input}' is not an ARM resource id: it holds an unpaired UTF-16 surrogate`);
  const id = input.trim().replace(/\/+$/, '');
  const parts = id.split('/');
  if (parts[0] !== '' || parts.length < 9) {
    throw new ArmIdError(`'${input}' is not an ARM resource id: expected /subscriptions/<guid>/resourceGroups/<rg>/providers/<namespace>/<type>/<name>`);
  }
  const [, subsKw, sub, rgKw, rg, provKw, ns, ...rest] = parts as [string, string, string, string, string, string, string, ...string[]];
  if (subsKw.toLowerCase() !== 'subscriptions') throw new ArmIdError(`'${input}' must start with /subscriptions/`);
  if (!GUID.test(sub)) throw new ArmIdError(`'${input}': subscription '${sub}' is not a GUID`);
  if (rgKw.toLowerCase() !== 'resourcegroups' || !SEGMENT.test(rg)) throw new ArmIdError(`'${input}': expected /resourceGroups/<name> after the subscription`);
  if (provKw.toLowerCase() !== 'providers' || !SEGMENT.test(ns) || !ns.includes('.')) throw new ArmIdError(`'${input}': expected /providers/<Namespace.Name> after the resource group`);
  if (rest.length === 0 || rest.length % 2 !== 0 || rest.some((s) => !SEGMENT.test(s))) {
    throw new ArmIdError(`'${input}': expected <type>/<name> pairs after the provider namespace`);
  }
  const types: string[] = [];
  const names: string[] = [];
  for (let i = 0; i < rest.length; i += 2) {
    types.push(rest[i] as string);
    names.push(rest[i + 1] as string);
  }
  return { id, subscriptionId: sub.toLowerCase(), resourceGroup: rg, namespace: ns, types, names };
}

/** Like parseArmId but returns undefined instead of throwing. */
export function tryParseArmId(input: string | undefined | null): ArmId | undefined {
  if (!input) return undefined;
  try {
    return parseArmId(input);
  } catch {
    return undefined;
  }
}

/** Validates a workspace id (Microsoft.MachineLearningServices/workspaces/<name>). */
export function parseWorkspaceId(input: string): ArmId {
  const p = parseArmId(input);
  if (p.namespace.toLowerCase() !== 'microsoft.machinelearningservices' || p.types.length !== 1 || p.types[0]?.toLowerCase() !== 'workspaces') {
    throw new ArmIdError(`'${input}' is not an Azure ML workspace id: expected .../providers/Microsoft.MachineLearningServices/workspaces/<name>`);
  }
  return p;
}

/** The last name segment of an id (the resource's own name). */
export function nameOf(id: string): string {
  const parts = id.replace(/\/+$/, '').split('/');
  return parts[parts.length - 1] ?? id;
}

/** The id of the parent resource (drops the last type/name pair). */
export function parentId(id: string): string {
  return id.replace(/\/+$/, '').split('/').slice(0, -2).join('/');
}

/** Canonical lower-case form for maps and comparisons. */
export function idKey(id: string): string {
  return id.trim().replace(/\/+$/, '').toLowerCase();
}

export function sameId(a: string | undefined | null, b: string | undefined | null): boolean {
  return !!a && !!b && idKey(a) === idKey(b);
}

export function isGuid(s: string): boolean {
  return GUID.test(s);
}

/** A VM (`Microsoft.Compute/virtualMachines/<name>`) or NIC (`Microsoft.Network/networkInterfaces/<name>`) id. */
export function isVantageId(input: string): boolean {
  const p = tryParseArmId(input);
  if (!p || p.types.length !== 1) return false;
  const type = `${p.namespace}/${p.types[0]}`.toLowerCase();
  return type === 'microsoft.compute/virtualmachines' || type === 'microsoft.network/networkinterfaces';
}

/**
 * The NIC behind an ipConfiguration id (`…/networkInterfaces/<nic>/ipConfigurations/<x>`);
 * undefined for anything else (load balancer frontends, scale-set NICs, private link services).
 */
export function nicOfIpConfiguration(ipConfigurationId: string): string | undefined {
  const p = tryParseArmId(ipConfigurationId);
  if (!p || p.namespace.toLowerCase() !== 'microsoft.network') return undefined;
  const types = p.types.map((t) => t.toLowerCase());
  if (types.length !== 2 || types[0] !== 'networkinterfaces' || types[1] !== 'ipconfigurations') return undefined;
  return parentId(ipConfigurationId);
}
