// The event feed over real HTTP: server-sent events that resume after Last-Event-ID with every
// missed event exactly once, a job's own stream, JSON pages for pollers, clear errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseData } from '../../src/client/event-stream.js';
import type { FeedEvent } from '../../src/protocol/index.js';
import { startTestFleet, untilFinished, type TestFleet } from '../helpers/fleet.js';

let fleet: TestFleet;

beforeAll(async () => {
  fleet = await startTestFleet({ workers: 1, concurrency: 2 });
});

afterAll(async () => {
  await fleet?.stop();
});

const noop = { kind: 'noop', input: 'none', params: {} };

/** The whole feed, read as JSON pages. */
async function wholeFeed(): Promise<FeedEvent[]> {
  const all: FeedEvent[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await fleet.client.listFeed({ limit: 50, ...(after !== undefined && { after }) });
    all.push(...page.events);
    if (page.events.length < 50) return all;
    after = page.cursor ?? undefined;
  }
}

/** Reads events from a raw SSE response until `stop` says so, then drops the connection. */
async function readUntil(res: Response, stop: (seen: FeedEvent[]) => boolean): Promise<FeedEvent[]> {
  const seen: FeedEvent[] = [];
  for await (const data of sseData(res.body! as AsyncIterable<Uint8Array>)) {
    seen.push(JSON.parse(data) as FeedEvent);
    if (stop(seen)) break;
  }
  return seen;
}

describe('event feed over HTTP', () => {
  it('a client that disconnects and reconnects with Last-Event-ID receives every missed event exactly once', async () => {
    const start = (await wholeFeed()).at(-1)?.cursor;
    const controller = new AbortController();
    const res = await fetch(`${fleet.coordinator.url}/v1/events`, {
      headers: { accept: 'text/event-stream', ...(start !== undefined && { 'last-event-id': start }) },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const first = await Promise.all([
      readUntil(res, (seen) => seen.filter((e) => e.type === 'job.completed').length >= 2),
      (async () => {
        for (let i = 0; i < 3; i++) await untilFinished(fleet.client, (await fleet.client.submitJob(noop)).id);
      })(),
    ]).then(([seen]) => seen);
    controller.abort();
    // While nobody listens: more jobs run to the end.
    const missed = await Promise.all(Array.from({ length: 5 }, () => fleet.client.submitJob(noop)));
    for (const j of missed) await untilFinished(fleet.client, j.id);
    const resumed: FeedEvent[] = [];
    for await (const e of fleet.client.followEvents({ after: first.at(-1)!.cursor })) {
      resumed.push(e);
      if (e.type === 'job.completed' && e.jobId === missed.at(-1)!.id) break;
    }
    const expected = (await wholeFeed()).filter((e) => start === undefined || isAfter(e, start));
    const got = [...first, ...resumed];
    expect(got.map((e) => e.cursor)).toEqual(expected.slice(0, got.length).map((e) => e.cursor));
    expect(new Set(got.map((e) => e.cursor)).size).toBe(got.length);
    expect(got.filter((e) => e.type === 'job.completed').length).toBe(8);
  });

  it("a job's stream carries only its events; type filters apply", async () => {
    const job = await fleet.client.submitJob(noop);
    const events: FeedEvent[] = [];
    for await (const e of fleet.client.followEvents({ jobId: job.id })) {
      events.push(e);
      if (e.type === 'job.completed') break;
    }
    expect(events.every((e) => e.jobId === job.id)).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['job.created', 'task.claimed', 'task.running', 'task.completed', 'job.completed']);
    const page = await fleet.client.listFeed({ jobId: job.id, types: ['job.'] });
    expect(page.events.map((e) => e.type)).toEqual(['job.created', 'job.completed']);
    // The cursor passes filtered-out events too: nothing more after it for this job.
    expect((await fleet.client.listFeed({ jobId: job.id, after: page.cursor! })).events).toEqual([]);
  });

  it('the fleet stream carries worker events', async () => {
    const page = await fleet.client.listFeed({ types: ['worker.'] });
    const [worker] = await fleet.client.listWorkers();
    expect(page.events[0]).toMatchObject({ type: 'worker.online', workerId: worker!.id, data: { reason: 'registered' } });
  });

  it('refuses a cursor it did not make, and an unknown job, with clear errors', async () => {
    const bad = await fetch(`${fleet.coordinator.url}/v1/events?after=garbage`, { headers: { accept: 'text/event-stream' } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    const unknown = await fetch(`${fleet.coordinator.url}/v1/jobs/job_nope/events`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'JOB_NOT_FOUND' });
  });
});

/** Whether `e` comes after `cursor` in feed order (SQLite cursors are event ids). */
function isAfter(e: FeedEvent, cursor: string): boolean {
  return e.id > Number(cursor);
}
