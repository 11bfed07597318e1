// Signed requests, roles and owners over real HTTP (issue 7): once a deployment has keys, every
// request must be signed; a tampered, replayed, stale or revoked one is refused; clients see
// only their jobs, workers act only for their workers; a client over its rate gets 429 with
// Retry-After; without keys the coordinator refuses to listen off loopback.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VidfleetClient } from '../../src/client/api-client.js';
import { createKey } from '../../src/coordinator/auth/keys.js';
import { loadMasterKey } from '../../src/coordinator/auth/master-key.js';
import { startCoordinator } from '../../src/coordinator/server.js';
import { generateSampleClip } from '../../src/media/sample.js';
import { EMPTY_SHA256, VidfleetError, signRequest, type Credentials, type KeyRole } from '../../src/protocol/index.js';
import { WorkerAgent } from '../../src/worker/agent.js';
import { startTestFleet, untilFinished, type TestFleet } from '../helpers/fleet.js';
import { startVidfleet, waitForOutput } from '../helpers/processes.js';

let fleet: TestFleet;
const creds: Record<string, Credentials> = {};

async function makeKey(role: KeyRole, name: string): Promise<Credentials> {
  const masterKey = await loadMasterKey(join(fleet.coordinator.config.dataDir, 'master.key'), undefined);
  const { key, secret } = await createKey(fleet.coordinator.store, masterKey, role, name);
  return { keyId: key.id, secret };
}

const client = (c: Credentials | null): VidfleetClient => new VidfleetClient(fleet.coordinator.url, { credentials: c });
const noop = { kind: 'noop', input: 'none', params: {} };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof VidfleetError ? err.code : String(err);
  }
}

/** A raw request signed by hand, so a test can change it after signing. */
function signed(c: Credentials, method: string, path: string, body?: string): { headers: Record<string, string>; body?: string } {
  const digest = body === undefined ? EMPTY_SHA256 : sha256Hex(body);
  return { headers: { ...signRequest(c, method, path, digest), ...(body !== undefined && { 'content-type': 'application/json' }) }, ...(body !== undefined && { body }) };
}
const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

