// Artifacts: files a task produced, listed on its job. Recording a name again replaces the
// entry, so a retried attempt that re-uploads thumbnail.jpg leaves one thumbnail, not two.
import type { Artifact } from '../../protocol/model.js';
import { artifactToWire, type ArtifactRow } from '../derive.js';
import type { AttemptRef, NewArtifact } from '../store.js';
import { immediate, stmt, type Ctx } from './connection.js';
import { appendEvent } from './events.js';
import { requireHeld } from './fence.js';

export function recordArtifact(ctx: Ctx, ref: AttemptRef, artifact: NewArtifact): Artifact {
  return immediate(ctx, () => {
    const task = requireHeld(ctx, ref);
    const replaced = stmt(ctx, 'SELECT 1 FROM artifacts WHERE job_id = ? AND name = ?').get(task.job_id, artifact.name) !== undefined;
    const row = stmt(
      ctx,
      `INSERT INTO artifacts (job_id, task_id, name, key, size, sha256, content_type, created_at)
       VALUES (@jobId, @taskId, @name, @key, @size, @sha256, @contentType, @now)
       ON CONFLICT (job_id, name) DO UPDATE SET task_id = excluded.task_id, key = excluded.key, size = excluded.size,
         sha256 = excluded.sha256, content_type = excluded.content_type, created_at = excluded.created_at
       RETURNING *`,
    ).get({ ...artifact, jobId: task.job_id, taskId: task.id, now: ctx.now() }) as ArtifactRow;
    appendEvent(ctx, task.job_id, task.id, 'artifact.added', {
      attempt: task.attempt,
      name: row.name,
      key: row.key,
      size: row.size,
      sha256: row.sha256,
      contentType: row.content_type,
      replaced,
    });
    return artifactToWire(row);
  });
}

export function listArtifacts(ctx: Ctx, jobId: string): Artifact[] {
  return (stmt(ctx, 'SELECT * FROM artifacts WHERE job_id = ? ORDER BY name').all(jobId) as ArtifactRow[]).map(artifactToWire);
}

export function getArtifact(ctx: Ctx, jobId: string, name: string): Artifact | null {
  const row = stmt(ctx, 'SELECT * FROM artifacts WHERE job_id = ? AND name = ?').get(jobId, name) as ArtifactRow | undefined;
  return row ? artifactToWire(row) : null;
}
