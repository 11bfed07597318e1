// Proof that a chunk, and then the merged rendition, is what the plan says: frame counts,
// keyframes, timestamps, seams and A/V alignment, all from packet headers (nothing decoded).
// Each check returns its report and throws, with the failing chunk named, when it fails.
import { VidfleetError } from '../../protocol/index.js';
import { classifyFailure } from '../errors.js';
import { ffmpegInputArg, ffprobeBinary, runProcess } from '../process.js';
import { KEY_SLACK } from './encode-args.js';
import type { ChunkCheck, ChunkPlan, MergeCheck, SourceFacts } from './types.js';

/** One stream's packets in file order; times in seconds as stored (not shifted). */
export interface StreamPackets {
  index: number;
  type: string;
  /** Stream start and duration as ffprobe reports them (edit lists applied), null when absent. */
  start: number | null;
  duration: number | null;
  /** CRC32 of the codec's global header (SPS/PPS…), null when it has none. */
  extradata: string | null;
  pts: number[];
  dts: number[];
  size: number[];
  key: boolean[];
  discard: boolean[];
}

const field = (line: string, key: string): string | undefined => line.split('|').find((p) => p.startsWith(`${key}=`))?.slice(key.length + 1);
const numOrNull = (v: string | undefined): number | null => (v === undefined || v === 'N/A' || v === '' ? null : Number.isFinite(Number(v)) ? Number(v) : null);

/** Parses `ffprobe -of compact` stream and packet lines (packets come before the streams). */
export function parsePacketListing(text: string): StreamPackets[] {
  const raw = new Map<number, { pts: number[]; dts: number[]; size: number[]; key: boolean[]; discard: boolean[] }>();
  const streams: StreamPackets[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('packet|')) {
      const s = Number(field(line, 'stream_index'));
      let p = raw.get(s);
      if (!p) raw.set(s, (p = { pts: [], dts: [], size: [], key: [], discard: [] }));
      const flags = field(line, 'flags') ?? '';
      p.pts.push(numOrNull(field(line, 'pts')) ?? NaN);
      p.dts.push(numOrNull(field(line, 'dts')) ?? NaN);
      p.size.push(Number(field(line, 'size')));
      p.key.push(flags.includes('K'));
      p.discard.push(flags.includes('D'));
    } else if (line.startsWith('stream|')) {
      const tb = /^(\d+)\/(\d+)$/.exec(field(line, 'time_base') ?? '');
      const tick = tb ? Number(tb[1]) / Number(tb[2]) : 1;
      const index = Number(field(line, 'index'));
      const p = raw.get(index) ?? { pts: [], dts: [], size: [], key: [], discard: [] };
      streams.push({
        index,
        type: field(line, 'codec_type') ?? 'unknown',
        start: numOrNull(field(line, 'start_time')),
        duration: numOrNull(field(line, 'duration')),
        extradata: field(line, 'extradata_hash') ?? null,
        pts: p.pts.map((v) => v * tick),
        dts: p.dts.map((v) => v * tick),
        size: p.size,
        key: p.key,
        discard: p.discard,
      });
    }
  }
  return streams;
}

export async function listPackets(path: string, signal?: AbortSignal): Promise<StreamPackets[]> {
  const arg = ffmpegInputArg(path);
  const args = ['-v', 'error', '-protocol_whitelist', 'file', '-show_data_hash', 'CRC32', '-show_entries', 'stream=index,codec_type,time_base,start_time,duration,extradata_hash:packet=stream_index,pts,dts,size,flags', '-of', 'compact', arg];
  const res = await runProcess(ffprobeBinary(), args, { signal, timeoutMs: 10 * 60_000 });
  if (res.exitCode !== 0) throw classifyFailure({ tool: 'ffprobe', input: path, inputArg: arg, stderr: res.stderr, exitCode: res.exitCode, action: 'could not list the packets of' });
  return parsePacketListing(res.stdout);
}

