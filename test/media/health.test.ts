import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHealth, classifyLogLine, HealthCollector, parseLogLine } from '../../src/media/health.js';
import { probeFile } from '../../src/media/probe.js';
import type { ProbeHealth, ProbeReport } from '../../src/protocol/index.js';
import { startMediaServer, type MediaServer } from '../helpers/clips.js';
import { makeCorruptedClip, makeDetailedClip } from '../helpers/probe-clips.js';
import { HAVE_REAL_MEDIA, realMediaFiles } from '../helpers/shared-media.js';

async function health(file: string, onProgress?: (fraction: number | null) => void): Promise<ProbeHealth> {
  return checkHealth(file, await probeFile(file), { onProgress: onProgress && ((f) => onProgress(f)) });
}

describe('log parsing (pure)', () => {
  it('splits the component, the level and the message, dropping the pointer', () => {
    expect(parseLogLine('[h264 @ 0x55d87395fe80] [error] error while decoding MB 50 52')).toEqual({ source: 'h264', level: 'error', message: 'error while decoding MB 50 52' });
    expect(parseLogLine('[warning] file:/a.mp4: corrupt decoded frame in stream 0')).toEqual({ source: null, level: 'warning', message: 'file:/a.mp4: corrupt decoded frame in stream 0' });
    expect(parseLogLine('[mov,mp4,m4a,3gp,3g2,mj2 @ 0x1] [warning] Packet corrupt (stream = 0, dts = 7408).')?.source).toBe('mov,mp4,m4a,3gp,3g2,mj2');
    expect(parseLogLine('frame=  377 fps=0.0')).toBeNull();
  });

  it('keeps ffmpeg levels, except for the null muxer on source timestamps and flagged corruption', () => {
    const kind = (line: string) => classifyLogLine(parseLogLine(line)!);
    expect(kind('[h264 @ 0x1] [error] decode_slice_header error')).toBe('error');
    expect(kind('[h264 @ 0x1] [warning] Invalid NAL unit 0, skipping.')).toBe('warning');
    expect(kind('[null @ 0x1] [error] Application provided invalid, non monotonically increasing dts to muxer in stream 0: 8 >= 8')).toBe('warning');
    expect(kind('[warning] file:/a.ts: corrupt decoded frame in stream 0')).toBe('error');
    expect(kind('[mpegts @ 0x1] [warning] Packet corrupt (stream = 1, dts = 1728952424).')).toBe('error');
    expect(kind('[mpeg2video @ 0x1] [info] concealing 1080 DC, 1080 AC, 1080 MV errors in I frame')).toBeNull();
    expect(kind('[fatal] Conversion failed!')).toBe('error');
  });

  it('groups repeats that differ only in numbers, counts every one and stamps first and last positions', () => {
    const c = new HealthCollector('file:/x.mp4');
    c.line('[h264 @ 0x1] [error] error while decoding MB 50 52, bytestream 1723');
    c.position = 2.5;
    c.line('[h264 @ 0x2] [error] error while decoding MB 7 9, bytestream -4');
    c.line('[h264 @ 0x2] [warning] Invalid NAL unit 0, skipping.');
    c.position = 3;
    c.line('[h264 @ 0x2] [error] error while decoding MB 1 1, bytestream 5');
    c.line('[verbose]   Input stream #0:1 (audio): 1414 packets read (472748 bytes); 1414 frames decoded (1447936 samples); ');
    c.line('[verbose]   Input stream #0:2 (data): 30 packets read (600 bytes); ');
    expect(c.messages('error')).toEqual([{ level: 'error', source: 'h264', message: 'error while decoding MB 50 52, bytestream 1723', count: 3, firstAt: null, lastAt: 3 }]);
    expect(c.messages('warning')).toHaveLength(1);
    expect([c.errorCount, c.warningCount]).toEqual([3, 1]);
    expect(c.streams).toEqual([
      { index: 1, type: 'audio', packetsRead: 1414, framesDecoded: 1414 },
      { index: 2, type: 'data', packetsRead: 30, framesDecoded: 0 },
    ]);
  });
});

