// Real-world sources through the whole transcode graph: phone video (rotation, VFR, HEVC HLG
// with an edit list), HDR10 tone-mapped to SDR, odd sizes, Matroska without a duration, open-GOP and interlaced MPEG-2 in
// TS and MXF, audio that starts late, no audio. Chunks are short so even these few-second files
// are split several times. The merge's own checks (frame count per chunk and in total, seams,
// DTS order, duration, A/V offset) must pass, and the published MP4 is counted again here.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileUri, type TranscodePlan, type TranscodeResult } from '../../src/protocol/index.js';
import { startTestFleet, untilFinished, type TestFleet } from '../helpers/fleet.js';
import { HAVE_REAL_MEDIA, REAL_MEDIA_DIR } from '../helpers/shared-media.js';

const run = promisify(execFile);

const FILES = [
  '03_phone_iphone4s_rot90_moov-end.mov',
  '05_phone_pixel-motionphoto_hevc-hvc1_vfr.mp4',
  '06_phone_iphone_hevc-main10-hlg_editlist.mp4',
  '08_hevc-hev1_main10-hdr10_frame-gaps.mp4',
  '12_mkv_chrome-mediarecorder_h264_noduration.mkv',
  '16_webm_vp9_odd-161x121_bear.webm',
  '19_ts_dvbt_mpeg2-576i-tff_mp2.ts',
  '20_ts_mpeg2-1080i-422_opengop_dtshdma-mp2.ts',
  '21_mxf_mpeg2-pal_opengop_freemxf.mxf',
];

describe.skipIf(!HAVE_REAL_MEDIA)(HAVE_REAL_MEDIA ? 'transcode: the real-world corpus' : `transcode corpus — SKIPPED: no corpus at ${REAL_MEDIA_DIR}`, () => {
  let fleet: TestFleet;
  beforeAll(async () => {
    fleet = await startTestFleet();
    await fleet.addWorker({ concurrency: 1 });
    await fleet.addWorker({ concurrency: 1 });
  });
  afterAll(async () => fleet?.stop());

  it.each(FILES)('%s: chunked, merged, packaged and verified', async (file) => {
    const submitted = await fleet.client.submitJob({
      kind: 'transcode',
      input: fileUri(join(REAL_MEDIA_DIR, file)),
      params: { renditions: [{ name: 'low', height: 144, preset: 'ultrafast', crf: 32 }], chunkSeconds: 1, minChunkSeconds: 0.5, segmentSeconds: 1 },
    });
    const job = await untilFinished(fleet.client, submitted.id);
    expect(job.status, JSON.stringify(job.error)).toBe('completed');
    const tasks = (await fleet.client.getJob(job.id)).tasks ?? [];
    const plan = tasks.find((t) => t.name === 'plan')?.result as TranscodePlan;
    const result = job.result as TranscodeResult;
    expect(result.renditions[0]?.frames).toBe(plan.source.frames);
    expect(result.chunks).toBe(plan.chunks.length);
    const merge = tasks.find((t) => t.name === 'merge/low')?.result as { check: { ok: boolean; audioOffset: number | null } };
    expect(merge.check.ok).toBe(true);
    if (plan.source.audio) expect(Math.abs(merge.check.audioOffset ?? Infinity)).toBeLessThanOrEqual(1 / plan.source.fps);

    const mp4 = `${fleet.coordinator.url}/v1/jobs/${job.id}/artifacts/low.mp4`;
    const { stdout } = await run('ffprobe', ['-v', 'error', '-count_packets', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_packets,width,height,color_transfer', '-of', 'json', mp4]);
    const [stream] = (JSON.parse(stdout) as { streams: { nb_read_packets: string; width: number; height: number; color_transfer?: string }[] }).streams;
    expect(Number(stream?.nb_read_packets)).toBe(plan.source.frames);
    // HDR (PQ, HLG) into 8-bit H.264 is tone-mapped to SDR BT.709, not passed through washed out.
    if (plan.source.color?.hdr === 'hdr10' || plan.source.color?.hdr === 'hlg') expect(stream?.color_transfer).toBe('bt709');
    expect(stream?.height).toBeLessThanOrEqual(144);
    console.log(`[corpus transcode] ${file}: ${plan.source.frames} frames, ${plan.chunks.length} chunks, ${stream?.width}x${stream?.height}, vfr ${plan.source.vfr}, audio ${plan.source.audio ? 'yes' : 'no'}`);
  }, 180_000);
});
