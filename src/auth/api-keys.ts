/**
 * Static API keys for simple set-ups. The key file (NETDOCTOR_API_KEYS_FILE) holds only hashes:
 *
 *   { "keys": [ { "id": "ops-runbook", "sha256": "<hex sha256 of the key>", "roles": ["Diagnoses.Run", "Reports.Read"] } ] }
 *
 * (`aml-netdoctor hash-key` prints the hash of a key read from stdin). A presented key is hashed and
 * compared with every stored hash in constant time. The file is read again when it changes
 * (checked at most once per `checkIntervalMs` when a key is presented), so keys rotate without a
 * restart; a changed file that is not valid keeps the previous keys and logs an error.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { PERMISSIONS, type Caller } from './authorize.ts';

export class ApiKeyFileError extends Error {
  override name = 'ApiKeyFileError';
}

/** Longest key accepted from a request: longer input is refused before hashing. */
export const MAX_KEY_LENGTH = 512;
/** Shortest key `hash-key` accepts: a plain SHA-256 is only safe for keys nobody can guess. */
export const MIN_KEY_LENGTH = 20;

const KeyFile = Type.Object(
  {
    keys: Type.Array(
      Type.Object(
        {
          id: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:@-]+$' }),
          sha256: Type.String({ pattern: '^[0-9a-fA-F]{64}$' }),
          roles: Type.Array(Type.Enum([...PERMISSIONS]), { uniqueItems: true }),
          description: Type.Optional(Type.String({ maxLength: 1000 })),
        },
        { additionalProperties: false },
      ),
      { maxItems: 10_000 },
    ),
  },
  { additionalProperties: false },
);
const validator = Compile(KeyFile);

export interface ApiKeyEntry {
  id: string;
  hash: Buffer;
  roles: string[];
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The entries of a key file's text; throws ApiKeyFileError saying what is wrong (never a hash). */
export function parseApiKeyFile(text: string): ApiKeyEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ApiKeyFileError('is not valid JSON');
  }
  if (!validator.Check(doc)) {
    const first = validator.Errors(doc)[0];
    throw new ApiKeyFileError(`does not match { "keys": [ { "id", "sha256", "roles": [${PERMISSIONS.join(', ')}] } ] }: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`);
  }
  const entries = doc.keys.map((k) => ({ id: k.id, hash: Buffer.from(k.sha256, 'hex'), roles: [...k.roles] }));
  const ids = new Set<string>();
  const hashes = new Set<string>();
  for (const [i, e] of entries.entries()) {
    if (ids.has(e.id)) throw new ApiKeyFileError(`/keys/${i}/id '${e.id}' is used twice`);
    if (hashes.has(e.hash.toString('hex'))) throw new ApiKeyFileError(`/keys/${i}/sha256 is the hash of another entry's key`);
    ids.add(e.id);
    hashes.add(e.hash.toString('hex'));
  }
  return entries;
}

/**
 * The entry whose hash is the hash of `key`. Every entry is compared (timingSafeEqual, equal
 * lengths), whether or not one matched already, so the time taken says nothing about which matched.
 */
export function matchApiKey(entries: readonly ApiKeyEntry[], key: string): ApiKeyEntry | undefined {
  const digest = createHash('sha256').update(key, 'utf8').digest();
  let found: ApiKeyEntry | undefined;
  for (const entry of entries) {
    const same = timingSafeEqual(digest, entry.hash);
    found = same && found === undefined ? entry : found;
  }
  return found;
}

export interface ApiKeyLookup {
  /** The caller `key` belongs to, or undefined for an unknown key. */
  lookup(key: string): Promise<Caller | undefined>;
}

export interface ApiKeyFileOptions {
  /** How often, at most, the file is checked for a change (default 1 s). */
  checkIntervalMs?: number;
  log?: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

function stampOf(s: { ino: number; size: number; mtimeMs: number }): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
}

/**
 * Reads the key file (throwing ApiKeyFileError when it cannot be read or is not valid: the server
 * refuses to start) and keeps it current.
 */
export async function openApiKeyFile(path: string, opts: ApiKeyFileOptions = {}): Promise<ApiKeyLookup & { count(): number }> {
  const interval = opts.checkIntervalMs ?? 1_000;
  let entries: ApiKeyEntry[];
  let stamp: string;
  try {
    const before = await stat(path);
    entries = parseApiKeyFile(await readFile(path, 'utf8'));
    stamp = stampOf(before);
  } catch (err) {
    if (err instanceof ApiKeyFileError) throw err;
    throw new ApiKeyFileError(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let checkedAt = Date.now();
  let pending: Promise<void> | undefined;

  async function reload(): Promise<void> {
    let seen: string;
    try {
      seen = stampOf(await stat(path));
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      if (stamp !== `missing:${reason}`) opts.log?.error({ file: path, reason }, 'the API key file cannot be read; keeping the previous keys');
      stamp = `missing:${reason}`;
      return;
    }
    if (seen === stamp) return;
    // Recorded before reading: a bad version is reported once, and a later write changes the stamp again.
    stamp = seen;
    try {
      entries = parseApiKeyFile(await readFile(path, 'utf8'));
      opts.log?.info({ file: path, keys: entries.length }, 'API keys reloaded');
    } catch (err) {
      const reason = err instanceof ApiKeyFileError ? err.message : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      opts.log?.error({ file: path, reason }, 'the changed API key file is not valid; keeping the previous keys');
    }
  }

  return {
    count: () => entries.length,
    async lookup(key) {
      if (Date.now() - checkedAt >= interval) {
        checkedAt = Date.now();
        pending ??= reload().finally(() => (pending = undefined));
      }
      if (pending) await pending;
      const entry = matchApiKey(entries, key);
      return entry ? { kind: 'api-key', id: entry.id, roles: [...entry.roles] } : undefined;
    },
  };
}
