// What a transcode submission may ask for (refused at submission, not by a worker later), and
// what the coordinator's planner accepts from a plan task before it builds the graph.
import { describe, expect, it } from 'vitest';
import { transcodeGraph } from '../../src/coordinator/planner/transcode.js';
import { validateParams } from '../../src/coordinator/params.js';
import { VidfleetError, type ChunkPlan, type TranscodePlan } from '../../src/protocol/index.js';

const refused = (params: Record<string, unknown>): string => {
  try {
    validateParams('transcode', params);
  } catch (err) {
    expect(err).toBeInstanceOf(VidfleetError);
    expect((err as VidfleetError).code).toBe('INVALID_PARAMS');
    return (err as VidfleetError).message;
  }
  throw new Error(`accepted: ${JSON.stringify(params)}`);
};

describe('transcode params', () => {
  it('takes x264/x265 preset names and svt-av1 numbers, each only for its own codec', () => {
    expect(validateParams('transcode', { renditions: [{ name: 'a', height: 720, preset: 'slow' }, { name: 'b', height: 480, codec: 'av1', preset: '10' }] })).toBeTruthy();
    expect(refused({ renditions: [{ name: 'b', codec: 'av1', preset: 'medium' }] })).toMatch(/preset "medium" is not a av1 preset \(0-13\)/);
    expect(refused({ renditions: [{ name: 'a', preset: '4' }] })).toMatch(/preset "4" is not a h264 preset/);
    expect(refused({ renditions: [{ name: 'a', preset: '14' }] })).toMatch(/preset/);
  });

  it('refuses duplicate rung names, crf with a bitrate, a lone maxrate, AV1 VBV caps, and a job that publishes nothing', () => {
    expect(refused({ renditions: [{ name: 'a' }, { name: 'a' }] })).toMatch(/Two renditions are named "a"/);
    expect(refused({ renditions: [{ name: 'a', crf: 20, bitrateKbps: 900 }] })).toMatch(/both crf and bitrateKbps/);
    expect(refused({ renditions: [{ name: 'a', bitrateKbps: 900, maxrateKbps: 1200 }] })).toMatch(/go together/);
    expect(refused({ renditions: [{ name: 'a', codec: 'av1', bitrateKbps: 900, maxrateKbps: 1200, bufsizeKbps: 2400 }] })).toMatch(/av1/);
    expect(refused({ mp4: false, hls: false })).toMatch(/publish nothing/);
  });
});

describe('transcode planner', () => {
  const source = { duration: 4, frames: 100, codedWidth: 640, codedHeight: 360, displayWidth: 640, displayHeight: 360, rotation: 0, fps: 25, vfr: false, interlaced: false, timeBase: { num: 1, den: 12800 }, videoStart: 0, audio: null };
  const chunk = (index: number, firstFrame: number, frames: number): ChunkPlan => ({ index, start: firstFrame / 25, end: (firstFrame + frames) / 25, firstFrame, frames });
  const plan = (chunks: ChunkPlan[]): TranscodePlan => ({ source, chunks, renditions: [{ name: 'a', codec: 'h264', width: 640, height: 360 }] });
  const expand = (result: unknown, params: Record<string, unknown> = { renditions: [{ name: 'a' }] }) =>
    transcodeGraph({ job: { id: 'job_1', kind: 'transcode', input: 'x', params, priority: 0 }, task: { id: 't', name: 'plan', kind: 'transcode.plan', params }, result });

  it('builds chunk tasks, a merge per rung waiting for its chunks, and the package', () => {
    const tasks = expand(plan([chunk(0, 0, 50), chunk(1, 50, 50)]));
    expect(tasks.map((t) => [t.name, t.after])).toEqual([
      ['video/00000', ['plan']], ['video/00001', ['plan']], ['merge/a', ['video/00000', 'video/00001']], ['package', ['merge/a']],
    ]);
  });

  it('refuses a plan whose chunks leave a gap, overlap, or miss frames — before any task is made', () => {
    expect(() => expand(plan([chunk(0, 0, 50), chunk(1, 51, 49)]))).toThrow(/chunk 0 ends at 2 s but chunk 1 starts at 2.04 s/);
    expect(() => expand(plan([chunk(0, 0, 50), { ...chunk(1, 51, 49), start: 2 }]))).toThrow(/chunk 1 does not follow chunk 0/);
    expect(() => expand(plan([chunk(0, 0, 50), chunk(1, 50, 40)]))).toThrow(/hold 90 frames but the source has 100/);
    expect(() => expand({ ...plan([chunk(0, 0, 100)]), renditions: [{ name: 'z', codec: 'h264', width: 640, height: 360 }] })).toThrow(/"z" was not asked for/);
    expect(() => expand({ ...plan([chunk(0, 0, 100)]), renditions: [{ name: 'a', codec: 'h264', width: 641, height: 360 }] })).toThrow(/unusable size/);
    expect(() => expand(null)).toThrow(/no source/);
  });
});
