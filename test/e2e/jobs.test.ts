// End to end through real HTTP: submit → claim → run (real ffmpeg) → artifacts, for probe and
// thumbnail, with inputs from the store, a worker path and an HTTP server.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSampleClip } from '../../src/media/sample.js';
import { fileUri, type Artifact, type Job, type ProbeReport, type ThumbnailResult } from '../../src/protocol/index.js';
import { startMediaServer } from '../helpers/clips.js';
import { startTestFleet, type TestFleet } from '../helpers/fleet.js';

let fleet: TestFleet;
let clip: string;

async function runJob(kind: string, input: string, params: Record<string, unknown> = {}): Promise<Job> {
  const submitted = await fleet.client.submitJob({ kind, input, params });
  expect(submitted.status).toBe('pending');
  return fleet.client.getJob(submitted.id, 60);
}

async function fetchArtifact(job: Job, name: string): Promise<{ artifact: Artifact; bytes: Buffer }> {
  const artifacts = await fleet.client.listArtifacts(job.id);
  const artifact = artifacts.find((a) => a.name === name);
  expect(artifact, `artifact ${name} of ${job.id}`).toBeDefined();
  const chunks: Buffer[] = [];
  for await (const chunk of await fleet.client.downloadArtifact(job.id, name)) chunks.push(chunk as Buffer);
  return { artifact: artifact!, bytes: Buffer.concat(chunks) };
}

beforeAll(async () => {
  fleet = await startTestFleet({ workers: 1 });
  clip = join(fleet.dir, 'clip-640x360.mp4');
  await generateSampleClip(clip, { seconds: 4, width: 640, height: 360 });
});

afterAll(async () => {
  await fleet?.stop();
});

describe('probe and thumbnail end to end', () => {
  it('probes an uploaded file and stores probe.json with a matching SHA-256', async () => {
    const upload = await fleet.client.uploadFile(clip);
    expect(upload.size).toBe((await stat(clip)).size);
    expect(upload.sha256).toBe(createHash('sha256').update(await readFile(clip)).digest('hex'));

    const job = await runJob('probe', upload.uri);
    expect(job.status).toBe('completed');
    expect(job.progress).toBe(1);
    expect(job.tasks?.[0]).toMatchObject({ status: 'completed', attempt: 1 });
    const report = job.result as ProbeReport;
    expect(report.duration).toBeCloseTo(4, 0);
    const video = report.streams[report.primaryVideo!]!.video!;
    expect([video.width, video.height, video.displayWidth, video.displayHeight]).toEqual([640, 360, 640, 360]);
    expect(report.streams.some((s) => s.type === 'audio' && s.audio?.sampleRate === 48000)).toBe(true);

    const { artifact, bytes } = await fetchArtifact(job, 'probe.json');
    expect(artifact.contentType).toContain('application/json');
    expect(artifact.size).toBe(bytes.length);
    expect(artifact.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(artifact.key).toMatch(new RegExp(`^jobs/${job.id}/`));
    expect(JSON.parse(bytes.toString('utf8'))).toEqual(report);
  });

  it('makes a JPEG thumbnail of a worker-local file at a fraction of the duration', async () => {
    const job = await runJob('thumbnail', fileUri(clip), { fraction: 0.5, width: 320 });
    expect(job.status).toBe('completed');
    const result = job.result as ThumbnailResult;
    expect(result).toMatchObject({ width: 320, height: 180, format: 'jpeg' });
    expect(result.time).toBeCloseTo(2, 0);
    const { bytes, artifact } = await fetchArtifact(job, result.artifact);
    expect(artifact.contentType).toBe('image/jpeg');
    expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
  });

  it('makes a WebP thumbnail at a time offset from an http:// input', async () => {
    const server = await startMediaServer();
    try {
      const job = await runJob('thumbnail', `${server.url}/clip.mp4?path=${encodeURIComponent(clip)}`, { time: 1.5, height: 90, format: 'webp' });
      expect(job.status, JSON.stringify(job.error)).toBe('completed');
      const result = job.result as ThumbnailResult;
      expect(result).toMatchObject({ width: 160, height: 90, format: 'webp' });
      const { bytes } = await fetchArtifact(job, result.artifact);
      expect(bytes.subarray(0, 4).toString('latin1')).toBe('RIFF');
      expect(bytes.subarray(8, 12).toString('latin1')).toBe('WEBP');
    } finally {
      await server.close();
    }
  });

  it('serves artifacts with HTTP ranges', async () => {
    const job = await runJob('probe', fileUri(clip));
    const response = await fetch(`${fleet.coordinator.url}/v1/jobs/${job.id}/artifacts/probe.json`, { headers: { range: 'bytes=0-9' } });
    expect(response.status).toBe(206);
    expect(response.headers.get('content-range')).toMatch(/^bytes 0-9\/\d+$/);
    expect((await response.text()).length).toBe(10);
  });

  it('lists jobs newest first with filters and pagination', async () => {
    const page1 = await fleet.client.listJobs({ limit: 2 });
    expect(page1.jobs.length).toBe(2);
    expect(page1.nextCursor).not.toBeNull();
    const page2 = await fleet.client.listJobs({ limit: 2, cursor: page1.nextCursor! });
    expect(page2.jobs.map((j) => j.id)).not.toContain(page1.jobs[0]!.id);
    expect(page1.jobs[0]!.createdAt >= page2.jobs[0]!.createdAt).toBe(true);
    const thumbs = await fleet.client.listJobs({ kind: 'thumbnail', status: 'completed', limit: 50 });
    expect(thumbs.jobs.length).toBe(2);
    expect(thumbs.jobs.every((j) => j.kind === 'thumbnail' && j.status === 'completed')).toBe(true);
  });
});
