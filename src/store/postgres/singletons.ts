// Singletons: work exactly one coordinator does at a time (publishing the event feed to MQTT),
// held by a renewable lease row, with the holder's progress saved beside it. One statement each:
// the upsert's row lock decides between coordinators racing for it.
import { validateDuration } from '../derive.js';
import { exec, q, type Ctx } from './connection.js';

export async function holdSingleton(ctx: Ctx, name: string, holder: string, ttlMs: number): Promise<{ held: boolean; cursor: string | null }> {
  validateDuration('ttlMs', ttlMs);
  const now = ctx.now();
  const [row] = await q<{ holder: string; cursor: string | null }>(
    ctx.pool,
    `WITH up AS (
       INSERT INTO singletons (name, holder, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET holder = $2, expires_at = $3 WHERE singletons.holder = $2 OR singletons.expires_at <= $4
       RETURNING holder, cursor
     )
     SELECT holder, cursor FROM up
     UNION ALL SELECT holder, cursor FROM singletons WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM up)`,
    [name, holder, now + ttlMs, now],
  );
  return { held: row?.holder === holder, cursor: row?.cursor ?? null };
}

export async function saveSingletonCursor(ctx: Ctx, name: string, holder: string, cursor: string): Promise<boolean> {
  return (await exec(ctx.pool, 'UPDATE singletons SET cursor = $3 WHERE name = $1 AND holder = $2', [name, holder, cursor])) === 1;
}

export async function releaseSingleton(ctx: Ctx, name: string, holder: string): Promise<void> {
  await exec(ctx.pool, 'UPDATE singletons SET expires_at = 0 WHERE name = $1 AND holder = $2', [name, holder]);
}
