// Singletons: work exactly one coordinator does at a time (publishing the event feed to MQTT),
// held by a renewable lease row, with the holder's progress saved beside it.
import { validateDuration } from '../derive.js';
import { immediate, stmt, type Ctx } from './connection.js';

export function holdSingleton(ctx: Ctx, name: string, holder: string, ttlMs: number): { held: boolean; cursor: string | null } {
  validateDuration('ttlMs', ttlMs);
  return immediate(ctx, () => {
    const now = ctx.now();
    stmt(
      ctx,
      `INSERT INTO singletons (name, holder, expires_at) VALUES (@name, @holder, @until)
       ON CONFLICT (name) DO UPDATE SET holder = @holder, expires_at = @until WHERE singletons.holder = @holder OR singletons.expires_at <= @now`,
    ).run({ name, holder, until: now + ttlMs, now });
    const row = stmt(ctx, 'SELECT holder, cursor FROM singletons WHERE name = ?').get(name) as { holder: string; cursor: string | null };
    return { held: row.holder === holder, cursor: row.cursor };
  });
}

export function saveSingletonCursor(ctx: Ctx, name: string, holder: string, cursor: string): boolean {
  return stmt(ctx, 'UPDATE singletons SET cursor = ? WHERE name = ? AND holder = ?').run(cursor, name, holder).changes === 1;
}

export function releaseSingleton(ctx: Ctx, name: string, holder: string): void {
  stmt(ctx, 'UPDATE singletons SET expires_at = 0 WHERE name = ? AND holder = ?').run(name, holder);
}
