// The event feed over HTTP: GET /v1/events (the whole fleet) and GET /v1/jobs/{id}/events (one
// job). With `Accept: text/event-stream` they stream server-sent events that resume after
// Last-Event-ID (or ?after=) with exactly the events missed; otherwise they answer one JSON
// page, { events, cursor }, for clients that poll.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { VidfleetError, type FeedEvent } from '../../protocol/index.js';
import type { CoordinatorDeps } from '../deps.js';
import { longPollSignal } from '../http-errors.js';

const FeedQuerySchema = Type.Object({
  after: Type.Optional(Type.String({ description: 'Cursor of the last event seen (the SSE id); none: from the oldest kept.' })),
  job: Type.Optional(Type.String({ description: "Only this job's events." })),
  types: Type.Optional(Type.String({ description: 'Comma-separated type prefixes, e.g. "job.,worker." or "task.completed".' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 500, description: 'JSON mode: events per page.' })),
});
type FeedQueryParams = Static<typeof FeedQuerySchema>;
const JobIdParams = Type.Object({ id: Type.String() });

/** Re-reads this often without a wake-up: PostgreSQL holds an event back while an older transaction runs, and a missed notification must not stall a reader. */
const FEED_POLL_MS = 1_000;
/** A comment line this often keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;
const PAGE = 500;

export function registerEventRoutes(app: FastifyInstance, deps: CoordinatorDeps): void {
  const { store } = deps;

  app.get('/v1/events', { schema: { querystring: FeedQuerySchema } }, async (request, reply) => {
    return serveFeed(request, reply, deps, request.query as FeedQueryParams);
  });

  app.get('/v1/jobs/:id/events', { schema: { params: JobIdParams, querystring: FeedQuerySchema } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    if (!(await store.getJob(id))) throw new VidfleetError('JOB_NOT_FOUND', `No job ${id}.`);
    return serveFeed(request, reply, deps, { ...(request.query as FeedQueryParams), job: id });
  });
}

function typeFilter(types: string | undefined): (e: FeedEvent) => boolean {
  const prefixes = (types ?? '').split(',').map((t) => t.trim()).filter((t) => t.length > 0);
  return prefixes.length === 0 ? () => true : (e) => prefixes.some((p) => e.type.startsWith(p));
}

async function serveFeed(request: FastifyRequest, reply: FastifyReply, deps: CoordinatorDeps, query: FeedQueryParams): Promise<unknown> {
  const lastEventId = request.headers['last-event-id'];
  const after = (Array.isArray(lastEventId) ? lastEventId[0] : lastEventId) || query.after;
  const keep = typeFilter(query.types);
  const read = (cursor: string | undefined, limit: number) =>
    deps.store.listFeed({ limit, ...(cursor !== undefined && { after: cursor }), ...(query.job !== undefined && { jobId: query.job }) });

  if (!(request.headers.accept ?? '').includes('text/event-stream')) {
    const events = await read(after, query.limit ?? PAGE);
    // The cursor moves past filtered-out events too, so the next page does not read them again.
    return { events: events.filter(keep), cursor: events.at(-1)?.cursor ?? after ?? null };
  }
  // A bad cursor is refused before the stream starts, as an ordinary error response.
  let events: FeedEvent[] | null = await read(after, PAGE);
  const gone = longPollSignal(reply, deps.shutdown);
  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  // A reconnecting EventSource waits this long (ms) before trying again.
  out.write('retry: 2000\n\n');
  let cursor = after;
  let lastWrite = Date.now();
  const write = async (text: string): Promise<void> => {
    lastWrite = Date.now();
    if (!out.write(text)) await new Promise<void>((resolve) => {
      const done = (): void => {
        out.off('drain', done);
        out.off('close', done);
        resolve();
      };
      out.once('drain', done);
      out.once('close', done);
    });
  };
  try {
    while (!gone.aborted) {
      events ??= await read(cursor, PAGE);
      for (const e of events) {
        cursor = e.cursor;
        if (keep(e)) await write(`id: ${e.cursor}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
        if (gone.aborted) break;
      }
      if (events.length === PAGE) {
        events = null;
        continue;
      }
      events = null;
      if (Date.now() - lastWrite >= KEEPALIVE_MS) await write(': keep-alive\n\n');
      await deps.eventsAppended.wait(FEED_POLL_MS, gone);
    }
  } catch (err) {
    // The stream has started: an error can only end it (the client resumes from its last id).
    request.log.warn({ err }, 'event stream ended by an error');
  } finally {
    out.end();
  }
  return reply;
}