describe('checkHealth on synthetic clips', () => {
  it('a clean clip is healthy: no errors, every packet read and decoded, progress up to 1', async () => {
    const progress: Array<number | null> = [];
    const h = await health(await makeDetailedClip(), (f) => progress.push(f));
    expect(h).toMatchObject({ healthy: true, errors: [], errorCount: 0, exitCode: 0 });
    const video = h.streams.find((s) => s.type === 'video');
    expect(video).toEqual({ index: 0, type: 'video', packetsRead: 100, framesDecoded: 100, expectedPackets: 100 });
    expect(h.streams.some((s) => s.type === 'audio' && s.framesDecoded > 0)).toBe(true);
    expect(h.decodedSeconds).toBeCloseTo(4, 0);
    expect(progress.at(-1)).toBe(1);
  });

  it('a clip with noise written into its picture data is unhealthy, with decoder errors placed in time', async () => {
    const h = await health(await makeCorruptedClip());
    expect(h.healthy).toBe(false);
    expect(h.errorCount).toBeGreaterThanOrEqual(3);
    expect(h.errors.some((e) => e.source === 'h264')).toBe(true);
    const placed = h.errors.filter((e) => e.firstAt !== null);
    expect(placed.length).toBeGreaterThan(0);
    for (const e of placed) expect(e.firstAt).toBeLessThanOrEqual(4.1);
    // The damage is local: decoding went on to the end.
    expect(h.exitCode).toBe(0);
    expect(h.streams.find((s) => s.type === 'video')?.framesDecoded).toBeGreaterThan(50);
  });

  describe('cancel', () => {
    let server: MediaServer;
    beforeAll(async () => {
      server = await startMediaServer();
    });
    afterAll(() => server.close());

    it('aborting stops ffmpeg and rejects with the reason, even while it waits on a stalled input', async () => {
      const report = await probeFile(await makeDetailedClip());
      const controller = new AbortController();
      const running = checkHealth(`${server.url}/stall/clip.mp4`, report, { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('canceled by test')), 200);
      await expect(running).rejects.toThrow('canceled by test');
    });
  });
});

describe.skipIf(!HAVE_REAL_MEDIA)('checkHealth on the real-world corpus', () => {
  const { good, bad } = realMediaFiles();
  const file = (prefix: string): string => [...good, ...bad].find((f) => basename(f).startsWith(prefix)) ?? prefix;
  /** Decode problems MANIFEST records for files that are otherwise fine: the capture starts mid-stream, or an open GOP is cut. */
  const DAMAGED_GOOD = ['19_', '20_'];

  it.each(good.map((f) => [basename(f), f]))('%s: decodes to the end and says why if not healthy', async (name, path) => {
    const h = await health(path);
    expect(h.exitCode).toBe(0);
    expect(h.streams.some((s) => s.type === 'video' && s.framesDecoded > 0)).toBe(true);
    expect(h.healthy, JSON.stringify(h.errors)).toBe(!DAMAGED_GOOD.some((p) => name.startsWith(p)));
  });

  it('12 and 23: duplicate source timestamps are warnings (from the null muxer), not errors', async () => {
    for (const prefix of ['12_', '23_']) {
      const h = await health(file(prefix));
      expect(h.healthy).toBe(true);
      expect(h.warnings[0]).toMatchObject({ source: 'null', message: expect.stringMatching(/non monotonically increasing dts/) });
    }
    expect((await health(file('23_'))).warnings[0]?.count).toBe(39);
  });

  it('19: the capture starts mid-stream: 14 undecodable pictures, then damage MANIFEST lists', async () => {
    const h = await health(file('19_'));
    expect(h.errors.find((e) => /Invalid frame dimensions 0x0/.test(e.message))?.count).toBe(14);
    expect(h.errors.map((e) => e.message)).toEqual(expect.arrayContaining([expect.stringMatching(/ac-tex damaged/), expect.stringMatching(/MVs not available/)]));
    expect(h.streams.find((s) => s.type === 'video')).toMatchObject({ packetsRead: 75, framesDecoded: 61 });
  });

  it('bad_02 (cut MP4): unhealthy, "partial file", and only 6 of the 745 indexed packets could be read', async () => {
    const h = await health(file('bad_02'));
    expect(h.healthy).toBe(false);
    expect(h.errors.map((e) => e.message)).toEqual(expect.arrayContaining([expect.stringMatching(/partial file/), expect.stringMatching(/lists 745 packets but only 6 could be read/)]));
    expect(h.warnings.find((w) => /Invalid NAL unit/.test(w.message))?.count).toBeGreaterThanOrEqual(100);
  });

  it('bad_04 decodes cleanly: its broken timestamps are the probe warnings\' business, not a decode error', async () => {
    const report: ProbeReport = await probeFile(file('bad_04'));
    const h = await checkHealth(file('bad_04'), report);
    expect(h.healthy).toBe(true);
    expect(report.warnings.join(' ')).toMatch(/implausible/);
  });
});
