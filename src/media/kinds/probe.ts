// `probe`: one ffprobe run by default; the normalised report is both the job result and a
// probe.json artifact (so it can be downloaded with the other outputs of a pipeline). Each
// extra is opt-in and adds its own pass: keyframes and timing share one packet-header pass,
// the histogram decodes a few frames, health decodes everything.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HISTOGRAM_DEFAULTS, VidfleetError, type ProbeParams, type ProbeResult } from '../../protocol/index.js';
import { checkHealth } from '../health.js';
import { readHistogram } from '../histogram.js';
import { keyframeStats } from '../keyframes.js';
import { readPackets } from '../packets.js';
import { probeFile } from '../probe.js';
import { frameTiming } from '../timing.js';
import type { KindRunner, TaskContext } from './kind.js';

type Phase = 'probe' | 'packets' | 'histogram' | 'health';
/** Rough relative cost, so the progress bar moves evenly: decoding everything dominates. */
const WEIGHTS: Record<Phase, number> = { probe: 1, packets: 2, histogram: 2, health: 10 };

function progressTracker(ctx: TaskContext, phases: Phase[]) {
  const total = phases.reduce((sum, p) => sum + WEIGHTS[p], 0);
  return (phase: Phase, fraction: number, message: string): void => {
    const before = phases.slice(0, phases.indexOf(phase)).reduce((sum, p) => sum + WEIGHTS[p], 0);
    ctx.onProgress({ progress: (before + WEIGHTS[phase] * Math.min(1, Math.max(0, fraction))) / total, message });
  };
}

function histogramOptions(value: ProbeParams['histogram']): { samples: number; bins: number } | null {
  if (!value) return null;
  const given = value === true ? {} : value;
  return { samples: given.samples ?? HISTOGRAM_DEFAULTS.samples, bins: given.bins ?? HISTOGRAM_DEFAULTS.bins };
}

export const probeRunner: KindRunner = {
  name: 'probe',
  async run(ctx: TaskContext): Promise<ProbeResult> {
    const params = ctx.params as ProbeParams;
    const histogram = histogramOptions(params.histogram);
    const packets = params.keyframes === true || params.timing === true;
    const health = params.health === true;
    const phases: Phase[] = ['probe', ...(packets ? (['packets'] as const) : []), ...(histogram ? (['histogram'] as const) : []), ...(health ? (['health'] as const) : [])];
    const progress = progressTracker(ctx, phases);

    progress('probe', 0, 'probing');
    const report = await probeFile(ctx.input, { signal: ctx.signal });
    const result: ProbeResult = report;
    const primary = report.streams[report.primaryVideo ?? -1];
    progress('probe', 1, 'probed');

    // In health mode a damaged file is the answer, so an extra that cannot be computed on it
    // is left out with a warning rather than failing the job.
    const extra = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await fn();
      } catch (err) {
        if (!health || !(err instanceof VidfleetError) || (err.code !== 'INPUT_CORRUPT' && err.code !== 'NOT_A_VIDEO')) throw err;
        report.warnings.push(`The ${what} could not be computed: ${err.message}`);
        return undefined;
      }
    };

    if (packets) {
      progress('packets', 0, 'reading packet headers');
      const timeline = await extra('keyframe/timing analysis', () => readPackets(ctx.input, { signal: ctx.signal, stream: primary?.index }));
      if (timeline && params.keyframes) result.keyframes = keyframeStats(timeline);
      if (timeline && params.timing) result.timing = frameTiming(timeline);
      progress('packets', 1, 'packets read');
    }
    if (histogram) {
      progress('histogram', 0, 'sampling frames');
      const onProgress = (f: number): void => progress('histogram', f, 'sampling frames');
      const h = await extra('histogram', () => readHistogram(ctx.input, report, { ...histogram, signal: ctx.signal, onProgress }));
      if (h) result.histogram = h;
    }
    if (health) {
      progress('health', 0, 'decoding everything');
      result.health = await checkHealth(ctx.input, report, {
        onStderrLine: ctx.toolLog,
        signal: ctx.signal,
        onProgress: (fraction, seconds) => progress('health', fraction ?? 0, seconds === null ? 'decoding' : `decoded ${seconds.toFixed(1)} s`),
      });
      const { healthy, errorCount, warningCount } = result.health;
      ctx.log(`probe: health check ${healthy ? 'passed' : 'FAILED'}: ${errorCount} error(s), ${warningCount} warning(s)`);
    }

    for (const warning of report.warnings) ctx.log(`probe: ${warning}`);
    const path = join(ctx.workDir, 'probe.json');
    await writeFile(path, JSON.stringify(result, null, 2) + '\n');
    await ctx.emitArtifact({ name: 'probe.json', path, contentType: 'application/json' });
    ctx.onProgress({ progress: 1, message: 'probed' });
    return result;
  },
};
