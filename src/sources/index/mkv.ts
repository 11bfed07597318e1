// Matroska/WebM keyframes: Cues list, per video keyframe, its time and its Cluster (and the
// block's position inside the Cluster). For each requested time the cue at or before it is
// followed to its Cluster: the Cluster head gives the base Timestamp, the block at
// CueRelativePosition (or, without one, the first keyframe block found walking the Cluster's
// children by header) gives the frame's bytes. Blocks are never read beyond their headers here.
import { VidfleetError } from '../../protocol/index.js';
import { annexB, parseCodecConfig } from './codec-config.js';
import { children, elementAt, ID, readElement, uint, vint, type ElementHeader } from './ebml.js';
import { corrupt, truncated, unsupported, type IndexSource } from './index-source.js';
import { loadElement, readMkvHead, type MkvHead } from './mkv-head.js';
import { atOrBefore } from './pick.js';
import type { IndexedCodec, KeyframeIndex, KeyframeSample } from './types.js';

const CODECS: Record<string, IndexedCodec> = { 'V_MPEG4/ISO/AVC': 'h264', 'V_MPEGH/ISO/HEVC': 'hevc' };

interface Cue {
  /** Seconds. */
  time: number;
  cluster: number;
  relative: number | null;
}

async function readCues(src: IndexSource, head: MkvHead, track: number): Promise<Cue[]> {
  const { el, buf } = await loadElement(src, head.cues!, 'Cues element');
  const cues: Cue[] = [];
  for (const point of children(buf, 0, buf.length, el.data, src.label)) {
    if (point.id !== ID.CuePoint) continue;
    let time = -1;
    const positions: Array<{ track: number; cluster: number; relative: number | null }> = [];
    for (const c of children(buf, point.local, point.local + point.size!, el.data, src.label)) {
      if (c.id === ID.CueTime) time = uint(buf, c.local, c.size!);
      if (c.id !== ID.CueTrackPositions) continue;
      const p = { track: 0, cluster: -1, relative: null as number | null };
      for (const f of children(buf, c.local, c.local + c.size!, el.data, src.label)) {
        if (f.id === ID.CueTrack) p.track = uint(buf, f.local, f.size!);
        if (f.id === ID.CueClusterPosition) p.cluster = uint(buf, f.local, f.size!);
        if (f.id === ID.CueRelativePosition) p.relative = uint(buf, f.local, f.size!);
      }
      positions.push(p);
    }
    const mine = positions.find((p) => p.track === track && p.cluster >= 0);
    if (time >= 0 && mine) cues.push({ time: (time * head.timestampScale) / 1e9, cluster: head.segmentData + mine.cluster, relative: mine.relative });
  }
  return cues.sort((a, b) => a.time - b.time);
}

/** A block's header fields: the frame's file range and timestamp; null if not our track's block. */
async function blockAt(src: IndexSource, el: ElementHeader, track: number): Promise<{ offset: number; size: number; rel: number; key: boolean } | null> {
  let block = el;
  if (el.id === ID.BlockGroup) {
    // The Block is the group's first child in every muxer we know; ReferenceBlock (which would
    // mark a non-keyframe) follows the frame data, and the cue already says this is a keyframe.
    const inner = await readElement(src, el.data, 0);
    if (inner.id !== ID.Block) return null;
    block = inner;
  } else if (el.id !== ID.SimpleBlock) return null;
  if (block.size === null) throw corrupt(src.label, `block at byte ${block.start} has an unknown size`);
  const head = await src.bytes(block.data, 12, 0);
  const tn = vint(head, 0);
  if (!tn || tn.value !== track || head.length < tn.length + 3) return null;
  const p = tn.length;
  const rel = head.readInt16BE(p);
  const flags = head[p + 2]!;
  if (flags & 0x06) throw unsupported(src.label, 'its video blocks use lacing', 'lacing');
  const frame = block.data + p + 3;
  return { offset: frame, size: block.data + block.size - frame, rel, key: el.id === ID.BlockGroup || (flags & 0x80) !== 0 };
}

