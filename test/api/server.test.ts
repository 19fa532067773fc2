import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('../../src/server.ts', import.meta.url));
const TOKEN = 'tok-never-logged-4f1c';

/** The parent's environment without anything the service reads, plus `extra`. */
function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(HOST|PORT|LOG_LEVEL|NETDOCTOR_.*)$/.test(k)) env[k] = v;
  }
  return { ...env, NETDOCTOR_DB_PATH: ':memory:', ...extra };
}

function start(extra: Record<string, string>): { child: ChildProcess; stdout: string[]; stderr: string[] } {
  const child = spawn(process.execPath, [SERVER], { env: envWith(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => stdout.push(l));
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  return { child, stdout, stderr };
}

/** Resolves with the listening URL Fastify logs, or rejects when the process exits first. */
function listeningUrl(child: ChildProcess, stdout: string[], stderr: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'Server listening' log within 20 s:\n${stdout.join('\n')}\n${stderr.join('\n')}`)), 20_000);
    const check = setInterval(() => {
      for (const line of stdout) {
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec((JSON.parse(line) as { msg?: string }).msg ?? '');
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

t.test('node src/server.ts serves /healthz and exits 0 on SIGTERM', async (t) => {
  const { child, stdout, stderr } = start({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'debug', NETDOCTOR_ACCESS_TOKEN: TOKEN });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const url = await listeningUrl(child, stdout, stderr);
  const res = await fetch(`${url}/healthz`, { headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(res.status, 200);
  t.equal(((await res.json()) as { status: string }).status, 'ok');
  const missing = await fetch(`${url}/nope`);
  t.equal(missing.status, 404);
  t.match(missing.headers.get('content-type'), /^application\/problem\+json/);

  child.kill('SIGTERM');
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  t.equal(code, 0, 'clean exit');
  t.equal(signal, null);
  t.ok(stdout.some((l) => (JSON.parse(l) as { msg?: string }).msg === 'shutting down'), 'logs the shutdown');
  t.notMatch(stdout.join('\n') + stderr.join('\n'), TOKEN, 'the access token is never logged');
});

t.test('a bad configuration exits 2 naming the variable', async (t) => {
  const { child, stdout, stderr } = start({ PORT: 'eighty', NETDOCTOR_DNS_SERVERS: '10.0.0.4,resolver', NETDOCTOR_ACCESS_TOKEN: TOKEN });
  const [code] = (await once(child, 'exit')) as [number | null];
  t.equal(code, 2);
  const err = stderr.join('\n');
  t.match(err, /PORT: /);
  t.match(err, /NETDOCTOR_DNS_SERVERS: entry 2: 'resolver'/);
  t.notMatch(err + stdout.join('\n'), TOKEN);
});
