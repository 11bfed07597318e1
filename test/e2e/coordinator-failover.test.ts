// Issue 7's promise with real processes: two coordinators on one PostgreSQL schema sharing one
// S3 bucket (s3rver), three worker processes that know both URLs, 500 mixed jobs submitted
// round-robin, one coordinator killed with SIGKILL halfway → every job completes exactly once,
// every artifact is in the bucket once with the SHA-256 the API reports, and the workers carry
// on through the survivor.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VidfleetClient } from '../../src/client/api-client.js';
import { generateSampleClip } from '../../src/media/sample.js';
import type { Job, SubmitJobBody } from '../../src/protocol/index.js';
import { PgTestSchemas, pgAvailable } from '../helpers/postgres.js';
import { startS3rver, type TestS3 } from '../helpers/s3rver.js';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startVidfleet, waitForOutput, type Proc } from '../helpers/processes.js';

const pg = await pgAvailable();
const schemas = pg.url ? new PgTestSchemas(pg.url) : null;
if (!schemas) process.stderr.write(`[vidfleet tests] coordinator failover on PostgreSQL skipped: ${pg.reason}\n`);

const JOBS = 500;
const MASTER_KEY = randomBytes(32).toString('hex');

describe.skipIf(!schemas)('two coordinator processes on one PostgreSQL, one killed under load', () => {
  let dir: string;
  let s3: TestS3;
  const procs: Proc[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidfleet-failover-'));
    s3 = await startS3rver();
  });

  afterAll(async () => {
    for (const p of procs) await p.kill('SIGKILL');
    await s3?.stop();
    await schemas?.dropAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function coordinator(name: string, schema: string): Promise<{ proc: Proc; url: string }> {
    // One bucket for both; each its own data directory, one master key (VIDFLEET_MASTER_KEY).
    const proc = startVidfleet(
      ['coordinator', '--port', '0', '--data', join(dir, name), '--db', pg.url!, '--db-schema', schema, '--lease-ms', '6000', '--storage', `s3://${s3.bucket}/fleet`, '--s3-endpoint', s3.endpoint],
      { AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey, AWS_REGION: s3.region, VIDFLEET_MASTER_KEY: MASTER_KEY },
    );
    procs.push(proc);
    const [, url] = (await waitForOutput(proc, /listening on (http:\/\/\S+)/)) as unknown as [string, string];
    return { proc, url };
  }

  it('completes all 500 jobs exactly once when one coordinator dies halfway', async () => {
    const schema = schemas!.next();
    const a = await coordinator('a', schema);
    const b = await coordinator('b', schema);
    for (const [i, urls] of [[a.url, b.url], [b.url, a.url], [a.url, b.url]].entries()) {
      const w = startVidfleet(['worker', '--coordinator', urls.join(','), '--concurrency', '3', '--name', `w${i}`, '--drain-timeout', '0']);
      procs.push(w);
      await waitForOutput(w, /registered/);
    }
    const viaA = new VidfleetClient(a.url);
    const viaB = new VidfleetClient(b.url);
    try {
      const clip = join(dir, 'clip.mp4');
      await generateSampleClip(clip, { seconds: 1, width: 320, height: 180 });
      const { uri } = await viaB.uploadFile(clip);
      const mixed = (i: number): SubmitJobBody =>
        i % 10 === 0
          ? { kind: 'thumbnail', input: uri, params: { width: 160 } }
          : i % 10 === 1
            ? { kind: 'probe', input: uri, params: {} }
            : { kind: 'noop', input: 'none', params: { sleepMs: 30 + (i % 7) * 10, artifactBytes: 2048 + i } };
      // Round-robin over the two coordinators.
      const jobs: Job[] = await Promise.all(Array.from({ length: JOBS }, (_, i) => (i % 2 === 0 ? viaA : viaB).submitJob(mixed(i))));
      expect(new Set(jobs.map((j) => j.id)).size).toBe(JOBS);

      // Halfway: the coordinator the first job went to dies without a goodbye.
      const finishedCount = async (): Promise<number> => (await viaB.listJobs({ status: 'completed', limit: 500 })).jobs.length;
      while ((await finishedCount()) < JOBS / 2) await new Promise((r) => setTimeout(r, 50));
      await a.proc.kill('SIGKILL');
      const atKill = await finishedCount();
      process.stderr.write(`[failover] coordinator A killed with ${atKill}/${JOBS} jobs completed\n`);
      expect(atKill).toBeLessThan(JOBS * 0.9);

      const deadline = Date.now() + 120_000;
      let done: Job[] = [];
      for (;;) {
        done = await Promise.all(jobs.map((j) => viaB.getJob(j.id)));
        if (done.every((j) => j.status === 'completed' || j.status === 'failed') || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(done.filter((j) => j.status !== 'completed').map((j) => `${j.id} ${j.status} ${JSON.stringify(j.error)}`)).toEqual([]);

      // Exactly once: one job.completed per job, one completed task per job, one task.completed event.
      for (const job of jobs) {
        const events = (await viaB.listFeed({ jobId: job.id })).events;
        expect(events.filter((e) => e.type === 'job.completed').length).toBe(1);
        expect(events.filter((e) => e.type === 'task.completed').length).toBe(1);
      }
      // Every artifact once, with the bytes its SHA-256 says.
      let artifacts = 0;
      for (const job of jobs.filter((_, i) => i % 5 === 0 || i % 10 === 0)) {
        const list = await viaB.listArtifacts(job.id);
        expect(new Set(list.map((x) => x.name)).size).toBe(list.length);
        for (const artifact of list) {
          const hash = createHash('sha256');
          for await (const chunk of await viaB.downloadArtifact(job.id, artifact.name)) hash.update(chunk as Buffer);
          expect(hash.digest('hex')).toBe(artifact.sha256);
          artifacts++;
        }
      }
      expect(artifacts).toBeGreaterThan(50);
      // The bucket holds each artifact of every job once, with the recorded bytes: every recorded
      // key exists, and no object under jobs/ is left that no artifact row names.
      const recorded = new Map<string, string>();
      for (const job of jobs) for (const a of await viaB.listArtifacts(job.id)) recorded.set(`fleet/${a.key}`, a.sha256);
      const inBucket: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'fleet/jobs/', ContinuationToken: token }));
        inBucket.push(...(page.Contents ?? []).map((o) => o.Key!));
        token = page.NextContinuationToken;
      } while (token);
      expect(inBucket.sort()).toEqual([...recorded.keys()].sort());
      for (const key of [...recorded.keys()].filter((_, i) => i % 25 === 0)) {
        const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
        const bytes = Buffer.from(await object.Body!.transformToByteArray());
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(recorded.get(key));
      }
      // The workers went on through the survivor: all still online there.
      const workers = await viaB.listWorkers();
      expect(workers.filter((w) => w.status === 'online').length).toBe(3);
    } finally {
      viaA.close();
      viaB.close();
    }
  }, 240_000);
});
