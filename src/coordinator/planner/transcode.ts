// The transcode graph, built when the plan task reports (a graph expander, run inside the plan's
// completion transaction). What the worker reports is checked here before any task is made from
// it: a plan whose chunks leave a gap or overlap would publish a rendition with missing or
// doubled frames, so it fails the job instead.
//
// One audio task serves every rendition: the job has one audio setting, so encoding it once per
// rendition would produce the same bytes several times.
import {
  DEFAULT_LADDER,
  TRANSCODE_ENCODERS,
  toneMapCurve,
  VidfleetError,
  TRANSCODE_ARTIFACTS as ARTIFACTS,
  type AudioTaskParams,
  type MergeTaskParams,
  type PackageTaskParams,
  type ResolvedRendition,
  type TranscodeParams,
  type TranscodePlan,
  type VideoTaskParams,
} from '../../protocol/index.js';
import type { GraphExpansion } from '../../store/graph.js';
import type { NewTask } from '../../store/store.js';

/** Past this many tasks a graph is refused: ask for longer chunks instead. */
export const MAX_GRAPH_TASKS = 20_000;

/** Relative CPU cost per output pixel-second, for the job's progress weights. */
const CODEC_COST = { h264: 1, hevc: 3, av1: 4 } as const;

function bad(message: string): VidfleetError {
  return new VidfleetError('INVALID_PARAMS', `The transcode plan cannot be used: ${message}`, { retryable: false });
}

const finite = (v: unknown, min = 0): v is number => typeof v === 'number' && Number.isFinite(v) && v >= min;

/** Checks what the plan task reported: contiguous chunks covering every frame, sane sizes. */
export function checkPlan(plan: unknown, requested: readonly string[]): TranscodePlan {
  const p = plan as TranscodePlan | null;
  if (!p || typeof p !== 'object' || !p.source || !Array.isArray(p.chunks) || !Array.isArray(p.renditions)) throw bad('the plan task returned no source, chunks and renditions.');
  const s = p.source;
  if (!finite(s.duration) || s.duration <= 0 || !Number.isSafeInteger(s.frames) || s.frames < 1) throw bad(`the source has no frames (duration ${s.duration}, frames ${s.frames}).`);
  if (p.chunks.length === 0) throw bad('no chunks.');
  let frame = 0;
  p.chunks.forEach((c, i) => {
    if (c.index !== i || !Number.isSafeInteger(c.frames) || c.frames < 1 || c.firstFrame !== frame || !finite(c.start, -1e9) || !(c.end > c.start)) {
      throw bad(`chunk ${i} does not follow chunk ${i - 1} (index ${c.index}, first frame ${c.firstFrame}, expected ${frame}, ${c.frames} frames, ${c.start}–${c.end} s).`);
    }
    const next = p.chunks[i + 1];
    if (next && Math.abs(next.start - c.end) > 1e-6) throw bad(`chunk ${i} ends at ${c.end} s but chunk ${i + 1} starts at ${next.start} s.`);
    frame += c.frames;
  });
  if (frame !== s.frames) throw bad(`the chunks hold ${frame} frames but the source has ${s.frames}.`);
  if (p.renditions.length === 0) throw bad('every rendition was dropped.');
  for (const r of p.renditions) {
    if (!requested.includes(r.name)) throw bad(`rendition "${r.name}" was not asked for.`);
    if (!Number.isSafeInteger(r.width) || !Number.isSafeInteger(r.height) || r.width < 2 || r.height < 2 || r.width % 2 || r.height % 2 || r.width > 7680 || r.height > 4320) {
      throw bad(`rendition "${r.name}" has an unusable size ${r.width}x${r.height}.`);
    }
    if (!(r.codec in TRANSCODE_ENCODERS)) throw bad(`rendition "${r.name}" has an unknown codec ${String(r.codec)}.`);
  }
  return p;
}

