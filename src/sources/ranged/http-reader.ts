// A RangeReader over HTTP(S): every read is one bounded `Range: bytes=a-b` GET. Opening sends a
// `Range: bytes=0-0` probe rather than HEAD, because a presigned S3 URL is signed for GET only
// (HEAD answers 403), and the probe proves in one round trip that the server honours ranges.
// A server that answers 200 (the whole file) is refused before its body is read: for a film of
// many GiB that answer would turn a 2 MiB screenshot job into a full download.
import { VidfleetError } from '../../protocol/index.js';
import { clampRead, throwIfAborted } from './read-range.js';
import type { RangeReader, RangeReadStats } from './range-reader.js';

export interface HttpReaderOptions {
  /** Extra request headers (authorisation). */
  headers?: Record<string, string>;
  /** Attempts after the first for a network error, a timeout, 408, 429 or a 5xx. Default 2. */
  retries?: number;
  /** Per request, until the last body byte. Default 30 s. */
  timeoutMs?: number;
  /** First retry waits this long, doubling. Default 250 ms. */
  backoffMs?: number;
  signal?: AbortSignal;
}

/** A URL for messages: no credentials, no query (a presigned URL's query is a secret). */
export function safeUrlLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'the input URL';
  }
}

class Transient extends Error {}

interface RangeAnswer {
  start: number;
  body: Buffer;
  total: number | null;
}

export class HttpRangeReader implements RangeReader {
  private bytesRead = 0;
  private requests = 0;
  private total = 0;
  readonly label: string;

  private constructor(
    private readonly url: string,
    private readonly options: HttpReaderOptions,
  ) {
    this.label = safeUrlLabel(url);
  }

