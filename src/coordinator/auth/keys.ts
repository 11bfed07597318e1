// Making keys: an id and a secret shown once; the store keeps the secret sealed.
import { randomBytes } from 'node:crypto';
import type { KeyRole } from '../../protocol/index.js';
import type { ApiKey, Store } from '../../store/store.js';
import { seal } from './master-key.js';

export async function createKey(store: Store, masterKey: Buffer, role: KeyRole, name: string): Promise<{ key: ApiKey; secret: string }> {
  const id = `key_${randomBytes(8).toString('hex')}`;
  const secret = randomBytes(32).toString('base64url');
  const key = await store.createApiKey({ id, role, name, secretSealed: seal(masterKey, secret) });
  return { key, secret };
}
