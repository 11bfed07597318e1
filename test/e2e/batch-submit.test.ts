// Batch submits: POST /v1/job-batches answers each job for itself, and the client sends the
// submits a program makes at the same time together, each caller getting its own job or error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VidfleetClient } from '../../src/client/api-client.js';
import { VidfleetError, type SubmitJobBody, type SubmitJobsResponse } from '../../src/protocol/index.js';
import { startTestFleet, untilFinished, type TestFleet } from '../helpers/fleet.js';

let fleet: TestFleet;

beforeAll(async () => {
  fleet = await startTestFleet({ workers: 1, concurrency: 4 });
});

afterAll(async () => {
  await fleet?.stop();
});

// sleepMs tells the jobs apart (noop takes no free-form params).
const noop = (tag: number): SubmitJobBody => ({ kind: 'noop', input: 'none', params: { sleepMs: tag } });

async function postBatch(body: unknown): Promise<{ status: number; json: SubmitJobsResponse & { code?: string } }> {
  const res = await fetch(`${fleet.coordinator.url}/v1/job-batches`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as SubmitJobsResponse & { code?: string } };
}

/** A real client that records the path of every JSON request it sends. */
function countingClient(): { client: VidfleetClient; paths: string[] } {
  const client = new VidfleetClient(fleet.coordinator.url);
  const paths: string[] = [];
  const json = client.http.json.bind(client.http);
  client.http.json = ((path: string, options?: Parameters<typeof json>[1]) => {
    paths.push(path);
    return json(path, options);
  }) as typeof client.http.json;
  return { client, paths };
}

describe('batch submit', () => {
  it('answers each job of a batch for itself: created, refused, replayed, conflicting', async () => {
    const { status, json } = await postBatch({
      jobs: [
        { job: noop(1), idempotencyKey: 'batch-key-1' },
        { job: { kind: 'no-such-kind', input: 'none' } },
        { job: noop(1), idempotencyKey: 'batch-key-1' },
        { job: noop(2), idempotencyKey: 'batch-key-1' },
        { job: { kind: 'probe', input: '/bare/path.mp4' } },
      ],
    });
    expect(status).toBe(200);
    const [created, unknown, replayed, conflict, badInput] = json.results;
    expect(created?.status).toBe(201);
    expect(unknown).toMatchObject({ status: 400, error: { code: 'UNKNOWN_KIND' } });
    // The same key and body in one batch: one job, whichever of the two was written first.
    expect(replayed && 'job' in replayed && created && 'job' in created && replayed.job.id).toBe(created && 'job' in created ? created.job.id : 'missing');
    expect([replayed?.status, created?.status].sort()).toEqual([200, 201]);
    expect(conflict).toMatchObject({ status: 409, error: { code: 'IDEMPOTENCY_CONFLICT' } });
    expect(badInput).toMatchObject({ status: 400, error: { code: 'INVALID_INPUT' } });
  });

  it('refuses a malformed or empty batch as a whole, with a clear message', async () => {
    const empty = await postBatch({ jobs: [] });
    expect(empty.status).toBe(400);
    expect(empty.json.code).toBe('VALIDATION_FAILED');
    const tooMany = await postBatch({ jobs: Array.from({ length: 501 }, (_, i) => ({ job: noop(i) })) });
    expect(tooMany.status).toBe(400);
    const malformed = await postBatch({ jobs: [{ job: { kind: 'noop' } }] });
    expect(malformed.status).toBe(400);
  });

  it('sends concurrent submitJob calls in few requests, and every caller gets its own job or error', async () => {
    const { client, paths } = countingClient();
    try {
      const outcomes = await Promise.allSettled([
        ...Array.from({ length: 60 }, (_, i) => client.submitJob(noop(i))),
        client.submitJob({ kind: 'no-such-kind', input: 'none' }),
        client.submitJob(noop(7), { idempotencyKey: 'batch-key-2' }),
      ]);
      const jobs = outcomes.slice(0, 60).map((o) => (o.status === 'fulfilled' ? o.value : null));
      expect(jobs.every((j) => j !== null)).toBe(true);
      expect(new Set(jobs.map((j) => j!.id)).size).toBe(60);
      // Each caller got the job it submitted, not a neighbour's.
      jobs.forEach((j, i) => expect(j!.params).toEqual({ sleepMs: i }));
      const bad = outcomes[60]!;
      expect(bad.status).toBe('rejected');
      expect((bad as PromiseRejectedResult).reason).toBeInstanceOf(VidfleetError);
      expect(((bad as PromiseRejectedResult).reason as VidfleetError).code).toBe('UNKNOWN_KIND');
      const keyed = outcomes[61]!;
      expect(keyed.status).toBe('fulfilled');
      // Replaying the key alone (a single submit) finds the job the batch created.
      const again = await client.submitJob(noop(7), { idempotencyKey: 'batch-key-2' });
      expect(again.id).toBe((keyed as PromiseFulfilledResult<{ id: string }>).value.id);
      expect(paths.filter((p) => p === '/v1/job-batches').length).toBeGreaterThan(0);
      expect(paths.length).toBeLessThanOrEqual(10);
      for (const j of jobs.slice(0, 5)) expect((await untilFinished(client, j!.id)).status).toBe('completed');
    } finally {
      client.close();
    }
  });

  it('sends a lone submit on the single-job route', async () => {
    const { client, paths } = countingClient();
    try {
      const job = await client.submitJob(noop(0));
      expect(job.status).toBe('pending');
      expect(paths).toEqual(['/v1/jobs']);
    } finally {
      client.close();
    }
  });
});
