/**
 * A fresh PostgreSQL database per test, on the server NETDOCTOR_TEST_DATABASE_URL points at
 * (scripts/test-postgres.sh starts a throwaway one on 127.0.0.1). Without it the PostgreSQL tests
 * skip, except under CI, where they fail: CI must run them.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Test } from 'tap';

export const START_POSTGRES =
  'NETDOCTOR_TEST_DATABASE_URL is not set: run `eval "$(scripts/test-postgres.sh start)"` to start a throwaway PostgreSQL on 127.0.0.1 and set it (`scripts/test-postgres.sh stop` removes it)';

/** Runs fn on a connection of its own to `url`, closed afterwards. */
export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {}); // the query in flight reports it
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates a uniquely named database (dropped when `t` ends, its connections ended first) and
 * returns its URL; undefined, with `t` skipped (failed under CI), when no server is configured.
 */
export async function postgresUrl(t: Test): Promise<string | undefined> {
  const admin = process.env.NETDOCTOR_TEST_DATABASE_URL;
  if (!admin) {
    if (process.env.CI) t.fail(START_POSTGRES);
    else t.plan(0, START_POSTGRES); // skips t: call this before t asserts anything
    return undefined;
  }
  // A plain lower-case identifier: safe to splice into CREATE/DROP DATABASE, which take no parameters.
  const name = `netdoctor_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  await withClient(admin, (c) => c.query(`CREATE DATABASE ${name}`));
  t.teardown(() =>
    withClient(admin, async (c) => {
      await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }),
  );
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}
