/**
 * The Store on PostgreSQL (node-postgres), for several replicas sharing one database. It behaves as
 * the SQLite store does (test/store/contract.ts); what differs is how replicas are kept apart:
 * - every read-modify-write is one transaction that locks the rows it changes (FOR UPDATE);
 * - claimDueSchedules locks due schedules with SKIP LOCKED, so replicas claim different ones at
 *   once, and the UNIQUE tick row stops a tick being claimed twice whatever happens;
 * - takeRun is one conditional UPDATE: of two replicas racing, the second finds the run leased.
 * All SQL is parameterised; the only identifier spliced in is the schema name, checked first.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { PoolClient } from 'pg';
import type { ProgressEvent } from '../diagnose.ts';
import { idKey } from '../model/arm-id.ts';
import type { Report, VerdictStatus } from '../report/schema.ts';
import { checkMigrationOrder, newerSchemaError, type Migration } from './migrations.ts';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.ts';
import { cadenceColumns, checkNext, findingKeys, limitOf, ms, notifyJson, tickRequest } from './records.ts';
import {
  StoreError,
  type ClaimedTick,
  type DeliveryQuery,
  type DeliveryRecord,
  type HealthRecord,
  type NewDelivery,
  type NewHealth,
  type NewRun,
  type NewSchedule,
  type NextRunFn,
  type PruneCounts,
  type RunOutcome,
  type RunQuery,
  type RunRecord,
  type RunStatus,
  type SchedulePatch,
  type ScheduleRecord,
  type Store,
} from './store.ts';

export interface PostgresStoreOptions {
  /** Connections this replica keeps open at most (default 10). */
  poolSize?: number;
  /** The schema holding the tables (created if missing); the connection's search_path when absent. */
  schema?: string;
  /** The schema to bring the database to; tests pass their own. */
  migrations?: readonly Migration[];
  /**
   * An idle connection failed (the server restarted, the network dropped). The pool discards it and
   * the next query opens a new one; this is only told, so it can log. Ignored when absent.
   */
  onError?: (err: Error) => void;
}

type Row = Record<string, unknown>;
type Queryable = pg.Pool | PoolClient;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Connects, creates the schema if needed and migrates it; refuses one written by a newer release. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new StoreError(`schema name '${schema}' is not allowed: use lower-case letters, digits and _ (at most 63, not starting with a digit)`);
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    // Set at connection start, so no query can ever run against another schema.
    ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
  });
  // Without a listener, an idle connection's error would be thrown as an uncaught 'error' event.
  pool.on('error', (err) => options.onError?.(err));
  try {
    await migrate(pool, schema, options.migrations ?? POSTGRES_MIGRATIONS);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return new PostgresStore(pool);
}

/**
 * Applies the migrations the database lacks, in one transaction, under an advisory lock so that
 * replicas starting together take turns (the second finds everything applied).
 */
async function migrate(pool: pg.Pool, schema: string | undefined, migrations: readonly Migration[]): Promise<void> {
  checkMigrationOrder(migrations);
  const known = migrations.at(-1)?.version ?? 0;
  await transaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`aml-netdoctor migrations ${schema ?? ''}`]);
    if (schema !== undefined) await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await c.query('CREATE TABLE IF NOT EXISTS netdoctor_schema (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)');
    const applied = new Set((await c.query<Row>('SELECT version FROM netdoctor_schema')).rows.map((r) => num(r, 'version')));
    const newest = Math.max(0, ...applied);
    if (newest > known) {
      const where = await c.query<Row>('SELECT current_database() AS db, current_schema() AS schema');
      const row = where.rows[0] ?? {};
      throw newerSchemaError(`${String(row.db)} (schema ${String(row.schema)})`, newest, known);
    }
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await c.query(m.sql);
      await c.query('INSERT INTO netdoctor_schema (version, name, applied_at) VALUES ($1, $2, now())', [m.version, m.name]);
    }
  });
}

