// /metrics on a real coordinator: noop jobs through a scripted worker (HTTP, to fail, retry,
// complete and let a lease expire exactly when the test says) and then a real worker agent,
// scraped and parsed as Prometheus would, checking each counter moved by exactly what happened.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VidfleetClient } from '../../src/client/api-client.js';
import { ERROR_CATALOG, type ClaimedTask, type ErrorBody, type ErrorCode, type Job, type SubmitJobBody } from '../../src/protocol/index.js';
import { startTestFleet, untilFinished, type TestFleet } from '../helpers/fleet.js';
import { scrape, type Scrape } from '../helpers/prometheus.js';

const CAPS = { kinds: ['noop'], concurrency: 4, ffmpegVersion: 'test', encoders: [], hwaccels: [] };
const noop = (priority: number, params: SubmitJobBody['params'] = {}, maxAttempts?: number): SubmitJobBody => ({ kind: 'noop', input: 'none', params, priority, ...(maxAttempts && { maxAttempts }) });
const error = (code: ErrorCode): ErrorBody => ({ code, message: `${code} from the test's worker`, hint: ERROR_CATALOG[code].hint, retryable: ERROR_CATALOG[code].retryable });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('GET /metrics', () => {
  let fleet: TestFleet;
  let dir: string;
  beforeAll(async () => {
    // Short leases so one expires within the test; a tiny retry backoff so a retried task is due at once.
    fleet = await startTestFleet({ coordinator: { leaseMs: 1000, heartbeatMs: 300, retryBaseMs: 20, retryMaxMs: 40 } });
    dir = await mkdtemp(join(tmpdir(), 'vidfleet-metrics-'));
  });
  afterAll(async () => {
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts claims, attempt ends by outcome, retries, lease expiries, uploads and requests; gauges read the queue and workers', async () => {
    const { client, coordinator } = fleet;
    const empty = await scrape(coordinator.url);
    expect(empty.samples('vidfleet_queue_depth')).toEqual([]);
    expect(empty.value('vidfleet_workers', { state: 'online' })).toBe(0);
    expect(empty.family('vidfleet_torrent_bytes_fetched_total')).toMatchObject({ type: 'COUNTER', metrics: [{ value: '0' }] });

    // Claims take priority first, so the scripted worker gets these in this order.
    const failing = await client.submitJob(noop(10, {}, 2));
    const expiring = await client.submitJob(noop(5));
    const done = await client.submitJob(noop(1));
    const rest = [await client.submitJob(noop(0, { sleepMs: 20 })), await client.submitJob(noop(0)), await client.submitJob(noop(0, { artifactBytes: 1000 }))];
    const input = join(dir, 'input.bin');
    await writeFile(input, Buffer.alloc(4321, 7));
    await client.uploadFile(input);

    // No worker yet: all six wait, and the gauge says so.
    let s = await scrape(coordinator.url);
    expect(s.value('vidfleet_queue_depth', { kind: 'noop', state: 'pending' })).toBe(6);
    expect(s.value('vidfleet_queue_depth', { kind: 'noop', state: 'assigned' })).toBe(0);
    expect(s.value('vidfleet_tasks_claimed_total', { kind: 'noop' })).toBe(0);
    expect(s.value('vidfleet_uploaded_bytes_total', { type: 'input' })).toBe(4321);

    const scripted = new VidfleetClient(coordinator.url);
    const { workerId } = await scripted.registerWorker({ name: 'scripted', hostname: 'test', capabilities: CAPS });
    const claimOne = async (): Promise<ClaimedTask> => {
      const { tasks } = await scripted.claim(workerId, 1, 0);
      expect(tasks).toHaveLength(1);
      return tasks[0]!;
    };
    const first = await claimOne();
    expect(first).toMatchObject({ jobId: failing.id, attempt: 1 });
    expect(await scripted.fail(workerId, first.taskId, 1, error('FFMPEG_FAILED'))).toEqual({ status: 'pending' });
    await sleep(100); // past the retry backoff (≤ 40 ms)
    const second = await claimOne();
    expect(second).toMatchObject({ jobId: failing.id, attempt: 2 });
    expect(await scripted.fail(workerId, second.taskId, 2, error('INVALID_PARAMS'))).toEqual({ status: 'failed' });
    const lost = await claimOne(); // never heartbeated: its lease runs out
    expect(lost.jobId).toBe(expiring.id);
    const completed = await claimOne();
    expect(completed.jobId).toBe(done.id);
    s = await scrape(coordinator.url);
    expect(s.value('vidfleet_queue_depth', { kind: 'noop', state: 'assigned' })).toBe(2);
    expect(s.value('vidfleet_queue_depth', { kind: 'noop', state: 'pending' })).toBe(3);
    await scripted.complete(workerId, completed.taskId, 1, { sleptMs: 0, artifactSha256: null });
    await until('the lease to expire', async () => (await scrape(coordinator.url)).value('vidfleet_lease_expiries_total', { outcome: 'requeued' }) === 1);
    await scripted.deregisterWorker(workerId);
    scripted.close();

    await fleet.addWorker({ kinds: ['noop'] });
    const finished: Job[] = await Promise.all([expiring, done, ...rest].map((j) => untilFinished(client, j.id)));
    expect(finished.map((j) => j.status)).toEqual(Array.from({ length: 5 }, () => 'completed'));
    expect((await client.getJob(failing.id)).status).toBe('failed');
    expect(await fetch(`${coordinator.url}/v1/no-such-route/job_123`).then((r) => r.status)).toBe(404);

    s = await scrape(coordinator.url);
    // 2 attempts of the failing job, 2 of the expiring one, 1 completed by the scripted worker, 3 by the agent.
    expect(s.value('vidfleet_tasks_claimed_total', { kind: 'noop' })).toBe(8);
    expect(s.count('vidfleet_task_duration_seconds', { kind: 'noop', outcome: 'retried' })).toBe(1);
    expect(s.count('vidfleet_task_duration_seconds', { kind: 'noop', outcome: 'failed' })).toBe(1);
    // One through POST …/complete, four through the agent's batched acknowledgements.
    expect(s.count('vidfleet_task_duration_seconds', { kind: 'noop', outcome: 'completed' })).toBe(5);
    expect(s.count('vidfleet_task_duration_seconds', { outcome: 'canceled' })).toBe(0);
    expect(s.value('vidfleet_task_retries_total', { reason: 'error' })).toBe(1);
    expect(s.value('vidfleet_task_retries_total', { reason: 'lease_expired' })).toBe(1);
    expect(s.value('vidfleet_task_retries_total', { reason: 'handed_back' })).toBe(0);
    expect(s.value('vidfleet_lease_expiries_total', { outcome: 'requeued' })).toBe(1);
    expect(s.value('vidfleet_lease_expiries_total', { outcome: 'failed' })).toBe(0);
    expect(s.value('vidfleet_uploaded_bytes_total', { type: 'artifact' })).toBe(1000);
    expect(s.value('vidfleet_uploaded_bytes_total', { type: 'input' })).toBe(4321);
    // Drained: the kind stays, at 0, in every state.
    expect(s.samples('vidfleet_queue_depth').map((m) => [m.labels?.state, m.value])).toEqual(
      ['pending', 'waiting', 'assigned', 'running', 'canceling'].map((state) => [state, '0']),
    );
    expect(s.value('vidfleet_workers', { state: 'online' })).toBe(1);
    expect(s.value('vidfleet_workers', { state: 'offline' })).toBe(1);
    expectHttpSeries(s);
  });
});

/** Requests are labelled by route pattern: every claim under one series, no ids anywhere. */
function expectHttpSeries(s: Scrape): void {
  const name = 'vidfleet_http_request_duration_seconds';
  expect(s.count(name, { method: 'POST', route: '/v1/jobs', status_code: '201' })).toBe(6); // each submit awaited alone: one request each
  expect(s.count(name, { method: 'POST', route: '/v1/workers/:workerId/claim', status_code: '200' })).toBeGreaterThanOrEqual(5);
  expect(s.count(name, { method: 'POST', route: '/v1/workers/:workerId/tasks/:taskId/fail', status_code: '200' })).toBe(2);
  expect(s.count(name, { method: 'POST', route: '/v1/uploads', status_code: '201' })).toBe(1);
  expect(s.count(name, { method: 'GET', route: 'unmatched', status_code: '404' })).toBe(1);
  expect(s.count(name, { route: '/metrics' })).toBeGreaterThanOrEqual(3);
  const routes = new Set(s.histogramLabels(name).map((l) => l.route));
  expect([...routes].filter((r) => r !== 'unmatched' && !r?.startsWith('/'))).toEqual([]);
  expect([...routes].filter((r) => /job_|task_|wkr_/.test(r ?? ''))).toEqual([]);
}
