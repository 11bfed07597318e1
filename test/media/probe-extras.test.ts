// The probe kind with its opt-in extras: what each costs in tool runs, what lands in the
// result and probe.json, how a damaged file is treated in health mode, and the params schema.
import { readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { validateParams } from '../../src/coordinator/params.js';
import { probeRunner } from '../../src/media/kinds/probe.js';
import { VidfleetError, type ProbeResult } from '../../src/protocol/index.js';
import { CLIP_DIR, makeClip, makeTextFile, makeTruncatedMp4, taskContext } from '../helpers/clips.js';
import { countingWrapper, makeCorruptedClip, makeFixedGopClip } from '../helpers/probe-clips.js';
import { HAVE_REAL_MEDIA, realMediaFiles } from '../helpers/shared-media.js';

const EXTRAS = ['keyframes', 'timing', 'histogram', 'health'] as const;

async function runProbe(input: string, params: Record<string, unknown>) {
  const rec = taskContext(input, params);
  const result = (await probeRunner.run(rec.ctx)) as ProbeResult;
  return { ...rec, result };
}

describe('what each extra costs', () => {
  const saved = { ffmpeg: process.env.VIDFLEET_FFMPEG, ffprobe: process.env.VIDFLEET_FFPROBE };
  const log = join(CLIP_DIR, 'tool-runs.log');
  afterEach(async () => {
    for (const [key, value] of [['VIDFLEET_FFMPEG', saved.ffmpeg], ['VIDFLEET_FFPROBE', saved.ffprobe]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await rm(log, { force: true });
  });
  const runsWith = async (params: Record<string, unknown>): Promise<{ runs: string[]; result: ProbeResult }> => {
    const clip = await makeFixedGopClip();
    await rm(log, { force: true });
    process.env.VIDFLEET_FFPROBE = await countingWrapper('ffprobe', log);
    process.env.VIDFLEET_FFMPEG = await countingWrapper('ffmpeg', log);
    const { result } = await runProbe(clip, params);
    const runs = (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    return { runs, result };
  };

  it('the default probe is still one ffprobe run and nothing else', async () => {
    const { runs, result } = await runsWith({});
    expect(runs).toEqual(['ffprobe']);
    for (const extra of EXTRAS) expect(result).not.toHaveProperty(extra);
  });

  it('keyframes and timing together add one packet pass, no decoding', async () => {
    const { runs, result } = await runsWith({ keyframes: true, timing: true });
    expect(runs).toEqual(['ffprobe', 'ffprobe']);
    expect(result.keyframes?.count).toBe(4);
    expect(result.timing?.frames).toBe(100);
  });

  it('a histogram adds one ffmpeg run; health adds one more', async () => {
    expect((await runsWith({ histogram: { samples: 3 } })).runs).toEqual(['ffprobe', 'ffmpeg']);
    expect((await runsWith({ histogram: true, health: true })).runs).toEqual(['ffprobe', 'ffmpeg', 'ffmpeg']);
  });
});

describe('probe kind with extras', () => {
  it('returns every extra asked for and writes the same into probe.json', async () => {
    const { result, ctx, artifacts, progress } = await runProbe(await makeFixedGopClip(), { keyframes: true, timing: true, histogram: { samples: 3, bins: 8 }, health: true });
    expect(result.keyframes).toMatchObject({ count: 4, fixedInterval: true });
    expect(result.timing).toMatchObject({ vfr: false, nominalFps: 25 });
    expect(result.histogram).toMatchObject({ frames: 3, bins: 8 });
    expect(result.histogram?.luma.bins).toHaveLength(8);
    expect(result.health).toMatchObject({ healthy: true, errorCount: 0 });
    expect(artifacts.map((a) => a.name)).toEqual(['probe.json']);
    expect(JSON.parse(await readFile(join(ctx.workDir, 'probe.json'), 'utf8'))).toEqual(result);
    const values = progress.map((p) => p.progress);
    expect(values.at(-1)).toBe(1);
    values.forEach((v, i) => expect(v).toBeGreaterThanOrEqual(values[i - 1] ?? 0));
  });

  it('health mode: a damaged file that opens is a result (healthy: false), not a failure', async () => {
    const { result, logs, progress } = await runProbe(await makeCorruptedClip(), { health: true });
    expect(result.health?.healthy).toBe(false);
    expect(result.health?.errorCount).toBeGreaterThan(0);
    expect(logs.join('\n')).toMatch(/health check FAILED: \d+ error/);
    expect(progress.at(-1)?.progress).toBe(1);
    expect(progress.some((p) => p.progress > 0.1 && p.progress < 1)).toBe(true);
  });

  it('health mode: a file that cannot be opened fails as the plain probe does', async () => {
    const code = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => (e as VidfleetError).code);
    expect(await code(runProbe(await makeTruncatedMp4(), { health: true }))).toBe('INPUT_CORRUPT');
    expect(await code(runProbe(await makeTextFile('todo.txt'), { health: true }))).toBe('NOT_A_VIDEO');
    expect(await code(runProbe(await makeClip({ video: false, audio: true }), { health: true }))).toBe('NOT_A_VIDEO');
  });

  it('stops at once when the task is aborted', async () => {
    const rec = taskContext(await makeFixedGopClip(), { health: true });
    rec.controller.abort(new VidfleetError('CANCELED', 'canceled by test'));
    await expect(probeRunner.run(rec.ctx)).rejects.toThrow('canceled by test');
    expect(rec.artifacts).toEqual([]);
  });

  describe.skipIf(!HAVE_REAL_MEDIA)('on the corpus', () => {
    const bad02 = realMediaFiles().bad.find((f) => basename(f).startsWith('bad_02'))!;
    it('bad_02 in health mode: the histogram that cannot be taken becomes a warning; the job completes', async () => {
      const { result } = await runProbe(bad02, { histogram: true, keyframes: true, health: true });
      expect(result.health?.healthy).toBe(false);
      expect(result).not.toHaveProperty('histogram');
      expect(result.warnings.join(' ')).toMatch(/histogram could not be computed: No frame/);
      expect(result.keyframes?.count).toBe(1);
    });
    it('bad_02 without health mode: the histogram failure fails the job', async () => {
      await expect(runProbe(bad02, { histogram: true })).rejects.toMatchObject({ code: 'INPUT_CORRUPT' });
    });
  });
});

describe('probe params', () => {
  const problem = (params: unknown): string => {
    try {
      validateParams('probe', params);
      return 'accepted';
    } catch (err) {
      expect((err as VidfleetError).code).toBe('INVALID_PARAMS');
      return (err as VidfleetError).message;
    }
  };
  it('accepts each extra alone and all together', () => {
    for (const params of [{}, { histogram: true }, { histogram: { samples: 100, bins: 256 } }, { histogram: false, keyframes: true, timing: true, health: true }]) {
      expect(problem(params)).toBe('accepted');
    }
  });
  it('names the field and the rule that failed, inside the histogram object too', () => {
    expect(problem({ histogram: { samples: 0 } })).toMatch(/"histogram\.samples".*greater or equal to 1 \(got 0\)/);
    expect(problem({ histogram: { bins: 257 } })).toMatch(/"histogram\.bins".*less or equal to 256/);
    expect(problem({ histogram: { samples: 2.5 } })).toMatch(/"histogram\.samples".*integer/);
    expect(problem({ histogram: { sample: 3 } })).toMatch(/Unknown parameter "histogram\.sample".*Allowed: samples, bins/);
    expect(problem({ histogram: 'yes' })).toMatch(/"histogram".*true, or \{samples, bins\}/);
    expect(problem({ health: 'yes' })).toMatch(/"health".*Expected boolean/);
    expect(problem({ mode: 'health' })).toMatch(/Unknown parameter "mode".*Allowed: histogram, keyframes, timing, health/);
  });
});