/** Shown packets of a stream: display times ascending, and their file-order positions. */
function shown(s: StreamPackets): { pts: number[]; order: number[] } {
  const order = s.pts.map((_, i) => i).filter((i) => !s.discard[i]);
  order.sort((a, b) => s.pts[a]! - s.pts[b]!);
  return { pts: order.map((i) => s.pts[i]!), order };
}

const ms = (s: number): string => `${(s * 1000).toFixed(1)} ms`;

export interface ChunkCheckOptions {
  chunk: ChunkPlan;
  rendition: string;
  /** Segment starts (s, relative to the chunk) that must be keyframes. */
  keyTimes?: number[];
}

/** The chunk rules on an already listed video stream (pure, so each rule is unit-tested). */
export function assessChunk(v: StreamPackets, o: ChunkCheckOptions): ChunkCheck {
  const { chunk } = o;
  const problems: string[] = [];
  const { pts, order } = shown(v);
  const half = (chunk.end - chunk.start) / Math.max(1, chunk.frames) / 2;
  const kept = v.key.map((_, i) => i).filter((i) => !v.discard[i]);
  if (pts.length !== chunk.frames) problems.push(`has ${pts.length} frames, the plan says ${chunk.frames}`);
  const firstIsKey = kept.length > 0 && v.key[kept[0]!]! && order.length > 0 && v.key[order[0]!]!;
  if (!firstIsKey) problems.push('does not start with a keyframe');
  if (pts.some(Number.isNaN) || pts.some((p, i) => i > 0 && p <= pts[i - 1]!)) problems.push('has missing or repeated presentation timestamps');
  const dts = kept.map((i) => v.dts[i]!);
  if (dts.some((d, i) => Number.isNaN(d) || (i > 0 && d <= dts[i - 1]!))) problems.push('has decode timestamps that do not increase');
  const firstPts = pts[0] ?? NaN;
  const lastPts = pts[pts.length - 1] ?? NaN;
  if (!(Math.abs(firstPts) <= half)) problems.push(`starts at ${ms(firstPts)} instead of 0`);
  const wantLast = chunk.last === undefined ? null : chunk.last - chunk.start;
  if (wantLast !== null && !(Math.abs(lastPts - firstPts - wantLast) <= half)) problems.push(`ends at ${ms(lastPts - firstPts)}, the plan's last frame is at ${ms(wantLast)}`);
  if (wantLast === null && !(lastPts - firstPts < chunk.end - chunk.start)) problems.push('reaches into the next chunk');
  // A boundary past the chunk's last frame is the next chunk's first frame, a keyframe by plan.
  const missingSegmentKeys = (o.keyTimes ?? []).filter((t) => {
    const at = pts.findIndex((p) => p - firstPts >= t - KEY_SLACK);
    return at !== -1 && !v.key[order[at]!];
  });
  if (missingSegmentKeys.length) problems.push(`has no keyframe at segment start(s) ${missingSegmentKeys.map((t) => `${t.toFixed(3)} s`).join(', ')}`);
  return { ok: problems.length === 0, problems, frames: pts.length, expectedFrames: chunk.frames, firstIsKey, firstPts, lastPts, keyframes: order.filter((i) => v.key[i]).length, missingSegmentKeys };
}

export async function checkChunk(path: string, o: ChunkCheckOptions & { signal?: AbortSignal }): Promise<ChunkCheck> {
  const video = (await listPackets(path, o.signal)).find((s) => s.type === 'video');
  const report = video ? assessChunk(video, o) : { ok: false, problems: ['has no video stream'], frames: 0, expectedFrames: o.chunk.frames, firstIsKey: false, firstPts: NaN, lastPts: NaN, keyframes: 0, missingSegmentKeys: [] };
  if (!report.ok) {
    throw new VidfleetError('CHUNK_CHECK_FAILED', `Chunk ${o.chunk.index} of rendition ${o.rendition} ${report.problems.join('; ')}.`, {
      details: { chunk: o.chunk.index, rendition: o.rendition, report },
    });
  }
  return report;
}

