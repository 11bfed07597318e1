// Request signing in the browser, byte for byte what src/protocol/auth.ts does on Node:
//   authorization: VIDFLEET-HMAC-SHA256 key=<id>, ts=<ms>, nonce=<hex>, sig=<hex>
//   x-vidfleet-content-sha256: <hex SHA-256 of the body>
//   sig = HMAC-SHA256(secret, METHOD \n path?query \n ts \n nonce \n body-sha256)
// WebCrypto does the hashing; it exists only in secure contexts (https, or http on loopback).

export interface Credentials {
  keyId: string;
  secret: string;
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SCHEME = 'VIDFLEET-HMAC-SHA256';
// sessionStorage: the key lasts as long as the tab, and is not shared with other tabs or kept on disk.
const STORAGE_KEY = 'vidfleet.key';
const encoder = new TextEncoder();

const toHex = (bytes: ArrayBuffer | Uint8Array): string =>
  Array.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

/** Whether this page can sign at all (WebCrypto is withheld from plain-http pages off loopback). */
export function canSign(): boolean {
  return typeof crypto !== 'undefined' && crypto.subtle !== undefined;
}

export async function sha256Hex(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>): Promise<string> {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  return toHex(await crypto.subtle.digest('SHA-256', bytes));
}

// importKey once per secret: every request is signed, and the key never changes in a session.
const hmacKeys = new Map<string, Promise<CryptoKey>>();
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    hmacKeys.set(secret, key);
  }
  return key;
}

/** The headers that sign one request; `path` is the path and query exactly as sent. */
export async function signHeaders(creds: Credentials, method: string, path: string, contentSha256: string, now: number): Promise<Record<string, string>> {
  const nonce = toHex(crypto.getRandomValues(new Uint8Array(16)));
  const canonical = `${method.toUpperCase()}\n${path}\n${now}\n${nonce}\n${contentSha256.toLowerCase()}`;
  const sig = toHex(await crypto.subtle.sign('HMAC', await hmacKey(creds.secret), encoder.encode(canonical)));
  return {
    authorization: `${SCHEME} key=${creds.keyId}, ts=${now}, nonce=${nonce}, sig=${sig}`,
    'x-vidfleet-content-sha256': contentSha256,
  };
}

/** "<key id>:<secret>", as `vidfleet keys create` prints it; null when it is not that shape. */
export function parseCredentials(value: string): Credentials | null {
  const text = value.trim();
  const i = text.indexOf(':');
  if (i <= 0 || i === text.length - 1) return null;
  return { keyId: text.slice(0, i), secret: text.slice(i + 1) };
}

export function loadCredentials(): Credentials | null {
  try {
    const stored = sessionStorage.getItem(STORAGE_KEY);
    return stored ? parseCredentials(stored) : null;
  } catch {
    return null; // storage disabled: the user is asked again
  }
}

export function saveCredentials(creds: Credentials): void {
  sessionStorage.setItem(STORAGE_KEY, `${creds.keyId}:${creds.secret}`);
}

export function clearCredentials(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}
