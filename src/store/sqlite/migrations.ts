// Numbered schema migrations, tracked in PRAGMA user_version. Each runs in its own IMMEDIATE
// transaction that re-reads the version first, so coordinators starting together on one file
// apply each migration exactly once. Never edit a shipped migration: append a new one.
import { VidfleetError } from '../../protocol/errors.js';
import type { Db } from './connection.js';

/** Exported so the tests can build an old schema and upgrade it. */
export const MIGRATIONS: readonly string[] = [
  // 1: initial schema
  `
  CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    input       TEXT NOT NULL,
    params      TEXT NOT NULL,
    priority    INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL CHECK (status IN ('pending','running','completed','failed','canceling','canceled')),
    progress    REAL NOT NULL DEFAULT 0,
    error       TEXT,
    result      TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    finished_at INTEGER
  ) STRICT;
  -- listJobs pages by id (time-sortable) within a status or a kind.
  CREATE INDEX jobs_status_id ON jobs (status, id);
  CREATE INDEX jobs_kind_id ON jobs (kind, id);

  CREATE TABLE tasks (
    id               TEXT PRIMARY KEY,
    job_id           TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    input            TEXT NOT NULL,
    params           TEXT NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL CHECK (status IN ('pending','assigned','running','completed','failed','canceling','canceled')),
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
    worker_id        TEXT,
    lease_expires_at INTEGER,
    run_after        INTEGER NOT NULL,
    progress         REAL NOT NULL DEFAULT 0,
    error            TEXT,
    result           TEXT,
    resume_data      TEXT,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER
  ) STRICT;
  CREATE INDEX tasks_job ON tasks (job_id, created_at, id);
  -- Claim: one range scan per kind, already in hand-out order; run_after is in the index so the
  -- due check needs no table lookup. Only pending rows are indexed, so it stays small.
  CREATE INDEX tasks_claim ON tasks (kind, priority DESC, created_at, id, run_after) WHERE status = 'pending';
  -- nextDueAt: the earliest run_after per kind is the first entry of its range.
  CREATE INDEX tasks_due ON tasks (kind, run_after) WHERE status = 'pending';
  -- The janitor: expired leases are a prefix of this index. The WHERE must stay textually equal
  -- to HELD_SQL in connection.ts for the planner to use it.
  CREATE INDEX tasks_lease ON tasks (lease_expires_at) WHERE status IN ('assigned', 'running', 'canceling');

  CREATE TABLE workers (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    hostname          TEXT NOT NULL,
    capabilities      TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('online','offline')),
    registered_at     INTEGER NOT NULL,
    last_heartbeat_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE artifacts (
    job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    task_id      TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key          TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (job_id, name)
  ) STRICT;
  CREATE INDEX artifacts_task ON artifacts (task_id);

  CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    task_id    TEXT,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX events_job_id ON events (job_id, id);
  `,
  // 2: run deadlines, idempotency keys, retention (issue 3)
  `
  -- NULL for tasks stored before run limits existed: they get no deadline.
  ALTER TABLE tasks ADD COLUMN max_run_ms INTEGER CHECK (max_run_ms IS NULL OR max_run_ms >= 1);
  ALTER TABLE tasks ADD COLUMN run_deadline_at INTEGER;
  -- The janitor's second query: attempts past their run deadline are a prefix of this index.
  -- Same WHERE as tasks_lease (HELD_SQL in connection.ts).
  CREATE INDEX tasks_run_deadline ON tasks (run_deadline_at) WHERE status IN ('assigned', 'running', 'canceling');
  -- pruneFinished: the oldest finished jobs are a prefix of this index.
  CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

  CREATE TABLE idempotency_keys (
    owner        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    -- Pruning a job takes its key with it: a resubmission then creates a new job.
    job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (owner, key)
  ) STRICT;
  CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
  CREATE INDEX idempotency_keys_job ON idempotency_keys (job_id);
  `,
  // 3: task logs and task requirements (issue 4)
  `
  -- The worker's log of each task (ffmpeg's stderr, the kind's notes), appended in batches and
  -- kept bounded per task; read by job, in id order.
  CREATE TABLE task_logs (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    ts      INTEGER NOT NULL,
    line    TEXT NOT NULL
  ) STRICT;
  CREATE INDEX task_logs_job ON task_logs (job_id, id);
  CREATE INDEX task_logs_task ON task_logs (task_id, id);
  -- What a worker must have to run the task (JSON array of capability tokens such as
  -- "encoder:libwebp", "filter:zscale", "mount:media", "tag:gpu"); NULL: any worker of the kind.
  ALTER TABLE tasks ADD COLUMN requires TEXT;
  `,
  // 4: the latest progress detail of a running task (fps, speed, ETA, message) as JSON
  `
  ALTER TABLE tasks ADD COLUMN progress_detail TEXT;
  `,
  // 5: task graphs (issue 5). A task may wait for others of its job: waiting_on counts the
  // dependencies not yet completed and is decremented in the completing transaction; only tasks
  // at 0 are in the claim indexes, so waiting tasks cost a claim nothing.
  `
  ALTER TABLE tasks ADD COLUMN name TEXT;
  ALTER TABLE tasks ADD COLUMN waiting_on INTEGER NOT NULL DEFAULT 0 CHECK (waiting_on >= 0);
  ALTER TABLE tasks ADD COLUMN weight REAL NOT NULL DEFAULT 1 CHECK (weight > 0);
  CREATE UNIQUE INDEX tasks_job_name ON tasks (job_id, name) WHERE name IS NOT NULL;
  CREATE TABLE task_deps (
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    depends_on TEXT NOT NULL,
    task_id    TEXT NOT NULL,
    PRIMARY KEY (depends_on, task_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX task_deps_job ON task_deps (job_id);
  DROP INDEX tasks_claim;
  CREATE INDEX tasks_claim ON tasks (kind, priority DESC, created_at, id, run_after) WHERE status = 'pending' AND waiting_on = 0;
  DROP INDEX tasks_due;
  CREATE INDEX tasks_due ON tasks (kind, run_after) WHERE status = 'pending' AND waiting_on = 0;
  -- Blobs whose rows are gone (a completed job's work/ artifacts), for the janitor to delete.
  CREATE TABLE blob_trash (
    key        TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
  ) STRICT;
  `,
  // 6: one event log for the whole fleet (issue 8): worker events have no job, so job_id becomes
  // optional and worker_id says whose event it is. SQLite cannot drop a NOT NULL in place: the
  // table is rebuilt (ids kept; nothing references events). Worker events are pruned by age,
  // through their own small index. progress_event_at throttles task.progress events.
  `
  CREATE TABLE events_v6 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id     TEXT REFERENCES jobs (id) ON DELETE CASCADE,
    task_id    TEXT,
    worker_id  TEXT,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CHECK (job_id IS NOT NULL OR worker_id IS NOT NULL)
  ) STRICT;
  INSERT INTO events_v6 (id, job_id, task_id, worker_id, type, data, created_at)
    SELECT id, job_id, task_id, NULL, type, data, created_at FROM events ORDER BY id;
  DROP TABLE events;
  ALTER TABLE events_v6 RENAME TO events;
  CREATE INDEX events_job_id ON events (job_id, id);
  CREATE INDEX events_worker_created ON events (created_at) WHERE job_id IS NULL;
  ALTER TABLE tasks ADD COLUMN progress_event_at INTEGER;
  -- Work exactly one coordinator should do at a time (the MQTT publisher): who holds it until
  -- when, and how far it got.
  CREATE TABLE singletons (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    cursor     TEXT
  ) STRICT;
  `,
  // 7: keys and owners (issue 7). A signed request names its key; a client's jobs and a worker
  // key's workers are theirs alone. Secrets are sealed with the coordinators' master key. A
  // request's nonce is remembered for the clock window, so a replay within it is refused.
  `
  CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'client', 'worker')),
    name          TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
  ) STRICT;
  CREATE TABLE request_nonces (
    key_id     TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, nonce)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX request_nonces_expires ON request_nonces (expires_at);
  ALTER TABLE jobs ADD COLUMN owner TEXT;
  CREATE INDEX jobs_owner_id ON jobs (owner, id) WHERE owner IS NOT NULL;
  CREATE INDEX jobs_owner_created ON jobs (owner, created_at) WHERE owner IS NOT NULL;
  ALTER TABLE workers ADD COLUMN owner TEXT;
  `,
  // 8: taskCounts (the /metrics queue gauge) counts waiting tasks without scanning the table.
  // Claimable pending and held tasks already have partial indexes; tasks that never wait (every
  // task outside a graph) never enter this one, so it costs the dispatch path nothing.
  `
  CREATE INDEX tasks_waiting ON tasks (kind) WHERE status = 'pending' AND waiting_on > 0;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

function userVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function migrate(db: Db): void {
  const found = userVersion(db);
  if (found > SCHEMA_VERSION) {
    throw new VidfleetError(
      'INTERNAL',
      `The database ${db.name} has schema version ${found}, newer than this vidfleet knows (${SCHEMA_VERSION}); upgrade vidfleet or use another database.`,
    );
  }
  MIGRATIONS.forEach((sql, i) => {
    const version = i + 1;
    db.transaction(() => {
      if (userVersion(db) >= version) return;
      db.exec(sql);
      db.pragma(`user_version = ${version}`);
    }).immediate();
  });
}