/** The tasks after the plan: chunk encodes per rendition, one audio encode, merges, then packaging. */
export function transcodeGraph(e: GraphExpansion): NewTask[] {
  const params = e.job.params as TranscodeParams;
  const requested = (params.renditions ?? DEFAULT_LADDER).map((r) => r.name);
  const plan = checkPlan(e.result, requested);
  const { source, chunks, renditions } = plan;
  const packaged = params.hls !== false || params.dash === true;
  const segmentSeconds = params.segmentSeconds ?? 4;
  const publishMp4 = params.mp4 !== false;
  const audio = params.audio === false || !source.audio ? null : { codec: params.audio?.codec ?? 'aac', bitrateKbps: params.audio?.bitrateKbps ?? 128, channels: Math.min(params.audio?.channels ?? 2, source.audio.channels || 2) };

  const total = (params.chunkTasks === 'rendition' ? renditions.length : 1) * chunks.length + renditions.length + 3;
  if (total > MAX_GRAPH_TASKS) {
    throw new VidfleetError('INVALID_PARAMS', `This transcode would need ${total} tasks (${chunks.length} chunks × ${renditions.length} renditions); the limit is ${MAX_GRAPH_TASKS}. Raise chunkSeconds.`, { retryable: false });
  }
  const base = { input: e.job.input, maxAttempts: 4 };
  const tasks: NewTask[] = [];
  if (audio) {
    const p: AudioTaskParams = { source, audio, artifact: ARTIFACTS.audio };
    tasks.push({ ...base, kind: 'transcode.audio', name: 'audio', after: ['plan'], params: p as never, maxRunMs: runLimit(source.duration), weight: source.duration * 0.05 });
  }
  const cost = (r: ResolvedRendition) => Math.max(0.05, (r.width * r.height) / 1e6) * CODEC_COST[r.codec];
  // Which task makes each (rung, chunk): one per chunk for the whole ladder (one decode), or one
  // per chunk × rung.
  const groups = params.chunkTasks === 'rendition' ? renditions.map((r) => [r]) : [renditions];
  const producer = new Map<string, string>();
  for (const chunk of chunks) {
    for (const group of groups) {
      const name = groups.length === 1 ? `video/${pad(chunk.index)}` : `video/${group[0]!.name}/${pad(chunk.index)}`;
      const p: VideoTaskParams = {
        source,
        chunk,
        outputs: group.map((r) => ({ rendition: r, artifact: ARTIFACTS.chunk(r.name, chunk.index) })),
        segmentSeconds: packaged ? segmentSeconds : null,
      };
      const work = (chunk.end - chunk.start) * group.reduce((sum, r) => sum + cost(r), 0);
      tasks.push({
        ...base,
        kind: 'transcode.video',
        name,
        after: ['plan'],
        params: p as never,
        requires: [...new Set([...group.map((r) => `encoder:${TRANSCODE_ENCODERS[r.codec]}`), ...(group.some((r) => toneMapCurve(source, r)) ? ['filter:zscale'] : [])])],
        maxRunMs: runLimit(work),
        weight: work,
      });
      for (const r of group) producer.set(`${r.name}/${chunk.index}`, name);
    }
  }
  for (const r of renditions) {
    const merge: MergeTaskParams = {
      source,
      rendition: r,
      chunks: chunks.map((c) => ({ plan: c, artifact: ARTIFACTS.chunk(r.name, c.index) })),
      audioArtifact: audio ? ARTIFACTS.audio : null,
      segmentSeconds: packaged ? segmentSeconds : null,
      artifact: ARTIFACTS.merged(r.name, publishMp4),
      report: ARTIFACTS.report(r.name),
    };
    const chunkTasks = [...new Set(chunks.map((c) => producer.get(`${r.name}/${c.index}`) as string))];
    tasks.push({
      ...base,
      kind: 'transcode.merge',
      name: `merge/${r.name}`,
      after: [...chunkTasks, ...(audio ? ['audio'] : [])],
      params: merge as never,
      maxRunMs: runLimit(source.duration * 0.2),
      weight: source.duration * 0.02,
    });
  }
  const pkg: PackageTaskParams = {
    source,
    renditions: renditions.map((r) => ({ rendition: r, merged: ARTIFACTS.merged(r.name, publishMp4), report: ARTIFACTS.report(r.name), published: publishMp4 })),
    segmentSeconds,
    hls: params.hls !== false,
    dash: params.dash === true,
    chunks: chunks.length,
  };
  // Always last, even for MP4 only: it gathers the merge reports into the job's result.
  tasks.push({
    ...base,
    kind: 'transcode.package',
    name: 'package',
    after: renditions.map((r) => `merge/${r.name}`),
    params: pkg as never,
    maxRunMs: runLimit(source.duration * 0.2),
    weight: source.duration * (packaged ? 0.02 : 0.001),
  });
  return tasks;
}

const pad = (index: number): string => String(index).padStart(5, '0');

/** A run limit for work of about `seconds` of 1080p-equivalent encoding: generous, never below 10 minutes. */
function runLimit(seconds: number): number {
  return Math.round(Math.max(10 * 60_000, seconds * 60_000));
}
