/**
 * SQLite schema, as ordered migrations. Never edit a released migration: add the next version.
 * Times are INTEGER milliseconds since the epoch (UTC); JSON is TEXT. `workspace_key` is the
 * workspace id lower-cased (idKey), because ARM ids compare case-insensitively.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
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
];
