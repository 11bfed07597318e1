// One chunk encoded into every rung of the ladder by a single ffmpeg: the chunk is decoded once
// and split to one scaler and encoder per rung. Encoding rung by rung decodes the source once
// per rung — on a 3-rung 1080p ladder at veryfast, two extra decodes of every chunk (see
// bench/transcode). Each output is the same file the one-rung encode makes (same filters, same
// encoder arguments, same checks), so merges do not care which way a chunk was made.
import { stat } from 'node:fs/promises';
import { ffmpegInputArg, PROTOCOL_WHITELIST } from '../process.js';
import { checkChunk } from './checks.js';
import { canForceKeyframes, KEY_SLACK, rungFilters, secs, seekPoint, segmentKeyTimes, trackTimescale, videoCodecArgs } from './encode-args.js';
import { encodeVideoChunk, runEncode } from './encode-chunk.js';
import type { ChunkPlan, ChunkReport, ResolvedRendition, SourceFacts } from './types.js';

export interface LadderChunkRequest {
  input: string;
  facts: SourceFacts;
  chunk: ChunkPlan;
  outputs: { rendition: ResolvedRendition; out: string }[];
  segmentSeconds?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number, fps?: number, speed?: number) => void;
  onLog?: (line: string) => void;
}

/** The arguments of the one ffmpeg that makes every output: one decode, `split`, a chain per rung. */
export function ladderChunkArgs(o: { inputArg: string; facts: SourceFacts; chunk: ChunkPlan; outputs: LadderChunkRequest['outputs']; segmentSeconds?: number; protocolWhitelist: string }): string[] {
  const { facts, chunk, outputs } = o;
  const seek = seekPoint(chunk, facts);
  const keys = segmentKeyTimes(chunk, facts, o.segmentSeconds);
  const stream = facts.videoStream === undefined ? '0:V:0' : `0:${facts.videoStream}`;
  // Deinterlacing and the time shift are the same for every rung: done once, before the split.
  const common = [...(facts.interlaced ? ['bwdif=mode=send_frame:parity=auto:deint=all'] : []), 'setpts=PTS-STARTPTS', `split=${outputs.length}`];
  const graph = [
    `[${stream}]${common.join(',')}${outputs.map((_, i) => `[s${i}]`).join('')}`,
    ...outputs.map(({ rendition: r }, i) => `[s${i}]${rungFilters(facts, r).join(',')}[v${i}]`),
  ].join(';');
  return [
    '-hide_banner', '-nostdin', '-v', 'level+warning', '-nostats', '-progress', 'pipe:1', '-y',
    '-protocol_whitelist', o.protocolWhitelist, '-ss', secs(seek), '-i', o.inputArg, '-filter_complex', graph,
    ...outputs.flatMap(({ rendition: r, out }, i) => [
      '-map', `[v${i}]`, '-an', '-sn', '-dn', '-map_chapters', '-1', '-frames:v', String(chunk.frames), '-fps_mode', 'passthrough', '-enc_time_base:v', '-1',
      ...videoCodecArgs(r, { fps: facts.fps, segmentSeconds: o.segmentSeconds }),
      ...(keys.length ? ['-force_key_frames', keys.map((t) => secs(t - KEY_SLACK)).join(',')] : []),
      '-video_track_timescale', String(trackTimescale(facts.timeBase)), '-f', 'mp4', out,
    ]),
  ];
}

/**
 * Encodes the chunk for every rung and checks each output against the plan. Rungs whose encoder
 * cannot force the segment keyframes (AV1 here) are encoded on their own, in parts.
 */
export async function encodeChunkLadder(req: LadderChunkRequest): Promise<ChunkReport[]> {
  const { chunk, facts } = req;
  const keyTimes = segmentKeyTimes(chunk, facts, req.segmentSeconds);
  const together = req.outputs.filter((o) => !keyTimes.length || canForceKeyframes(o.rendition.codec));
  const alone = req.outputs.filter((o) => !together.includes(o));
  const reports: ChunkReport[] = [];
  const share = together.length / req.outputs.length;
  if (together.length > 0) {
    const started = performance.now();
    const args = ladderChunkArgs({ inputArg: ffmpegInputArg(req.input), facts, chunk, outputs: together, ...(req.segmentSeconds !== undefined && { segmentSeconds: req.segmentSeconds }), protocolWhitelist: PROTOCOL_WHITELIST });
    const names = together.map((o) => o.rendition.name).join(', ');
    await runEncode(args, {
      input: req.input, action: `could not encode chunk ${chunk.index} (${names}) of`, duration: chunk.end - chunk.start, signal: req.signal, onLog: req.onLog,
      onProgress: (f, fps, speed) => req.onProgress?.(f * share, fps, speed),
    });
    const encodeSeconds = (performance.now() - started) / 1000;
    for (const o of together) {
      const check = await checkChunk(o.out, { chunk, rendition: o.rendition.name, keyTimes, signal: req.signal });
      reports.push({ index: chunk.index, rendition: o.rendition.name, path: o.out, bytes: (await stat(o.out)).size, encodeSeconds, check });
    }
    req.onLog?.(`chunk ${chunk.index}: ${names} from one decode in ${encodeSeconds.toFixed(2)} s`);
  }
  for (const [i, o] of alone.entries()) {
    const base = share + (i / req.outputs.length);
    reports.push(await encodeVideoChunk({ ...req, rendition: o.rendition, out: o.out, onProgress: (f, fps, speed) => req.onProgress?.(base + f / req.outputs.length, fps, speed) }));
  }
  return reports;
}
