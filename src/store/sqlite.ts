/**
 * The Store on SQLite through Node's built-in node:sqlite (no native module). Synchronous
 * DatabaseSync behind async methods; every read-modify-write is one BEGIN IMMEDIATE transaction,
 * which takes the write lock up front, so stores on the same file (other processes, other
 * workers) queue on the busy timeout instead of interleaving.
 */
import { randomUUID } from 'node:crypto';
import { DatabaseSync, type SQLInputValue, type SQLOutputValue } from 'node:sqlite';
import type { ProgressEvent } from '../diagnose.ts';
import { idKey } from '../model/arm-id.ts';
import type { Report, VerdictStatus } from '../report/schema.ts';
import { checkMigrationOrder, MIGRATIONS, newerSchemaError, type Migration } from './migrations.ts';
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

export interface SqliteStoreOptions {
  /** The schema to bring the database to; tests pass their own. */
  migrations?: readonly Migration[];
  /** How long a writer waits for another connection's transaction (default 5 s). */
  busyTimeoutMs?: number;
}

type Row = Record<string, SQLOutputValue>;

/** Opens (creating if needed) and migrates the database; refuses one written by a newer schema. */
export async function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Promise<Store> {
  const db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 5000 });
  try {
    if (path !== ':memory:') {
      // WAL: readers never block the writer; NORMAL is durable across process crashes in WAL mode.
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = NORMAL');
    }
    migrate(db, path, options.migrations ?? MIGRATIONS);
  } catch (err) {
    db.close();
    throw err;
  }
  return new SqliteStore(db);
}

/** Applies the migrations the database lacks, in one transaction, and records them. */
function migrate(db: DatabaseSync, path: string, migrations: readonly Migration[]): void {
  checkMigrationOrder(migrations);
  const known = migrations.at(-1)?.version ?? 0;
  transaction(db, () => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    const applied = new Set(db.prepare('SELECT version FROM schema_migrations').all().map((r) => num(r, 'version')));
    const newest = Math.max(0, ...applied);
    if (newest > known) throw newerSchemaError(path, newest, known);
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    }
  });
}

/** fn inside BEGIN IMMEDIATE; rolled back when it throws. fn must be synchronous. */
function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
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
function optStr(row: Row, col: string): string | undefined {
  return row[col] === null ? undefined : str(row, col);
}
function optNum(row: Row, col: string): number | undefined {
  return row[col] === null ? undefined : num(row, col);
}
function optDate(row: Row, col: string): Date | undefined {
  const v = optNum(row, col);
  return v === undefined ? undefined : new Date(v);
}
function json<T>(row: Row, col: string): T {
  return JSON.parse(str(row, col)) as T;
}

function toRun(row: Row): RunRecord {
  const report = optStr(row, 'report');
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
    ...(report !== undefined ? { report: JSON.parse(report) as Report } : {}),
    ...(error !== undefined ? { error } : {}),
    createdAt: new Date(num(row, 'created_at')),
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
  const nextRunAt = optDate(row, 'next_run_at');
  const lastRunAt = optDate(row, 'last_run_at');
  return {
    id: str(row, 'id'),
    workspaceId: str(row, 'workspace_id'),
    ...(computeName !== undefined ? { computeName } : {}),
    subscriptions: json(row, 'subscriptions'),
    cadence: interval !== undefined ? { intervalSeconds: interval } : { cron: str(row, 'cron'), timezone: str(row, 'timezone') },
    notify: json(row, 'notify'),
    enabled: num(row, 'enabled') === 1,
    createdAt: new Date(num(row, 'created_at')),
    updatedAt: new Date(num(row, 'updated_at')),
    nextRunAt: nextRunAt ?? null,
    ...(lastRunAt ? { lastRunAt } : {}),
  };
}

function toHealth(row: Row): HealthRecord {
  return {
    workspaceId: str(row, 'workspace_id'),
    scheduleId: str(row, 'schedule_id'),
    runId: str(row, 'run_id'),
    at: new Date(num(row, 'at')),
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
    at: new Date(num(row, 'at')),
  };
}

/** A condition and its parameters; absent (undefined) conditions are left out of the WHERE. */
type Cond = [sql: string, ...params: SQLInputValue[]] | undefined;

