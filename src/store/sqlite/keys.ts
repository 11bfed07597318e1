// Keys for signed requests, the nonces of recent requests (replay protection), and the count a
// per-client rate limit reads.
import { validateLimit } from '../derive.js';
import { apiKeyToWire, validateNewApiKey, type ApiKeyRow } from '../keys.js';
import type { ApiKey, NewApiKey } from '../store.js';
import { stmt, type Ctx } from './connection.js';

export function createApiKey(ctx: Ctx, key: NewApiKey): ApiKey {
  validateNewApiKey(key);
  const row = stmt(ctx, 'INSERT INTO api_keys (id, role, name, secret_sealed, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *').get(
    key.id, key.role, key.name, key.secretSealed, ctx.now(),
  ) as ApiKeyRow;
  return apiKeyToWire(row);
}

export function getApiKey(ctx: Ctx, id: string): (ApiKey & { secretSealed: string }) | null {
  const row = stmt(ctx, 'SELECT * FROM api_keys WHERE id = ?').get(id) as ApiKeyRow | undefined;
  return row ? { ...apiKeyToWire(row), secretSealed: row.secret_sealed } : null;
}

export function listApiKeys(ctx: Ctx): ApiKey[] {
  return (stmt(ctx, 'SELECT * FROM api_keys ORDER BY created_at, id').all() as ApiKeyRow[]).map(apiKeyToWire);
}

export function revokeApiKey(ctx: Ctx, id: string): boolean {
  stmt(ctx, 'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(ctx.now(), id);
  return stmt(ctx, 'SELECT 1 FROM api_keys WHERE id = ?').get(id) !== undefined;
}

export function countActiveApiKeys(ctx: Ctx): number {
  return (stmt(ctx, 'SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL').get() as { n: number }).n;
}

export function rememberNonce(ctx: Ctx, keyId: string, nonce: string, expiresAt: number): boolean {
  return stmt(ctx, 'INSERT INTO request_nonces (key_id, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(keyId, nonce, expiresAt).changes === 1;
}

export function pruneNonces(ctx: Ctx, limit: number): number {
  validateLimit('limit', limit);
  return stmt(ctx, 'DELETE FROM request_nonces WHERE (key_id, nonce) IN (SELECT key_id, nonce FROM request_nonces WHERE expires_at <= ? LIMIT ?)').run(ctx.now(), limit).changes;
}

export function countJobsSince(ctx: Ctx, owner: string, sinceMs: number): number {
  return (stmt(ctx, 'SELECT count(*) AS n FROM jobs WHERE owner = ? AND created_at >= ?').get(owner, sinceMs) as { n: number }).n;
}