export interface MergeCheckOptions {
  facts: SourceFacts;
  /** Every chunk of the plan; with `path` its packets must appear, unchanged, at its offset. */
  chunks: { plan: ChunkPlan; path?: string }[];
  rendition?: string;
  expectAudio: boolean;
  /** Segment length (s) whose multiples must start with a keyframe. */
  segmentSeconds?: number;
}

/** The first chunk index a plan list lacks (by index and by frame coverage), or null. */
export function missingChunk(plans: readonly ChunkPlan[], totalFrames: number): number | null {
  let frame = 0;
  for (let i = 0; i < plans.length; i++) {
    const p = plans[i]!;
    if (p.index !== i || p.firstFrame !== frame) return i;
    frame += p.frames;
  }
  return frame === totalFrames ? null : plans.length;
}

/** The merge rules on listed packets (the merged file's, and each chunk file's video when known). */
export function assessMerged(streams: StreamPackets[], chunkVideo: (StreamPackets | undefined)[], o: MergeCheckOptions): MergeCheck {
  const problems: string[] = [];
  let badChunk: number | null = null;
  const blame = (i: number, msg: string): void => {
    problems.push(`chunk ${i}: ${msg}`);
    if (badChunk === null) badChunk = i;
  };
  const plans = o.chunks.map((c) => c.plan).sort((a, b) => a.index - b.index);
  const hole = missingChunk(plans, o.facts.frames);
  if (hole !== null) blame(hole, 'is missing from the merge');
  const frameTime = 1 / (o.facts.fps > 0 ? o.facts.fps : 25);
  const v = streams.find((s) => s.type === 'video');
  const a = streams.find((s) => s.type === 'audio');
  const { pts, order } = v ? shown(v) : { pts: [], order: [] };
  const v0 = pts[0] ?? 0;
  const rel = pts.map((p) => p - v0);
  if (pts.length !== o.facts.frames) problems.push(`has ${pts.length} video frames, the source ${o.facts.frames}`);

  const base = plans[0]?.start ?? 0;
  const halfBefore = (p: ChunkPlan): number => (p.seekFrom === undefined ? frameTime / 2 : p.start - p.seekFrom);
  const chunkFrames: number[] = [];
  const windows: number[][] = [];
  let cursor = 0;
  plans.forEach((p, i) => {
    const from = i === 0 ? -Infinity : p.start - base - halfBefore(p);
    const next = plans[i + 1];
    const to = next ? next.start - base - halfBefore(next) : Infinity;
    while (cursor < rel.length && rel[cursor]! < from) cursor++;
    const idx: number[] = [];
    for (let k = cursor; k < rel.length && rel[k]! < to; k++) idx.push(k);
    windows.push(idx);
    chunkFrames.push(idx.length);
    if (idx.length !== p.frames) blame(p.index, `${idx.length} frames at ${(p.start - base).toFixed(3)}-${(p.end - base).toFixed(3)} s, the plan says ${p.frames}`);
    const cv = chunkVideo[i];
    if (!cv || !v) return;
    // The merged file keeps the first chunk's header for all: a chunk encoded with other
    // parameters would decode wrongly, so its header must be the same.
    if (cv.extradata !== v.extradata) blame(p.index, 'was encoded with codec parameters (SPS/PPS) that differ from the merged file\'s');
    // Stream copy (auto_convert off) keeps every packet's bytes, so the chunk's packet sizes in
    // file order must reappear in its window: a missing, doubled or swapped chunk cannot pass.
    const mine = cv.size.filter((_, k) => !cv.discard[k]).join(',');
    const here = idx.map((k) => order[k]!).sort((x, y) => x - y).map((k) => v.size[k]).join(',');
    if (mine !== here) blame(p.index, `the packets at ${(p.start - base).toFixed(3)} s are not the chunk file's`);
  });

  let worstSeamError = 0;
  for (let i = 1; i < plans.length; i++) {
    const prev = windows[i - 1]!;
    const cur = windows[i]!;
    if (!prev.length || !cur.length) continue;
    const gap = rel[cur[0]!]! - rel[prev[prev.length - 1]!]!;
    const p = plans[i]!;
    const q = plans[i - 1]!;
    // The plan knows the source's own gap at the seam; older plans fall back to the local interval.
    const expected = q.last !== undefined ? p.start - q.last : rel[cur[1] ?? cur[0]!]! - rel[cur[0]!]! || frameTime;
    const err = Math.abs(gap - expected);
    worstSeamError = Math.max(worstSeamError, err);
    if (err > halfBefore(p)) blame(p.index, `the seam before it is ${ms(gap)} wide, the source's is ${ms(expected)} (a frame missing or doubled)`);
  }

  if (v) {
    const dts = v.dts.filter((_, k) => !v.discard[k]);
    const bad = dts.findIndex((d, k) => Number.isNaN(d) || (k > 0 && d <= dts[k - 1]!));
    if (bad !== -1) problems.push(`video decode timestamps stop increasing at packet ${bad}`);
    for (let t = o.segmentSeconds ?? 0, k = 1; t > 0 && k * t < (rel[rel.length - 1] ?? 0); k++) {
      const at = rel.findIndex((r) => r >= k * t - KEY_SLACK);
      if (at !== -1 && !v.key[order[at]!]) problems.push(`no keyframe at segment start ${(k * t).toFixed(3)} s`);
    }
  }
  const vStart = v?.start ?? v0;
  const videoDuration = v?.duration ?? (rel.length ? rel[rel.length - 1]! + frameTime : 0);
  if (Math.abs(videoDuration - o.facts.duration) > frameTime) problems.push(`video lasts ${videoDuration.toFixed(3)} s, the source ${o.facts.duration.toFixed(3)} s`);
  let audioOffset: number | null = null;
  let audioDuration: number | null = null;
  if (a) {
    const kept = a.pts.filter((_, k) => !a.discard[k]);
    audioOffset = (a.start ?? Math.min(...kept)) - vStart;
    audioDuration = a.duration ?? 0;
    if (Math.abs(audioOffset) > frameTime) problems.push(`audio starts ${ms(audioOffset)} from the video (more than a frame)`);
    if (Math.abs(audioDuration - videoDuration) > frameTime) problems.push(`audio lasts ${audioDuration.toFixed(3)} s, the video ${videoDuration.toFixed(3)} s`);
  } else if (o.expectAudio) {
    problems.push('has no audio stream');
  }
  return { ok: problems.length === 0, problems, frames: pts.length, expectedFrames: o.facts.frames, chunkFrames, badChunk, worstSeamError, videoDuration, expectedDuration: o.facts.duration, audioOffset, audioDuration };
}

export async function checkMerged(path: string, o: MergeCheckOptions & { signal?: AbortSignal }): Promise<MergeCheck> {
  const streams = await listPackets(path, o.signal);
  const chunkVideo: (StreamPackets | undefined)[] = [];
  for (const c of [...o.chunks].sort((x, y) => x.plan.index - y.plan.index)) {
    chunkVideo.push(c.path ? (await listPackets(c.path, o.signal)).find((s) => s.type === 'video') : undefined);
  }
  const report = assessMerged(streams, chunkVideo, o);
  if (!report.ok) {
    const who = o.rendition ? `Rendition ${o.rendition}` : path;
    const where = report.badChunk === null ? '' : ` at chunk ${report.badChunk}`;
    throw new VidfleetError('MERGE_CHECK_FAILED', `${who} failed the merge check${where}: ${report.problems.slice(0, 5).join('; ')}.`, {
      details: { rendition: o.rendition ?? null, chunk: report.badChunk, report },
    });
  }
  return report;
}