beforeAll(async () => {
  fleet = await startTestFleet({ coordinator: { maxJobsPerMinute: 50 } });
  // Before any key exists (loopback): unsigned requests are served.
  expect((await client(null).submitJob(noop)).status).toBe('pending');
  creds.admin = await makeKey('admin', 'ops');
  creds.alice = await makeKey('client', 'alice');
  creds.bob = await makeKey('client', 'bob');
  creds.worker = await makeKey('worker', 'farm');
  creds.worker2 = await makeKey('worker', 'farm-2');
  // The coordinator notices the keys within its 2 s cache.
  const deadline = Date.now() + 5_000;
  while ((await codeOf(client(null).listJobs())) !== 'AUTH_REQUIRED' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
});

afterAll(async () => {
  await fleet?.stop();
});

describe('signed requests', () => {
  it('refuses an unsigned request with a message that says how to sign', async () => {
    const res = await fetch(`${fleet.coordinator.url}/v1/jobs`);
    expect(res.status).toBe(401);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe('AUTH_REQUIRED');
    expect(body.message).toMatch(/VIDFLEET_KEY/);
    // Health stays open for probes.
    expect((await fetch(`${fleet.coordinator.url}/healthz`)).status).toBe(200);
  });

  it('runs a job end to end with a client key and a worker key (upload, claim, artifacts)', async () => {
    const worker = new WorkerAgent(
      { coordinatorUrl: fleet.coordinator.url, concurrency: 2, workDir: join(fleet.dir, 'w1'), claimWaitSeconds: 2, mounts: new Map(), allowProtocols: [], credentials: creds.worker! },
      () => {},
    );
    await worker.start();
    try {
      const alice = client(creds.alice!);
      const clip = join(fleet.dir, 'clip.mp4');
      await generateSampleClip(clip, { seconds: 1, width: 320, height: 180 });
      const { uri } = await alice.uploadFile(clip);
      const job = await alice.submitJob({ kind: 'thumbnail', input: uri, params: { width: 160 } });
      expect(job.owner).toBe(creds.alice!.keyId);
      const done = await untilFinished(alice, job.id);
      expect(done.status, JSON.stringify(done.error)).toBe("completed");
      const artifacts = await alice.listArtifacts(job.id);
      expect(artifacts.length).toBeGreaterThan(0);
      // The blob URL a worker gets reads that blob and only that, without signing; a forged one fails.
      const key = uri.slice('store://'.length);
      const url = await client(creds.worker!).blobUrl(key);
      expect((await fetch(url, { headers: { range: 'bytes=0-3' } })).status).toBe(206);
      expect((await fetch(url.slice(0, -1) + (url.endsWith('0') ? '1' : '0'))).status).toBe(401);
      expect((await fetch(url.replace('/v1/blobs/', '/v1/blobs/x'))).status).toBe(401);
      const workers = await client(creds.admin!).listWorkers();
      expect(workers.find((w) => w.owner === creds.worker!.keyId)).toBeDefined();
    } finally {
      await worker.stop();
    }
  });

  it('refuses a request changed after signing: another query, another body, another method', async () => {
    const c = creds.alice!;
    const s = signed(c, 'GET', '/v1/jobs?limit=1');
    expect((await fetch(`${fleet.coordinator.url}/v1/jobs?limit=1`, { headers: signed(c, 'GET', '/v1/jobs?limit=1').headers })).status).toBe(200);
    const requery = await fetch(`${fleet.coordinator.url}/v1/jobs?limit=2`, { headers: s.headers });
    expect(requery.status).toBe(401);
    expect(((await requery.json()) as { code: string }).code).toBe('AUTH_SIGNATURE_MISMATCH');
    const body = JSON.stringify(noop);
    const sb = signed(c, 'POST', '/v1/jobs', body);
    const tampered = await fetch(`${fleet.coordinator.url}/v1/jobs`, { method: 'POST', headers: sb.headers, body: JSON.stringify({ ...noop, priority: 9 }) });
    expect(tampered.status).toBe(401);
    expect(await tampered.json()).toMatchObject({ code: 'AUTH_BODY_MISMATCH', message: expect.stringMatching(/body does not match/) });
  });

  it('refuses a replay, a stale or future timestamp, an unknown key, a wrong secret', async () => {
    const c = creds.alice!;
    const once = signed(c, 'GET', '/v1/jobs');
    expect((await fetch(`${fleet.coordinator.url}/v1/jobs`, { headers: once.headers })).status).toBe(200);
    const replay = await fetch(`${fleet.coordinator.url}/v1/jobs`, { headers: once.headers });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ code: 'AUTH_REPLAYED', message: expect.stringMatching(/seen before/) });
    const stale = signRequest(c, 'GET', '/v1/jobs', EMPTY_SHA256, Date.now() - 31_000);
    expect(await (await fetch(`${fleet.coordinator.url}/v1/jobs`, { headers: stale })).json()).toMatchObject({ code: 'AUTH_EXPIRED', message: expect.stringMatching(/31 s ago/) });
    const future = signRequest(c, 'GET', '/v1/jobs', EMPTY_SHA256, Date.now() + 40_000);
    expect((await fetch(`${fleet.coordinator.url}/v1/jobs`, { headers: future })).status).toBe(401);
    expect(await codeOf(client({ keyId: 'key_nope', secret: 'x' }).listJobs())).toBe('AUTH_KEY_INVALID');
    expect(await codeOf(client({ keyId: c.keyId, secret: 'wrong' }).listJobs())).toBe('AUTH_SIGNATURE_MISMATCH');
  });

  it('scopes clients to their own jobs and keeps them off fleet and worker routes', async () => {
    const alice = client(creds.alice!);
    const bob = client(creds.bob!);
    const mine = await alice.submitJob(noop);
    expect((await alice.listJobs()).jobs.every((j) => j.owner === creds.alice!.keyId)).toBe(true);
    expect((await bob.listJobs()).jobs.some((j) => j.id === mine.id)).toBe(false);
    expect(await codeOf(bob.getJob(mine.id))).toBe('JOB_NOT_FOUND');
    expect(await codeOf(bob.cancelJob(mine.id))).toBe('JOB_NOT_FOUND');
    expect(await codeOf(bob.listArtifacts(mine.id))).toBe('JOB_NOT_FOUND');
    expect(await codeOf(bob.listFeed({ jobId: mine.id }))).toBe('JOB_NOT_FOUND');
    expect(await codeOf(alice.listFeed())).toBe('FORBIDDEN');
    expect(await codeOf(alice.registerWorker({ name: 'x', hostname: 'h', capabilities: { kinds: ['noop'], concurrency: 1, ffmpegVersion: 't', encoders: [], hwaccels: [] } }))).toBe('FORBIDDEN');
    expect((await client(creds.admin!).getJob(mine.id)).id).toBe(mine.id);
  });

  it('lets a worker key act only for the workers it registered, and not as a client', async () => {
    const caps = { kinds: ['noop'], concurrency: 1, ffmpegVersion: 't', encoders: [], hwaccels: [] };
    const w1 = client(creds.worker!);
    const { workerId } = await w1.registerWorker({ name: 'a', hostname: 'h', capabilities: caps });
    expect((await w1.heartbeat(workerId, [])).tasks).toEqual([]);
    expect(await codeOf(client(creds.worker2!).heartbeat(workerId, []))).toBe('FORBIDDEN');
    expect(await codeOf(client(creds.worker2!).claim(workerId, 1, 0))).toBe('FORBIDDEN');
    expect(await codeOf(w1.submitJob(noop))).toBe('FORBIDDEN');
    // Its own worker completing a task it does not hold: 409, the store's fence.
    await client(creds.alice!).submitJob(noop);
    const other = await w1.registerWorker({ name: 'b', hostname: 'h', capabilities: caps });
    const [task] = (await w1.claim(other.workerId, 1, 0)).tasks;
    expect(task).toBeDefined();
    const stale = await fetch(`${fleet.coordinator.url}/v1/workers/${workerId}/tasks/${task!.taskId}/complete`, {
      method: 'POST',
      ...signed(creds.worker!, 'POST', `/v1/workers/${workerId}/tasks/${task!.taskId}/complete`, JSON.stringify({ attempt: task!.attempt, result: null })),
    });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { code: string }).code).toBe('STALE_ATTEMPT');
    await w1.complete(other.workerId, task!.taskId, task!.attempt, null);
    await w1.deregisterWorker(other.workerId);
    await w1.deregisterWorker(workerId);
  });

  it('answers a client over its jobs per minute with 429 and Retry-After', async () => {
    const carol = await makeKey('client', 'carol');
    await new Promise((r) => setTimeout(r, 2_100)); // the new key reaches the coordinator's cache
    const c = client(carol);
    for (let i = 0; i < 50; i++) await c.submitJob(noop);
    const body = JSON.stringify(noop);
    const res = await fetch(`${fleet.coordinator.url}/v1/jobs`, { method: 'POST', ...signed(carol, 'POST', '/v1/jobs', body) });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as { code: string }).code).toBe('RATE_LIMITED');
  });

  it('stops honouring a revoked key within its cache time', async () => {
    const dave = await makeKey('client', 'dave');
    await new Promise((r) => setTimeout(r, 2_100));
    expect(await codeOf(client(dave).listJobs())).toBe('ok');
    expect(await fleet.coordinator.store.revokeApiKey(dave.keyId)).toBe(true);
    await new Promise((r) => setTimeout(r, 2_100));
    expect(await codeOf(client(dave).listJobs())).toBe('AUTH_KEY_INVALID');
  });
});

