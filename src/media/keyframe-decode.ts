// Decodes lone keyframes (Annex-B access units read from a container index, see
// src/sources/index) into still images, without the file they came from.
//
// Two ways, both one ffmpeg process per batch. Measured on 10 keyframes of a 720p H.264 clip →
// 640 px JPEG (mean of 5 runs, 2 busy cores):
//   one raw stream with all keyframes (-f h264 -i all.h264):   15 ms/image
//   one process, one input per keyframe (10 decoders):         27 ms/image
//   one process per keyframe:                                  95 ms/image
// Through decodeKeyframes (medians of 5): H.264 IDRs as one stream 15.3 ms/image against 93.2
// one process each; HEVC CRAs (x265 open GOP), one input each, 8 per process: 56.8 against 108.
// The single stream is used when every keyframe is an IDR: an IDR resets picture order, so the
// decoder gives the pictures back one each, in input order. Other keyframes (H.264 I-frames with
// a recovery point, HEVC CRA) keep counting picture order across the cut-together stream, and
// ffmpeg then returns them reordered (HEVC CRAs at 4/12/14/6 s came back as 12/14/4/6) or drops
// one (an x264 open-GOP I-frame); an end-of-sequence NAL between them does not help in ffmpeg
// 5.1 (it output nothing at all for HEVC). Those go one input per keyframe: each has its own
// decoder, so each decodes alone (leading RASL/RADL pictures are simply not there).
import { randomUUID } from 'node:crypto';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VidfleetError } from '../protocol/index.js';
import { classifyFailure } from './errors.js';
import { errorLines } from './ffmpeg-log.js';
import { ffmpegBinary, ffmpegInputArg, runProcess } from './process.js';
import { scaleFilter, stillEncoderArgs, stillPixelFormat, type StillFormat } from './stills.js';

export type KeyframeCodec = 'h264' | 'hevc';

/** One keyframe as an Annex-B access unit that decodes alone (parameter sets included). */
export interface KeyframeAccessUnit {
  annexB: Buffer;
  codec: KeyframeCodec;
}

