// The coordinator's /v1 API as the dashboard uses it. Every request is signed when the session
// has a key; a 401 tells the listeners (the key form opens) and rejects like any other error.
import { EMPTY_SHA256, loadCredentials, sha256Hex, signHeaders, type Credentials } from './signing.js';
import type { Artifact, ErrorBody, Job, KindInfo, LogLine, Worker } from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** `signedWith`: the key the refused request carried (null: unsigned), so a late answer to a request made before signing in is told apart. */
type AuthListener = (reason: string, signedWith: Credentials | null) => void;
const authListeners = new Set<AuthListener>();
export function onAuthRequired(listener: AuthListener): void {
  authListeners.add(listener);
}

// Signatures are good for 30 s either side of the coordinator's clock: a browser whose clock is
// off by more signs with the coordinator's time instead (its Date header, 1 s resolution).
let clockOffsetMs = 0;
export const serverNow = (): number => Date.now() + clockOffsetMs;

function noteServerClock(res: Response): boolean {
  const date = Date.parse(res.headers.get('date') ?? '');
  if (Number.isNaN(date)) return false;
  const offset = date - Date.now();
  const changed = Math.abs(offset - clockOffsetMs) > 5_000;
  if (changed) clockOffsetMs = Math.abs(offset) > 5_000 ? offset : 0;
  return changed;
}

export interface SendOptions {
  method?: string;
  json?: unknown;
  body?: Blob | ArrayBuffer | null;
  /** SHA-256 of a raw `body` (required to sign one). */
  bodyDigest?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Signing headers for a request to `url` (absolute or a path) when the session has a key. */
export async function authHeaders(method: string, url: string | URL, contentSha256 = EMPTY_SHA256, creds = loadCredentials()): Promise<Record<string, string>> {
  if (!creds) return {};
  // Sign the path and query as the browser will send them (URL serialisation escapes some
  // characters encodeURIComponent leaves alone, such as ').
  const u = new URL(url, location.origin);
  return signHeaders(creds, method, u.pathname + u.search, contentSha256, serverNow());
}

async function errorOf(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => null)) as ErrorBody | null;
  return new ApiError(res.status, body?.code ?? `HTTP_${res.status}`, body?.message ?? `${res.status} ${res.statusText}`, body?.hint);
}

/** Sends one request; resolves with the response when it is a 2xx. */
export async function send(path: string, options: SendOptions = {}, retried = false): Promise<Response> {
  const method = options.method ?? 'GET';
  const creds = loadCredentials();
  const headers: Record<string, string> = { ...options.headers };
  let body: BodyInit | null = options.body ?? null;
  let digest = options.bodyDigest ?? EMPTY_SHA256;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
    if (creds) digest = await sha256Hex(body);
  }
  Object.assign(headers, await authHeaders(method, path, digest, creds));
  const res = await fetch(path, { method, headers, body, cache: 'no-store', ...(options.signal && { signal: options.signal }) });
  const clockMoved = noteServerClock(res);
  if (res.ok) return res;
  if (res.status === 401 && clockMoved && !retried && creds) return send(path, options, true);
  const err = await errorOf(res);
  if (res.status === 401) for (const listener of authListeners) listener(err.message, creds);
  throw err;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await send(path, signal ? { signal } : {})).json() as Promise<T>;
}

const seg = encodeURIComponent;

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : '';
}

export function artifactPath(jobId: string, name: string): string {
  return `/v1/jobs/${seg(jobId)}/artifacts/${name.split('/').map(seg).join('/')}`;
}

export interface SubmitBody {
  kind: string;
  input: string;
  params?: Record<string, unknown>;
  priority?: number;
}

export const api = {
  listJobs: (q: { status?: string; kind?: string; limit?: number; cursor?: string }, signal?: AbortSignal) =>
    getJson<{ jobs: Job[]; nextCursor: string | null }>(`/v1/jobs${query(q)}`, signal),
  getJob: (id: string, signal?: AbortSignal) => getJson<Job>(`/v1/jobs/${seg(id)}`, signal),
  cancelJob: async (id: string) => (await send(`/v1/jobs/${seg(id)}/cancel`, { method: 'POST', json: {} })).json() as Promise<Job>,
  submitJob: async (body: SubmitBody) => (await send('/v1/jobs', { method: 'POST', json: body })).json() as Promise<Job>,
  kinds: async (signal?: AbortSignal) => (await getJson<{ kinds: KindInfo[] }>('/v1/kinds', signal)).kinds,
  workers: async (signal?: AbortSignal) => (await getJson<{ workers: Worker[] }>('/v1/workers', signal)).workers,
  artifacts: async (id: string, signal?: AbortSignal) => (await getJson<{ artifacts: Artifact[] }>(`/v1/jobs/${seg(id)}/artifacts`, signal)).artifacts,
  logs: (id: string, after: number, wait: number, signal?: AbortSignal) =>
    getJson<{ lines: LogLine[]; next: number }>(`/v1/jobs/${seg(id)}/logs${query({ after, wait, limit: 1000 })}`, signal),

  /** Uploads a file as a job input. A signed upload declares its digest, so the bytes are hashed first. */
  async upload(file: File): Promise<{ key: string; uri: string; size: number; sha256: string }> {
    const digest = loadCredentials() ? await sha256Hex(await file.arrayBuffer()) : EMPTY_SHA256;
    const res = await send(`/v1/uploads${query({ name: file.name })}`, {
      method: 'POST',
      body: file,
      bodyDigest: digest,
      headers: { 'content-type': 'application/octet-stream' },
    });
    return res.json() as Promise<{ key: string; uri: string; size: number; sha256: string }>;
  },

  /**
   * A URL a plain link or <img> can use for an artifact. Without keys that is the artifact's own
   * path; with keys a link cannot sign, so the coordinator mints a blob URL whose query is its
   * permission (POST /v1/blob-urls, the way workers hand inputs to ffmpeg).
   */
  async linkFor(artifact: Artifact): Promise<string> {
    if (!loadCredentials()) return artifactPath(artifact.jobId, artifact.name);
    const res = await send('/v1/blob-urls', { method: 'POST', json: { key: artifact.key, ttlSeconds: 3600 } });
    return ((await res.json()) as { path: string }).path;
  },

  /** An artifact's bytes as an object URL (for previews when requests must be signed). */
  async objectUrl(artifact: Artifact, signal?: AbortSignal): Promise<string> {
    const res = await send(artifactPath(artifact.jobId, artifact.name), signal ? { signal } : {});
    return URL.createObjectURL(await res.blob());
  },
};
