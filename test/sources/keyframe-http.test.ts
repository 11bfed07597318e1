// Ten screenshots of a 60 s 720p clip over HTTP, the way a large remote file is read: through
// the HTTP range reader and the read cache, against a loopback range server. What the server
// sends must stay within 1.2x of the floor (index bytes + keyframe bytes), for every layout.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { HttpRangeReader } from '../../src/sources/ranged/http-reader.js';
import { CLIP_DIR } from '../helpers/clips.js';
import { expectMatchesFfmpeg, locateReadDecode, probeKeys } from '../helpers/keyframe-check.js';
import { startRangeServer } from '../helpers/range-server.js';

const run = promisify(execFile);
const FFMPEG = process.env.VIDFLEET_FFMPEG || 'ffmpeg';
const TEN = [1, 7, 13, 19.5, 25, 31, 37.3, 43, 49.9, 58];

describe('screenshots of a 60 s 720p clip over HTTP', () => {
  const work = mkdtempSync(join(CLIP_DIR, 'http-'));
  const files: Record<string, string> = {};
  beforeAll(async () => {
    // One encode (B-frames, a keyframe every 2 s, AAC), remuxed into each layout.
    const master = join(work, 'master.mp4');
    await run(FFMPEG, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25:duration=60', '-f', 'lavfi', '-i', 'sine=duration=60',
      '-c:v', 'libx264', '-preset', 'superfast', '-crf', '30', '-bf', '2', '-g', '50', '-pix_fmt', 'yuv420p', '-c:a', 'aac', master]);
    const remux = async (name: string, flags: string[]): Promise<void> => {
      files[name] = join(work, name);
      await run(FFMPEG, ['-v', 'error', '-y', '-i', master, '-c', 'copy', ...flags, files[name]!]);
    };
    await remux('faststart.mp4', ['-movflags', '+faststart']);
    await remux('moov-end.mp4', []);
    await remux('fragmented.mp4', ['-movflags', 'frag_keyframe+empty_moov']);
    await remux('sidx.mp4', ['-movflags', 'frag_keyframe+empty_moov+dash+global_sidx']);
    await remux('clip.mkv', []);
  }, 120_000);

  for (const name of ['faststart.mp4', 'moov-end.mp4', 'fragmented.mp4', 'sidx.mp4', 'clip.mkv']) {
    it(`${name}: origin bytes ≤ 1.2x (index + keyframes), pictures as ffmpeg decodes them`, async () => {
      const path = files[name]!;
      const server = await startRangeServer(path);
      try {
        const reader = await HttpRangeReader.open(server.url);
        const got = await locateReadDecode(reader, TEN, work, name);
        expect(got.index.keyframes).toHaveLength(10);
        expect(server.bytesSent()).toBe(reader.stats().bytesRead);
        expect(server.bytesSent()).toBeLessThanOrEqual(1.2 * got.floor);
        // And the floor itself is a small part of the file.
        expect(got.floor).toBeLessThan(reader.size * 0.1);
        await expectMatchesFfmpeg(path, await probeKeys(path), got, work, name);
      } finally {
        await server.close();
      }
    });
  }
});
