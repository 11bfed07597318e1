// Retention: finished jobs leave the database after a while, with everything hanging off them,
// so the hot tables stay small. A bounded batch per call keeps the write lock short; the caller
// deletes the returned artifact keys from the BlobStore (after the rows are gone, so a crash in
// between leaves orphan blobs, never rows pointing at missing blobs).
import { FINISHED_JOB_STATUSES, validateDuration, validateLimit } from '../derive.js';
import type { PruneResult } from '../store.js';
import { HELD_SQL, immediate, stmt, type Ctx } from './connection.js';

const finished = FINISHED_JOB_STATUSES.map((s) => `'${s}'`).join(', ');

/**
 * Exported so the SQLite tests can check its query plan. A failed job may still have a task held
 * by a worker (a sibling that was running when another failed); it waits until that attempt
 * ends, so the worker's last writes find their rows. INDEXED BY: without statistics the planner
 * guesses that status IN (…) on jobs_status_id is narrower, then sorts every finished job.
 */
export const PRUNE_CANDIDATES_SQL = `SELECT id FROM jobs INDEXED BY jobs_finished
  WHERE finished_at < ? AND status IN (${finished})
    AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.job_id = jobs.id AND ${HELD_SQL})
  ORDER BY finished_at LIMIT ?`;

/** Exported so the SQLite tests can check its query plan. */
export const EXPIRED_KEYS_SQL = `DELETE FROM idempotency_keys WHERE (owner, key) IN (SELECT owner, key FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)`;

/** Exported so the SQLite tests can check its query plan. */
export const OLD_WORKER_EVENTS_SQL = `DELETE FROM events WHERE id IN (SELECT id FROM events INDEXED BY events_worker_created WHERE job_id IS NULL AND created_at < ? LIMIT ?)`;

export function pruneFinished(ctx: Ctx, olderThanMs: number, limit: number): PruneResult {
  validateDuration('olderThanMs', olderThanMs);
  validateLimit('limit', limit);
  return immediate(ctx, () => {
    const now = ctx.now();
    const ids = (stmt(ctx, PRUNE_CANDIDATES_SQL).all(now - olderThanMs, limit) as { id: string }[]).map((r) => r.id);
    const artifactKeys: string[] = [];
    // Children first and explicitly, rather than by ON DELETE CASCADE: each statement is one
    // index range per job, and nothing depends on PRAGMA foreign_keys being on.
    for (const id of ids) {
      for (const r of stmt(ctx, 'DELETE FROM artifacts WHERE job_id = ? RETURNING key').all(id) as { key: string }[]) artifactKeys.push(r.key);
      stmt(ctx, 'DELETE FROM events WHERE job_id = ?').run(id);
      stmt(ctx, 'DELETE FROM task_logs WHERE job_id = ?').run(id);
      stmt(ctx, 'DELETE FROM task_deps WHERE job_id = ?').run(id);
      stmt(ctx, 'DELETE FROM tasks WHERE job_id = ?').run(id);
      stmt(ctx, 'DELETE FROM idempotency_keys WHERE job_id = ?').run(id);
      stmt(ctx, 'DELETE FROM jobs WHERE id = ?').run(id);
    }
    // Expired keys go too (a live key of a pruned job went with its job above), and worker
    // events (no job to go with) as old as the jobs pruned.
    stmt(ctx, EXPIRED_KEYS_SQL).run(now, limit);
    stmt(ctx, OLD_WORKER_EVENTS_SQL).run(now - olderThanMs, limit);
    return { jobs: ids.length, artifactKeys: [...new Set(artifactKeys)].sort() };
  });
}
