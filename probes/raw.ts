/**
 * Narrowing helpers for raw ARM JSON bodies: the parts of a response an SDK model drops
 * (the ML SDK's 2022-10-01 model has no `managedNetwork` and no `enableSSO`).
 */
export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `v[key]` when `v` is an object, else undefined. */
export function field(v: unknown, key: string): unknown {
  return isObject(v) ? v[key] : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function bool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}

/** Parses a response body; undefined for an empty or non-JSON body. */
export function parseBody(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
