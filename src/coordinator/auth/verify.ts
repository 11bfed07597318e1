// Authentication: once the deployment has keys, every request (but the open health/metrics
// routes) must be signed (protocol/auth.ts): known, unrevoked key; time within ±30 s; the
// signature over method, path with query, time, nonce and declared body digest; a nonce not seen
// before from that key (remembered in the database, so a replay to another coordinator fails
// too). The body itself is checked against the declared digest where it is read (JSON parser,
// streamed uploads).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  CLOCK_WINDOW_MS, CONTENT_SHA256_HEADER, EMPTY_SHA256, VidfleetError, parseAuthHeader, signatureMatches, type KeyRole,
} from '../../protocol/index.js';
import type { Store } from '../../store/store.js';
import { unseal } from './master-key.js';
import { ANONYMOUS, type Principal } from './principal.js';
import { blobTokenValid } from './blob-tokens.js';

/** Whoever holds a valid blob URL: may read that blob and nothing else (see policy.ts). */
const BLOB_READER: Principal = { keyId: 'blob-url', role: 'worker', contentSha256: null };

/**
 * Routes anyone may call: probes and scrapers cannot sign, and the dashboard's page and static
 * files (`/`, `/ui/*`) must load before it can ask for a key (its API calls are signed).
 */
export const OPEN_ROUTES = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json', '/', '/ui/*']);

/** Whether a request path (no query) is open: an exact open route, or a dashboard file under /ui/. */
export function isOpenPath(path: string): boolean {
  return OPEN_ROUTES.has(path) || path.startsWith('/ui/');
}

/** Keys and "are there keys at all" are read at most this often (a revoked key stops within it). */
const CACHE_MS = 2_000;

interface CachedKey {
  role: KeyRole;
  secret: string | null;
  at: number;
}

export class Authenticator {
  private keys = new Map<string, CachedKey>();
  private required: { value: boolean; at: number } | null = null;

  constructor(
    private readonly store: Store,
    private readonly masterKey: Buffer,
    private readonly options: { alwaysRequired: boolean },
  ) {}

  /** Whether requests must be signed: off loopback always, on loopback once any unrevoked key exists. */
  /** The master key, for the routes that mint blob URLs. */
  get sealingKey(): Buffer {
    return this.masterKey;
  }

  private blobToken(request: FastifyRequest): Principal | null {
    if (request.method !== 'GET' && request.method !== 'HEAD') return null;
    const [path, query = ''] = request.url.split('?', 2) as [string, string?];
    if (!path.startsWith(BLOB_PREFIX) || !query.includes('sig=')) return null;
    const params = new URLSearchParams(query);
    const key = path.slice(BLOB_PREFIX.length).split('/').map(decodeURIComponent).join('/');
    if (!blobTokenValid(this.masterKey, key, params.get('exp') ?? undefined, params.get('sig') ?? undefined)) {
      throw new VidfleetError('AUTH_SIGNATURE_MISMATCH', 'This blob URL is expired or was not made by this deployment; ask for a new one (POST /v1/blob-urls).');
    }
    return BLOB_READER;
  }

  async isRequired(): Promise<boolean> {
    if (this.options.alwaysRequired) return true;
    const now = Date.now();
    if (!this.required || now - this.required.at >= CACHE_MS) this.required = { value: (await this.store.countActiveApiKeys()) > 0, at: now };
    return this.required.value;
  }

  private async key(id: string): Promise<CachedKey> {
    const now = Date.now();
    let cached = this.keys.get(id);
    if (!cached || now - cached.at >= CACHE_MS) {
      const row = await this.store.getApiKey(id);
      cached = { role: row?.role ?? 'client', secret: row && row.revokedAt === null ? unseal(this.masterKey, row.secretSealed) : null, at: now };
      this.keys.set(id, cached);
      if (this.keys.size > 10_000) this.keys.delete(this.keys.keys().next().value!);
    }
    return cached;
  }

  async authenticate(request: FastifyRequest): Promise<Principal> {
    if (!(await this.isRequired())) return ANONYMOUS;
    const blob = this.blobToken(request);
    if (blob) return blob;
    const auth = parseAuthHeader(request.headers.authorization);
    const declared = request.headers[CONTENT_SHA256_HEADER];
    const contentSha256 = typeof declared === 'string' && declared.length > 0 ? declared.toLowerCase() : EMPTY_SHA256;
    if (!/^[0-9a-f]{64}$/.test(contentSha256)) throw new VidfleetError('AUTH_MALFORMED', `${CONTENT_SHA256_HEADER} must be the body's SHA-256 in hex.`);
    const skew = auth.timestamp - Date.now();
    if (Math.abs(skew) > CLOCK_WINDOW_MS) {
      throw new VidfleetError('AUTH_EXPIRED', `The request was signed ${Math.round(Math.abs(skew) / 1000)} s ${skew < 0 ? 'ago' : 'ahead'}; signatures are good for ${CLOCK_WINDOW_MS / 1000} s either side of the coordinator's clock. Check this machine's clock.`);
    }
    const key = await this.key(auth.keyId);
    if (key.secret === null) throw new VidfleetError('AUTH_KEY_INVALID', `Key ${auth.keyId} is unknown or revoked.`);
    const parts = { method: request.method, path: request.url, timestamp: auth.timestamp, nonce: auth.nonce, contentSha256 };
    if (!signatureMatches(key.secret, parts, auth.sig)) {
      throw new VidfleetError('AUTH_SIGNATURE_MISMATCH', 'The signature does not match this request (method, path and query, time, nonce, body digest) for that key: check the secret and that the request was not changed on the way.');
    }
    if (!(await this.store.rememberNonce(auth.keyId, auth.nonce, auth.timestamp + CLOCK_WINDOW_MS + 1_000))) {
      throw new VidfleetError('AUTH_REPLAYED', 'This request was seen before (same key and nonce): a replay is refused. Sign every request afresh.');
    }
    return { keyId: auth.keyId, role: key.role, contentSha256: typeof declared === 'string' ? contentSha256 : null };
  }
}

/** A GET of a blob URL made by POST /v1/blob-urls: its query is its permission. */
const BLOB_PREFIX = '/v1/blobs/';

export function installAuthentication(app: FastifyInstance, auth: Authenticator): void {
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (request) => {
    if (isOpenPath(request.url.split('?')[0]!)) return;
    request.principal = await auth.authenticate(request);
  });
}
