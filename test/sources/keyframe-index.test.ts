// The container index → keyframe engine on synthetic clips of every layout it reads (MP4 with
// moov first and last, fragmented MP4 with and without sidx, Matroska with H.264 and HEVC):
// each keyframe chosen is ffprobe's keyframe at or before the time, its image decoded from the
// Annex-B bytes alone matches ffmpeg's decode of the whole file, and the bytes read stay within
// 1.2x of the floor (index bytes + keyframe bytes). Unsupported and damaged inputs get typed errors.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { VidfleetError } from '../../src/protocol/index.js';
import { locateKeyframes } from '../../src/sources/index/locate.js';
import { CachedReader } from '../../src/sources/ranged/cached-reader.js';
import { FileRangeReader } from '../../src/sources/ranged/file-reader.js';
import { CLIP_DIR, makeTextFile } from '../helpers/clips.js';
import { expectMatchesFfmpeg, locateReadDecode, probeKeys } from '../helpers/keyframe-check.js';

const run = promisify(execFile);
const FFMPEG = process.env.VIDFLEET_FFMPEG || 'ffmpeg';
const made = new Map<string, Promise<string>>();

/** 20 s, 640x360, B-frames, keyframes every 4 s plus forced ones at uneven times, with AAC. */
function clip(name: string, video: string[], container: string[] = []): Promise<string> {
  let p = made.get(name);
  if (!p) {
    const out = join(CLIP_DIR, name);
    const args = [
      '-hide_banner', '-nostdin', '-v', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25:duration=20', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=20',
      ...video, '-force_key_frames', '0,1.32,3.72,6.2,9.08,12.52,15,17.88', '-pix_fmt', 'yuv420p', '-c:a', 'aac', ...container, out,
    ];
    p = run(FFMPEG, args, { maxBuffer: 16 * 1024 * 1024 }).then(() => out);
    made.set(name, p);
  }
  return p;
}

const X264 = ['-c:v', 'libx264', '-preset', 'superfast', '-crf', '30', '-bf', '2', '-g', '100'];
const X265 = ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:keyint=100'];

/** `mode`: how decodeKeyframes must decode them (IDRs as one stream; other keyframes one input each). */
const LAYOUTS: Array<{ name: string; file: () => Promise<string>; container: string; codec: string; mode?: string }> = [
  { name: 'MP4 faststart', file: () => clip('fast.mp4', X264, ['-movflags', '+faststart']), container: 'mp4', codec: 'h264', mode: 'stream' },
  // x264 open GOP: keyframes after the first are I-frames with a recovery point, not IDRs.
  { name: 'MP4 H.264 open GOP', file: () => clip('open.mp4', [...X264, '-x264-params', 'open-gop=1']), container: 'mp4', codec: 'h264', mode: 'inputs' },
  { name: 'MP4 moov at end', file: () => clip('end.mp4', X264), container: 'mp4', codec: 'h264' },
  { name: 'MP4 HEVC (hvc1, open GOP: CRA keyframes)', file: () => clip('hevc.mp4', X265, ['-tag:v', 'hvc1']), container: 'mp4', codec: 'hevc' },
  { name: 'fragmented MP4, no sidx (frag_keyframe+empty_moov)', file: () => clip('frag.mp4', X264, ['-movflags', 'frag_keyframe+empty_moov']), container: 'fmp4', codec: 'h264' },
  { name: 'fragmented MP4, global sidx', file: () => clip('gsidx.mp4', X264, ['-movflags', 'frag_keyframe+empty_moov+dash+global_sidx']), container: 'fmp4', codec: 'h264' },
  { name: 'fragmented MP4, a sidx per fragment (dash)', file: () => clip('dash.mp4', X264, ['-movflags', 'frag_keyframe+empty_moov+dash']), container: 'fmp4', codec: 'h264' },
  { name: 'Matroska H.264', file: () => clip('h264.mkv', X264), container: 'mkv', codec: 'h264' },
  { name: 'Matroska HEVC (libx265)', file: () => clip('hevc.mkv', X265), container: 'mkv', codec: 'hevc' },
];

