/**
 * PostgreSQL schema, as ordered migrations (its own history, separate from SQLite's). Never edit a
 * released migration: add the next version.
 *
 * The tables mirror SQLite's. Times are timestamptz (Dates round-trip to the millisecond).
 * `workspace_key` is the workspace id lower-cased (idKey): ARM ids compare case-insensitively.
 * Documents handed back as written (request, progress, report) are `json`, which keeps their text
 * (key order included) as SQLite does; the small structured columns are `jsonb`. Ids sort in byte
 * order (COLLATE "C") as in SQLite, whatever the database's locale. `seq` is insertion order: the
 * tie-break SQLite gets from rowid.
 */
import type { Migration } from './migrations.ts';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'runs with leases, schedules, ticks, health, deliveries',
    sql: `
CREATE TABLE runs (
  seq           bigint GENERATED ALWAYS AS IDENTITY,
  id            text COLLATE "C" PRIMARY KEY,
  workspace_id  text NOT NULL,
  workspace_key text NOT NULL,
  request       json NOT NULL,
  status        text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  progress      json NOT NULL DEFAULT '[]',
  report        json,
  error         text,
  created_at    timestamptz NOT NULL,
  started_at    timestamptz,
  finished_at   timestamptz,
  schedule_id   text COLLATE "C",
  owner         text,
  lease_until   timestamptz,
  attempts      integer NOT NULL DEFAULT 0
);
CREATE INDEX runs_created ON runs (created_at, seq);
CREATE INDEX runs_workspace ON runs (workspace_key, created_at);
CREATE INDEX runs_schedule ON runs (schedule_id, created_at);
CREATE INDEX runs_status ON runs (status);
CREATE INDEX runs_owner ON runs (owner);

CREATE TABLE schedules (
  id               text COLLATE "C" PRIMARY KEY,
  workspace_id     text NOT NULL,
  workspace_key    text NOT NULL,
  compute_name     text,
  subscriptions    jsonb NOT NULL DEFAULT '[]',
  interval_seconds integer,
  cron             text,
  timezone         text NOT NULL DEFAULT 'UTC',
  notify           jsonb NOT NULL DEFAULT '[]',
  enabled          boolean NOT NULL DEFAULT true,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  next_run_at      timestamptz,
  last_run_at      timestamptz,
  CHECK ((interval_seconds IS NULL) <> (cron IS NULL))
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled;
CREATE INDEX schedules_workspace ON schedules (workspace_key);

CREATE TABLE ticks (
  schedule_id   text COLLATE "C" NOT NULL,
  scheduled_for timestamptz NOT NULL,
  owner         text NOT NULL,
  claimed_at    timestamptz NOT NULL,
  UNIQUE (schedule_id, scheduled_for)
);
CREATE INDEX ticks_claimed ON ticks (claimed_at);

CREATE TABLE health (
  seq           bigint GENERATED ALWAYS AS IDENTITY,
  run_id        text COLLATE "C" PRIMARY KEY,
  workspace_id  text NOT NULL,
  workspace_key text NOT NULL,
  schedule_id   text COLLATE "C" NOT NULL,
  at            timestamptz NOT NULL,
  status        text NOT NULL,
  findings      jsonb NOT NULL,
  report        json NOT NULL
);
CREATE INDEX health_workspace ON health (workspace_key, at, seq);

CREATE TABLE deliveries (
  seq         bigint GENERATED ALWAYS AS IDENTITY,
  id          text COLLATE "C" PRIMARY KEY,
  schedule_id text COLLATE "C" NOT NULL,
  run_id      text COLLATE "C" NOT NULL,
  url         text NOT NULL,
  attempts    integer NOT NULL,
  status      text NOT NULL CHECK (status IN ('delivered', 'failed')),
  http_status integer,
  error       text,
  at          timestamptz NOT NULL
);
CREATE INDEX deliveries_schedule ON deliveries (schedule_id, at);
CREATE INDEX deliveries_run ON deliveries (run_id);
CREATE INDEX deliveries_at ON deliveries (at, seq);
`,
  },
];
