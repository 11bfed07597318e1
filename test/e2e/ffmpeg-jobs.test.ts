// The raw ffmpeg and enhance kinds end to end through real HTTP: bad paths are a 400 at submit,
// a mount escape fails the job on the worker with its code (one attempt, no retry), $input reads
// an uploaded file, and every file under $out becomes an artifact with its sub-path.
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSampleClip } from '../../src/media/sample.js';
import type { EnhanceResult, ErrorBody, FfmpegResult, Job } from '../../src/protocol/index.js';
import { parseMounts } from '../../src/worker/config.js';
import { startTestFleet, type TestFleet } from '../helpers/fleet.js';

let fleet: TestFleet;
let clip: string;

beforeAll(async () => {
  fleet = await startTestFleet();
  const media = join(fleet.dir, 'media');
  await mkdir(join(fleet.dir, 'outside'), { recursive: true });
  await mkdir(media, { recursive: true });
  clip = join(media, 'clip.mp4');
  await generateSampleClip(clip, { seconds: 4, width: 320, height: 180 });
  await writeFile(join(fleet.dir, 'outside', 'secret.mp4'), 'secret');
  await symlink(join(fleet.dir, 'outside', 'secret.mp4'), join(media, 'escape.mp4'));
  await fleet.addWorker({ mounts: parseMounts([`media=${media}`]) });
});

afterAll(async () => {
  await fleet?.stop();
});

async function submitRaw(body: unknown): Promise<{ status: number; body: ErrorBody & Job }> {
  const response = await fetch(`${fleet.coordinator.url}/v1/jobs`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: response.status, body: (await response.json()) as ErrorBody & Job };
}

async function runJob(kind: string, input: string, params: Record<string, unknown>, maxAttempts?: number): Promise<Job> {
  const submitted = await fleet.client.submitJob({ kind, input, params, ...(maxAttempts && { maxAttempts }) });
  return fleet.client.getJob(submitted.id, 60);
}

describe('ffmpeg jobs', () => {
  it('refuses a bad path at submission with a 400 naming the argument', async () => {
    const res = await submitRaw({ kind: 'ffmpeg', input: 'none', params: { args: ['-i', '$media/../../etc/passwd', '$out/a.mp4'] } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_PARAMS');
    expect(res.body.message).toMatch(/args\[1\] "\$media\/\.\.\/\.\.\/etc\/passwd".*"\.\."/);
    const filter = await submitRaw({ kind: 'ffmpeg', input: 'none', params: { args: ['-f', 'lavfi', '-i', 'movie=/etc/passwd', '$out/a.mp4'] } });
    expect([filter.status, filter.body.code]).toEqual([400, 'INVALID_PARAMS']);
    // $input makes the job input matter: it is then checked like any other kind's.
    const noInput = await submitRaw({ kind: 'ffmpeg', input: 'none', params: { args: ['-i', '$input', '$out/a.mp4'] } });
    expect([noInput.status, noInput.body.code]).toEqual([400, 'INVALID_INPUT']);
  });

  it('fails a mount escape on the worker with PATH_ESCAPE, without retrying', async () => {
    const job = await runJob('ffmpeg', 'none', { args: ['-i', '$media/escape.mp4', '-c', 'copy', '$out/a.mp4'] });
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('PATH_ESCAPE');
    expect(job.error?.message).toMatch(/args\[1\] "\$media\/escape.mp4" is refused/);
    expect(job.tasks?.[0]?.attempt).toBe(1);
  });

  it('requires the mounts its paths name: no worker without $archive takes it, and the job says why it waits', async () => {
    const submitted = await fleet.client.submitJob({ kind: 'ffmpeg', input: 'none', params: { args: ['-i', '$archive/a.mp4', '$out/a.mp4'] } });
    expect(submitted.tasks?.[0]?.requires).toEqual(['mount:archive']);
    const job = await fleet.client.getJob(submitted.id, 1);
    expect(job.status).toBe('pending');
    expect(job.waitingFor).toMatch(/needs mount:archive; none of the 1 online ffmpeg worker\(s\) has all of them/);
    await fleet.client.cancelJob(submitted.id);
  });

  it('segments an uploaded $input into HLS under $out/hls/, every file an artifact', async () => {
    const upload = await fleet.client.uploadFile(clip);
    const job = await runJob('ffmpeg', upload.uri, {
      args: ['-i', '$input', '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_list_size', '0', '-hls_segment_filename', '$out/hls/seg_%03d.ts', '$out/hls/index.m3u8'],
      outputs: ['$out/hls/index.m3u8'],
    });
    expect(job.status, JSON.stringify(job.error)).toBe('completed');
    expect(job.progress).toBe(1);
    const result = job.result as FfmpegResult;
    const artifacts = await fleet.client.listArtifacts(job.id);
    expect(artifacts.map((a) => a.name).sort()).toEqual(result.artifacts.map((a) => a.name));
    expect(artifacts.find((a) => a.name === 'hls/index.m3u8')?.contentType).toBe('application/vnd.apple.mpegurl');
    const chunks: Buffer[] = [];
    for await (const chunk of await fleet.client.downloadArtifact(job.id, 'hls/index.m3u8')) chunks.push(chunk as Buffer);
    const segments = Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l.endsWith('.ts'));
    expect(segments.length).toBeGreaterThanOrEqual(2);
    for (const s of segments) expect(artifacts.map((a) => a.name)).toContain(`hls/${s}`);
  });

  it('runs an enhance job on a file:// input and stores enhanced.mp4', async () => {
    const job = await runJob('enhance', `file://${clip}`, { brightness: 0.1, width: 160, preset: 'ultrafast' });
    expect(job.status, JSON.stringify(job.error)).toBe('completed');
    const result = job.result as EnhanceResult;
    expect(result.video).toMatchObject({ codec: 'h264', width: 160, height: 90 });
    expect(result.audio).toEqual([expect.objectContaining({ codec: 'aac', copied: true })]);
    const [artifact] = await fleet.client.listArtifacts(job.id);
    expect([artifact?.name, artifact?.contentType, artifact?.size]).toEqual(['enhanced.mp4', 'video/mp4', result.size]);
  });
});