export interface KeyframeDecodeOptions {
  format: StillFormat;
  /** 1-100 for JPEG/WebP. Default 85. */
  quality?: number;
  /** Fit inside this box (display aspect kept); neither: the coded size. */
  width?: number;
  height?: number;
  /** Clockwise degrees to turn the picture (the container's rotation; raw streams carry none). */
  rotation?: 0 | 90 | 180 | 270;
  /** Replaces the filter chain built from width/height/rotation (the caller's stillChain). */
  filter?: string;
  /**
   * The container's colour description (KeyframeIndex.color): given to the decoder as its
   * defaults, which the bitstream's own VUI overrides, as when ffmpeg opens the file.
   */
  color?: { primaries: number | null; transfer: number | null; matrix: number | null; range: 'tv' | 'pc' | null } | null;
  /** The container's sample aspect ratio (KeyframeIndex.sampleAspect): above the bitstream's, as in ffmpeg. */
  sampleAspect?: [number, number] | null;
  /** Where the temporary Annex-B files go (the task's work dir). */
  workDir: string;
  /** Coded pixels per picture, to size batches of decoders (default 1920x1080). */
  sourcePixels?: number;
  signal?: AbortSignal;
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface KeyframeDecodeResult {
  /** Per item: whether its image was written. */
  wrote: boolean[];
  /** How they were decoded (for logs and benchmarks). */
  mode: 'stream' | 'inputs';
}

/** Decoders per process in `inputs` mode: ~15 MB each at 1080p (grab.ts), so 8 at most. */
const DECODER_PIXELS = 32e6;
const MAX_INPUTS = 8;

function nalTypes(au: Buffer, codec: KeyframeCodec): number[] {
  const types: number[] = [];
  for (let i = 0; i + 3 < au.length; i++) {
    if (au[i] === 0 && au[i + 1] === 0 && au[i + 2] === 1) {
      const b = au[i + 3]!;
      types.push(codec === 'h264' ? b & 0x1f : (b >> 1) & 0x3f);
      i += 2;
    }
  }
  return types;
}

/** IDR: H.264 type 5; HEVC IDR_W_RADL / IDR_N_LP (19, 20). */
export function isIdr(unit: KeyframeAccessUnit): boolean {
  return nalTypes(unit.annexB, unit.codec).some((t) => (unit.codec === 'h264' ? t === 5 : t === 19 || t === 20));
}

function chain(opts: KeyframeDecodeOptions): string {
  const sar = opts.sampleAspect ? [`setsar=${opts.sampleAspect[0]}/${opts.sampleAspect[1]}`] : [];
  if (opts.filter) return [...sar, opts.filter].join(',');
  const turn = { 0: [], 90: ['transpose=clock'], 180: ['hflip', 'vflip'], 270: ['transpose=cclock'] }[opts.rotation ?? 0];
  return [...sar, ...turn, scaleFilter(opts.width, opts.height), `format=${stillPixelFormat(opts.format)}`].join(',');
}

/** Decoder options in front of each -i: the container's colour, numbers as ffmpeg takes them. */
function inputArgs(codec: KeyframeCodec, opts: KeyframeDecodeOptions): string[] {
  const c = opts.color;
  const args: string[] = [];
  if (c?.primaries != null) args.push('-color_primaries', String(c.primaries));
  if (c?.transfer != null) args.push('-color_trc', String(c.transfer));
  if (c?.matrix != null) args.push('-colorspace', String(c.matrix));
  if (c?.range) args.push('-color_range', c.range);
  return [...args, '-f', codec];
}

async function run(args: string[], opts: KeyframeDecodeOptions): Promise<{ ok: boolean; problems: string; exitCode: number | null }> {
  const full = ['-hide_banner', '-nostdin', '-v', 'error', '-protocol_whitelist', 'file', ...args];
  opts.log?.(`ffmpeg ${full.join(' ')}`);
  const res = await runProcess(ffmpegBinary(), full, { signal: opts.signal, timeoutMs: opts.timeoutMs ?? 120_000 });
  return { ok: res.exitCode === 0, problems: errorLines(res.stderr) || res.stderr, exitCode: res.exitCode };
}

const written = (path: string): Promise<boolean> => stat(path).then((s) => s.size > 0, () => false);

/** All keyframes in one raw stream; null when ffmpeg did not give back exactly one image each. */
async function asStream(items: readonly KeyframeAccessUnit[], outputs: readonly string[], opts: KeyframeDecodeOptions, tag: string): Promise<boolean[] | null> {
  const codec = items[0]!.codec;
  const input = join(opts.workDir, `${tag}.${codec}`);
  const ext = outputs[0]!.split('.').pop() ?? 'img';
  const pattern = join(opts.workDir, `${tag}-%05d.${ext}`);
  await writeFile(input, Buffer.concat(items.map((i) => i.annexB)));
  const made = items.map((_, i) => join(opts.workDir, `${tag}-${String(i).padStart(5, '0')}.${ext}`));
  try {
    const res = await run([...inputArgs(codec, opts), '-i', ffmpegInputArg(input), '-fps_mode', 'passthrough', '-vf', chain(opts), ...stillEncoderArgs(opts.format, opts.quality ?? 85), '-start_number', '0', '-f', 'image2', pattern], opts);
    const count = (await Promise.all([...made, join(opts.workDir, `${tag}-${String(items.length).padStart(5, '0')}.${ext}`)].map(written))).filter(Boolean).length;
    if (!res.ok || count !== items.length) {
      opts.log?.(`keyframes as one stream gave ${count} of ${items.length} images${res.ok ? '' : ` (${res.problems.split('\n')[0]})`}; decoding them one input each`);
      return null;
    }
    await Promise.all(made.map((m, i) => rename(m, outputs[i]!)));
    return items.map(() => true);
  } finally {
    await Promise.all([input, ...made].map((f) => rm(f, { force: true })));
  }
}

/** One input (its own decoder) per keyframe, batched; a batch that fails is retried one by one. */
async function asInputs(items: readonly KeyframeAccessUnit[], outputs: readonly string[], opts: KeyframeDecodeOptions, tag: string): Promise<boolean[]> {
  const per = Math.min(MAX_INPUTS, Math.max(1, Math.floor(DECODER_PIXELS / (opts.sourcePixels ?? 1920 * 1080))));
  const files = items.map((it, i) => join(opts.workDir, `${tag}-${i}.${it.codec}`));
  await Promise.all(items.map((it, i) => writeFile(files[i]!, it.annexB)));
  const decode = async (idx: number[]): Promise<{ ok: boolean; problems: string; exitCode: number | null }> => {
    await Promise.all(idx.map((i) => rm(outputs[i]!, { force: true })));
    const inputs = idx.flatMap((i) => [...inputArgs(items[i]!.codec, opts), '-i', ffmpegInputArg(files[i]!)]);
    const outs = idx.flatMap((i, k) => ['-map', `${k}:v:0`, '-frames:v', '1', '-vf', chain(opts), ...stillEncoderArgs(opts.format, opts.quality ?? 85), '-f', 'image2', '-update', '1', outputs[i]!]);
    return run([...inputs, ...outs], opts);
  };
  const wrote: boolean[] = items.map(() => false);
  let lastFailure: { problems: string; exitCode: number | null } | null = null;
  try {
    for (let start = 0; start < items.length; start += per) {
      const batch = items.slice(start, start + per).map((_, k) => start + k);
      const res = await decode(batch);
      for (const i of batch) wrote[i] = await written(outputs[i]!);
      if (res.ok && batch.every((i) => wrote[i])) continue;
      lastFailure = res;
      // Find which keyframe ffmpeg could not decode; the others still get their image.
      if (batch.length > 1) {
        for (const i of batch.filter((j) => !wrote[j])) {
          const one = await decode([i]);
          wrote[i] = one.ok && (await written(outputs[i]!));
          if (!one.ok) lastFailure = one;
        }
      }
    }
  } finally {
    await Promise.all(files.map((f) => rm(f, { force: true })));
  }
  if (wrote.every((w) => !w) && lastFailure) {
    throw classifyFailure({ tool: 'ffmpeg', input: 'the keyframes read from the index', stderr: lastFailure.problems, exitCode: lastFailure.exitCode, action: 'could not decode' });
  }
  return wrote;
}

/**
 * Decodes each access unit into the image at the same index of `outputs` (the format follows
 * opts.format, not the file name). Returns which were written; throws only when none was.
 */
export async function decodeKeyframes(items: readonly KeyframeAccessUnit[], outputs: readonly string[], opts: KeyframeDecodeOptions): Promise<KeyframeDecodeResult> {
  if (items.length !== outputs.length) throw new VidfleetError('INTERNAL', `decodeKeyframes got ${items.length} keyframes but ${outputs.length} outputs.`);
  if (!items.length) return { wrote: [], mode: 'stream' };
  const tag = `keyframes-${randomUUID().slice(0, 8)}`;
  const oneCodec = items.every((i) => i.codec === items[0]!.codec);
  if (oneCodec && items.every(isIdr)) {
    const wrote = await asStream(items, outputs, opts, tag);
    if (wrote) return { wrote, mode: 'stream' };
  }
  return { wrote: await asInputs(items, outputs, opts, tag), mode: 'inputs' };
}
