/** `aml-netdoctor hash-key`: the SHA-256 of the key on stdin, for the key file; the key is never printed. */
import t from 'tap';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { main } from '../../src/cli.ts';
import { captureIo } from '../helpers/io.ts';

const KEY = 'Zm9vYmFyYmF6cXV4LWEtcmFuZG9tLWtleQ==';

async function hashKey(stdin: string, args: string[] = []) {
  const io = { ...captureIo(), stdin: Readable.from([Buffer.from(stdin)]) };
  const code = await main(['hash-key', ...args], io);
  return { code, out: io.out(), err: io.err() };
}

t.test('prints the sha256 hex of the key, ignoring one trailing newline', async (t) => {
  const expected = createHash('sha256').update(KEY).digest('hex');
  for (const input of [KEY, `${KEY}\n`, `${KEY}\r\n`]) {
    const { code, out, err } = await hashKey(input);
    t.equal(code, 0);
    t.equal(out, `${expected}\n`);
    t.equal(err, '');
    t.notMatch(out, KEY, 'the key itself is not printed');
  }
});

t.test('a short, empty or multi-word key is refused (exit 2)', async (t) => {
  for (const input of ['', 'short\n', 'two words of a passphrase here\n', `${KEY}\n\n`]) {
    const { code, out, err } = await hashKey(input);
    t.equal(code, 2, JSON.stringify(input));
    t.equal(out, '');
    t.match(err, /hash-key: /);
  }
});

t.test('--help explains the key file', async (t) => {
  const { code, out } = await hashKey('', ['--help']);
  t.equal(code, 0);
  t.match(out, /NETDOCTOR_API_KEYS_FILE/);
  t.match(out, /"sha256": "<hash>"/);
  t.match(out, /X-API-Key/);
});
