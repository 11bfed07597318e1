// Bad input never crashes a process and never leaves a job stuck: each case is either a 4xx
// with a stable code and a message saying what to fix, or a job that ends failed with one.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSampleClip } from '../../src/media/sample.js';
import { fileUri, type ErrorBody } from '../../src/protocol/index.js';
import { makeTextFile, makeTruncatedMp4 } from '../helpers/clips.js';
import { startTestFleet, type TestFleet } from '../helpers/fleet.js';

let fleet: TestFleet;
const MAX_UPLOAD = 64 * 1024;

beforeAll(async () => {
  fleet = await startTestFleet({ workers: 1, coordinator: { maxUploadBytes: MAX_UPLOAD } });
});
afterAll(async () => {
  await fleet?.stop();
});

async function post(path: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<{ status: number; body: ErrorBody }> {
  const response = await fetch(fleet.coordinator.url + path, { method: 'POST', body, headers });
  return { status: response.status, body: (await response.json()) as ErrorBody };
}

async function expectRejected(body: unknown, status: number, code: string, mention?: RegExp): Promise<void> {
  const res = await post('/v1/jobs', JSON.stringify(body));
  expect(res.status).toBe(status);
  expect(res.body.code).toBe(code);
  expect(res.body.hint.length).toBeGreaterThan(0);
  if (mention) expect(res.body.message).toMatch(mention);
}

async function expectJobFails(kind: string, input: string, code: string | string[], params: Record<string, unknown> = {}): Promise<string> {
  const job = await fleet.client.submitJob({ kind, input, params });
  const done = await fleet.client.getJob(job.id, 60);
  expect(done.status, `${kind} of ${input}`).toBe('failed');
  expect([code].flat()).toContain(done.error?.code);
  expect(done.error?.message.length).toBeGreaterThan(10);
  expect(done.tasks?.every((t) => t.status === 'failed')).toBe(true);
  return done.error!.message;
}

describe('rejected at submission', () => {
  it('unknown kind', () => expectRejected({ kind: 'transmogrify', input: 'file:///a.mp4' }, 400, 'UNKNOWN_KIND', /transmogrify.*probe, thumbnail/));
  it('wrongly typed param, naming the field', () => expectRejected({ kind: 'thumbnail', input: 'file:///a.mp4', params: { width: 'big' } }, 400, 'INVALID_PARAMS', /"width"/));
  it('out-of-range param', () => expectRejected({ kind: 'thumbnail', input: 'file:///a.mp4', params: { fraction: 2 } }, 400, 'INVALID_PARAMS', /"fraction"/));
  it('unknown param', () => expectRejected({ kind: 'thumbnail', input: 'file:///a.mp4', params: { colour: 'red' } }, 400, 'INVALID_PARAMS', /Unknown parameter "colour"/));
  it('conflicting params', () => expectRejected({ kind: 'thumbnail', input: 'file:///a.mp4', params: { time: 1, fraction: 0.5 } }, 400, 'INVALID_PARAMS', /either/));
  it('params not an object', () => expectRejected({ kind: 'probe', input: 'file:///a.mp4', params: [1] }, 400, 'VALIDATION_FAILED'));
  it('missing input', () => expectRejected({ kind: 'probe' }, 400, 'VALIDATION_FAILED', /input/));
  it('unknown top-level field', () => expectRejected({ kind: 'probe', input: 'file:///a.mp4', colour: 1 }, 400, 'VALIDATION_FAILED'));
  it('unsupported input scheme', () => expectRejected({ kind: 'probe', input: 'ftp://host/a.mp4' }, 400, 'INVALID_INPUT', /store:\/\//));
  it('bare path instead of a URI', () => expectRejected({ kind: 'probe', input: '/srv/a.mp4' }, 400, 'INVALID_INPUT', /file:\/\/\/srv\/a.mp4/));
  it('store key escaping the store', () => expectRejected({ kind: 'probe', input: 'store://../etc/passwd' }, 400, 'INVALID_INPUT'));
  it('store input that was never uploaded', () => expectRejected({ kind: 'probe', input: 'store://uploads/nope/a.mp4' }, 400, 'INPUT_NOT_FOUND', /upload/));

  it('malformed JSON', async () => {
    const res = await post('/v1/jobs', '{"kind": "probe",');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
  });

  it('unknown job, artifact and route are 404 with their own codes', async () => {
    const job = await fetch(`${fleet.coordinator.url}/v1/jobs/job_nope`);
    expect(job.status).toBe(404);
    expect(((await job.json()) as ErrorBody).code).toBe('JOB_NOT_FOUND');
    const probe = await fleet.client.submitJob({ kind: 'probe', input: fileUri('/nonexistent.mp4') });
    const artifact = await fetch(`${fleet.coordinator.url}/v1/jobs/${probe.id}/artifacts/nope.jpg`);
    expect(((await artifact.json()) as ErrorBody).code).toBe('ARTIFACT_NOT_FOUND');
    const route = await fetch(`${fleet.coordinator.url}/v1/nothing-here`);
    expect(route.status).toBe(404);
    expect(((await route.json()) as ErrorBody).code).toBe('ROUTE_NOT_FOUND');
  });
});

describe('uploads over the size limit', () => {
  async function leftovers(): Promise<string[]> {
    const store = fleet.coordinator.config.storeDir;
    const tmp = await readdir(join(store, '.tmp')).catch(() => []);
    const uploads = await readdir(join(store, 'uploads'), { recursive: true }).catch(() => []);
    return [...tmp, ...uploads.filter((f) => String(f).includes('big'))].map(String);
  }

  it('is refused up front when the declared length is too large', async () => {
    const res = await post('/v1/uploads?name=big.mp4', Buffer.alloc(MAX_UPLOAD + 1), { 'content-type': 'application/octet-stream' });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('UPLOAD_TOO_LARGE');
    expect(await leftovers()).toEqual([]);
  });

  it('is cut off mid-stream when no length is declared, leaving nothing behind', async () => {
    const chunk = Buffer.alloc(16 * 1024, 7);
    const body = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const response = await fetch(`${fleet.coordinator.url}/v1/uploads?name=big-stream.mp4`, {
      method: 'POST', body, headers: { 'content-type': 'application/octet-stream' }, duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as ErrorBody).code).toBe('UPLOAD_TOO_LARGE');
    expect(await leftovers()).toEqual([]);
  });

  it('the coordinator still serves after all of it', async () => {
    expect((await fetch(`${fleet.coordinator.url}/healthz`)).status).toBe(200);
  });
});

describe('failed on the worker with a clear message', () => {
  it('a worker path that does not exist', async () => {
    const message = await expectJobFails('probe', fileUri('/no/such/video.mp4'), 'INPUT_NOT_FOUND');
    expect(message).toContain('/no/such/video.mp4');
  });

  it('a text file', async () => {
    // .txt: ffmpeg's tty demuxer would happily render it as ANSI art.
    const text = await makeTextFile('notes.txt');
    await expectJobFails('probe', fileUri(text), 'NOT_A_VIDEO');
    await expectJobFails('thumbnail', fileUri(text), 'NOT_A_VIDEO');
  });

  it('a truncated MP4 (moov at the end, cut in half)', async () => {
    await expectJobFails('thumbnail', fileUri(await makeTruncatedMp4()), ['INPUT_CORRUPT', 'NOT_A_VIDEO']);
  });

  it('a thumbnail time past the end says the duration', async () => {
    const clip = join(fleet.dir, 'short.mp4');
    await generateSampleClip(clip, { seconds: 2, width: 320, height: 240 });
    const message = await expectJobFails('thumbnail', fileUri(clip), 'TIME_OUT_OF_RANGE', { time: 60 });
    expect(message).toMatch(/2(\.\d+)? ?s/);
  });

  it('an http input that answers 404', async () => {
    await expectJobFails('probe', `${fleet.coordinator.url}/v1/blobs/uploads/none/missing.mp4`, ['INPUT_NOT_FOUND']);
  });
});
