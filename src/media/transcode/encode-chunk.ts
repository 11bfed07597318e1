// One (chunk × rendition) video encode, read straight from the source (a local path, or the
// coordinator's HTTP URL: ffmpeg seeks it with range requests), then checked against its plan
// before the task reports success, so a bad chunk is retried here and not found at the merge.
import { rm, stat } from 'node:fs/promises';
import { classifyFailure } from '../errors.js';
import { ffmpegBinary, ffmpegInputArg, PROTOCOL_WHITELIST, runProcess } from '../process.js';
import { createProgressParser } from '../progress.js';
import { checkChunk, listPackets } from './checks.js';
import { canForceKeyframes, KEY_SLACK, seekPoint, segmentKeyTimes, trackTimescale, videoChunkArgs } from './encode-args.js';
import { concatCopy } from './merge.js';
import type { ChunkPlan, ChunkReport, ResolvedRendition, SourceFacts } from './types.js';

export interface EncodeChunkRequest {
  input: string;
  facts: SourceFacts;
  chunk: ChunkPlan;
  rendition: ResolvedRendition;
  /** HLS/DASH segment length (s): keyframes are forced at its multiples. */
  segmentSeconds?: number;
  out: string;
  signal?: AbortSignal;
  onProgress?: (fraction: number, fps?: number, speed?: number) => void;
  onLog?: (line: string) => void;
}

/** Runs one ffmpeg whose stdout is `-progress pipe:1`; shared by the video and audio encodes. */
export async function runEncode(
  args: string[],
  o: { input: string; action: string; duration: number; signal?: AbortSignal; onProgress?: (fraction: number, fps?: number, speed?: number) => void; onLog?: (line: string) => void },
): Promise<void> {
  const parser = createProgressParser(
    (s) => {
      if (s.progress !== null) o.onProgress?.(s.progress, s.fps ?? undefined, s.speed ?? undefined);
    },
    { duration: o.duration },
  );
  const res = await runProcess(ffmpegBinary(), args, { signal: o.signal, onStdout: (t) => parser.push(t), onStderrLine: o.onLog });
  parser.end();
  if (res.exitCode !== 0) {
    throw classifyFailure({ tool: 'ffmpeg', input: o.input, inputArg: args[args.indexOf('-i') + 1], stderr: res.stderr, exitCode: res.exitCode, action: o.action });
  }
}

/**
 * Encodes a chunk as one part per segment (for encoders that ignore forced keyframes), then
 * joins the parts. Each part is placed by where its first frame really is: its timestamps stay
 * relative to its seek point, which is known.
 */
async function encodeInParts(req: EncodeChunkRequest, keyTimes: number[], action: string): Promise<void> {
  const { chunk, facts } = req;
  const froms = [seekPoint(chunk, facts), ...keyTimes.map((t) => chunk.start + t - KEY_SLACK)];
  const parts: { path: string; at: number }[] = [];
  let done = 0;
  try {
    for (let i = 0; i < froms.length; i++) {
      const last = i === froms.length - 1;
      const part = { from: froms[i]!, seconds: last ? null : froms[i + 1]! - froms[i]!, frames: last ? chunk.frames - done : null };
      if (part.frames !== null && part.frames <= 0) break;
      const path = `${req.out}.part${i}.mp4`;
      const args = videoChunkArgs({ inputArg: ffmpegInputArg(req.input), facts, chunk, rendition: req.rendition, out: path, protocolWhitelist: PROTOCOL_WHITELIST, part });
      const span = (last ? chunk.end : froms[i + 1]!) - froms[i]!;
      const offset = froms[i]! - froms[0]!;
      const total = chunk.end - froms[0]!;
      await runEncode(args, { ...req, action, duration: span, onProgress: (f, fps, speed) => req.onProgress?.((offset + f * span) / total, fps, speed) });
      const video = (await listPackets(path, req.signal)).find((s) => s.type === 'video');
      const shown = video ? video.pts.filter((_, k) => !video.discard[k]) : [];
      if (!shown.length) continue; // a segment shorter than a frame interval
      parts.push({ path, at: froms[i]! + Math.min(...shown) });
      done += shown.length;
    }
    const files = parts.map((p, i) => ({ path: p.path, duration: (parts[i + 1]?.at ?? chunk.end) - p.at }));
    await concatCopy(files, { out: req.out, timescale: trackTimescale(facts.timeBase), action, signal: req.signal, onLog: req.onLog });
  } finally {
    await Promise.all(froms.map((_, i) => rm(`${req.out}.part${i}.mp4`, { force: true })));
  }
}

export async function encodeVideoChunk(req: EncodeChunkRequest): Promise<ChunkReport> {
  const { chunk, rendition, facts } = req;
  const keyTimes = segmentKeyTimes(chunk, facts, req.segmentSeconds);
  const action = `could not encode chunk ${chunk.index} (${rendition.name}) of`;
  const started = performance.now();
  if (keyTimes.length && !canForceKeyframes(rendition.codec)) {
    req.onLog?.(`chunk ${chunk.index}: ${rendition.codec} ignores forced keyframes here; encoding ${keyTimes.length + 1} parts, one per segment`);
    await encodeInParts(req, keyTimes, action);
  } else {
    const args = videoChunkArgs({ inputArg: ffmpegInputArg(req.input), facts, chunk, rendition, segmentSeconds: req.segmentSeconds, out: req.out, protocolWhitelist: PROTOCOL_WHITELIST });
    await runEncode(args, { input: req.input, action, duration: chunk.end - chunk.start, signal: req.signal, onProgress: req.onProgress, onLog: req.onLog });
  }
  const encodeSeconds = (performance.now() - started) / 1000;
  const check = await checkChunk(req.out, { chunk, rendition: rendition.name, keyTimes, signal: req.signal });
  req.onLog?.(`chunk ${chunk.index} (${rendition.name}): ${check.frames} frames, ${check.keyframes} keyframes, ${encodeSeconds.toFixed(2)} s`);
  return { index: chunk.index, rendition: rendition.name, path: req.out, bytes: (await stat(req.out)).size, encodeSeconds, check };
}