describe('vidfleet keys', () => {
  it('creates a key on the database, shows its secret once, lists it; the key signs for the CLI', async () => {
    const created = startVidfleet(['keys', 'create', '--role', 'client', '--name', 'cli-test', '--data', fleet.coordinator.config.dataDir, '--json']);
    const [, json] = (await waitForOutput(created, /(\{.*"secret".*\})/)) as unknown as [string, string];
    const key = JSON.parse(json) as { id: string; role: string; secret: string };
    expect(key.role).toBe('client');
    const listed = startVidfleet(['keys', 'list', '--data', fleet.coordinator.config.dataDir]);
    await waitForOutput(listed, new RegExp(`${key.id}\\s+client\\s+cli-test`));
    await new Promise((r) => setTimeout(r, 2_100));
    const submit = startVidfleet(['submit', 'noop', '-', '--coordinator', fleet.coordinator.url], { VIDFLEET_KEY: `${key.id}:${key.secret}` });
    const [, jobId] = (await waitForOutput(submit, /(job_[a-z0-9]+)/)) as unknown as [string, string];
    expect((await client(creds.admin!).getJob(jobId)).owner).toBe(key.id);
  });
});

describe('listening without keys', () => {
  it('refuses to listen off loopback while the deployment has no key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vidfleet-auth-'));
    try {
      await expect(startCoordinator({ port: 0, host: '0.0.0.0', dataDir: dir, logLevel: 'silent' })).rejects.toThrow(/Refusing to listen on 0\.0\.0\.0 without keys/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
