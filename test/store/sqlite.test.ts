import t from 'tap';
import type { Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { MIGRATIONS, type Migration } from '../../src/store/migrations.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/store.ts';
import { at, everyMinutes, report, schedule, storeContract, WS } from './contract.ts';

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'netdoctor-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Reads the database directly, bypassing the store. */
function peek<T>(path: string, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const appliedVersions = (path: string): unknown[] =>
  peek(path, (db) => db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all().map((r) => [r.version, r.name]));

/** The newest schema the code knows, and a migration one past it (a newer release's). */
const KNOWN = MIGRATIONS.at(-1)?.version ?? 0;
const NEXT: Migration = { version: KNOWN + 1, name: 'labels', sql: 'CREATE TABLE labels (name TEXT PRIMARY KEY)' };

/** Two connections to one new file: two replicas sharing a database. */
function twinsIn(dir: string): () => Promise<[Store, Store]> {
  let n = 0;
  return async () => {
    const path = join(dir, `twins-${++n}.db`);
    return [await openSqliteStore(path), await openSqliteStore(path)];
  };
}

t.test('contract: in memory', async (t) => {
  const dir = await tempDir(t);
  storeContract(t, () => openSqliteStore(':memory:'), twinsIn(dir));
});

t.test('contract: on a file', async (t) => {
  const dir = await tempDir(t);
  let n = 0;
  storeContract(t, () => openSqliteStore(join(dir, `contract-${++n}.db`)), twinsIn(dir));
});

t.test('a file is opened in WAL mode and migrations are applied once and recorded', async (t) => {
  const path = join(await tempDir(t), 'netdoctor.db');
  await (await openSqliteStore(path)).close();
  t.same(appliedVersions(path), MIGRATIONS.map((m) => [m.version, m.name]));
  t.equal(peek(path, (db) => db.prepare('PRAGMA journal_mode').get()?.journal_mode), 'wal');

  // Re-running migration 1 would fail (CREATE TABLE without IF NOT EXISTS): reopening proves it is skipped.
  await (await openSqliteStore(path)).close();
  const store = await openSqliteStore(path, { migrations: [...MIGRATIONS, NEXT] });
  await store.close();
  await store.close(); // closing twice is harmless
  t.same(appliedVersions(path), [...MIGRATIONS, NEXT].map((m) => [m.version, m.name]), 'only the missing migration was applied');
  t.same(peek(path, (db) => db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'labels'").all().length), 1);
});

t.test('a database with a newer schema than the code knows is refused, untouched', async (t) => {
  const path = join(await tempDir(t), 'netdoctor.db');
  await (await openSqliteStore(path, { migrations: [...MIGRATIONS, NEXT] })).close();
  await t.rejects(openSqliteStore(path), new RegExp(`has schema version ${KNOWN + 1}, newer than the ${KNOWN} this aml-netdoctor knows.*newer release`));
  t.same(appliedVersions(path), [...MIGRATIONS, NEXT].map((m) => [m.version, m.name]));
  const reopened = await openSqliteStore(path, { migrations: [...MIGRATIONS, NEXT] });
  t.same(await reopened.listSchedules(), [], 'and the code that knows it still opens it');
  await reopened.close();
});

t.test('migrations out of order are refused before anything is written', async (t) => {
  const path = join(await tempDir(t), 'netdoctor.db');
  await t.rejects(openSqliteStore(path, { migrations: [NEXT, ...MIGRATIONS] }), /versions must be whole numbers from 1, strictly increasing/);
  await t.rejects(openSqliteStore(path, { migrations: [{ ...NEXT, version: 0 }] }), /version 0/);
  t.same(peek(path, (db) => db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()), []);
  await (await openSqliteStore(path)).close();
  await t.rejects(openSqliteStore(path, { migrations: [] }), new RegExp(`has schema version ${KNOWN}, newer than the 0`));
});

t.test('a database from before leases (version 1) is upgraded: its runs are unheld, never taken, and takeable', async (t) => {
  const path = join(await tempDir(t), 'netdoctor.db');
  await (await openSqliteStore(path, { migrations: MIGRATIONS.slice(0, 1) })).close();
  const db = new DatabaseSync(path);
  db.prepare(
    `INSERT INTO runs (id, workspace_id, workspace_key, request, status, created_at, started_at) VALUES ('old-run', ?, ?, ?, 'running', ?, ?)`,
  ).run(WS, WS.toLowerCase(), JSON.stringify({ workspaceId: WS }), at(0).getTime(), at(1).getTime());
  db.close();

  const store = await openSqliteStore(path);
  t.teardown(() => store.close());
  t.same(appliedVersions(path), MIGRATIONS.map((m) => [m.version, m.name]));
  const old = await store.getRun('old-run');
  t.same([old?.status, old?.owner, old?.leaseUntil, old?.attempts], ['running', undefined, undefined, 0]);
  t.same((await store.listRuns({ leaseExpiredBy: at(0) })).map((r) => r.id), ['old-run'], 'nobody holds it');
  t.match(await store.takeRun('old-run', 'replica-a', at(2), at(3)), { owner: 'replica-a', attempts: 1 });
  t.equal((await store.getRun('old-run'))?.startedAt?.toISOString(), at(1).toISOString());
});

t.test('a row the schema does not allow is reported loudly, not misread', async (t) => {
  const path = join(await tempDir(t), 'netdoctor.db');
  const store = await openSqliteStore(path);
  t.teardown(() => store.close());
  const run = await store.createRun({ request: { workspaceId: WS }, createdAt: at(0) });
  const s = await store.createSchedule(schedule());
  const db = new DatabaseSync(path);
  db.prepare("UPDATE runs SET created_at = 'yesterday' WHERE id = ?").run(run.id);
  db.prepare("UPDATE schedules SET compute_name = X'00' WHERE id = ?").run(s.id);
  db.close();
  await t.rejects(store.getRun(run.id), /column created_at: expected a number, got string/);
  await t.rejects(store.getSchedule(s.id), /column compute_name: expected text, got object/);
});

t.test('a failing migration leaves no trace: nothing of it is recorded', async (t) => {
  const path = join(await tempDir(t), 'netdoctor.db');
  const broken: Migration = { version: KNOWN + 1, name: 'broken', sql: 'CREATE TABLE half (x INTEGER); CREATE TABLE oops (' };
  await t.rejects(openSqliteStore(path, { migrations: [...MIGRATIONS, broken] }));
  t.same(peek(path, (db) => db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r) => r.name)), [], 'migration 1 rolled back with it');
  await (await openSqliteStore(path)).close();
  t.same(appliedVersions(path), MIGRATIONS.map((m) => [m.version, m.name]));
});

t.test('a restart loses nothing: schedules, claimed ticks, runs, health and deliveries survive', async (t) => {
  const path = join(await tempDir(t), 'netdoctor.db');
  const first = await openSqliteStore(path);
  const s = await first.createSchedule(schedule({ notify: [{ url: 'https://hooks.example/a', secret: 's3cret' }] }));
  const [tick] = await first.claimDueSchedules(at(0), 'before-restart', 10, everyMinutes(15));
  const run = await first.takeRun(tick?.runId ?? 'missing', 'before-restart', at(0), at(1));
  if (!run) throw new Error('the tick has no run to take');
  await first.finishRun(run.id, { status: 'succeeded', report: report(WS, ['NSG_BLOCKS_AAD']) }, at(1));
  await first.recordHealth({ scheduleId: s.id, runId: run.id, at: at(1), report: report(WS, ['NSG_BLOCKS_AAD']) });
  await first.recordDelivery({ scheduleId: s.id, runId: run.id, url: 'https://hooks.example/a', attempts: 1, status: 'delivered', httpStatus: 200, at: at(1) });
  const queued = await first.createRun({ request: { workspaceId: WS }, createdAt: at(2) });
  await first.close();

  const second = await openSqliteStore(path);
  t.teardown(() => second.close());
  t.same(await second.getSchedule(s.id), tick?.schedule, 'the schedule, its secret and its advanced nextRunAt');
  t.same(await second.claimDueSchedules(at(0), 'after-restart', 10, everyMinutes(15)), [], 'the tick claimed before the restart does not run again');
  t.same((await second.getRun(run.id))?.report, report(WS, ['NSG_BLOCKS_AAD']));
  t.same((await second.listRuns({ status: ['queued', 'running'] })).map((r) => r.id), [queued.id], 'runs left unfinished can be found and resumed');
  t.same((await second.latestHealth(WS))?.findings.map((f) => f.code), ['NSG_BLOCKS_AAD']);
  t.equal((await second.listDeliveries({ runId: run.id })).length, 1);
});

t.test('two connections claiming from one file concurrently never claim a tick twice', async (t) => {
  const path = join(await tempDir(t), 'netdoctor.db');
  const setup = await openSqliteStore(path);
  const SCHEDULES = 12;
  const STEPS = 60;
  const ids: string[] = [];
  for (let i = 0; i < SCHEDULES; i++) ids.push((await setup.createSchedule(schedule({ nextRunAt: at(0) }))).id);
  await setup.close();

  const barrier = new SharedArrayBuffer(8);
  const owners = ['worker-a', 'worker-b'];
  const workers = owners.map(
    (owner) =>
      new Worker(new URL('./claim-worker.ts', import.meta.url), {
        workerData: { path, owner, parties: owners.length, start: at(0).getTime(), steps: STEPS, stepMinutes: 15, limit: 3, barrier },
      }),
  );
  // One worker failing would leave the other waiting at the barrier: stop them all.
  t.teardown(() => Promise.all(workers.map((w) => w.terminate())));
  const results = await Promise.all(
    workers.map(
      (w, i) =>
        new Promise<Array<[string, number]>>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
          w.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`${owners[i]} exited with ${code}`))));
        }),
    ),
  );

  const all = results.flat().map(([id, time]) => `${id}@${time}`);
  t.equal(new Set(all).size, all.length, 'no (schedule, time) was claimed twice');
  t.equal(all.length, SCHEDULES * STEPS, 'every occurrence was claimed by someone');
  for (const [i, owner] of owners.entries()) t.ok((results[i] ?? []).length > 0, `${owner} claimed some ticks: the claims interleaved`);
  const recorded = peek(path, (db) => db.prepare('SELECT owner, COUNT(*) AS n FROM ticks GROUP BY owner ORDER BY owner').all().map((r) => [r.owner, r.n]));
  t.same(recorded, owners.map((o, i) => [o, (results[i] ?? []).length]), 'the tick rows match what each worker was told it claimed');
  t.same(new Set(ids), new Set(results.flat().map(([id]) => id)));
});
