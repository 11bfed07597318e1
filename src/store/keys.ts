// Keys as the store keeps them: rows to the wire shape, and input checks shared by the dialects.
import { KEY_ROLES } from '../protocol/auth.js';
import { VidfleetError } from '../protocol/errors.js';
import { toIso, toIsoOrNull } from './derive.js';
import type { ApiKey, NewApiKey } from './store.js';

export interface ApiKeyRow {
  id: string;
  role: ApiKey['role'];
  name: string;
  secret_sealed: string;
  created_at: number;
  revoked_at: number | null;
}

export function apiKeyToWire(row: ApiKeyRow): ApiKey {
  return { id: row.id, role: row.role, name: row.name, createdAt: toIso(Number(row.created_at)), revokedAt: toIsoOrNull(row.revoked_at === null ? null : Number(row.revoked_at)) };
}

export function validateNewApiKey(key: NewApiKey): void {
  if (!/^[A-Za-z0-9_-]{4,64}$/.test(key.id)) throw new VidfleetError('VALIDATION_FAILED', `A key id is 4-64 letters, digits, _ or -, got "${key.id}".`);
  if (!(KEY_ROLES as readonly string[]).includes(key.role)) throw new VidfleetError('VALIDATION_FAILED', `A key's role is one of ${KEY_ROLES.join(', ')}, got "${key.role}".`);
  if (key.secretSealed.length === 0) throw new VidfleetError('VALIDATION_FAILED', 'A key needs its sealed secret.');
}