const TIMES = [0, 1.3, 1.32, 3.71, 5, 9.1, 12.52, 14.99, 17.9, 19.96];

describe('keyframes from the container index', () => {
  for (const layout of LAYOUTS) {
    it(`${layout.name}: ffprobe's keyframes, ffmpeg's pictures, ≤ 1.2x the floor of bytes`, async () => {
      const path = await layout.file();
      const work = mkdtempSync(join(CLIP_DIR, 'kf-'));
      const reader = await FileRangeReader.open(path);
      try {
        const got = await locateReadDecode(reader, TIMES, work, 'kf');
        expect(got.index).toMatchObject({ container: layout.container, codec: layout.codec, width: 640, height: 360 });
        if (layout.mode) expect(got.mode).toBe(layout.mode);
        // empty_moov without a whole-file sidx declares no duration (null), the others 20 s.
        if (got.index.duration !== null || !/no sidx|per fragment/.test(layout.name)) expect(got.index.duration).toBeCloseTo(20, 0);
        await expectMatchesFfmpeg(path, await probeKeys(path), got, work, 'kf');
        expect(got.origin).toBeLessThanOrEqual(1.2 * got.floor);
        // The floor is a small part of the file: index and keyframes only.
        expect(got.floor).toBeLessThan(reader.size * 0.25);
      } finally {
        await reader.close();
      }
    });
  }

  it('Matroska without CueRelativePosition and without a SeekHead entry for Cues: hops Clusters and blocks by header', async () => {
    // ffmpeg always writes both, older mkvmerge neither: void them in a copy (same sizes).
    const buf = Buffer.from(await readFile(await clip('h264.mkv', X264)));
    const seek = buf.indexOf(Buffer.from([0x53, 0xab, 0x84, 0x1c, 0x53, 0xbb, 0x6b]));
    expect(buf.readUInt16BE(seek - 3)).toBe(0x4dbb);
    const seekSize = buf[seek - 1]! & 0x7f;
    buf.set([0xec, 0x40, seekSize], seek - 3); // Seek (2-byte ID, 1-byte size) → Void (1-byte ID, 2-byte size)
    const cues = buf.lastIndexOf(Buffer.from([0x1c, 0x53, 0xbb, 0x6b]));
    let voided = 0;
    for (let i = cues; i < buf.length - 2; i++) {
      // CueRelativePosition (F0) inside CueTrackPositions (B7), right after CueClusterPosition (F1 8n …).
      if (buf[i] === 0xf1 && (buf[i + 1]! & 0xf0) === 0x80) {
        const j = i + 2 + (buf[i + 1]! & 0x0f);
        if (buf[j] === 0xf0) {
          buf[j] = 0xec;
          voided++;
        }
      }
    }
    expect(voided).toBeGreaterThan(5);
    const path = join(CLIP_DIR, 'plain-cues.mkv');
    await writeFile(path, buf);
    const work = mkdtempSync(join(CLIP_DIR, 'kf-'));
    const reader = await FileRangeReader.open(path);
    try {
      const got = await locateReadDecode(reader, TIMES, work, 'plain');
      await expectMatchesFfmpeg(path, await probeKeys(path), got, work, 'plain');
      expect(got.origin).toBeLessThanOrEqual(1.2 * got.floor);
    } finally {
      await reader.close();
    }
  });

  it('reads a large moov in one bounded read and never reads mdat', async () => {
    const path = await clip('end.mp4', X264);
    const reader = await FileRangeReader.open(path);
    const cache = new CachedReader(reader);
    try {
      const index = await locateKeyframes(cache, [10]);
      // ftyp+mdat header at the start, the moov at the end: 2 requests besides the moov's rest.
      expect(reader.stats().requests).toBeLessThanOrEqual(3);
      expect(index.indexBytes).toBeLessThan(reader.size * 0.05);
    } finally {
      await reader.close();
    }
  });
});

