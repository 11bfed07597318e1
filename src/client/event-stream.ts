// Following the coordinator's event feed (server-sent events). A dropped connection is resumed
// from the last event received (Last-Event-ID), so a follower sees every event exactly once
// across reconnects, in feed order.
import type { IncomingMessage } from 'node:http';
import type { FeedEvent } from '../protocol/index.js';
import { isNetworkError, type HttpClient } from './http.js';

export interface FollowOptions {
  /** Resume after this cursor (an event's `cursor`); none: from the oldest event kept. */
  after?: string;
  /** Only this job's events. */
  jobId?: string;
  /** Type prefixes to keep, e.g. ['job.', 'worker.']. */
  types?: string[];
  signal?: AbortSignal;
  /** Wait before reconnecting after a dropped stream (default 500 ms, doubling up to 5 s). */
  retryMs?: number;
}

/** Splits an SSE byte stream into its events' data fields (comments and retry lines skipped). */
export async function* sseData(stream: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  // stream: true keeps a character split across chunks whole.
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of stream) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
      if (data.length > 0) yield data.join('\n');
    }
  }
}

export async function* followEvents(http: HttpClient, options: FollowOptions = {}): AsyncGenerator<FeedEvent> {
  let cursor = options.after;
  let retryMs = options.retryMs ?? 500;
  const path = options.jobId === undefined ? '/v1/events' : `/v1/jobs/${encodeURIComponent(options.jobId)}/events`;
  const query = options.types?.length ? `?types=${encodeURIComponent(options.types.join(','))}` : '';
  while (!options.signal?.aborted) {
    let response: IncomingMessage;
    try {
      response = await http.request(path + query, {
        headers: { accept: 'text/event-stream', ...(cursor !== undefined && { 'last-event-id': cursor }) },
        ...(options.signal && { signal: options.signal }),
        timeoutMs: 30_000,
      });
    } catch (err) {
      if (options.signal?.aborted) return;
      if (!isNetworkError(err)) throw err;
      await pause(retryMs, options.signal);
      retryMs = Math.min(retryMs * 2, 5_000);
      continue;
    }
    try {
      for await (const data of sseData(response)) {
        const event = JSON.parse(data) as FeedEvent;
        cursor = event.cursor;
        retryMs = options.retryMs ?? 500;
        yield event;
      }
    } catch (err) {
      if (options.signal?.aborted) return;
      // A connection cut mid-stream: resume from the last event.
      if (!(err instanceof Error) || !/aborted|ECONNRESET|socket hang up|premature/i.test(`${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`)) throw err;
    }
    if (options.signal?.aborted) return;
    await pause(retryMs, options.signal);
  }
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
