// The keyframe engine on real-world files (../shared/media/real, see its MANIFEST): phone
// recordings (rotated, VFR, HEVC 10-bit, edit lists), moov first and last, fragmented MP4,
// Matroska from mkvmerge. Same checks as keyframe-index.test.ts: ffprobe's keyframes, ffmpeg's
// pictures, bytes within 1.2x the floor (small files get 8 KiB of slack: one read-ahead).
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VidfleetError } from '../../src/protocol/index.js';
import { locateKeyframes } from '../../src/sources/index/locate.js';
import { FileRangeReader } from '../../src/sources/ranged/file-reader.js';
import { CLIP_DIR } from '../helpers/clips.js';
import { expectMatchesFfmpeg, locateReadDecode, probeKeys, spreadTimes } from '../helpers/keyframe-check.js';
import { HAVE_REAL_MEDIA, REAL_MEDIA_DIR } from '../helpers/shared-media.js';

/** Files the engine indexes; every one is checked against ffprobe and ffmpeg. */
const INDEXED: Array<{ file: string; container: string; codec: string; rotation?: number; note?: string }> = [
  { file: '01_h264-aac_moov-start_intel-car-detection.mp4', container: 'mp4', codec: 'h264' },
  { file: '02_h264-aac_moov-end_bbb-480p-30s.mp4', container: 'mp4', codec: 'h264' },
  { file: '03_phone_iphone4s_rot90_moov-end.mov', container: 'mp4', codec: 'h264', rotation: 90 },
  { file: '04_phone_android12_h264-4k60_rot90.mp4', container: 'mp4', codec: 'h264', rotation: 90 },
  { file: '05_phone_pixel-motionphoto_hevc-hvc1_vfr.mp4', container: 'mp4', codec: 'hevc', rotation: 90 },
  // Edit list with a pre-roll: the first keyframe is at -0.4667 s and ffmpeg discards its
  // picture when decoding the file, so that one has no reference image (its pts still must match).
  { file: '06_phone_iphone_hevc-main10-hlg_editlist.mp4', container: 'mp4', codec: 'hevc', rotation: 90, note: 'pre-roll' },
  { file: '07_phone_samsung_sef-slowmo.mp4', container: 'mp4', codec: 'h264' },
  { file: '08_hevc-hev1_main10-hdr10_frame-gaps.mp4', container: 'mp4', codec: 'hevc' },
  { file: '10_fmp4_moof_frag-buck-bunny.mp4', container: 'fmp4', codec: 'h264' },
  { file: '11_fmp4_bogus-duration_exoplayer-sample_fragmented.mp4', container: 'fmp4', codec: 'h264' },
  { file: '13_mkv_h264-ac3_srt-subs.mkv', container: 'mkv', codec: 'h264' },
  { file: '14_mkv_h264-ac3_ass-subs.mkv', container: 'mkv', codec: 'h264' },
  { file: '22_mp4_handbrake_bbb_100-subtitle-tracks.mp4', container: 'mp4', codec: 'h264' },
  { file: '23_vfr-extreme_screenrec_3026x1386.mp4', container: 'mp4', codec: 'h264' },
  // MV-HEVC (two views): the base view decodes, as in ffmpeg 5.1.
  { file: '24_mvhevc_spatial-video_water_180.mov', container: 'mp4', codec: 'hevc' },
  { file: '25_h264_long-139s_intel-one-by-one-person.mp4', container: 'mp4', codec: 'h264' },
  // Video frames stamped 1-2 ms apart: picking by time still has to agree with ffprobe.
  { file: 'bad_04_mkv_pgs-subs_video-timestamps-1ms-apart.mkv', container: 'mkv', codec: 'h264' },
];