function where(conds: Cond[]): { sql: string; params: SQLInputValue[] } {
  const used = conds.filter((c) => c !== undefined);
  return { sql: used.length ? `WHERE ${used.map((c) => c[0]).join(' AND ')}` : '', params: used.flatMap(([, ...p]) => p) };
}

/** A run a replica may take: queued, or running under a lease that ended before `at` (or none). */
const TAKEABLE = `(status = 'queued' OR (status = 'running' AND (lease_until IS NULL OR lease_until < ?)))`;

class SqliteStore implements Store {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#db.prepare(sql).get(...params);
  }
  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#db.prepare(sql).all(...params);
  }
  #run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.#db.prepare(sql).run(...params).changes);
  }

  async createRun(run: NewRun): Promise<RunRecord> {
    return toRun(this.#insertRun(run));
  }

  #insertRun(run: NewRun): Row {
    return this.#get(
      `INSERT INTO runs (id, workspace_id, workspace_key, request, status, created_at, schedule_id, owner, lease_until)
       VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?) RETURNING *`,
      run.id ?? randomUUID(),
      run.request.workspaceId,
      idKey(run.request.workspaceId),
      JSON.stringify(run.request),
      ms(run.createdAt),
      run.scheduleId ?? null,
      run.owner ?? null,
      run.leaseUntil ? ms(run.leaseUntil) : null,
    ) as Row;
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = this.#get('SELECT * FROM runs WHERE id = ?', id);
    return row && toRun(row);
  }

  async listRuns(query: RunQuery = {}): Promise<RunRecord[]> {
    const statuses = query.status ?? [];
    const w = where([
      query.workspaceId === undefined ? undefined : ['workspace_key = ?', idKey(query.workspaceId)],
      query.scheduleId === undefined ? undefined : ['schedule_id = ?', query.scheduleId],
      statuses.length ? [`status IN (${statuses.map(() => '?').join(', ')})`, ...statuses] : undefined,
      query.scheduled === undefined ? undefined : [query.scheduled ? 'schedule_id IS NOT NULL' : 'schedule_id IS NULL'],
      query.leaseExpiredBy === undefined ? undefined : ['(lease_until IS NULL OR lease_until < ?)', ms(query.leaseExpiredBy)],
      query.createdBefore === undefined ? undefined : ['created_at < ?', ms(query.createdBefore)],
    ]);
    const rows = this.#all(`SELECT * FROM runs ${w.sql} ORDER BY created_at DESC, rowid DESC LIMIT ?`, ...w.params, limitOf(query.limit));
    return rows.map(toRun);
  }

  async startRun(id: string, at: Date): Promise<boolean> {
    return this.#run(`UPDATE runs SET status = 'running', started_at = ? WHERE id = ? AND status = 'queued'`, ms(at), id) === 1;
  }

  async takeRun(id: string, owner: string, at: Date, leaseUntil: Date): Promise<RunRecord | undefined> {
    // One statement: whoever's UPDATE runs first takes the run; the other finds it leased.
    const row = this.#get(
      `UPDATE runs SET status = 'running', owner = ?, lease_until = ?, attempts = attempts + 1, started_at = COALESCE(started_at, ?)
       WHERE id = ? AND ${TAKEABLE} RETURNING *`,
      owner,
      ms(leaseUntil),
      ms(at),
      id,
      ms(at),
    );
    return row && toRun(row);
  }

  async releaseRun(id: string, owner: string): Promise<boolean> {
    return this.#run(`UPDATE runs SET status = 'queued', owner = NULL, lease_until = NULL WHERE id = ? AND status = 'running' AND owner = ?`, id, owner) === 1;
  }

  async renewLeases(owner: string, leaseUntil: Date): Promise<number> {
    return this.#run(`UPDATE runs SET lease_until = ? WHERE owner = ? AND status IN ('queued', 'running')`, ms(leaseUntil), owner);
  }

  async recordProgress(id: string, event: ProgressEvent): Promise<boolean> {
    return transaction(this.#db, () => {
      const row = this.#get(`SELECT progress FROM runs WHERE id = ? AND status IN ('queued', 'running')`, id);
      if (!row) return false;
      const progress = json<ProgressEvent[]>(row, 'progress');
      const i = progress.findIndex((p) => p.probe === event.probe);
      if (i >= 0) progress[i] = event;
      else progress.push(event);
      this.#run('UPDATE runs SET progress = ? WHERE id = ?', JSON.stringify(progress), id);
      return true;
    });
  }

  async finishRun(id: string, outcome: RunOutcome, at: Date): Promise<boolean> {
    const report = outcome.status === 'succeeded' ? JSON.stringify(outcome.report) : null;
    const error = outcome.status === 'succeeded' ? null : (outcome.error ?? null);
    const changed = this.#run(
      `UPDATE runs SET status = ?, report = ?, error = ?, finished_at = ? WHERE id = ? AND status IN ('queued', 'running')`,
      outcome.status,
      report,
      error,
      ms(at),
      id,
    );
    return changed === 1;
  }

  async createSchedule(s: NewSchedule): Promise<ScheduleRecord> {
    const id = s.id ?? randomUUID();
    const cadence = cadenceColumns(s.cadence);
    this.#run(
      `INSERT INTO schedules (id, workspace_id, workspace_key, compute_name, subscriptions, interval_seconds, cron, timezone, notify, enabled, created_at, updated_at, next_run_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      id,
      s.workspaceId,
      idKey(s.workspaceId),
      s.computeName ?? null,
      JSON.stringify(s.subscriptions ?? []),
      cadence.interval_seconds,
      cadence.cron,
      cadence.timezone,
      notifyJson(s.notify ?? []),
      s.enabled === false ? 0 : 1,
      ms(s.createdAt),
      ms(s.createdAt),
      s.nextRunAt ? ms(s.nextRunAt) : null,
    );
    return toSchedule(this.#get('SELECT * FROM schedules WHERE id = ?', id) as Row);
  }

  async getSchedule(id: string): Promise<ScheduleRecord | undefined> {
    const row = this.#get('SELECT * FROM schedules WHERE id = ?', id);
    return row && toSchedule(row);
  }

  async listSchedules(query: { workspaceId?: string } = {}): Promise<ScheduleRecord[]> {
    const w = where([query.workspaceId === undefined ? undefined : ['workspace_key = ?', idKey(query.workspaceId)]]);
    return this.#all(`SELECT * FROM schedules ${w.sql} ORDER BY created_at, id`, ...w.params).map(toSchedule);
  }

  async updateSchedule(id: string, patch: SchedulePatch, at: Date): Promise<ScheduleRecord | undefined> {
    return transaction(this.#db, () => {
      const row = this.#get('SELECT * FROM schedules WHERE id = ?', id);
      if (!row) return undefined;
      const cur = toSchedule(row);
      const cadence = cadenceColumns(patch.cadence ?? cur.cadence);
      const computeName = patch.computeName === null ? null : (patch.computeName ?? cur.computeName ?? null);
      const nextRunAt = patch.nextRunAt === undefined ? cur.nextRunAt : patch.nextRunAt;
      this.#run(
        `UPDATE schedules SET compute_name = ?, subscriptions = ?, interval_seconds = ?, cron = ?, timezone = ?, notify = ?, enabled = ?, updated_at = ?, next_run_at = ? WHERE id = ?`,
        computeName,
        JSON.stringify(patch.subscriptions ?? cur.subscriptions),
        cadence.interval_seconds,
        cadence.cron,
        cadence.timezone,
        notifyJson(patch.notify ?? cur.notify),
        (patch.enabled ?? cur.enabled) ? 1 : 0,
        ms(at),
        nextRunAt ? ms(nextRunAt) : null,
        id,
      );
      return toSchedule(this.#get('SELECT * FROM schedules WHERE id = ?', id) as Row);
    });
  }

  async deleteSchedule(id: string): Promise<boolean> {
    return this.#run('DELETE FROM schedules WHERE id = ?', id) === 1;
  }

  async claimDueSchedules(now: Date, owner: string, limit: number, next: NextRunFn): Promise<ClaimedTick[]> {
    const at = ms(now);
    return transaction(this.#db, () => {
      const due = this.#all(
        'SELECT * FROM schedules WHERE enabled = 1 AND next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at, id LIMIT ?',
        at,
        limitOf(limit),
      ).map(toSchedule);
      const claimed: ClaimedTick[] = [];
      for (const s of due) {
        const scheduledFor = s.nextRunAt as Date;
        const nextAt = next(s, now);
        checkNext(s, now, nextAt);
        // The UNIQUE (schedule_id, scheduled_for) key is the last line of defence: a tick that
        // somehow comes due again (nextRunAt set back by hand) is skipped, never run twice.
        const inserted = this.#run(
          'INSERT INTO ticks (schedule_id, scheduled_for, owner, claimed_at) VALUES (?, ?, ?, ?) ON CONFLICT (schedule_id, scheduled_for) DO NOTHING',
          s.id,
          ms(scheduledFor),
          owner,
          at,
        );
        this.#run(
          `UPDATE schedules SET next_run_at = ?, last_run_at = CASE WHEN ? = 1 THEN ? ELSE last_run_at END WHERE id = ?`,
          nextAt ? ms(nextAt) : null,
          inserted,
          at,
          s.id,
        );
        if (inserted === 1) {
          const schedule = toSchedule(this.#get('SELECT * FROM schedules WHERE id = ?', s.id) as Row);
          const run = this.#insertRun({ request: tickRequest(schedule), scheduleId: s.id, createdAt: now });
          claimed.push({ scheduleId: s.id, scheduledFor, owner, claimedAt: now, runId: str(run, 'id'), schedule });
        }
      }
      return claimed;
    });
  }

  async recordHealth(h: NewHealth): Promise<HealthRecord> {
    const workspaceId = h.workspaceId ?? h.report.workspace.id;
    const findings = findingKeys(h.report);
    this.#run(
      `INSERT INTO health (run_id, workspace_id, workspace_key, schedule_id, at, status, findings, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id) DO NOTHING`,
      h.runId,
      workspaceId,
      idKey(workspaceId),
      h.scheduleId,
      ms(h.at),
      h.report.verdict.status,
      JSON.stringify(findings),
      JSON.stringify(h.report),
    );
    return toHealth(this.#get('SELECT * FROM health WHERE run_id = ?', h.runId) as Row);
  }

  async latestHealth(workspaceId: string): Promise<HealthRecord | undefined> {
    return (await this.healthHistory(workspaceId, 1))[0];
  }

  async healthHistory(workspaceId: string, limit: number): Promise<HealthRecord[]> {
    return this.#all('SELECT * FROM health WHERE workspace_key = ? ORDER BY at DESC, rowid DESC LIMIT ?', idKey(workspaceId), limitOf(limit)).map(toHealth);
  }

  async recordDelivery(d: NewDelivery): Promise<DeliveryRecord> {
    const id = randomUUID();
    this.#run(
      'INSERT INTO deliveries (id, schedule_id, run_id, url, attempts, status, http_status, error, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      id,
      d.scheduleId,
      d.runId,
      d.url,
      d.attempts,
      d.status,
      d.httpStatus ?? null,
      d.error ?? null,
      ms(d.at),
    );
    return toDelivery(this.#get('SELECT * FROM deliveries WHERE id = ?', id) as Row);
  }

  async listDeliveries(query: DeliveryQuery = {}): Promise<DeliveryRecord[]> {
    const w = where([
      query.scheduleId === undefined ? undefined : ['schedule_id = ?', query.scheduleId],
      query.runId === undefined ? undefined : ['run_id = ?', query.runId],
    ]);
    return this.#all(`SELECT * FROM deliveries ${w.sql} ORDER BY at DESC, rowid DESC LIMIT ?`, ...w.params, limitOf(query.limit)).map(toDelivery);
  }

  async prune(olderThan: Date): Promise<PruneCounts> {
    const before = ms(olderThan);
    return transaction(this.#db, () => ({
      runs: this.#run('DELETE FROM runs WHERE COALESCE(finished_at, created_at) < ?', before),
      health: this.#run('DELETE FROM health WHERE at < ?', before),
      ticks: this.#run('DELETE FROM ticks WHERE claimed_at < ?', before),
      deliveries: this.#run('DELETE FROM deliveries WHERE at < ?', before),
    }));
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}