  static async open(url: string, options: HttpReaderOptions = {}): Promise<HttpRangeReader> {
    if (!/^https?:\/\//i.test(url)) throw new VidfleetError('INVALID_INPUT', `${safeUrlLabel(url)} is not an http(s) URL.`);
    const reader = new HttpRangeReader(url, options);
    const probe = await reader.request(0, 0, options.signal, true);
    if (probe.total === null) throw new VidfleetError('RANGE_NOT_SUPPORTED', `${reader.label} did not say its size (Content-Range "bytes 0-0/*"), so it cannot be read by ranges.`);
    reader.total = probe.total;
    return reader;
  }

  get size(): number {
    return this.total;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    throwIfAborted(signal);
    const n = clampRead(this.label, this.size, offset, length);
    if (n === 0) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    let at = offset;
    // A server may answer a range with fewer bytes than asked (RFC 9110 §14.1.2); ask again for the rest.
    while (at < offset + n) {
      const got = await this.request(at, offset + n - 1, signal, false);
      if (got.total !== null && got.total !== this.size) {
        throw new VidfleetError('INPUT_UNREADABLE', `${this.label} changed while it was being read (size ${this.size} became ${got.total}); the job starts again.`, { retryable: true });
      }
      if (got.start !== at || got.body.length === 0) throw new VidfleetError('INPUT_UNREADABLE', `${this.label} answered a request for bytes ${at}-${offset + n - 1} with bytes from ${got.start} (${got.body.length} bytes).`);
      parts.push(got.body);
      at += got.body.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  stats(): RangeReadStats {
    return { bytesRead: this.bytesRead, requests: this.requests };
  }

  /** One range GET with retries of transient failures. */
  private async request(first: number, last: number, signal: AbortSignal | undefined, probe: boolean): Promise<RangeAnswer> {
    const retries = this.options.retries ?? 2;
    const backoff = this.options.backoffMs ?? 250;
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal);
      try {
        return await this.requestOnce(first, last, signal, probe);
      } catch (err) {
        if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : err;
        if (!(err instanceof Transient)) throw err;
        if (attempt >= retries) {
          throw new VidfleetError('INPUT_UNREADABLE', `Reading bytes ${first}-${last} of ${this.label} failed ${attempt + 1} times: ${err.message}.`, { cause: err, retryable: true });
        }
        await new Promise((r) => setTimeout(r, backoff * 2 ** attempt));
      }
    }
  }

  private async requestOnce(first: number, last: number, signal: AbortSignal | undefined, probe: boolean): Promise<RangeAnswer> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 30_000);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    this.requests++;
    let res: Response;
    try {
      res = await fetch(this.url, {
        // identity: a gzip answer would make byte ranges meaningless.
        headers: { ...this.options.headers, range: `bytes=${first}-${last}`, 'accept-encoding': 'identity' },
        redirect: 'follow',
        signal: combined,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new Transient(timeout.aborted ? 'the request timed out' : describeNetworkError(err));
    }
    const status = res.status;
    if (status === 206) return this.readBody(res, last - first + 1, combined, timeout);
    await res.body?.cancel().catch(() => undefined);
    if (status === 200) {
      throw new VidfleetError('RANGE_NOT_SUPPORTED', `${this.label} ignores HTTP Range requests (it answered 200 with the whole file${res.headers.get('content-length') ? `, ${res.headers.get('content-length')} bytes` : ''}); refusing to download all of it.`);
    }
    if (status === 416 && probe) {
      // "bytes */0": an empty file has no byte 0 to give.
      const total = /\*\/(\d+)/.exec(res.headers.get('content-range') ?? '');
      if (total?.[1] === '0') return { start: 0, body: Buffer.alloc(0), total: 0 };
    }
    if (status === 404 || status === 410) throw new VidfleetError('INPUT_NOT_FOUND', `${this.label} does not exist (HTTP ${status}).`);
    if (status === 401 || status === 403) throw new VidfleetError('INPUT_UNREADABLE', `${this.label} refused access (HTTP ${status}); check the URL's credentials.`, { retryable: false });
    if (status === 408 || status === 429 || status >= 500) throw new Transient(`HTTP ${status}`);
    throw new VidfleetError('INPUT_UNREADABLE', `${this.label} answered HTTP ${status} to a range request for bytes ${first}-${last}.`, { retryable: false });
  }

  private async readBody(res: Response, wanted: number, signal: AbortSignal, timeout: AbortSignal): Promise<RangeAnswer> {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range')?.trim() ?? '');
    if (!range) {
      await res.body?.cancel().catch(() => undefined);
      throw new VidfleetError('RANGE_NOT_SUPPORTED', `${this.label} answered 206 without a usable Content-Range header.`);
    }
    const start = Number(range[1]);
    const expect = Number(range[2]) - start + 1;
    if (expect > wanted) {
      await res.body?.cancel().catch(() => undefined);
      throw new VidfleetError('RANGE_NOT_SUPPORTED', `${this.label} answered a ${wanted}-byte range with ${expect} bytes; refusing the larger read.`);
    }
    const chunks: Buffer[] = [];
    let got = 0;
    try {
      for await (const chunk of res.body ?? []) {
        got += chunk.length;
        this.bytesRead += chunk.length;
        if (got > expect) throw new VidfleetError('RANGE_NOT_SUPPORTED', `${this.label} sent more bytes than its Content-Range said (${expect}).`);
        chunks.push(Buffer.from(chunk));
      }
    } catch (err) {
      if (err instanceof VidfleetError || (signal.aborted && !timeout.aborted)) throw err;
      throw new Transient(timeout.aborted ? 'the response timed out' : describeNetworkError(err));
    }
    if (got !== expect) throw new Transient(`the response ended after ${got} of ${expect} bytes`);
    return { start, body: Buffer.concat(chunks, got), total: range[3] === '*' ? null : Number(range[3]) };
  }
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

export function openHttpReader(url: string, options: HttpReaderOptions = {}): Promise<HttpRangeReader> {
  return HttpRangeReader.open(url, options);
}