/** Files it cannot index, and the error that sends the caller to the fallback. */
const REFUSED: Array<{ file: string; code: string; why: RegExp }> = [
  { file: '09_av1_hdr10-10bit_portrait.mp4', code: 'INDEX_UNSUPPORTED', why: /"av01", not H\.264 or HEVC/ },
  // Chrome MediaRecorder: unknown-size Segment and Clusters, no Cues at all.
  { file: '12_mkv_chrome-mediarecorder_h264_noduration.mkv', code: 'INDEX_UNSUPPORTED', why: /no Cues/ },
  { file: '15_webm_vp9-opus_bbb.webm', code: 'INDEX_UNSUPPORTED', why: /V_VP9/ },
  { file: '16_webm_vp9_odd-161x121_bear.webm', code: 'INDEX_UNSUPPORTED', why: /V_VP9/ },
  { file: '17_webm_vp9-profile2-10bit_roadtrip.webm', code: 'INDEX_UNSUPPORTED', why: /V_VP9/ },
  { file: '18_webm_vp8-vorbis_rabbit320.webm', code: 'INDEX_UNSUPPORTED', why: /V_VP8/ },
  { file: '19_ts_dvbt_mpeg2-576i-tff_mp2.ts', code: 'INDEX_UNSUPPORTED', why: /MPEG-TS/ },
  { file: '20_ts_mpeg2-1080i-422_opengop_dtshdma-mp2.ts', code: 'INDEX_UNSUPPORTED', why: /MPEG-TS/ },
  { file: '21_mxf_mpeg2-pal_opengop_freemxf.mxf', code: 'INDEX_UNSUPPORTED', why: /MXF/ },
  { file: 'bad_03_ts_undecodable-video_4xmp3-teletext.ts', code: 'INDEX_UNSUPPORTED', why: /MPEG-TS/ },
  // Header-only Matroska stub with bogus SeekHead sizes: no video track to find.
  { file: 'bad_01_truncated_pymediainfo-sample.mkv', code: 'NOT_A_VIDEO', why: /no video track/ },
  // Cut at 100000 bytes with the moov intact: keyframes after the cut are past the end.
  { file: 'bad_02_mp4_annexb-samples_empty-avcC_cut-100000B.mp4', code: 'INPUT_CORRUPT', why: /truncated: its keyframe at 25\.987 s/ },
];

describe.skipIf(!HAVE_REAL_MEDIA)('keyframes of the real-world corpus', () => {
  for (const entry of INDEXED) {
    it(`${entry.file}: ffprobe's keyframes, ffmpeg's pictures, bytes near the floor`, async () => {
      const path = join(REAL_MEDIA_DIR, entry.file);
      const probed = await probeKeys(path);
      const work = mkdtempSync(join(CLIP_DIR, 'real-'));
      const reader = await FileRangeReader.open(path);
      try {
        const got = await locateReadDecode(reader, spreadTimes(probed.lastPts), work, 'real');
        expect(got.index).toMatchObject({ container: entry.container, codec: entry.codec, rotation: entry.rotation ?? 0 });
        await expectMatchesFfmpeg(path, probed, got, work, 'real', (t) => entry.note === 'pre-roll' && t < 0);
        expect(got.origin).toBeLessThanOrEqual(Math.max(1.2 * got.floor, got.floor + 8192));
      } finally {
        await reader.close();
      }
    });
  }

  it('refuses what it cannot index with a typed error', async () => {
    for (const entry of REFUSED) {
      const reader = await FileRangeReader.open(join(REAL_MEDIA_DIR, entry.file));
      try {
        const err = await locateKeyframes(reader, [0, 1, 29]).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err, entry.file).toBeInstanceOf(VidfleetError);
        expect((err as VidfleetError).code, entry.file).toBe(entry.code);
        expect((err as VidfleetError).message, entry.file).toMatch(entry.why);
      } finally {
        await reader.close();
      }
    }
  });

  it('bad_02 (Annex-B samples in avc1 with an empty avcC): the keyframes inside the cut still decode', async () => {
    const path = join(REAL_MEDIA_DIR, 'bad_02_mp4_annexb-samples_empty-avcC_cut-100000B.mp4');
    const reader = await FileRangeReader.open(path);
    const work = mkdtempSync(join(CLIP_DIR, 'bad02-'));
    try {
      const got = await locateReadDecode(reader, [0], work, 'bad02');
      expect(got.index.parameterSets.length).toBe(0);
      await expectMatchesFfmpeg(path, await probeKeys(path), got, work, 'bad02');
    } finally {
      await reader.close();
    }
  });
});
