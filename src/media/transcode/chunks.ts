// Pure planning: where the source is cut into chunks, and what size each rendition comes out.
// Chunks start on source keyframes only so that a chunk's accurate seek decodes no GOP of the
// previous chunk, and end where the next one starts; their encode is frame-exact either way.
import { VidfleetError } from '../../protocol/index.js';
import { validateRateControl } from './encode-args.js';
import type { ChunkPlan, RenditionSpec, ResolvedRendition, SourceFacts } from './types.js';

/** One displayed frame of the source: pts (s, as -ss counts) and whether it is a keyframe. */
export interface FrameInfo {
  pts: number;
  key: boolean;
}

export interface ChunkOptions {
  /** Wanted chunk length (s); 0 or a non-finite value gives one chunk. */
  targetSeconds: number;
  /** No chunk is shorter than this (s); a short tail joins the previous chunk. */
  minSeconds: number;
  /** Where the last frame ends (s); default its pts plus the median frame interval. */
  end?: number;
}

/** Median gap between consecutive frames (s), 0 for fewer than two frames. */
export function medianInterval(frames: readonly FrameInfo[]): number {
  if (frames.length < 2) return 0;
  const deltas = frames.slice(1).map((f, i) => f.pts - frames[i]!.pts).sort((a, b) => a - b);
  const mid = deltas.length >> 1;
  return deltas.length % 2 ? deltas[mid]! : (deltas[mid - 1]! + deltas[mid]!) / 2;
}

/**
 * Where the video ends: the last frame lasts the median interval. Not the last gap, which in a
 * cut broadcast recording can be a hole (corpus file 19 ends 74, 77 in frame units).
 */
export function videoEnd(frames: readonly FrameInfo[]): number {
  const last = frames[frames.length - 1];
  return last ? last.pts + medianInterval(frames) : 0;
}

export function planChunks(frames: readonly FrameInfo[], options: ChunkOptions): ChunkPlan[] {
  if (!frames.length) throw new VidfleetError('INVALID_PARAMS', 'planChunks needs at least one frame; the source has no displayed video frame.');
  const end = options.end ?? videoEnd(frames);
  const t0 = frames[0]!.pts;
  const target = options.targetSeconds;
  const min = Number.isFinite(options.minSeconds) && options.minSeconds > 0 ? options.minSeconds : 0;
  const keys: number[] = [];
  for (let i = 1; i < frames.length; i++) if (frames[i]!.key) keys.push(i);

  const starts = [0];
  if (Number.isFinite(target) && target > 0) {
    for (let k = 1; t0 + k * target < end; k++) {
      const want = t0 + k * target;
      const prev = frames[starts[starts.length - 1]!]!.pts;
      let best = -1;
      for (const i of keys) {
        const pts = frames[i]!.pts;
        if (pts <= prev || pts - prev < min) continue;
        if (best === -1 || Math.abs(pts - want) < Math.abs(frames[best]!.pts - want)) best = i;
        else if (pts > want) break; // keys ascend: every later one is farther
      }
      if (best !== -1 && best !== starts[starts.length - 1]) starts.push(best);
    }
    // The tail after the last cut is merged back while it is too short to stand alone.
    while (starts.length > 1 && end - frames[starts[starts.length - 1]!]!.pts < min) starts.pop();
  }

  return starts.map((first, index) => {
    const next = starts[index + 1] ?? frames.length;
    const start = frames[first]!.pts;
    const before = first > 0 ? frames[first - 1]!.pts : start - (frames.length > 1 ? frames[1]!.pts - start : 0);
    return {
      index,
      start,
      end: next < frames.length ? frames[next]!.pts : end,
      firstFrame: first,
      frames: next - first,
      last: frames[next - 1]!.pts,
      seekFrom: (before + start) / 2,
    };
  });
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Nearest even number ≥ 2 that is not above `limit` rounded down to even (4:2:0 needs even sizes). */
function even(value: number, limit: number): number {
  const cap = Math.max(2, 2 * Math.floor(limit / 2));
  return Math.min(cap, Math.max(2, 2 * Math.round(value / 2)));
}

function positiveInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/**
 * Fixes each rung's output size from the source's display size (sample aspect and rotation
 * applied: the encoder sees the picture after ffmpeg's autorotate). A missing dimension keeps
 * the display aspect; a rung larger than the source is shrunk to fit inside it keeping the
 * rung's own aspect, so nothing is ever upscaled.
 */
export function resolveRenditions(facts: SourceFacts, specs: readonly RenditionSpec[]): ResolvedRendition[] {
  if (!specs.length) throw new VidfleetError('INVALID_PARAMS', 'renditions: give at least one rendition.');
  const dw = facts.displayWidth;
  const dh = facts.displayHeight;
  if (!(dw > 0 && dh > 0)) throw new VidfleetError('INVALID_PARAMS', `The source has no display size (${dw}x${dh}); it cannot be scaled.`);
  const seen = new Set<string>();
  return specs.map((spec, i) => {
    const where = `renditions[${i}]`;
    if (typeof spec.name !== 'string' || !NAME.test(spec.name)) {
      throw new VidfleetError('INVALID_PARAMS', `${where}.name "${String(spec.name)}" must be 1-64 letters, digits, '.', '_' or '-' (it names files), starting with a letter or digit.`);
    }
    if (seen.has(spec.name)) throw new VidfleetError('INVALID_PARAMS', `${where}.name "${spec.name}" is used twice; rendition names must be unique.`);
    seen.add(spec.name);
    for (const dim of ['width', 'height'] as const) {
      if (spec[dim] !== undefined && !positiveInt(spec[dim])) throw new VidfleetError('INVALID_PARAMS', `${where}.${dim} must be a positive integer (got ${String(spec[dim])}).`);
    }
    validateRateControl(spec, where);
    let w = spec.width ?? (spec.height !== undefined ? (spec.height * dw) / dh : dw);
    let h = spec.height ?? (spec.width !== undefined ? (spec.width * dh) / dw : dh);
    if (w > dw || h > dh) {
      const f = Math.min(dw / w, dh / h);
      w *= f;
      h *= f;
    }
    return { ...spec, width: even(w, dw), height: even(h, dh) };
  });
}