async function expectCode(path: string, code: string, message: RegExp): Promise<VidfleetError> {
  const reader = await FileRangeReader.open(path);
  try {
    const err = await locateKeyframes(reader, [1]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(VidfleetError);
    expect((err as VidfleetError).code).toBe(code);
    expect((err as VidfleetError).message).toMatch(message);
    return err as VidfleetError;
  } finally {
    await reader.close();
  }
}

async function cut(src: string, name: string, fraction: number): Promise<string> {
  const out = join(CLIP_DIR, name);
  const { size } = await stat(src);
  const buf = Buffer.alloc(Math.floor(size * fraction));
  const fh = await open(src, 'r');
  await fh.read(buf, 0, buf.length, 0).finally(() => fh.close());
  await writeFile(out, buf);
  return out;
}

describe('what the index engine refuses', () => {
  it('VP9 WebM, AVI and MPEG-TS: INDEX_UNSUPPORTED (not retryable), so the caller falls back', async () => {
    const vp9 = await clip('vp9.webm', ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '300k', '-g', '100'], ['-c:a', 'libopus']);
    const err = await expectCode(vp9, 'INDEX_UNSUPPORTED', /V_VP9, not H\.264 or HEVC/);
    expect(err.retryable).toBe(false);
    expect(err.details).toMatchObject({ reason: 'codec' });
    const h264 = await clip('end.mp4', X264);
    const avi = join(CLIP_DIR, 'clip.avi');
    const ts = join(CLIP_DIR, 'clip.ts');
    await run(FFMPEG, ['-v', 'error', '-y', '-i', h264, '-c', 'copy', avi]);
    await run(FFMPEG, ['-v', 'error', '-y', '-i', h264, '-c', 'copy', ts]);
    expect((await expectCode(avi, 'INDEX_UNSUPPORTED', /it is AVI/)).details).toMatchObject({ reason: 'container' });
    await expectCode(ts, 'INDEX_UNSUPPORTED', /it is MPEG-TS/);
    await expectCode(await makeTextFile('notes.mkv'), 'INDEX_UNSUPPORTED', /not MP4, MOV or Matroska/);
  });

  it('truncated files: INPUT_CORRUPT saying where the file ends, never a crash', async () => {
    // moov at the end, file cut in half: the moov never arrived.
    await expectCode(await cut(await clip('end.mp4', X264), 'end-cut.mp4', 0.5), 'INPUT_CORRUPT', /is truncated: its "mdat" box .* ends at byte \d+ but the file has \d+ bytes/);
    // moov first, media cut: early keyframes are fine, late ones are past the end.
    const fastCut = await cut(await clip('fast.mp4', X264), 'fast-cut.mp4', 0.3);
    const reader = await FileRangeReader.open(fastCut);
    try {
      expect((await locateKeyframes(reader, [0])).keyframes[0]!.time).toBe(0);
      const err = (await locateKeyframes(reader, [19]).catch((e: unknown) => e)) as VidfleetError;
      expect(err.code).toBe('INPUT_CORRUPT');
      expect(err.message).toMatch(/keyframe at 17\.880 s ends at byte/);
    } finally {
      await reader.close();
    }
    // Matroska cut in half: SeekHead points at Cues past the end.
    await expectCode(await cut(await clip('h264.mkv', X264), 'mkv-cut.mkv', 0.5), 'INPUT_CORRUPT', /truncated: its Cues element/);
    // A header only.
    await expectCode(await cut(await clip('fast.mp4', X264), 'head.mp4', 0.001), 'INPUT_CORRUPT', /truncated|damaged/);
    await expectCode(await cut(await clip('fast.mp4', X264), 'empty.mp4', 0), 'INPUT_CORRUPT', /empty/);
  });
});