/** fn inside BEGIN ... COMMIT on one connection; rolled back when it throws. */
async function transaction<T>(pool: pg.Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {
      broken = true; // the connection itself failed: do not hand it back to the pool
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

// Column readers: the schema guarantees the types; a mismatch is a bug worth a loud error.
function str(row: Row, col: string): string {
  const v = row[col];
  if (typeof v !== 'string') throw new StoreError(`column ${col}: expected text, got ${typeof v}`);
  return v;
}
function num(row: Row, col: string): number {
  const v = row[col];
  if (typeof v !== 'number') throw new StoreError(`column ${col}: expected a number, got ${typeof v}`);
  return v;
}
function date(row: Row, col: string): Date {
  const v = row[col];
  if (!(v instanceof Date)) throw new StoreError(`column ${col}: expected a time, got ${typeof v}`);
  return v;
}
function optStr(row: Row, col: string): string | undefined {
  return row[col] === null ? undefined : str(row, col);
}
function optNum(row: Row, col: string): number | undefined {
  return row[col] === null ? undefined : num(row, col);
}
function optDate(row: Row, col: string): Date | undefined {
  return row[col] === null ? undefined : date(row, col);
}
/** json and jsonb arrive parsed. */
function json<T>(row: Row, col: string): T {
  const v = row[col];
  if (v === null || v === undefined) throw new StoreError(`column ${col}: expected JSON, got ${v === null ? 'null' : 'nothing'}`);
  return v as T;
}

/** A Date as a parameter: an ISO string, after refusing an invalid Date. */
function ts(d: Date): string {
  ms(d);
  return d.toISOString();
}
function optTs(d: Date | null | undefined): string | null {
  return d ? ts(d) : null;
}

function toRun(row: Row): RunRecord {
  const report = row.report === null ? undefined : json<Report>(row, 'report');
  const error = optStr(row, 'error');
  const startedAt = optDate(row, 'started_at');
  const finishedAt = optDate(row, 'finished_at');
  const scheduleId = optStr(row, 'schedule_id');
  const owner = optStr(row, 'owner');
  const leaseUntil = optDate(row, 'lease_until');
  return {
    id: str(row, 'id'),
    workspaceId: str(row, 'workspace_id'),
    request: json(row, 'request'),
    status: str(row, 'status') as RunStatus,
    progress: json(row, 'progress'),
    ...(report !== undefined ? { report } : {}),
    ...(error !== undefined ? { error } : {}),
    createdAt: date(row, 'created_at'),
    ...(startedAt ? { startedAt } : {}),
    ...(finishedAt ? { finishedAt } : {}),
    ...(scheduleId !== undefined ? { scheduleId } : {}),
    ...(owner !== undefined ? { owner } : {}),
    ...(leaseUntil ? { leaseUntil } : {}),
    attempts: num(row, 'attempts'),
  };
}

function toSchedule(row: Row): ScheduleRecord {
  const computeName = optStr(row, 'compute_name');
  const interval = optNum(row, 'interval_seconds');
  const lastRunAt = optDate(row, 'last_run_at');
  const enabled = row.enabled;
  if (typeof enabled !== 'boolean') throw new StoreError(`column enabled: expected a boolean, got ${typeof enabled}`);
  return {
    id: str(row, 'id'),
    workspaceId: str(row, 'workspace_id'),
    ...(computeName !== undefined ? { computeName } : {}),
    subscriptions: json(row, 'subscriptions'),
    cadence: interval !== undefined ? { intervalSeconds: interval } : { cron: str(row, 'cron'), timezone: str(row, 'timezone') },
    notify: json(row, 'notify'),
    enabled,
    createdAt: date(row, 'created_at'),
    updatedAt: date(row, 'updated_at'),
    nextRunAt: optDate(row, 'next_run_at') ?? null,
    ...(lastRunAt ? { lastRunAt } : {}),
  };
}

function toHealth(row: Row): HealthRecord {
  return {
    workspaceId: str(row, 'workspace_id'),
    scheduleId: str(row, 'schedule_id'),
    runId: str(row, 'run_id'),
    at: date(row, 'at'),
    status: str(row, 'status') as VerdictStatus,
    findings: json(row, 'findings'),
    report: json(row, 'report'),
  };
}

function toDelivery(row: Row): DeliveryRecord {
  const httpStatus = optNum(row, 'http_status');
  const error = optStr(row, 'error');
  return {
    id: str(row, 'id'),
    scheduleId: str(row, 'schedule_id'),
    runId: str(row, 'run_id'),
    url: str(row, 'url'),
    attempts: num(row, 'attempts'),
    status: str(row, 'status') as DeliveryRecord['status'],
    ...(httpStatus !== undefined ? { httpStatus } : {}),
    ...(error !== undefined ? { error } : {}),
    at: date(row, 'at'),
  };
}

/** Builds a WHERE clause with numbered parameters ($1, $2, ...). */
class Filter {
  readonly params: unknown[] = [];
  readonly #conds: string[] = [];
  /** A placeholder for the value. */
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
  and(cond: string): void {
    this.#conds.push(cond);
  }
  get sql(): string {
    return this.#conds.length ? `WHERE ${this.#conds.join(' AND ')}` : '';
  }
}

/** A run a replica may take: queued, or running under a lease that ended before $at (or none). */
const takeable = (at: string): string => `(status = 'queued' OR (status = 'running' AND (lease_until IS NULL OR lease_until < ${at})))`;

async function insertRun(q: Queryable, run: NewRun): Promise<Row> {
  const res = await q.query<Row>(
    `INSERT INTO runs (id, workspace_id, workspace_key, request, status, created_at, schedule_id, owner, lease_until)
     VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8) RETURNING *`,
    [run.id ?? randomUUID(), run.request.workspaceId, idKey(run.request.workspaceId), JSON.stringify(run.request), ts(run.createdAt), run.scheduleId ?? null, run.owner ?? null, optTs(run.leaseUntil)],
  );
  return firstRow(res.rows);
}

function firstRow(rows: Row[]): Row {
  const row = rows[0];
  if (!row) throw new StoreError('expected a row back');
  return row;
}

class PostgresStore implements Store {
  #pool: pg.Pool;
  #closed = false;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async #rows(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.#pool.query<Row>(sql, params)).rows;
  }
  async #one(sql: string, params: unknown[] = []): Promise<Row | undefined> {
    return (await this.#rows(sql, params))[0];
  }
  async #count(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.#pool.query(sql, params)).rowCount ?? 0;
  }

  async createRun(run: NewRun): Promise<RunRecord> {
    return toRun(await insertRun(this.#pool, run));
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = await this.#one('SELECT * FROM runs WHERE id = $1', [id]);
    return row && toRun(row);
  }

  async listRuns(query: RunQuery = {}): Promise<RunRecord[]> {
    const f = new Filter();
    if (query.workspaceId !== undefined) f.and(`workspace_key = ${f.param(idKey(query.workspaceId))}`);
    if (query.scheduleId !== undefined) f.and(`schedule_id = ${f.param(query.scheduleId)}`);
    if (query.status?.length) f.and(`status = ANY(${f.param(query.status)}::text[])`);
    if (query.scheduled !== undefined) f.and(query.scheduled ? 'schedule_id IS NOT NULL' : 'schedule_id IS NULL');
    if (query.leaseExpiredBy !== undefined) f.and(`(lease_until IS NULL OR lease_until < ${f.param(ts(query.leaseExpiredBy))})`);
    if (query.createdBefore !== undefined) f.and(`created_at < ${f.param(ts(query.createdBefore))}`);
    const rows = await this.#rows(`SELECT * FROM runs ${f.sql} ORDER BY created_at DESC, seq DESC LIMIT ${f.param(limitOf(query.limit))}`, f.params);
    return rows.map(toRun);
  }

  async startRun(id: string, at: Date): Promise<boolean> {
    return (await this.#count(`UPDATE runs SET status = 'running', started_at = $2 WHERE id = $1 AND status = 'queued'`, [id, ts(at)])) === 1;
  }

  async takeRun(id: string, owner: string, at: Date, leaseUntil: Date): Promise<RunRecord | undefined> {
    // One statement: a racing replica waits for this row lock, then re-checks the WHERE against
    // the updated row, finds it leased and changes nothing.
    const row = await this.#one(
      `UPDATE runs SET status = 'running', owner = $2, lease_until = $3, attempts = attempts + 1, started_at = COALESCE(started_at, $4::timestamptz)
       WHERE id = $1 AND ${takeable('$4::timestamptz')} RETURNING *`,
      [id, owner, ts(leaseUntil), ts(at)],
    );
    return row && toRun(row);
  }

  async releaseRun(id: string, owner: string): Promise<boolean> {
    return (await this.#count(`UPDATE runs SET status = 'queued', owner = NULL, lease_until = NULL WHERE id = $1 AND status = 'running' AND owner = $2`, [id, owner])) === 1;
  }

  async renewLeases(owner: string, leaseUntil: Date): Promise<number> {
    return this.#count(`UPDATE runs SET lease_until = $2 WHERE owner = $1 AND status IN ('queued', 'running')`, [owner, ts(leaseUntil)]);
  }

  async recordProgress(id: string, event: ProgressEvent): Promise<boolean> {
    return transaction(this.#pool, async (c) => {
      const row = (await c.query<Row>(`SELECT progress FROM runs WHERE id = $1 AND status IN ('queued', 'running') FOR UPDATE`, [id])).rows[0];
      if (!row) return false;
      const progress = json<ProgressEvent[]>(row, 'progress');
      const i = progress.findIndex((p) => p.probe === event.probe);
      if (i >= 0) progress[i] = event;
      else progress.push(event);
      await c.query('UPDATE runs SET progress = $2 WHERE id = $1', [id, JSON.stringify(progress)]);
      return true;
    });
  }

  async finishRun(id: string, outcome: RunOutcome, at: Date): Promise<boolean> {
    const report = outcome.status === 'succeeded' ? JSON.stringify(outcome.report) : null;
    const error = outcome.status === 'succeeded' ? null : (outcome.error ?? null);
    const changed = await this.#count(
      `UPDATE runs SET status = $2, report = $3, error = $4, finished_at = $5 WHERE id = $1 AND status IN ('queued', 'running')`,
      [id, outcome.status, report, error, ts(at)],
    );
    return changed === 1;
  }

  async createSchedule(s: NewSchedule): Promise<ScheduleRecord> {
    const cadence = cadenceColumns(s.cadence);
    const rows = await this.#rows(
      `INSERT INTO schedules (id, workspace_id, workspace_key, compute_name, subscriptions, interval_seconds, cron, timezone, notify, enabled, created_at, updated_at, next_run_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12) RETURNING *`,
      [
        s.id ?? randomUUID(),
        s.workspaceId,
        idKey(s.workspaceId),
        s.computeName ?? null,
        JSON.stringify(s.subscriptions ?? []),
        cadence.interval_seconds,
        cadence.cron,
        cadence.timezone,
        notifyJson(s.notify ?? []),
        s.enabled !== false,
        ts(s.createdAt),
        optTs(s.nextRunAt),
      ],
    );
    return toSchedule(firstRow(rows));
  }

  async getSchedule(id: string): Promise<ScheduleRecord | undefined> {
    const row = await this.#one('SELECT * FROM schedules WHERE id = $1', [id]);
    return row && toSchedule(row);
  }

  async listSchedules(query: { workspaceId?: string } = {}): Promise<ScheduleRecord[]> {
    const f = new Filter();
    if (query.workspaceId !== undefined) f.and(`workspace_key = ${f.param(idKey(query.workspaceId))}`);
    return (await this.#rows(`SELECT * FROM schedules ${f.sql} ORDER BY created_at, id`, f.params)).map(toSchedule);
  }

  async updateSchedule(id: string, patch: SchedulePatch, at: Date): Promise<ScheduleRecord | undefined> {
    const updatedAt = ts(at);
    return transaction(this.#pool, async (c) => {
      const row = (await c.query<Row>('SELECT * FROM schedules WHERE id = $1 FOR UPDATE', [id])).rows[0];
      if (!row) return undefined;
      const cur = toSchedule(row);
      const cadence = cadenceColumns(patch.cadence ?? cur.cadence);
      const computeName = patch.computeName === null ? null : (patch.computeName ?? cur.computeName ?? null);
      const nextRunAt = patch.nextRunAt === undefined ? cur.nextRunAt : patch.nextRunAt;
      const res = await c.query<Row>(
        `UPDATE schedules SET compute_name = $2, subscriptions = $3, interval_seconds = $4, cron = $5, timezone = $6, notify = $7, enabled = $8, updated_at = $9, next_run_at = $10
         WHERE id = $1 RETURNING *`,
        [
          id,
          computeName,
          JSON.stringify(patch.subscriptions ?? cur.subscriptions),
          cadence.interval_seconds,
          cadence.cron,
          cadence.timezone,
          notifyJson(patch.notify ?? cur.notify),
          patch.enabled ?? cur.enabled,
          updatedAt,
          optTs(nextRunAt),
        ],
      );
      return toSchedule(firstRow(res.rows));
    });
  }

  async deleteSchedule(id: string): Promise<boolean> {
    return (await this.#count('DELETE FROM schedules WHERE id = $1', [id])) === 1;
  }

  async claimDueSchedules(now: Date, owner: string, limit: number, next: NextRunFn): Promise<ClaimedTick[]> {
    const at = ts(now);
    return transaction(this.#pool, async (c) => {
      // SKIP LOCKED: a schedule another replica is claiming right now is left to it; once that
      // replica commits, its nextRunAt has moved on and it is no longer due.
      const due = (
        await c.query<Row>(
          'SELECT * FROM schedules WHERE enabled AND next_run_at <= $1 ORDER BY next_run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED',
          [at, limitOf(limit)],
        )
      ).rows.map(toSchedule);
      const claimed: ClaimedTick[] = [];
      for (const s of due) {
        const scheduledFor = s.nextRunAt as Date;
        const nextAt = next(s, now);
        checkNext(s, now, nextAt);
        // The UNIQUE (schedule_id, scheduled_for) key is the last line of defence: a tick that
        // somehow comes due again (nextRunAt set back by hand) is skipped, never run twice.
        const inserted =
          (
            await c.query(
              'INSERT INTO ticks (schedule_id, scheduled_for, owner, claimed_at) VALUES ($1, $2, $3, $4) ON CONFLICT (schedule_id, scheduled_for) DO NOTHING',
              [s.id, ts(scheduledFor), owner, at],
            )
          ).rowCount === 1;
        const res = await c.query<Row>(
          `UPDATE schedules SET next_run_at = $2, last_run_at = CASE WHEN $3::boolean THEN $4::timestamptz ELSE last_run_at END WHERE id = $1 RETURNING *`,
          [s.id, optTs(nextAt), inserted, at],
        );
        if (inserted) {
          const schedule = toSchedule(firstRow(res.rows));
          const run = await insertRun(c, { request: tickRequest(schedule), scheduleId: s.id, createdAt: now });
          claimed.push({ scheduleId: s.id, scheduledFor, owner, claimedAt: now, runId: str(run, 'id'), schedule });
        }
      }
      return claimed;
    });
  }

  async recordHealth(h: NewHealth): Promise<HealthRecord> {
    const workspaceId = h.workspaceId ?? h.report.workspace.id;
    await this.#count(
      `INSERT INTO health (run_id, workspace_id, workspace_key, schedule_id, at, status, findings, report) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (run_id) DO NOTHING`,
      [h.runId, workspaceId, idKey(workspaceId), h.scheduleId, ts(h.at), h.report.verdict.status, JSON.stringify(findingKeys(h.report)), JSON.stringify(h.report)],
    );
    return toHealth(firstRow(await this.#rows('SELECT * FROM health WHERE run_id = $1', [h.runId])));
  }

  async latestHealth(workspaceId: string): Promise<HealthRecord | undefined> {
    return (await this.healthHistory(workspaceId, 1))[0];
  }

  async healthHistory(workspaceId: string, limit: number): Promise<HealthRecord[]> {
    const rows = await this.#rows('SELECT * FROM health WHERE workspace_key = $1 ORDER BY at DESC, seq DESC LIMIT $2', [idKey(workspaceId), limitOf(limit)]);
    return rows.map(toHealth);
  }

  async recordDelivery(d: NewDelivery): Promise<DeliveryRecord> {
    const rows = await this.#rows(
      'INSERT INTO deliveries (id, schedule_id, run_id, url, attempts, status, http_status, error, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *',
      [randomUUID(), d.scheduleId, d.runId, d.url, d.attempts, d.status, d.httpStatus ?? null, d.error ?? null, ts(d.at)],
    );
    return toDelivery(firstRow(rows));
  }

  async listDeliveries(query: DeliveryQuery = {}): Promise<DeliveryRecord[]> {
    const f = new Filter();
    if (query.scheduleId !== undefined) f.and(`schedule_id = ${f.param(query.scheduleId)}`);
    if (query.runId !== undefined) f.and(`run_id = ${f.param(query.runId)}`);
    const rows = await this.#rows(`SELECT * FROM deliveries ${f.sql} ORDER BY at DESC, seq DESC LIMIT ${f.param(limitOf(query.limit))}`, f.params);
    return rows.map(toDelivery);
  }

  async prune(olderThan: Date): Promise<PruneCounts> {
    const before = ts(olderThan);
    return transaction(this.#pool, async (c) => {
      const count = async (sql: string) => (await c.query(sql, [before])).rowCount ?? 0;
      return {
        runs: await count('DELETE FROM runs WHERE COALESCE(finished_at, created_at) < $1'),
        health: await count('DELETE FROM health WHERE at < $1'),
        ticks: await count('DELETE FROM ticks WHERE claimed_at < $1'),
        deliveries: await count('DELETE FROM deliveries WHERE at < $1'),
      };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
