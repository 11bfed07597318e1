// Blob URLs that carry their own permission: ffmpeg reads a store:// input straight from the
// coordinator with HTTP ranges and cannot sign requests, so a worker asks (signed) for a URL
// whose query holds an expiry and an HMAC of the key and expiry under a key derived from the
// master key. Any coordinator of the deployment (same master key) honours it until it expires.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Long enough for the longest task reading its input (a transcode chunk of a long film). */
export const MAX_BLOB_URL_SECONDS = 24 * 3600;

function tokenKey(masterKey: Buffer): Buffer {
  return createHmac('sha256', masterKey).update('vidfleet blob urls v1').digest();
}

function mac(masterKey: Buffer, key: string, expiresAt: number): string {
  return createHmac('sha256', tokenKey(masterKey)).update(`${key}\n${expiresAt}`).digest('hex');
}

/** The query that lets its bearer read `key` until `expiresAt` (ms). */
export function blobTokenQuery(masterKey: Buffer, key: string, expiresAt: number): string {
  return `exp=${expiresAt}&sig=${mac(masterKey, key, expiresAt)}`;
}

export function blobTokenValid(masterKey: Buffer, key: string, exp: string | undefined, sig: string | undefined, now = Date.now()): boolean {
  if (!exp || !sig || !/^\d{1,16}$/.test(exp) || !/^[0-9a-f]{64}$/.test(sig) || Number(exp) < now) return false;
  const expected = Buffer.from(mac(masterKey, key, Number(exp)), 'hex');
  return timingSafeEqual(expected, Buffer.from(sig, 'hex'));
}
