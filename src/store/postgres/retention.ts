// Retention: finished jobs leave the database after a while, with everything hanging off them
// (ON DELETE CASCADE: tasks, artifacts, events, idempotency keys), so the hot tables stay small.
// A bounded batch per call keeps locks short; the caller deletes the returned artifact keys from
// the BlobStore after the rows are gone, so a crash in between leaves orphan blobs, never rows
// pointing at missing blobs.
import { FINISHED_JOB_STATUSES, validateDuration, validateLimit } from '../derive.js';
import type { PruneResult } from '../store.js';
import { exec, HELD_SQL, q, tx, type Ctx } from './connection.js';

const finished = FINISHED_JOB_STATUSES.map((s) => `'${s}'`).join(', ');

/**
 * Exported so the tests can check its plan. A failed job may still have a task held by a worker
 * (a sibling that was running when another failed); it waits until that attempt ends, so the
 * worker's last writes find their rows. SKIP LOCKED: janitors on several coordinators share the
 * work instead of queueing on the same rows, and a job being changed right now is left for later.
 * `keys` reads the statement's snapshot, taken before the delete.
 */
export const PRUNE_SQL = `WITH doomed AS (
    SELECT id FROM jobs
    WHERE finished_at < $1 AND status IN (${finished})
      AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.job_id = jobs.id AND tasks.${HELD_SQL})
    ORDER BY finished_at LIMIT $2
    FOR UPDATE SKIP LOCKED
  ), keys AS (
    SELECT key FROM artifacts WHERE job_id IN (SELECT id FROM doomed)
  ), gone AS (
    DELETE FROM jobs WHERE id IN (SELECT id FROM doomed) RETURNING id
  )
  SELECT (SELECT count(*) FROM gone) AS jobs, ARRAY(SELECT key FROM keys) AS keys`;

const EXPIRED_KEYS_SQL = `DELETE FROM idempotency_keys WHERE (owner, key) IN (
    SELECT owner, key FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED
  )`;

const OLD_WORKER_EVENTS_SQL = `DELETE FROM events WHERE id IN (
    SELECT id FROM events WHERE job_id IS NULL AND created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED
  )`;

export async function pruneFinished(ctx: Ctx, olderThanMs: number, limit: number): Promise<PruneResult> {
  validateDuration('olderThanMs', olderThanMs);
  validateLimit('limit', limit);
  return tx(ctx, async (c) => {
    const now = ctx.now();
    const [row] = await q<{ jobs: number; keys: string[] }>(c, PRUNE_SQL, [now - olderThanMs, limit]);
    // Expired keys go too (a live key of a pruned job went with its job above), and worker
    // events (no job to go with) as old as the jobs pruned.
    await exec(c, EXPIRED_KEYS_SQL, [now, limit]);
    await exec(c, OLD_WORKER_EVENTS_SQL, [now - olderThanMs, limit]);
    return { jobs: row?.jobs ?? 0, artifactKeys: [...new Set(row?.keys ?? [])].sort() };
  });
}

/** Hands out (and forgets) up to `limit` trashed blob keys; SKIP LOCKED so coordinators share the work. */
export async function takeBlobTrash(ctx: Ctx, limit: number): Promise<string[]> {
  validateLimit('limit', limit);
  const rows = await q<{ key: string }>(
    ctx.pool,
    'DELETE FROM blob_trash WHERE key IN (SELECT key FROM blob_trash ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING key',
    [limit],
  );
  return rows.map((r) => r.key);
}
