// The baseline: ONE ffmpeg that decodes the source once, splits the picture to every rung
// (same filter chain per rung as vidfleet's chunk encodes), encodes each rung with the same
// libx264 arguments vidfleet uses (src/media/transcode/encode-args.ts: videoCodecArgs, so closed
// GOP, the same keyint, scenecut, profile, preset and CRF), encodes the audio ONCE with vidfleet's
// own audio filter and settings, and writes one faststart MP4 per rung through the tee muxer
// (each slave takes its video stream and the shared audio stream). That is the same work
// vidfleet's graph does — one audio encode, one video encode per rung — minus the chunking.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { audioFilters, audioSampleRate, trackTimescale, videoCodecArgs, videoFilters } from '../../src/media/transcode/encode-args.js';
import type { AudioSpec, ResolvedRendition, SourceFacts } from '../../src/media/transcode/types.js';
import { procTicks, seconds } from './proc.js';

export interface SinglePassPlan {
  args: string[];
  outputs: { name: string; path: string }[];
}

/** Tee slave option values escape ':' and ',' by quoting with \' … \'. */
const teeQuote = (v: string): string => `\\'${v}\\'`;

export function singlePassArgs(o: { source: string; facts: SourceFacts; renditions: ResolvedRendition[]; audio: AudioSpec | null; outDir: string }): SinglePassPlan {
  const { facts, renditions } = o;
  if (!facts.audio && o.audio) throw new Error('the source has no audio');
  const v = facts.videoStream ?? 0;
  const labels = renditions.map((_, i) => `v${i}`);
  const graph = [
    `[0:${v}]split=${renditions.length}${labels.map((l) => `[s${l}]`).join('')}`,
    ...renditions.map((r, i) => `[s${labels[i]}]${videoFilters(facts, r)}[${labels[i]}]`),
  ].join(';');
  // Same keyint as a chunk encode of an MP4-only job (no segment length: 2 s of frames).
  const codec = videoCodecArgs(renditions[0]!, { fps: facts.fps });
  for (const r of renditions) {
    if (JSON.stringify(videoCodecArgs(r, { fps: facts.fps })) !== JSON.stringify(codec)) throw new Error('the single pass assumes one set of encoder arguments for every rung');
  }
  const audioArgs = o.audio && facts.audio
    ? ['-map', `0:${facts.audio.index}`, '-af', audioFilters(facts, audioSampleRate(facts, o.audio)), '-ac', String(o.audio.channels), '-c:a', o.audio.codec === 'opus' ? 'libopus' : 'aac', '-b:a', `${o.audio.bitrateKbps}k`]
    : [];
  const outputs = renditions.map((r) => ({ name: r.name, path: join(o.outDir, `${r.name}.mp4`) }));
  const slaves = outputs.map((out, i) => {
    const select = o.audio ? `v:${i},a` : `v:${i}`;
    return `[f=mp4:movflags=+faststart:video_track_timescale=${trackTimescale(facts.timeBase)}:select=${teeQuote(select)}]${out.path}`;
  });
  const args = [
    '-hide_banner', '-nostdin', '-v', 'error', '-y', '-i', `file:${o.source}`,
    '-filter_complex', graph,
    ...labels.flatMap((l) => ['-map', `[${l}]`]),
    '-fps_mode', 'passthrough', '-enc_time_base:v', '-1',
    ...codec,
    ...audioArgs,
    // The tee muxer does not ask encoders for global headers the way the mp4 muxer does; without
    // this x264 would repeat SPS/PPS in-band, unlike vidfleet's chunk files.
    '-flags', '+global_header',
    '-sn', '-dn', '-map_chapters', '-1',
    '-f', 'tee', slaves.join('|'),
  ];
  return { args, outputs };
}

export interface ProcessRun {
  wallSeconds: number;
  cpuSeconds: number;
  /** The last few kB of its stderr. */
  stderr: string;
}

/**
 * Runs the command as a child of this process and measures it: wall from spawn to exit, CPU as
 * the growth of this process's cutime+cstime (the child's user+system, all threads, added by the
 * kernel when Node reaps it). Nothing else of ours may exit meanwhile.
 */
export function runMeasured(command: string, args: string[]): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const before = procTicks('self').children;
    const t0 = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const wallSeconds = (performance.now() - t0) / 1000;
      const cpuSeconds = seconds(procTicks('self').children - before);
      if (code !== 0) reject(new Error(`${command} exited ${code}: ${stderr.trim()}`));
      else resolve({ wallSeconds, cpuSeconds, stderr });
    });
  });
}
