/**
 * The PostgreSQL store: the store contract, its migrations, and replicas racing on one database.
 * Needs NETDOCTOR_TEST_DATABASE_URL (scripts/test-postgres.sh start); skips without it (fails under CI).
 * One database for the file; each subtest works in a schema of its own.
 */
import type { Client } from 'pg';
import t from 'tap';
import type { Test } from 'tap';
import type { Migration } from '../../src/store/migrations.ts';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-migrations.ts';
import { openPostgresStore } from '../../src/store/postgres.ts';
import type { Store } from '../../src/store/store.ts';
import { postgresUrl, withClient } from '../helpers/postgres.ts';
import { at, everyMinutes, schedule, storeContract, WS } from './contract.ts';

const url = await postgresUrl(t);
if (url) {
  const db = url;
  let n = 0;
  const newSchema = () => `s${++n}`;
  const open = (schema: string, extra: Partial<Parameters<typeof openPostgresStore>[1]> = {}) => openPostgresStore(db, { schema, poolSize: 4, ...extra });
  const opened = async (t: Test, schema: string): Promise<Store> => {
    const store = await open(schema);
    t.teardown(() => store.close());
    return store;
  };
  const sql = <T>(fn: (c: Client) => Promise<T>) => withClient(db, fn);
  const applied = (schema: string) =>
    sql(async (c) => (await c.query(`SELECT version, name FROM ${schema}.netdoctor_schema ORDER BY version`)).rows.map((r: Record<string, unknown>) => [r.version, r.name]));

  const KNOWN = POSTGRES_MIGRATIONS.at(-1)?.version ?? 0;
  const NEXT: Migration = { version: KNOWN + 1, name: 'labels', sql: 'CREATE TABLE labels (name text PRIMARY KEY)' };

  t.test('contract', async (t) => {
    storeContract(
      t,
      () => open(newSchema()),
      async () => {
        const schema = newSchema();
        return [await open(schema), await open(schema)];
      },
    );
  });

  t.test('migrations are applied once, recorded, and only the missing ones later', async (t) => {
    const schema = newSchema();
    await (await open(schema)).close();
    t.same(await applied(schema), POSTGRES_MIGRATIONS.map((m) => [m.version, m.name]));
    // Re-running migration 1 would fail (CREATE TABLE without IF NOT EXISTS): reopening proves it is skipped.
    await (await open(schema)).close();
    const store = await open(schema, { migrations: [...POSTGRES_MIGRATIONS, NEXT] });
    await store.close();
    await store.close(); // closing twice is harmless
    t.same(await applied(schema), [...POSTGRES_MIGRATIONS, NEXT].map((m) => [m.version, m.name]));
  });

  t.test('a database with a newer schema than the code knows is refused, untouched', async (t) => {
    const schema = newSchema();
    await (await open(schema, { migrations: [...POSTGRES_MIGRATIONS, NEXT] })).close();
    await t.rejects(open(schema), new RegExp(`schema ${schema}\\) has schema version ${KNOWN + 1}, newer than the ${KNOWN} this aml-netdoctor knows.*newer release`));
    t.same(await applied(schema), [...POSTGRES_MIGRATIONS, NEXT].map((m) => [m.version, m.name]));
    const reopened = await open(schema, { migrations: [...POSTGRES_MIGRATIONS, NEXT] });
    t.same(await reopened.listSchedules(), [], 'and the code that knows it still opens it');
    await reopened.close();
  });

  t.test('a failing migration leaves no trace, and bad migration lists or schema names are refused', async (t) => {
    const schema = newSchema();
    const broken: Migration = { version: KNOWN + 1, name: 'broken', sql: 'CREATE TABLE half (x integer); CREATE TABLE oops (' };
    await t.rejects(open(schema, { migrations: [...POSTGRES_MIGRATIONS, broken] }), /syntax error/);
    const schemas = await sql(async (c) => (await c.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])).rowCount);
    t.equal(schemas, 0, 'not even the schema was created');
    await t.rejects(open(schema, { migrations: [NEXT, ...POSTGRES_MIGRATIONS] }), /strictly increasing/);
    await t.rejects(open('Robert"; DROP TABLE runs; --'), /schema name .* is not allowed/);
    await (await open(schema)).close();
    t.same(await applied(schema), POSTGRES_MIGRATIONS.map((m) => [m.version, m.name]));
  });

  t.test('replicas starting together on a new database migrate it once', async (t) => {
    const schema = newSchema();
    const stores = await Promise.all([1, 2, 3, 4].map(() => open(schema)));
    t.teardown(() => Promise.all(stores.map((s) => s.close())));
    t.same(await applied(schema), POSTGRES_MIGRATIONS.map((m) => [m.version, m.name]));
    const s = await stores[0]?.createSchedule(schedule());
    t.equal((await stores[3]?.getSchedule(s?.id ?? ''))?.id, s?.id, 'they share the tables');
  });

  t.test('a connection the server drops does not crash the process; the store carries on', async (t) => {
    const schema = newSchema();
    const errors: Error[] = [];
    const store = await open(schema, { onError: (err) => errors.push(err) });
    t.teardown(() => store.close());
    await Promise.all([store.listRuns(), store.listRuns(), store.listSchedules()]); // a few idle connections
    await sql((c) => c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = ''`));
    for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    t.ok(errors.length > 0, 'the idle connections reported their end');
    t.match(errors[0]?.message, /terminat/);
    const run = await store.createRun({ request: { workspaceId: WS }, createdAt: at(0) });
    t.equal((await store.getRun(run.id))?.id, run.id, 'new connections serve the next queries');
  });

  t.test('several replicas claiming the same due schedules never claim a tick twice and never lose one', async (t) => {
    const schema = newSchema();
    const SCHEDULES = 10;
    const ROUNDS = 30;
    const POOLS = 4;
    const setup = await opened(t, schema);
    const ids: string[] = [];
    for (let i = 0; i < SCHEDULES; i++) ids.push((await setup.createSchedule(schedule({ nextRunAt: at(0) }))).id);
    const replicas = await Promise.all(Array.from({ length: POOLS }, () => opened(t, schema)));
    const next = everyMinutes(15);

    const claims: Array<{ owner: string; key: string; runId: string }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const now = at(round * 15);
      await Promise.all(
        replicas.map(async (store, i) => {
          const owner = `replica-${i}`;
          for (;;) {
            const got = await store.claimDueSchedules(now, owner, 3, next);
            if (!got.length) return;
            for (const c of got) claims.push({ owner, key: `${c.scheduleId}@${c.scheduledFor.toISOString()}`, runId: c.runId });
          }
        }),
      );
    }

    const keys = claims.map((c) => c.key);
    t.equal(new Set(keys).size, keys.length, 'no (schedule, time) was claimed twice');
    t.equal(keys.length, SCHEDULES * ROUNDS, 'every occurrence was claimed by someone');
    t.same(new Set(claims.map((c) => c.key.split('@')[0])), new Set(ids));
    t.ok(new Set(claims.map((c) => c.owner)).size > 1, 'the claims were spread over the replicas');
    const recorded = await sql(async (c) =>
      (await c.query(`SELECT owner, COUNT(*)::int AS n FROM ${schema}.ticks GROUP BY owner ORDER BY owner`)).rows.map((r: Record<string, unknown>) => [r.owner, r.n]),
    );
    const told = new Map<string, number>();
    for (const c of claims) told.set(c.owner, (told.get(c.owner) ?? 0) + 1);
    t.same(recorded, [...told].sort(([a], [b]) => a.localeCompare(b)), 'the tick rows match what each replica was told it claimed');
    const runs = await setup.listRuns({ limit: SCHEDULES * ROUNDS + 10 });
    t.equal(runs.length, claims.length, 'one run per claimed tick, no more');
    t.same(new Set(runs.map((r) => r.id)), new Set(claims.map((c) => c.runId)));
    const final = (await setup.listSchedules()).map((s) => [s.nextRunAt?.toISOString(), s.lastRunAt?.toISOString()]);
    t.same(final, ids.map(() => [at(ROUNDS * 15).toISOString(), at((ROUNDS - 1) * 15).toISOString()]), 'every schedule ends where its cadence says');
  });
}
