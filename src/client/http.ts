// The one HTTP helper every vidfleet client uses (CLI and worker): JSON in, JSON out, error
// bodies turned back into VidfleetError so callers match on the same codes the server sent.
import { VidfleetError, isErrorCode, type ErrorBody } from '../protocol/index.js';

type BodyInit = NonNullable<RequestInit['body']>;

export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** A raw body (file stream or bytes) instead of JSON. */
  raw?: { data: BodyInit | NodeJS.ReadableStream; contentType: string; length?: number };
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Milliseconds before the request is given up (default 60 s). */
  timeoutMs?: number;
}

export class HttpClient {
  readonly baseUrl: string;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async fetch(path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    let body: BodyInit | undefined;
    if (options.raw) {
      headers['content-type'] = options.raw.contentType;
      if (options.raw.length !== undefined) headers['content-length'] = String(options.raw.length);
      body = options.raw.data as BodyInit;
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    // One controller per request, unhooked from the caller's signal when the request ends: a
    // long-lived signal (a worker's stop signal) would otherwise collect a listener per claim.
    const controller = new AbortController();
    const abort = (): void => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', abort, { once: true });
    const timer = setTimeout(() => controller.abort(new Error(`request to ${path} timed out`)), options.timeoutMs ?? 60_000);
    const signal = controller.signal;
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method: options.method ?? (body === undefined ? 'GET' : 'POST'),
        headers,
        body,
        signal,
        // Required by Node's fetch to send a stream as the body.
        ...(options.raw ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      if (options.signal?.aborted) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new VidfleetError('INPUT_UNREADABLE', `Cannot reach the coordinator at ${this.baseUrl} (${why}). Is it running? Start one with \`vidfleet up\` or set --coordinator / VIDFLEET_URL.`, {
        retryable: true,
        details: { network: true },
        cause: err,
      });
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', abort);
    }
    if (!response.ok) throw await errorFromResponse(response);
    return response;
  }

  async json<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.fetch(path, options);
    return (await response.json()) as T;
  }
}

async function errorFromResponse(response: Response): Promise<VidfleetError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as ErrorBody;
    if (isErrorCode(body.code)) return VidfleetError.fromBody(body);
  } catch {
    // not one of ours: fall through
  }
  return new VidfleetError(response.status >= 500 ? 'INTERNAL' : 'VALIDATION_FAILED', `HTTP ${response.status} from the coordinator: ${text.slice(0, 300)}`, {
    details: { httpStatus: response.status },
  });
}

/** True when the error means the coordinator could not be reached (worth retrying). */
export function isNetworkError(err: unknown): boolean {
  return err instanceof VidfleetError && err.details?.network === true;
}
