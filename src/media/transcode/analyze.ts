// The plan task's look at the source: one ffprobe of the streams, one pass over the video's
// packet headers (nothing decoded), giving the facts every later task needs and the
// display-order frame list the chunk planner cuts.
import { VidfleetError } from '../../protocol/index.js';
import { normaliseProbe, probeRaw, type RawStream } from '../probe.js';
import { readPackets, tickSeconds, type PacketTimeline } from '../packets.js';
import { frameTiming } from '../timing.js';
import { medianInterval, videoEnd, type FrameInfo } from './chunks.js';
import type { SourceFacts } from './types.js';

export interface AnalyzeOptions {
  signal?: AbortSignal;
  onLog?: (line: string) => void;
}

export interface Analysis {
  facts: SourceFacts;
  frames: FrameInfo[];
}

/**
 * The frames a decoder shows, in display order, as ffmpeg's -ss counts time (container start =
 * 0). Left out: edit-list pre-roll, and everything before the first keyframe in decode order
 * plus pictures shown before it: a recording cut mid-GOP (DVB capture, corpus file 19) starts
 * with 14 P/B packets and two leading B-frames that reference pictures the file does not have.
 */
export function displayFrames(t: PacketTimeline): FrameInfo[] {
  const tick = tickSeconds(t);
  // Some demuxers (MXF) stamp only some packets with a pts; dts then has the same spacing.
  const usePts = t.pts.every((v, i) => t.discard[i] || !Number.isNaN(v));
  const at = (i: number): number => (usePts ? t.pts[i]! : t.dts[i]!);
  const firstKey = t.key.findIndex((k, i) => k && !t.discard[i] && !Number.isNaN(at(i)));
  if (firstKey === -1) return [];
  const from = at(firstKey);
  const frames: FrameInfo[] = [];
  for (let i = firstKey; i < t.key.length; i++) {
    const ts = at(i);
    if (t.discard[i] || Number.isNaN(ts) || ts < from) continue;
    frames.push({ pts: ts * tick - t.startTime, key: t.key[i]! });
  }
  return frames.sort((a, b) => a.pts - b.pts);
}

const startOf = (s: RawStream, formatStart: number): number => {
  const v = Number((s as RawStream & { start_time?: string }).start_time);
  return Number.isFinite(v) ? v - formatStart : 0;
};

export async function analyzeSource(input: string, options: AnalyzeOptions = {}): Promise<Analysis> {
  const raw = await probeRaw(input, { signal: options.signal });
  const report = normaliseProbe(raw);
  const primary = report.primaryVideo === null ? undefined : report.streams[report.primaryVideo];
  if (report.container.format === 'tty' || !primary?.video) {
    const kinds = report.streams.map((s) => s.type).join(', ') || 'no streams';
    throw new VidfleetError('NOT_A_VIDEO', `${input} is not a usable video: it has no decodable video stream (it has ${kinds}). Check that this is the right file.`, {
      details: { streams: report.streams.map((s) => s.type) },
    });
  }
  for (const w of report.warnings) options.onLog?.(`probe: ${w}`);
  const v = primary.video;
  const timeline = await readPackets(input, { signal: options.signal, stream: primary.index });
  const frames = displayFrames(timeline);
  if (!frames.length) throw new VidfleetError('INPUT_CORRUPT', `${input}: its video stream #${primary.index} has no keyframe with a timestamp, so no frame can be decoded on its own. Re-export the file.`);
  const dropped = timeline.key.length - frames.length;
  if (dropped > 0) options.onLog?.(`analyse: ${dropped} of ${timeline.key.length} video packets are not shown (edit-list pre-roll, or before the first keyframe)`);

  const videoStart = frames[0]!.pts;
  const duration = videoEnd(frames) - videoStart;
  const formatStart = Number(raw.format?.start_time);
  const fStart = Number.isFinite(formatStart) ? formatStart : 0;

  let audio: SourceFacts['audio'] = null;
  const audios = report.streams.filter((s) => s.type === 'audio');
  const chosen = report.primaryAudio === null ? undefined : report.streams[report.primaryAudio];
  if (chosen) {
    const rawAudio = (raw.streams ?? []).find((s) => s.index === chosen.index) ?? {};
    audio = {
      index: chosen.index,
      start: startOf(rawAudio, fStart),
      channels: chosen.audio?.channels ?? 2,
      sampleRate: chosen.audio?.sampleRate ?? 48_000,
      codec: chosen.codec ?? 'unknown',
      count: audios.length,
      isDefault: chosen.isDefault,
    };
    const why = chosen.isDefault ? 'it is flagged default' : 'it is the first (none is flagged default)';
    options.onLog?.(`analyse: audio stream #${chosen.index} (${audio.codec}, ${audio.channels} ch) of ${audios.length} is used: ${why}`);
  } else {
    options.onLog?.('analyse: the source has no audio stream; the renditions are video only');
  }

  const facts: SourceFacts = {
    duration,
    frames: frames.length,
    codedWidth: v.width,
    codedHeight: v.height,
    displayWidth: v.displayWidth,
    displayHeight: v.displayHeight,
    rotation: v.rotation,
    fps: duration > 0 ? frames.length / duration : medianInterval(frames) > 0 ? 1 / medianInterval(frames) : 25,
    vfr: frameTiming(timeline).vfr,
    interlaced: v.interlaced,
    timeBase: timeline.timeBase,
    videoStart,
    videoStream: primary.index,
    color: { hdr: v.hdr, colorSpace: v.colorSpace, colorPrimaries: v.colorPrimaries, bitDepth: v.bitDepth },
    maxFrameInterval: frames.reduce((max, f, i) => (i > 0 ? Math.max(max, f.pts - frames[i - 1]!.pts) : max), 0),
    audio,
  };
  return { facts, frames };
}
