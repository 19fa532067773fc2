/**
 * SQLite schema, as ordered migrations. Never edit a released migration: add the next version.
 * Times are INTEGER milliseconds since the epoch (UTC); JSON is TEXT. `workspace_key` is the
 * workspace id lower-cased (idKey), because ARM ids compare case-insensitively.
 */
import { StoreError } from './store.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Refuses a migration list whose versions are not whole numbers from 1, strictly increasing. */
export function checkMigrationOrder(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    const prev = migrations[i - 1];
    if (!Number.isInteger(m.version) || m.version < 1 || (prev && m.version <= prev.version)) {
      throw new StoreError(`migration '${m.name}' has version ${m.version}: versions must be whole numbers from 1, strictly increasing`);
    }
  });
}

/** A database written by a newer release: this one must not touch it. */
export function newerSchemaError(database: string, newest: number, known: number): StoreError {
  return new StoreError(
    `database ${database} has schema version ${newest}, newer than the ${known} this aml-netdoctor knows: ` +
      'it was written by a newer release; run that release (or a later one) against it, or point this one at another database',
  );
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'runs, schedules, ticks, health, deliveries',
    sql: `
CREATE TABLE runs (
  id            TEXT PRIMARY KEY,
  workspace_id  TEXT NOT NULL,
  workspace_key TEXT NOT NULL,
  request       TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  progress      TEXT NOT NULL DEFAULT '[]',
  report        TEXT,
  error         TEXT,
  created_at    INTEGER NOT NULL,
  started_at    INTEGER,
  finished_at   INTEGER,
  schedule_id   TEXT
);
CREATE INDEX runs_workspace ON runs (workspace_key, created_at);
CREATE INDEX runs_schedule ON runs (schedule_id, created_at);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE schedules (
  id               TEXT PRIMARY KEY,
  workspace_id     TEXT NOT NULL,
  workspace_key    TEXT NOT NULL,
  compute_name     TEXT,
  subscriptions    TEXT NOT NULL DEFAULT '[]',
  interval_seconds INTEGER,
  cron             TEXT,
  timezone         TEXT NOT NULL DEFAULT 'UTC',
  notify           TEXT NOT NULL DEFAULT '[]',
  enabled          INTEGER NOT NULL DEFAULT 1,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  next_run_at      INTEGER,
  last_run_at      INTEGER,
  CHECK ((interval_seconds IS NULL) <> (cron IS NULL))
);
CREATE INDEX schedules_due ON schedules (enabled, next_run_at);
CREATE INDEX schedules_workspace ON schedules (workspace_key);

CREATE TABLE ticks (
  schedule_id   TEXT NOT NULL,
  scheduled_for INTEGER NOT NULL,
  owner         TEXT NOT NULL,
  claimed_at    INTEGER NOT NULL,
  UNIQUE (schedule_id, scheduled_for)
);
CREATE INDEX ticks_claimed ON ticks (claimed_at);

CREATE TABLE health (
  run_id        TEXT PRIMARY KEY,
  workspace_id  TEXT NOT NULL,
  workspace_key TEXT NOT NULL,
  schedule_id   TEXT NOT NULL,
  at            INTEGER NOT NULL,
  status        TEXT NOT NULL,
  findings      TEXT NOT NULL,
  report        TEXT NOT NULL
);
CREATE INDEX health_workspace ON health (workspace_key, at);

CREATE TABLE deliveries (
  id          TEXT PRIMARY KEY,
  schedule_id TEXT NOT NULL,
  run_id      TEXT NOT NULL,
  url         TEXT NOT NULL,
  attempts    INTEGER NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('delivered', 'failed')),
  http_status INTEGER,
  error       TEXT,
  at          INTEGER NOT NULL
);
CREATE INDEX deliveries_schedule ON deliveries (schedule_id, at);
CREATE INDEX deliveries_run ON deliveries (run_id);
CREATE INDEX deliveries_at ON deliveries (at);
`,
  },
  {
    version: 2,
    name: 'run owner, lease and attempts',
    // Runs from before this version have no owner and no lease: any replica may take them.
    sql: `
ALTER TABLE runs ADD COLUMN owner TEXT;
ALTER TABLE runs ADD COLUMN lease_until INTEGER;
ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_owner ON runs (owner);
`,
  },
];
