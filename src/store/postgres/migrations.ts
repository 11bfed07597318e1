// Numbered schema migrations, tracked in schema_migrations. All of them run under one
// transaction-scoped advisory lock per schema, so coordinators starting together apply each
// migration exactly once and a half-applied migration never commits. Never edit a shipped
// migration: append a new one.
//
// Types: ids are text COLLATE "C" (byte order is the time order newId promises, and compares
// fastest); times are bigint ms like SQLite's INTEGER, so derive.ts mappers apply unchanged;
// progress is double precision (real would turn 0.3 into 0.300000011920929); JSON columns are
// `json`, not `jsonb`: json keeps exactly the text a worker sent (key order, and \u0000, which
// jsonb refuses: a probe report quoting a tag with a NUL would fail the whole completion),
// still validates it, and the store never queries inside it, so jsonb's indexing buys nothing.
import { VidfleetError } from '../../protocol/errors.js';
import { q, tx, type Ctx } from './connection.js';

export const MIGRATIONS: readonly string[] = [
  // 1: initial schema, with issue 3's run deadlines, idempotency keys and retention indexes
  `
  CREATE TABLE jobs (
    id          text COLLATE "C" PRIMARY KEY,
    kind        text NOT NULL,
    input       text NOT NULL,
    params      json NOT NULL,
    priority    integer NOT NULL DEFAULT 0,
    status      text NOT NULL CHECK (status IN ('pending','running','completed','failed','canceling','canceled')),
    progress    double precision NOT NULL DEFAULT 0,
    error       json,
    result      json,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL,
    finished_at bigint
  );
  -- listJobs pages by id (time-sortable) within a status or a kind.
  CREATE INDEX jobs_status_id ON jobs (status, id);
  CREATE INDEX jobs_kind_id ON jobs (kind, id);
  -- pruneFinished: the oldest finished jobs are a prefix of this index.
  CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

  CREATE TABLE tasks (
    id               text COLLATE "C" PRIMARY KEY,
    job_id           text COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind             text NOT NULL,
    input            text NOT NULL,
    params           json NOT NULL,
    priority         integer NOT NULL DEFAULT 0,
    status           text NOT NULL CHECK (status IN ('pending','assigned','running','completed','failed','canceling','canceled')),
    attempt          integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL CHECK (max_attempts >= 1),
    worker_id        text COLLATE "C",
    lease_expires_at bigint,
    run_after        bigint NOT NULL,
    progress         double precision NOT NULL DEFAULT 0,
    error            json,
    result           json,
    resume_data      json,
    max_run_ms       bigint CHECK (max_run_ms IS NULL OR max_run_ms >= 1),
    run_deadline_at  bigint,
    created_at       bigint NOT NULL,
    started_at       bigint,
    finished_at      bigint
  );
  CREATE INDEX tasks_job ON tasks (job_id, created_at, id);
  -- Claim: per kind, one range scan already in hand-out order over pending rows only, so it
  -- stays short however many tasks have finished.
  CREATE INDEX tasks_claim ON tasks (kind, priority DESC, created_at, id) INCLUDE (run_after) WHERE status = 'pending';
  -- nextDueAt: the earliest run_after per kind is the first entry of its range.
  CREATE INDEX tasks_due ON tasks (kind, run_after) WHERE status = 'pending';
  -- The janitor: expired leases and passed run deadlines are prefixes of these. The WHERE must
  -- stay textually equal to HELD_SQL in connection.ts for the planner to use them.
  CREATE INDEX tasks_lease ON tasks (lease_expires_at) WHERE status IN ('assigned', 'running', 'canceling');
  CREATE INDEX tasks_run_deadline ON tasks (run_deadline_at) WHERE status IN ('assigned', 'running', 'canceling');

  CREATE TABLE workers (
    id                text COLLATE "C" PRIMARY KEY,
    name              text NOT NULL,
    hostname          text NOT NULL,
    capabilities      json NOT NULL,
    status            text NOT NULL CHECK (status IN ('online','offline')),
    registered_at     bigint NOT NULL,
    last_heartbeat_at bigint NOT NULL
  );
  -- markSilentWorkersOffline: silent online workers are a prefix.
  CREATE INDEX workers_online_heartbeat ON workers (last_heartbeat_at) WHERE status = 'online';

  CREATE TABLE artifacts (
    job_id       text COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    task_id      text COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    name         text COLLATE "C" NOT NULL,
    key          text NOT NULL,
    size         bigint NOT NULL,
    sha256       text NOT NULL,
    content_type text NOT NULL,
    created_at   bigint NOT NULL,
    PRIMARY KEY (job_id, name)
  );
  CREATE INDEX artifacts_task ON artifacts (task_id);

  CREATE TABLE events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id     text COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    task_id    text COLLATE "C",
    type       text NOT NULL,
    data       json NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE INDEX events_job_id ON events (job_id, id);

  CREATE TABLE idempotency_keys (
    owner        text NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    -- Pruning a job takes its key with it: a resubmission then creates a new job. Deferred, so a
    -- submission can claim the key before inserting the job it names.
    job_id       text COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    expires_at   bigint NOT NULL,
    PRIMARY KEY (owner, key)
  );
  CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
  CREATE INDEX idempotency_keys_job ON idempotency_keys (job_id);
  `,
  // 2: tasks_due without kind as its first column. Led by kind, it matched the claim's
  // `kind = $k` too, and on a table whose statistics were taken while it was small (autoanalyze
  // had not run 40 s after 100k submits) PostgreSQL claimed through it and sorted every pending
  // task: 108 ms per claim at 100k pending instead of 1.3 ms through tasks_claim (bench/dispatch).
  `
  DROP INDEX tasks_due;
  CREATE INDEX tasks_due ON tasks (run_after) INCLUDE (kind) WHERE status = 'pending';
  `,
  // 3: task logs and task requirements (issue 4). See the SQLite migration 3 for what they hold.
  `
  CREATE TABLE task_logs (
    id      bigserial PRIMARY KEY,
    job_id  text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    task_id text NOT NULL,
    attempt integer NOT NULL,
    ts      bigint NOT NULL,
    line    text NOT NULL
  );
  CREATE INDEX task_logs_job ON task_logs (job_id, id);
  CREATE INDEX task_logs_task ON task_logs (task_id, id);
  ALTER TABLE tasks ADD COLUMN requires text[];
  `,
  // 4: the latest progress detail of a running task (fps, speed, ETA, message)
  `
  ALTER TABLE tasks ADD COLUMN progress_detail json;
  `,
  // 5: task graphs (issue 5); see the SQLite migration 5. Waiting tasks are left out of the claim
  // and due indexes, so a graph of thousands of chunks waiting on a plan costs a claim nothing.
  `
  ALTER TABLE tasks ADD COLUMN name text;
  ALTER TABLE tasks ADD COLUMN waiting_on integer NOT NULL DEFAULT 0 CHECK (waiting_on >= 0);
  ALTER TABLE tasks ADD COLUMN weight double precision NOT NULL DEFAULT 1 CHECK (weight > 0);
  CREATE UNIQUE INDEX tasks_job_name ON tasks (job_id, name) WHERE name IS NOT NULL;
  CREATE TABLE task_deps (
    job_id     text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    depends_on text NOT NULL,
    task_id    text NOT NULL,
    PRIMARY KEY (depends_on, task_id)
  );
  CREATE INDEX task_deps_job ON task_deps (job_id);
  DROP INDEX tasks_claim;
  CREATE INDEX tasks_claim ON tasks (kind, priority DESC, created_at, id) INCLUDE (run_after) WHERE status = 'pending' AND waiting_on = 0;
  -- tasks_due keeps its predicate and carries waiting_on, so nextDueAt skips waiting tasks inside
  -- the index. Given the claim's predicate too, it won the claim on a never-analyzed table again
  -- (a sort of every pending task: the regression migration 2 fixed), so it must not match it.
  DROP INDEX tasks_due;
  CREATE INDEX tasks_due ON tasks (run_after) INCLUDE (kind, waiting_on) WHERE status = 'pending';
  CREATE TABLE blob_trash (
    key        text PRIMARY KEY,
    created_at bigint NOT NULL
  );
  `,
  // 6: one event log for the whole fleet (issue 8). Worker events have no job. tx is the writing
  // transaction's id: identity values are handed out at insert, not at commit, so across jobs
  // (and coordinators) event 11 may commit before event 10; the fleet feed therefore reads in
  // (tx, id) order and only transactions older than every one still running (the snapshot's
  // xmin), which can no longer add rows below what it has read. Existing rows share the
  // migration's tx, which is older than anything written after it.
  `
  ALTER TABLE events ALTER COLUMN job_id DROP NOT NULL;
  ALTER TABLE events ADD COLUMN worker_id text COLLATE "C";
  ALTER TABLE events ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
  ALTER TABLE events ADD CONSTRAINT events_owner CHECK (job_id IS NOT NULL OR worker_id IS NOT NULL);
  CREATE INDEX events_feed ON events (tx, id);
  CREATE INDEX events_worker_created ON events (created_at) WHERE job_id IS NULL;
  ALTER TABLE tasks ADD COLUMN progress_event_at bigint;
  CREATE TABLE singletons (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at bigint NOT NULL,
    cursor     text
  );
  -- Readers of the feed on every coordinator learn of new events from a notification sent at
  -- commit (payload: this schema; PostgreSQL sends one per transaction and channel/payload).
  CREATE FUNCTION notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_notify('vidfleet_events', TG_TABLE_SCHEMA); RETURN NULL; END $$;
  CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION notify_events();
  `,
  // 7: keys and owners (issue 7); see the SQLite migration 7. Nonces live in the database so a
  // request replayed to another coordinator is refused too.
  `
  CREATE TABLE api_keys (
    id            text PRIMARY KEY,
    role          text NOT NULL CHECK (role IN ('admin', 'client', 'worker')),
    name          text NOT NULL,
    secret_sealed text NOT NULL,
    created_at    bigint NOT NULL,
    revoked_at    bigint
  );
  CREATE TABLE request_nonces (
    key_id     text NOT NULL,
    nonce      text NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (key_id, nonce)
  );
  CREATE INDEX request_nonces_expires ON request_nonces (expires_at);
  ALTER TABLE jobs ADD COLUMN owner text COLLATE "C";
  CREATE INDEX jobs_owner_id ON jobs (owner, id) WHERE owner IS NOT NULL;
  CREATE INDEX jobs_owner_created ON jobs (owner, created_at) WHERE owner IS NOT NULL;
  ALTER TABLE workers ADD COLUMN owner text;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Lock key per schema: coordinators on other schemas of the same database don't wait. */
const LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtextextended('vidfleet.migrate.' || $1, 0))`;

export async function migrate(ctx: Ctx): Promise<void> {
  await tx(ctx, async (c) => {
    await q(c, LOCK_SQL, [ctx.schema]);
    // Only when missing: CREATE SCHEMA checks the CREATE privilege on the database even with IF NOT
    // EXISTS, and a DBA may have made the schema for a user that has no such right. Quoted, though
    // SCHEMA_RE already allows only plain identifiers.
    const [found] = await q<{ n: number }>(c, 'SELECT 1 AS n FROM pg_namespace WHERE nspname = $1', [ctx.schema]);
    if (!found) await c.query(`CREATE SCHEMA "${ctx.schema}"`);
    await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)');
    const [row] = await q<{ version: number | null }>(c, 'SELECT max(version) AS version FROM schema_migrations');
    const current = row?.version ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new VidfleetError(
        'INTERNAL',
        `The PostgreSQL schema "${ctx.schema}" has version ${current}, newer than this vidfleet knows (${SCHEMA_VERSION}); upgrade vidfleet or use another schema.`,
      );
    }
    for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
      await c.query(MIGRATIONS[version - 1] as string);
      await q(c, 'INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [version, ctx.now()]);
    }
  });
}
