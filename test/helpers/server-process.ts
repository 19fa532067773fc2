/**
 * The real service as a child process (`node src/server.ts`), for tests of what only a whole
 * process shows: start-up, signals, shutdown, several replicas on one database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const SERVER = fileURLToPath(new URL('../../src/server.ts', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
}

/**
 * The parent's environment without anything the service reads, plus `extra`. Authentication is off
 * unless `extra` sets NETDOCTOR_AUTH (an empty value unsets it: the server then refuses to start).
 */
export function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(HOST|PORT|LOG_LEVEL|DATABASE_URL|NETDOCTOR_.*)$/.test(k)) env[k] = v;
  }
  return { ...env, NETDOCTOR_DB_PATH: ':memory:', NETDOCTOR_AUTH: 'off', ...extra };
}

export function startServer(extra: Record<string, string>): ServerProcess {
  const child = spawn(process.execPath, [SERVER], { env: envWith(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => stdout.push(l));
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  return { child, stdout, stderr };
}

/** The JSON log lines of a server (other lines are skipped). */
export function logLines(p: ServerProcess): Array<Record<string, unknown>> {
  return p.stdout.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** Resolves with the listening URL Fastify logs, or rejects when the process exits first. */
export function listeningUrl(p: ServerProcess, timeoutMs = 20_000): Promise<string> {
  const { child, stdout, stderr } = p;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'Server listening' log within ${timeoutMs} ms:\n${stdout.join('\n')}\n${stderr.join('\n')}`)), timeoutMs);
    const check = setInterval(() => {
      for (const line of logLines(p)) {
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(typeof line.msg === 'string' ? line.msg : '');
        if (m) {
          clearTimeout(timer);
          clearInterval(check);
          resolve(m[1] as string);
        }
      }
    }, 20);
    child.once('exit', (code) => {
      clearTimeout(timer);
      clearInterval(check);
      reject(new Error(`server exited with ${code}:\n${stdout.join('\n')}\n${stderr.join('\n')}`));
    });
  });
}

/** Polls `read` every 100 ms until it answers something, or throws after `timeoutMs`. */
export async function eventually<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
