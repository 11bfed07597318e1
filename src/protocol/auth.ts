// Request signing, shared by the clients that sign and the coordinator that checks. A request
// carries
//   authorization: VIDFLEET-HMAC-SHA256 key=<key id>, ts=<ms since epoch>, nonce=<hex>, sig=<hex>
//   x-vidfleet-content-sha256: <hex SHA-256 of the body>
// where sig = HMAC-SHA256(secret, method \n path-with-query \n ts \n nonce \n body SHA-256).
// The path includes the query, so a signed request cannot be pointed at other rows; the body
// digest is declared up front so a streamed upload can be signed before it is read (the
// coordinator checks the bytes against it as they arrive); ts and nonce stop replays.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { VidfleetError } from './errors.js';

export const AUTH_SCHEME = 'VIDFLEET-HMAC-SHA256';
export const CONTENT_SHA256_HEADER = 'x-vidfleet-content-sha256';
/** A signed request is accepted this long either side of the coordinator's clock. */
export const CLOCK_WINDOW_MS = 30_000;
export const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

export const KEY_ROLES = ['admin', 'client', 'worker'] as const;
export type KeyRole = (typeof KEY_ROLES)[number];

export interface Credentials {
  keyId: string;
  secret: string;
}

export interface SignedParts {
  method: string;
  /** Path and query exactly as sent, e.g. /v1/jobs?status=running */
  path: string;
  timestamp: number;
  nonce: string;
  contentSha256: string;
}

export function canonicalRequest(p: SignedParts): string {
  return `${p.method.toUpperCase()}\n${p.path}\n${p.timestamp}\n${p.nonce}\n${p.contentSha256.toLowerCase()}`;
}

export function signature(secret: string, p: SignedParts): string {
  return createHmac('sha256', secret).update(canonicalRequest(p)).digest('hex');
}

/** The headers that sign a request. */
export function signRequest(creds: Credentials, method: string, path: string, contentSha256: string, now = Date.now()): Record<string, string> {
  const parts: SignedParts = { method, path, timestamp: now, nonce: randomBytes(16).toString('hex'), contentSha256 };
  return {
    authorization: `${AUTH_SCHEME} key=${creds.keyId}, ts=${parts.timestamp}, nonce=${parts.nonce}, sig=${signature(creds.secret, parts)}`,
    [CONTENT_SHA256_HEADER]: contentSha256,
  };
}

export interface AuthHeader {
  keyId: string;
  timestamp: number;
  nonce: string;
  sig: string;
}

const unauthorized = (why: string): VidfleetError => new VidfleetError('AUTH_MALFORMED', why);

/** Parses an authorization header; throws AUTH_REQUIRED or AUTH_MALFORMED saying what is wrong with it. */
export function parseAuthHeader(header: string | undefined): AuthHeader {
  if (!header) throw new VidfleetError('AUTH_REQUIRED', `This coordinator requires signed requests: send an "authorization: ${AUTH_SCHEME} key=…, ts=…, nonce=…, sig=…" header (the vidfleet CLI and worker sign when VIDFLEET_KEY is set).`);
  if (!header.startsWith(`${AUTH_SCHEME} `)) throw unauthorized(`The authorization header must use the ${AUTH_SCHEME} scheme.`);
  const fields = new Map(
    header
      .slice(AUTH_SCHEME.length + 1)
      .split(',')
      .map((f) => f.trim().split('=', 2) as [string, string | undefined]),
  );
  const keyId = fields.get('key');
  const ts = fields.get('ts');
  const nonce = fields.get('nonce');
  const sig = fields.get('sig');
  if (!keyId || !ts || !nonce || !sig) throw unauthorized('The authorization header needs key, ts, nonce and sig.');
  if (!/^\d{1,16}$/.test(ts)) throw unauthorized('ts must be milliseconds since the epoch.');
  if (!/^[0-9a-f]{16,64}$/.test(nonce)) throw unauthorized('nonce must be 16-64 lower-case hex digits.');
  if (!/^[0-9a-f]{64}$/.test(sig)) throw unauthorized('sig must be 64 lower-case hex digits (HMAC-SHA256).');
  return { keyId, timestamp: Number(ts), nonce, sig };
}

/** Constant-time comparison of the signature given with the one expected. */
export function signatureMatches(secret: string, parts: SignedParts, given: string): boolean {
  const expected = Buffer.from(signature(secret, parts), 'hex');
  const got = Buffer.from(given, 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** VIDFLEET_KEY is "<key id>:<secret>", as `vidfleet keys create` prints it. */
export function parseCredentials(value: string): Credentials {
  const i = value.indexOf(':');
  if (i <= 0 || i === value.length - 1) throw new VidfleetError('VALIDATION_FAILED', 'A key is given as "<key id>:<secret>", as `vidfleet keys create` prints it.');
  return { keyId: value.slice(0, i), secret: value.slice(i + 1) };
}
