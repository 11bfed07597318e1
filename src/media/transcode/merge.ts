// Joins a rendition's chunk files and its audio without re-encoding. The concat demuxer places
// each file at the sum of the `duration`s before it, so giving every chunk its planned length
// (next chunk's start − its start) puts each one exactly at its source offset, whatever its
// own last-frame duration says: VFR timing and gaps at seams survive.
import { rm, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { VidfleetError } from '../../protocol/index.js';
import { classifyFailure } from '../errors.js';
import { ffmpegBinary, ffmpegInputArg, runProcess } from '../process.js';
import { checkMerged, missingChunk } from './checks.js';
import { secs, trackTimescale } from './encode-args.js';
import type { ChunkPlan, MergeReport, SourceFacts } from './types.js';

export interface MergeRequest {
  facts: SourceFacts;
  chunks: { plan: ChunkPlan; path: string }[];
  audioPath: string | null;
  out: string;
  /** For messages, and the segment keyframes the check insists on. */
  rendition?: string;
  segmentSeconds?: number;
  signal?: AbortSignal;
  onLog?: (line: string) => void;
}

/** A concat-demuxer script line quoting a path (single quotes escaped the way the demuxer reads them). */
const quote = (path: string): string => `'${path.replace(/'/g, "'\\''")}'`;

/** An ffconcat script placing each file `duration` seconds after the one before it. */
export function concatScript(files: { path: string; duration: number }[]): string {
  const lines = ['ffconcat version 1.0'];
  for (const f of files) {
    // file: URLs so a chunk path can only ever be a file (no protocol prefix inside a name).
    lines.push(`file ${quote(ffmpegInputArg(resolve(f.path)))}`, `duration ${secs(f.duration)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Stream-copies files one after another (see concatScript) into an mp4. */
export async function concatCopy(
  files: { path: string; duration: number }[],
  o: { out: string; extraInputs?: string[]; maps?: string[]; timescale: number; faststart?: boolean; action: string; signal?: AbortSignal; onLog?: (line: string) => void },
): Promise<void> {
  const list = `${o.out}.concat.txt`;
  await writeFile(list, concatScript(files));
  const args = [
    '-hide_banner', '-nostdin', '-v', 'level+warning', '-nostats', '-y',
    // auto_convert 0: no h264_mp4toannexb, which would copy SPS/PPS into every keyframe;
    // the files share one header (checkMerged compares them) and stay byte-identical.
    '-f', 'concat', '-safe', '0', '-auto_convert', '0', '-protocol_whitelist', 'file', '-i', ffmpegInputArg(list),
    ...(o.extraInputs ?? []).flatMap((p) => ['-i', ffmpegInputArg(p)]),
    ...(o.maps ?? ['0:v:0']).flatMap((m) => ['-map', m]), '-c', 'copy', '-dn', '-sn', '-map_chapters', '-1',
    '-video_track_timescale', String(o.timescale), ...(o.faststart ? ['-movflags', '+faststart'] : []), '-f', 'mp4', o.out,
  ];
  try {
    const res = await runProcess(ffmpegBinary(), args, { signal: o.signal, onStderrLine: o.onLog });
    if (res.exitCode !== 0) throw classifyFailure({ tool: 'ffmpeg', input: list, stderr: res.stderr, exitCode: res.exitCode, action: o.action });
  } finally {
    await rm(list, { force: true });
  }
}

export async function mergeRendition(req: MergeRequest): Promise<MergeReport> {
  const chunks = [...req.chunks].sort((a, b) => a.plan.index - b.plan.index);
  const missing = missingChunk(chunks.map((c) => c.plan), req.facts.frames);
  const name = req.rendition ?? req.out;
  if (missing !== null) {
    throw new VidfleetError('MERGE_CHECK_FAILED', `Rendition ${name} cannot be merged: chunk ${missing} is missing (the chunks given do not cover the source's ${req.facts.frames} frames).`, {
      details: { rendition: req.rendition ?? null, chunk: missing },
    });
  }
  const started = performance.now();
  await concatCopy(
    chunks.map((c) => ({ path: c.path, duration: c.plan.end - c.plan.start })),
    {
      out: req.out,
      extraInputs: req.audioPath ? [req.audioPath] : [],
      maps: req.audioPath ? ['0:v:0', '1:a:0'] : ['0:v:0'],
      timescale: trackTimescale(req.facts.timeBase),
      faststart: true,
      action: `could not merge rendition ${name} from`,
      signal: req.signal,
      onLog: req.onLog,
    },
  );
  const mergeSeconds = (performance.now() - started) / 1000;
  const check = await checkMerged(req.out, {
    facts: req.facts,
    chunks,
    rendition: req.rendition,
    expectAudio: req.audioPath !== null,
    segmentSeconds: req.segmentSeconds,
    signal: req.signal,
  });
  req.onLog?.(`merge ${name}: ${check.frames}/${check.expectedFrames} frames, worst seam error ${(check.worstSeamError * 1000).toFixed(2)} ms, ${mergeSeconds.toFixed(2)} s`);
  return { path: req.out, bytes: (await stat(req.out)).size, mergeSeconds, check };
}
