import t from 'tap';
import { once } from 'node:events';
import { listeningUrl as listening, startServer, type ServerProcess } from '../helpers/server-process.ts';

const TOKEN = 'tok-never-logged-4f1c';

function start(extra: Record<string, string>): ServerProcess {
  return startServer(extra);
}

t.test('node src/server.ts serves /healthz and exits 0 on SIGTERM', async (t) => {
  const { child, stdout, stderr } = start({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'debug', NETDOCTOR_ACCESS_TOKEN: TOKEN });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const url = await listening({ child, stdout, stderr });
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
