// A real coordinator on S3 storage (s3rver) with a real worker: the upload and the artifact land in
// the bucket with the SHA-256 the API reports, and downloads work streamed through the
// coordinator and as 302 redirects to presigned URLs (Range included, ffmpeg following them).
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCoordinator } from '../../src/coordinator/server.js';
import { generateSampleClip } from '../../src/media/sample.js';
import type { Artifact, ThumbnailResult } from '../../src/protocol/index.js';
import { S3BlobStore } from '../../src/storage/s3.js';
import { fetchArtifact } from '../../src/worker/artifact-fetch.js';
import { startTestFleet, type TestFleet } from '../helpers/fleet.js';
import { startS3rver, type TestS3 } from '../helpers/s3rver.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let s3: TestS3;
let dir: string;
let clip: string;
let clipBytes: Buffer;

beforeAll(async () => {
  s3 = await startS3rver();
  dir = await mkdtemp(join(tmpdir(), 'vidfleet-s3-e2e-'));
  clip = join(dir, 'clip.mp4');
  await generateSampleClip(clip, { seconds: 3, width: 320, height: 180 });
  clipBytes = await readFile(clip);
});

afterAll(async () => {
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function objectBytes(key: string): Promise<{ bytes: Buffer; metadata: Record<string, string> }> {
  const out = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return { bytes: Buffer.from(await out.Body!.transformToByteArray()), metadata: out.Metadata ?? {} };
}

describe.each([
  ['streamed', false],
  ['presigned', true],
])('S3 storage, %s downloads', (mode, direct) => {
  let fleet: TestFleet;
  let uploadKey: string;
  let jobId: string;
  let artifact: Artifact;
  /** Objects the coordinator itself read from the bucket (none when downloads are redirected). */
  let coordinatorReads = 0;

  beforeAll(async () => {
    fleet = await startTestFleet({
      workers: 1,
      coordinator: {
        storage: `s3://${s3.bucket}/${mode}`,
        s3Endpoint: s3.endpoint,
        s3Region: s3.region,
        s3AccessKeyId: s3.credentials.accessKeyId,
        s3SecretAccessKey: s3.credentials.secretAccessKey,
        s3DirectDownloads: direct,
      },
    });
    expect(fleet.coordinator.blobs).toBeInstanceOf(S3BlobStore);
    (fleet.coordinator.blobs as S3BlobStore).client.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'GetObjectCommand') coordinatorReads++;
        return next(args);
      },
      // Presigning runs the command's stack too, but stops before this step: only real sends count.
      { step: 'deserialize' },
    );
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  it('runs a thumbnail job on an uploaded clip and keeps both files in the bucket', async () => {
    const upload = await fleet.client.uploadFile(clip);
    uploadKey = upload.key;
    expect(upload.sha256).toBe(sha(clipBytes));
    const stored = await objectBytes(`${mode}/${upload.key}`);
    expect(sha(stored.bytes)).toBe(upload.sha256);

    // The worker's ffmpeg reads store:// inputs from /v1/blobs/…, which redirects in this mode.
    const submitted = await fleet.client.submitJob({ kind: 'thumbnail', input: upload.uri, params: { fraction: 0.5, width: 160 } });
    const job = await fleet.client.getJob(submitted.id, 60);
    expect(job.status, JSON.stringify(job.error)).toBe('completed');
    jobId = job.id;
    const result = job.result as ThumbnailResult;
    artifact = (await fleet.client.listArtifacts(job.id)).find((a) => a.name === result.artifact)!;
    expect(artifact).toBeDefined();

    const inBucket = await objectBytes(`${mode}/${artifact.key}`);
    expect(inBucket.bytes.length).toBe(artifact.size);
    expect(sha(inBucket.bytes)).toBe(artifact.sha256);
    expect(inBucket.metadata.sha256).toBe(artifact.sha256);
    expect(inBucket.bytes.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));

    // The client follows the redirect, so callers see the same bytes either way, and a worker
    // fetching an artifact still has a SHA-256 to check them against.
    const response = await fleet.client.downloadArtifact(job.id, artifact.name);
    expect(direct ? response.headers['x-amz-meta-sha256'] : response.headers.etag).toBe(direct ? artifact.sha256 : `"${artifact.sha256}"`);
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    expect(sha(Buffer.concat(chunks))).toBe(artifact.sha256);
    const fetched = join(dir, `${mode}-fetched.jpg`);
    await fetchArtifact(fleet.client, job.id, artifact.name, fetched);
    expect(sha(await readFile(fetched))).toBe(artifact.sha256);
    if (direct) expect(coordinatorReads).toBe(0);
    else expect(coordinatorReads).toBeGreaterThan(2); // ffmpeg's reads of the clip, then the downloads
  });

  it(direct ? 'answers downloads with a 302 to a presigned URL that serves ranges' : 'streams downloads through the coordinator', async () => {
    const artifactUrl = `${fleet.coordinator.url}/v1/jobs/${jobId}/artifacts/${artifact.name}`;
    const first = await fetch(artifactUrl, { redirect: 'manual' });
    if (direct) {
      expect(first.status).toBe(302);
      expect(first.headers.get('cache-control')).toBe('no-store');
      const location = first.headers.get('location')!;
      expect(location.startsWith(`${s3.endpoint}/${s3.bucket}/${mode}/jobs/${jobId}/`)).toBe(true);
      expect(location).toContain('X-Amz-Signature=');
    } else {
      expect(first.status).toBe(200);
      expect(first.headers.get('etag')).toBe(`"${artifact.sha256}"`);
    }
    await first.body?.cancel();

    const whole = await fetch(artifactUrl);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('image/jpeg');
    expect(whole.headers.get('content-disposition')).toContain(artifact.name.split('/').pop()!);
    expect(sha(Buffer.from(await whole.arrayBuffer()))).toBe(artifact.sha256);

    const ranged = await fetch(artifactUrl, { headers: { range: 'bytes=2-11' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 2-11/${artifact.size}`);
    const inBucket = await objectBytes(`${mode}/${artifact.key}`);
    expect(Buffer.from(await ranged.arrayBuffer())).toEqual(inBucket.bytes.subarray(2, 12));

    // Inputs: the uploaded clip from an offset to its end, as ffmpeg reads it. (Not a suffix range
    // "bytes=-100": after a redirect the storage server answers ranges, and s3rver has no suffix
    // ranges; S3 and MinIO do.)
    const from = clipBytes.length - 100;
    const blob = await fetch(`${fleet.coordinator.url}/v1/blobs/${uploadKey}`, { headers: { range: `bytes=${from}-` } });
    expect(blob.status).toBe(206);
    expect(Buffer.from(await blob.arrayBuffer())).toEqual(clipBytes.subarray(from));

    if (direct) expect(coordinatorReads).toBe(0);

    const missing = await fetch(`${fleet.coordinator.url}/v1/blobs/uploads/none/nothing.bin`, { redirect: 'manual' });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: string }).code).toBe('BLOB_NOT_FOUND');
  });
});

describe('S3 storage at start', () => {
  it('refuses to start when the bucket is missing, naming it', async () => {
    const start = startCoordinator({
      port: 0,
      dataDir: join(dir, 'no-bucket'),
      logLevel: 'silent',
      storage: 's3://no-such-bucket-here/x',
      s3Endpoint: s3.endpoint,
      s3AccessKeyId: s3.credentials.accessKeyId,
      s3SecretAccessKey: s3.credentials.secretAccessKey,
    });
    await expect(start).rejects.toThrow(/Cannot use s3:\/\/no-such-bucket-here\/x for storage: the bucket does not exist at http:\/\/127\.0\.0\.1:\d+/);
  });

  it('refuses to start with credentials the server does not know', async () => {
    const start = startCoordinator({
      port: 0,
      dataDir: join(dir, 'bad-key'),
      logLevel: 'silent',
      storage: `s3://${s3.bucket}`,
      s3Endpoint: s3.endpoint,
      s3AccessKeyId: 'NOT-A-KEY',
      s3SecretAccessKey: 'S3RVER',
    });
    await expect(start).rejects.toThrow(/for storage: access denied at .*check the credentials/);
  });

  it('refuses to start when nothing listens at the endpoint', async () => {
    const start = startCoordinator({
      port: 0,
      dataDir: join(dir, 'no-endpoint'),
      logLevel: 'silent',
      storage: `s3://${s3.bucket}`,
      s3Endpoint: 'http://127.0.0.1:9',
      s3AccessKeyId: 'x',
      s3SecretAccessKey: 'y',
    });
    await expect(start).rejects.toThrow(/cannot reach S3 at http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED/);
  });
});
