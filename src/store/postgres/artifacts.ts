// Artifacts: files a task produced, listed on its job. Recording a name again replaces the
// entry, so a retried attempt that re-uploads thumbnail.jpg leaves one thumbnail, not two.
import type { Artifact } from '../../protocol/model.js';
import { artifactToWire, type ArtifactRow } from '../derive.js';
import type { AttemptRef, NewArtifact } from '../store.js';
import { COLS, q, tx, type Ctx } from './connection.js';
import { appendEvents } from './events.js';
import { requireHeld } from './fence.js';

export async function recordArtifact(ctx: Ctx, ref: AttemptRef, artifact: NewArtifact): Promise<Artifact> {
  return tx(ctx, async (c) => {
    // The task lock keeps the attempt current until commit; the job lock orders the event.
    const { task } = await requireHeld(c, ref);
    const now = ctx.now();
    // prev reads the statement's snapshot, taken before the upsert; the job lock keeps another
    // attempt of this job from recording the same name in between.
    const [row] = await q<ArtifactRow & { replaced: boolean }>(
      c,
      `WITH prev AS (SELECT 1 FROM artifacts WHERE job_id = $1 AND name = $3)
       INSERT INTO artifacts (job_id, task_id, name, key, size, sha256, content_type, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (job_id, name) DO UPDATE SET task_id = excluded.task_id, key = excluded.key, size = excluded.size,
         sha256 = excluded.sha256, content_type = excluded.content_type, created_at = excluded.created_at
       RETURNING ${COLS.artifact}, EXISTS (SELECT 1 FROM prev) AS replaced`,
      [task.job_id, task.id, artifact.name, artifact.key, artifact.size, artifact.sha256, artifact.contentType, now],
    );
    const { replaced, ...stored } = row as ArtifactRow & { replaced: boolean };
    await appendEvents(c, now, [
      {
        jobId: task.job_id,
        taskId: task.id,
        type: 'artifact.added',
        data: { attempt: task.attempt, name: stored.name, key: stored.key, size: stored.size, sha256: stored.sha256, contentType: stored.content_type, replaced },
      },
    ]);
    return artifactToWire(stored);
  });
}

export async function listArtifacts(ctx: Ctx, jobId: string): Promise<Artifact[]> {
  return (await q<ArtifactRow>(ctx.pool, `SELECT ${COLS.artifact} FROM artifacts WHERE job_id = $1 ORDER BY name`, [jobId])).map(artifactToWire);
}

export async function getArtifact(ctx: Ctx, jobId: string, name: string): Promise<Artifact | null> {
  const [row] = await q<ArtifactRow>(ctx.pool, `SELECT ${COLS.artifact} FROM artifacts WHERE job_id = $1 AND name = $2`, [jobId, name]);
  return row ? artifactToWire(row) : null;
}