async function keyframeOfCue(src: IndexSource, head: MkvHead, cue: Cue, track: number): Promise<{ time: number; offset: number; size: number }> {
  // The Cluster head, its Timestamp, and often the keyframe's block header, in one small read.
  const clusterHead = await src.bytes(cue.cluster, 96, 0);
  const cluster = elementAt(clusterHead, 0, cue.cluster, src.label);
  if (!cluster || cluster.id !== ID.Cluster) {
    if (cue.cluster >= src.size) throw truncated(src.label, `Cluster at byte ${cue.cluster} (named by Cues)`, cue.cluster + 1, src.size);
    throw corrupt(src.label, `Cues point at byte ${cue.cluster}, which is not a Cluster`);
  }
  const clusterEnd = cluster.size === null ? src.size : Math.min(src.size, cluster.data + cluster.size);
  let base: number | null = null;
  let candidate: Awaited<ReturnType<typeof blockAt>> = null;
  if (cue.relative !== null) {
    const el = await readElement(src, cluster.data + cue.relative, 0);
    candidate = await blockAt(src, el, track);
  }
  // Walk the Cluster's children: the Timestamp always, the blocks only without a usable cue position.
  let pos = cluster.data;
  while (pos < clusterEnd && (base === null || !candidate)) {
    const el = await readElement(src, pos, 0);
    if (el.id === ID.Cluster || el.size === null) break;
    if (el.id === ID.Timestamp) base = uint(await src.bytes(el.data, el.size, 0), 0, el.size);
    else if (!candidate && (el.id === ID.SimpleBlock || el.id === ID.BlockGroup)) {
      const b = await blockAt(src, el, track);
      if (b?.key && (base === null || Math.abs(((base + b.rel) * head.timestampScale) / 1e9 - cue.time) < 1e-6)) candidate = b;
    }
    pos = el.data + el.size;
  }
  if (base === null) throw corrupt(src.label, `Cluster at byte ${cue.cluster} has no Timestamp`);
  if (!candidate) throw corrupt(src.label, `no keyframe of track ${track} in the Cluster at byte ${cue.cluster} that Cues name for ${cue.time.toFixed(3)} s`);
  if (candidate.offset + candidate.size > src.size) throw truncated(src.label, `keyframe at ${cue.time.toFixed(3)} s`, candidate.offset + candidate.size, src.size);
  return { time: ((base + candidate.rel) * head.timestampScale) / 1e9, offset: candidate.offset, size: candidate.size };
}

export async function locateMkv(src: IndexSource, times: readonly number[]): Promise<Omit<KeyframeIndex, 'indexBytes'>> {
  const head = await readMkvHead(src);
  const video = head.video;
  if (!video) throw new VidfleetError('NOT_A_VIDEO', `${src.label} has no video track.`);
  const codec = CODECS[video.codecId];
  if (!codec) throw unsupported(src.label, `its video codec is ${video.codecId || 'not named'}, not H.264 or HEVC`, 'codec');
  if (video.encoded) throw unsupported(src.label, 'its video track is compressed or encrypted (ContentEncodings)', 'encoded');
  if (head.cues === null) throw unsupported(src.label, `it has no Cues (no keyframe index; ${head.duration === null ? 'a live recording' : 'muxed without one'})`, 'no-cues');
  const cues = await readCues(src, head, video.number);
  if (!cues.length) throw unsupported(src.label, `its Cues list no keyframe of video track ${video.number}`, 'no-cues');
  const config = video.codecPrivate ? parseCodecConfig(codec, video.codecPrivate) : { nalLengthSize: 0, nals: [] };
  const found = new Map<Cue, { time: number; offset: number; size: number }>();
  const keyframes: KeyframeSample[] = [];
  for (const t of times) {
    const cue = cues[atOrBefore(cues, t)]!;
    let kf = found.get(cue);
    if (!kf) found.set(cue, (kf = await keyframeOfCue(src, head, cue, video.number)));
    keyframes.push({ requestedTime: t, ...kf });
  }
  return {
    container: 'mkv',
    codec,
    width: video.width,
    height: video.height,
    duration: head.duration,
    timescale: 1e9 / head.timestampScale,
    trackId: video.number,
    rotation: 0,
    color: video.color,
    sampleAspect: video.sampleAspect,
    parameterSets: annexB(config.nals),
    nalLengthSize: config.nalLengthSize,
    keyframes,
  };
}
