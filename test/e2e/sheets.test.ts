// Contact sheets and sprites through the whole system: submitted over HTTP, run by a worker,
// artifacts stored, listed and downloaded back; the WebVTT track read the way a player would
// (its cues name sheets the job stored, and their rectangles lie inside them); params refused
// at submission; the capability each needs recorded on its task.
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileUri, VidfleetError, type ContactSheetResult, type SpriteResult } from '../../src/protocol/index.js';
import { makeClip } from '../helpers/clips.js';
import { startTestFleet, type TestFleet } from '../helpers/fleet.js';
import { imageInfo } from '../helpers/images.js';
import { parseThumbnailVtt } from '../helpers/vtt.js';

describe('contact sheets and sprites end to end', () => {
  let fleet: TestFleet;
  let dir: string;
  beforeAll(async () => {
    fleet = await startTestFleet({ workers: 1, concurrency: 1 });
    dir = await mkdtemp(join(tmpdir(), 'vidfleet-sheets-'));
  });
  afterAll(async () => {
    await fleet.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const download = async (jobId: string, name: string): Promise<string> => {
    const path = join(dir, `${jobId}-${name}`);
    await pipeline(await fleet.client.downloadArtifact(jobId, name), createWriteStream(path));
    return path;
  };

  it('a contact sheet is stored as one image of the size the result gives', async () => {
    const job = await fleet.client.submitJob({ kind: 'contact-sheet', input: fileUri(await makeClip({ duration: 6, audio: true })), params: { columns: 3, rows: 2, tileWidth: 120 } });
    const done = await fleet.client.getJob(job.id, 60);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(done.tasks?.[0]?.requires).toEqual(['filter:drawtext']);
    const result = done.result as ContactSheetResult;
    expect(result).toMatchObject({ artifact: 'contact-sheet.jpg', columns: 3, rows: 2, tileWidth: 120, tileHeight: 90, textRendered: true });
    expect(result.tiles.map((t) => t.time)).toEqual([0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
    const artifacts = await fleet.client.listArtifacts(job.id);
    expect(artifacts.map((a) => [a.name, a.contentType])).toEqual([['contact-sheet.jpg', 'image/jpeg']]);
    expect(await imageInfo(await download(job.id, 'contact-sheet.jpg'))).toEqual({ codec: 'mjpeg', width: result.width, height: result.height });
  });

  it('a sprite stores its sheets and a VTT whose cues point inside them', async () => {
    const job = await fleet.client.submitJob({ kind: 'sprite', input: fileUri(await makeClip({ duration: 6 })), params: { interval: 1, tileWidth: 80, columns: 4, rows: 1 } });
    const done = await fleet.client.getJob(job.id, 60);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    const result = done.result as SpriteResult;
    expect(result).toMatchObject({ vtt: 'sprite.vtt', count: 6, interval: 1, tileWidth: 80, tileHeight: 60, made: 2, reused: 0 });
    const artifacts = await fleet.client.listArtifacts(job.id);
    expect(artifacts.map((a) => [a.name, a.contentType]).sort()).toEqual([
      ['sprite-001.jpg', 'image/jpeg'],
      ['sprite-002.jpg', 'image/jpeg'],
      ['sprite.vtt', 'text/vtt'],
    ]);
    const cues = parseThumbnailVtt(await readFile(await download(job.id, 'sprite.vtt'), 'utf8'));
    expect(cues.map((c) => [c.start, c.end])).toEqual(Array.from({ length: 6 }, (_, k) => [k * 1000, (k + 1) * 1000]));
    for (const name of ['sprite-001.jpg', 'sprite-002.jpg']) {
      const size = await imageInfo(await download(job.id, name));
      for (const c of cues.filter((q) => q.file === name)) {
        expect(c.x + c.w).toBeLessThanOrEqual(size.width);
        expect(c.y + c.h).toBeLessThanOrEqual(size.height);
      }
    }
    expect(cues.filter((c) => c.file === 'sprite-002.jpg').map((c) => c.x)).toEqual([0, 80]);
  });

  it('refuses contradictory params at submission and records what WebP needs', async () => {
    const err = await fleet.client.submitJob({ kind: 'sprite', input: fileUri('/tmp/x.mp4'), params: { interval: 2, count: 10 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VidfleetError);
    expect(err).toMatchObject({ code: 'INVALID_PARAMS' });
    const webp = await fleet.client.submitJob({ kind: 'contact-sheet', input: fileUri(await makeClip({ duration: 2 })), params: { format: 'webp', columns: 1, rows: 1, header: false, timestamps: false } });
    const done = await fleet.client.getJob(webp.id, 60);
    expect(done.tasks?.[0]?.requires).toEqual(['encoder:libwebp']);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
  });
});
