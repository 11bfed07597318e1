// Server-sent events over fetch(). EventSource cannot send headers, and once a deployment has
// keys every request (the event stream too) must carry a signature, so the stream is read by
// hand: `id:`/`event:`/`data:` lines, a blank line ends an event. A dropped stream is opened
// again, freshly signed, with Last-Event-ID set to the last id seen: the coordinator resumes
// with exactly the events missed.
import { ApiError, send } from './api.js';
import type { FeedEvent } from './types.js';

/** live: reading; retrying: dropped, will reconnect; forbidden: this key may not read it (poll instead); unauthorized: waiting for a key. */
export type StreamState = 'connecting' | 'live' | 'retrying' | 'forbidden' | 'unauthorized';

export interface StreamOptions {
  /** /v1/events or /v1/jobs/{id}/events, with any query. */
  path: string;
  /** Resume after this cursor (none: from the oldest event kept). */
  after?: string;
  onEvent(event: FeedEvent): void;
  onState?(state: StreamState, detail?: string): void;
  signal: AbortSignal;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = window.setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      window.clearTimeout(timer);
      resolve();
    }, { once: true });
  });

/** Follows the stream until `signal` aborts or the stream is refused for good. */
export async function followStream(options: StreamOptions): Promise<void> {
  const { signal } = options;
  let lastId = options.after;
  let retryMs = 2_000; // the server's `retry:` replaces this
  let backoffMs = 1_000;
  while (!signal.aborted) {
    options.onState?.('connecting');
    try {
      const res = await send(options.path, {
        headers: { accept: 'text/event-stream', ...(lastId !== undefined && { 'last-event-id': lastId }) },
        signal,
      });
      if (!res.body) throw new Error('the event stream has no body');
      options.onState?.('live');
      backoffMs = 1_000;
      await readEvents(res.body, {
        onEvent: (id, data) => {
          if (id !== undefined) lastId = id;
          // A malformed event is skipped rather than ending the stream; its id still counts.
          let event: FeedEvent | null = null;
          try {
            event = JSON.parse(data) as FeedEvent;
          } catch {
            event = null;
          }
          if (event) options.onEvent(event);
        },
        onRetry: (ms) => {
          retryMs = ms;
        },
      });
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.status === 403) return options.onState?.('forbidden', err.message);
      if (err instanceof ApiError && err.status === 401) return options.onState?.('unauthorized', err.message);
      // An unknown cursor (its events were pruned): start again from the oldest kept.
      if (err instanceof ApiError && err.status === 400 && lastId !== undefined) lastId = undefined;
      options.onState?.('retrying', err instanceof Error ? err.message : String(err));
      await sleep(Math.max(retryMs, backoffMs), signal);
      backoffMs = Math.min(backoffMs * 2, 15_000);
      continue;
    }
    if (signal.aborted) return;
    // The server ended the stream (a restart, a proxy timeout): come back after `retry`.
    options.onState?.('retrying');
    await sleep(retryMs, signal);
  }
}

interface Handlers {
  onEvent(id: string | undefined, data: string): void;
  onRetry(ms: number): void;
}

/** Parses an SSE body per the HTML spec's rules (comments, optional space after the colon). */
async function readEvents(body: ReadableStream<Uint8Array>, handlers: Handlers): Promise<void> {
  const reader = body.getReader();
  // stream: true keeps a character split across chunks whole.
  const decoder = new TextDecoder();
  let buffer = '';
  let id: string | undefined;
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, end).replace(/\r$/, '');
        buffer = buffer.slice(end + 1);
        if (line === '') {
          if (data.length > 0) handlers.onEvent(id, data.join('\n'));
          id = undefined;
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'id' && !value.includes('\0')) id = value;
        else if (field === 'retry' && /^\d+$/.test(value)) handlers.onRetry(Number(value));
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * The cursor of the newest event of a feed, read as JSON pages: a page that opens on live state
 * it just fetched follows only what happens next, instead of replaying the feed's history over it.
 */
export async function latestCursor(path: string, signal: AbortSignal): Promise<string | undefined> {
  let cursor: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ limit: '1000', ...(cursor !== undefined && { after: cursor }) });
    const res = await send(`${path}?${q}`, { signal });
    const page = (await res.json()) as { events: FeedEvent[]; cursor: string | null };
    const moved = page.cursor !== null && page.cursor !== cursor;
    if (page.cursor !== null) cursor = page.cursor;
    if (!moved || page.events.length < 1000) return cursor;
  }
}
