// Keys for signed requests, the nonces of recent requests (replay protection, across every
// coordinator on the database), and the count a per-client rate limit reads.
import { validateLimit } from '../derive.js';
import { apiKeyToWire, validateNewApiKey, type ApiKeyRow } from '../keys.js';
import type { ApiKey, NewApiKey } from '../store.js';
import { exec, q, type Ctx } from './connection.js';

export async function createApiKey(ctx: Ctx, key: NewApiKey): Promise<ApiKey> {
  validateNewApiKey(key);
  const [row] = await q<ApiKeyRow>(ctx.pool, 'INSERT INTO api_keys (id, role, name, secret_sealed, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *', [
    key.id, key.role, key.name, key.secretSealed, ctx.now(),
  ]);
  return apiKeyToWire(row as ApiKeyRow);
}

export async function getApiKey(ctx: Ctx, id: string): Promise<(ApiKey & { secretSealed: string }) | null> {
  const [row] = await q<ApiKeyRow>(ctx.pool, 'SELECT * FROM api_keys WHERE id = $1', [id]);
  return row ? { ...apiKeyToWire(row), secretSealed: row.secret_sealed } : null;
}

export async function listApiKeys(ctx: Ctx): Promise<ApiKey[]> {
  return (await q<ApiKeyRow>(ctx.pool, 'SELECT * FROM api_keys ORDER BY created_at, id')).map(apiKeyToWire);
}

export async function revokeApiKey(ctx: Ctx, id: string): Promise<boolean> {
  const [row] = await q<{ found: boolean }>(
    ctx.pool,
    `WITH r AS (UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id)
     SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = $1) AS found`,
    [id, ctx.now()],
  );
  return row?.found ?? false;
}

export async function countActiveApiKeys(ctx: Ctx): Promise<number> {
  const [row] = await q<{ n: number }>(ctx.pool, 'SELECT count(*)::int AS n FROM api_keys WHERE revoked_at IS NULL');
  return row?.n ?? 0;
}

export async function rememberNonce(ctx: Ctx, keyId: string, nonce: string, expiresAt: number): Promise<boolean> {
  return (await exec(ctx.pool, 'INSERT INTO request_nonces (key_id, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [keyId, nonce, expiresAt])) === 1;
}

export async function pruneNonces(ctx: Ctx, limit: number): Promise<number> {
  validateLimit('limit', limit);
  return exec(
    ctx.pool,
    'DELETE FROM request_nonces WHERE (key_id, nonce) IN (SELECT key_id, nonce FROM request_nonces WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)',
    [ctx.now(), limit],
  );
}

export async function countJobsSince(ctx: Ctx, owner: string, sinceMs: number): Promise<number> {
  const [row] = await q<{ n: number }>(ctx.pool, 'SELECT count(*)::int AS n FROM jobs WHERE owner = $1 AND created_at >= $2', [owner, sinceMs]);
  return row?.n ?? 0;
}
