// The coordinators' master key seals key secrets at rest (AES-256-GCM): a stolen database dump
// holds no usable secret. Every coordinator of a deployment needs the same master key: give it
// in VIDFLEET_MASTER_KEY (64 hex digits or base64 of 32 bytes), or let the first coordinator
// write one to DATA/master.key (mode 0600) and copy that file to the others.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { VidfleetError } from '../../protocol/index.js';

export function parseMasterKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32) throw new Error('The master key must be 32 bytes, as 64 hex digits or base64 (e.g. `openssl rand -hex 32`).');
  return key;
}

/** From `fromEnv` if given, else the file at `path` (created with a new random key if missing). */
export async function loadMasterKey(path: string, fromEnv: string | undefined): Promise<Buffer> {
  if (fromEnv) return parseMasterKey(fromEnv);
  try {
    return parseMasterKey(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(path), { recursive: true });
  const key = randomBytes(32);
  // wx: two coordinators starting at once on one data directory must not overwrite each other's.
  await writeFile(path, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  return parseMasterKey(await readFile(path, 'utf8'));
}

const VERSION = 'v1';

export function seal(masterKey: Buffer, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  const data = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), data.toString('base64')].join(':');
}

export function unseal(masterKey: Buffer, sealed: string): string {
  const [version, iv, tag, data] = sealed.split(':');
  if (version !== VERSION || !iv || !tag || !data) throw new VidfleetError('INTERNAL', 'A stored key secret is not in a format this coordinator knows.');
  try {
    const decipher = createDecipheriv('aes-256-gcm', masterKey, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new VidfleetError('INTERNAL', 'A stored key secret cannot be opened with this coordinator\'s master key: every coordinator needs the same VIDFLEET_MASTER_KEY (or DATA/master.key).');
  }
}
