// Media helpers of bench/transcode: the synthetic source, independent frame counts, and the
// decode-only runs that put a number on what chunking costs in decoding.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { promisify } from 'node:util';
import { secs, seekPoint } from '../../src/media/transcode/encode-args.js';
import type { ChunkPlan, SourceFacts } from '../../src/media/transcode/types.js';
import { runMeasured } from './single-pass.js';

const run = promisify(execFile);

/**
 * 1080p25 testsrc2 with a beeping stereo tone (AAC), H.264 with a keyframe every 2 s. Not
 * generateSampleClip: its tone is mono, so a stereo ladder would come out mono.
 */
export async function ensureSource(path: string, seconds: number, log: (line: string) => void): Promise<void> {
  if (existsSync(path)) return;
  log(`generating ${path} (1920x1080 25 fps H.264, keyframe every 2 s, AAC stereo, ${seconds} s)…`);
  const partial = `${path}.${process.pid}.part.mp4`;
  await run('ffmpeg', [
    '-hide_banner', '-nostdin', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:beep_factor=4:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', '50',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-shortest', '-movflags', '+faststart', partial,
  ]);
  await rename(partial, path);
}

/** Video packets of a file's first video stream, counted by ffprobe (nothing decoded). */
export async function countVideoPackets(path: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', path]);
  return Number(stdout.trim());
}

export async function hasAudio(path: string): Promise<boolean> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=index', '-of', 'csv=p=0', path]);
  return stdout.trim().length > 0;
}

export interface DecodeRun {
  cpuSeconds: number;
  wallSeconds: number;
  framesDecoded: number;
  framesKept: number;
}

async function decodeOnly(source: string, facts: SourceFacts, seek: number | null, frames: number | null): Promise<DecodeRun> {
  const args = [
    '-hide_banner', '-nostdin', '-v', 'verbose', '-nostats',
    ...(seek === null ? [] : ['-ss', secs(seek)]), '-i', `file:${source}`,
    '-map', `0:${facts.videoStream ?? 0}`, ...(frames === null ? [] : ['-frames:v', String(frames)]), '-f', 'null', '-',
  ];
  const r = await runMeasured('ffmpeg', args);
  // ffmpeg's closing statistics (verbose): "Input stream #0:0 (video): N packets read (…); N frames decoded;"
  const decoded = /Input stream #0:\d+ \(video\): \d+ packets read \([^)]*\); (\d+) frames decoded/.exec(r.stderr);
  const kept = /Output stream #0:0 \(video\): (\d+) frames encoded/.exec(r.stderr);
  return { cpuSeconds: r.cpuSeconds, wallSeconds: r.wallSeconds, framesDecoded: Number(decoded?.[1] ?? NaN), framesKept: Number(kept?.[1] ?? NaN) };
}

export interface DecodeCost {
  whole: DecodeRun;
  /** Every chunk decoded as a chunk encode reads it: -ss at seekPoint (encode-args.ts), exact frame count. */
  chunked: DecodeRun;
  /** The same chunks with the seek point a quarter of a stream tick before each chunk's keyframe. */
  atKeyframe: DecodeRun;
}

const sum = (runs: DecodeRun[]): DecodeRun => runs.reduce((a, r) => ({
  cpuSeconds: a.cpuSeconds + r.cpuSeconds,
  wallSeconds: a.wallSeconds + r.wallSeconds,
  framesDecoded: a.framesDecoded + r.framesDecoded,
  framesKept: a.framesKept + r.framesKept,
}), { cpuSeconds: 0, wallSeconds: 0, framesDecoded: 0, framesKept: 0 });

/** Decode-only runs (no scaling, no encoding): the whole source once, and chunk by chunk. */
export async function measureDecodeCost(source: string, facts: SourceFacts, chunks: ChunkPlan[]): Promise<DecodeCost> {
  const whole = await decodeOnly(source, facts, null, null);
  const chunked: DecodeRun[] = [];
  const atKey: DecodeRun[] = [];
  const tick = facts.timeBase.num / facts.timeBase.den;
  for (const c of chunks) {
    // As videoChunkArgs seeks (src/media/transcode/encode-args.ts).
    const seek = seekPoint(c, facts);
    chunked.push(await decodeOnly(source, facts, seek, c.frames));
    atKey.push(await decodeOnly(source, facts, c.index === 0 ? seek : Math.max(0, c.start - tick / 4), c.frames));
  }
  return { whole, chunked: sum(chunked), atKeyframe: sum(atKey) };
}
