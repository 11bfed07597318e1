// contact-sheet: the rules as pure functions, then real ffmpeg on synthetic clips (geometry,
// times, text, escaping, skipBlank, cancel, bad inputs) and on the real corpus (rotation, HDR,
// interlacing, odd sizes, fragmented MP4, MKV, broken files). Tile regions are found from the
// documented layout (margin 10, padding 4 by default, header band on top), not from the code.
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { validateParams } from '../../src/coordinator/params.js';
import { clockTime, drawtextFilter, filterValue } from '../../src/media/drawtext.js';
import { contactSheetRunner } from '../../src/media/kinds/contact-sheet.js';
import { displayName, formatSize, shorten } from '../../src/media/kinds/contact-sheet-plan.js';
import { tileHeightFor } from '../../src/media/sheet-grid.js';
import { kindSpec, VidfleetError, type ContactSheetResult } from '../../src/protocol/index.js';
import { cancelWhileFfmpegRuns, CLIP_DIR, copyClip, makeBlackStartClip, makeClip, makeInterlacedClip, makeTextFile, makeTruncatedMp4, taskContext } from '../helpers/clips.js';
import { combing, hdrReferences, imageInfo, look, mad, raw, spread } from '../helpers/images.js';
import { HAVE_REAL_MEDIA, REAL_MEDIA_DIR, realMediaFiles } from '../helpers/shared-media.js';

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

async function sheet(input: string, params: Record<string, unknown> = {}) {
  const rec = taskContext(input, params);
  const result = (await contactSheetRunner.run(rec.ctx)) as ContactSheetResult;
  return { result, rec, path: join(rec.ctx.workDir, result.artifact) };
}

async function sheetError(input: string, params: Record<string, unknown> = {}): Promise<VidfleetError> {
  const err = await contactSheetRunner.run(taskContext(input, params).ctx).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VidfleetError);
  return err as VidfleetError;
}

/** Where tile i is, by the documented layout. */
function tileBox(r: ContactSheetResult, i: number, margin = 10, padding = 4) {
  const top = r.header?.height ?? 0;
  const col = i % r.columns;
  const row = Math.floor(i / r.columns);
  return { x: margin + col * (r.tileWidth + padding), y: top + margin + row * (r.tileHeight + padding), w: r.tileWidth, h: r.tileHeight };
}
const crop = (b: { x: number; y: number; w: number; h: number }) => `crop=${b.w}:${b.h}:${b.x}:${b.y}`;
/** The lower right quarter of a tile, where its time is drawn. */
const corner = (b: { x: number; y: number; w: number; h: number }) => crop({ x: b.x + b.w / 2, y: b.y + (b.h * 3) / 4, w: b.w / 2, h: b.h / 4 });

describe('contact-sheet params and requirements', () => {
  const refuse = (params: Record<string, unknown>, message: RegExp) => {
    let err: VidfleetError | null = null;
    try {
      validateParams('contact-sheet', params);
    } catch (e) {
      err = e as VidfleetError;
    }
    expect(err?.code).toBe('INVALID_PARAMS');
    expect(err?.message).toMatch(message);
  };

  it('accepts the documented options and refuses values out of range', () => {
    const all = { columns: 12, rows: 20, tileWidth: 64, mode: 'exact', format: 'png', quality: 50, timestamps: false, header: false, skipBlank: true, background: '#1a2B3c', margin: 0, padding: 0 };
    expect(validateParams('contact-sheet', all)).toMatchObject(all);
    refuse({ columns: 13 }, /"columns"/);
    refuse({ rows: 0 }, /"rows"/);
    refuse({ tileWidth: 63 }, /"tileWidth"/);
    refuse({ background: 'red' }, /"background"/);
    refuse({ mode: 'fast' }, /"mode"/);
    refuse({ count: 4 }, /count/);
    refuse({ columns: 12, tileWidth: 1920, format: 'webp' }, /23104 px wide, more than webp allows \(16383\)/);
    expect(validateParams('contact-sheet', { columns: 12, tileWidth: 1920 })).toMatchObject({ columns: 12 });
  });

  it('needs drawtext when it draws text, libwebp for WebP', () => {
    const requires = kindSpec('contact-sheet').requires!;
    expect(requires({})).toEqual(['filter:drawtext']);
    expect(requires({ timestamps: false })).toEqual(['filter:drawtext']);
    expect(requires({ timestamps: false, header: false })).toEqual([]);
    expect(requires({ format: 'webp', header: false })).toEqual(['encoder:libwebp', 'filter:drawtext']);
  });
});

describe('contact-sheet building blocks', () => {
  it('writes any text into a filter graph so drawtext draws it as it is', async () => {
    const text = String.raw`we:ird 'name' 100% \back\slash [a],b;c %{pts} ü.mp4`;
    const size = 'color=black:s=640x40,format=rgb24';
    const ours = await raw(`${size},${drawtextFilter(FONT, { text, x: '4', y: '10', size: 18, color: 'white' })}`, 'format=gray', ['-f', 'lavfi']);
    // Reference: the same text from a file, which no graph parser sees.
    const file = join(CLIP_DIR, 'drawn.txt');
    await writeFile(file, text);
    const ref = await raw(`${size},drawtext=fontfile=${FONT}:expansion=none:textfile=${file}:fontsize=18:fontcolor=white:x=4:y=10`, 'format=gray', ['-f', 'lavfi']);
    expect(ours.equals(ref)).toBe(true);
    expect(filterValue("a:b'c")).toBe("a\\\\:b\\\\\\'c");
  });

  it('formats times, names and sizes for the header and the tiles', () => {
    expect(clockTime(0)).toBe('00:00:00');
    expect(clockTime(3661.9)).toBe('01:01:01');
    expect(clockTime(75.25, true)).toBe('00:01:15.250');
    expect(displayName('/media/films/My Film: Part 2.mkv')).toBe('My Film: Part 2.mkv');
    expect(displayName('http://coord:8080/v1/blobs/uploads/cat%20video.mp4')).toBe('cat video.mp4');
    expect(formatSize(194_382_101)).toBe('194.4 MB');
    expect(formatSize(2_500_000_000)).toBe('2.50 GB');
    expect(shorten('a-very-long-file-name.mp4', 13)).toBe('a-ver...e.mp4');
  });

  it('sizes tiles by display aspect: SAR and rotation applied, as the still chain scales', () => {
    const v = { width: 1920, height: 1080, sampleAspectRatio: '1:1', rotation: 0 };
    expect(tileHeightFor(v, 320)).toBe(180);
    expect(tileHeightFor({ ...v, rotation: 90 }, 320)).toBe(569);
    expect(tileHeightFor({ width: 720, height: 576, sampleAspectRatio: '64:45', rotation: 0 }, 320)).toBe(180);
    expect(tileHeightFor({ width: 161, height: 121, sampleAspectRatio: '1:1', rotation: 0 }, 320)).toBe(240);
  });
});

describe('contact sheets of synthetic clips', () => {
  afterEach(() => {
    delete process.env.VIDFLEET_FONT;
  });

  it('lays out 4×4 tiles from the middles of 16 parts under a header, in exactly the documented size', async () => {
    const { result, rec, path } = await sheet(await makeClip({ duration: 16, audio: true }));
    expect(result).toMatchObject({ artifact: 'contact-sheet.jpg', format: 'jpeg', mode: 'keyframe', columns: 4, rows: 4, tileWidth: 320, tileHeight: 240, duration: 16, textRendered: true });
    const header = result.header!;
    expect(header.lines[0]).toMatch(/^clip-\d+\.mp4$/);
    expect(header.lines[1]).toMatch(/^Duration: 00:00:16 {2}\| {2}Size: \d+\.\d MB {2}\| {2}320x240 {2}\| {2}25 fps$/);
    expect(header.lines[2]).toMatch(/^Video: h264 \(.*\) {2}\| {2}Audio: aac, 48 kHz, mono$/);
    expect(result.width).toBe(2 * 10 + 4 * 320 + 3 * 4);
    expect(result.height).toBe(header.height + 2 * 10 + 4 * 240 + 3 * 4);
    expect(await imageInfo(path)).toEqual({ codec: 'mjpeg', width: result.width, height: result.height });
    expect(result.tiles.map((t) => t.time)).toEqual(Array.from({ length: 16 }, (_, i) => i + 0.5));
    expect(result.tiles.map((t) => t.actualTime)).toEqual(Array.from({ length: 16 }, (_, i) => i)); // a keyframe every second
    expect(rec.artifacts).toEqual([{ name: 'contact-sheet.jpg', path, contentType: 'image/jpeg' }]);
    for (const i of [0, 5, 15]) expect(await spread(path, crop(tileBox(result, i)))).toBeGreaterThan(8);
    // testsrc2 moves: tiles from different parts differ.
    expect(mad((await look(path, crop(tileBox(result, 0)))).rgb, (await look(path, crop(tileBox(result, 9)))).rgb)).toBeGreaterThan(2);
    expect(await spread(path, `crop=${result.width}:${header.height}:0:0`)).toBeGreaterThan(40); // white text on black
  });

  it('draws each tile\'s time in its corner (compared with the same sheet without)', async () => {
    const clip = await makeClip({ duration: 8 });
    const plain = await sheet(clip, { columns: 2, rows: 1, header: false, timestamps: false });
    const stamped = await sheet(clip, { columns: 2, rows: 1, header: false });
    expect(stamped.result.height).toBe(plain.result.height);
    for (const i of [0, 1]) {
      const box = tileBox(stamped.result, i);
      expect(mad((await look(stamped.path, corner(box))).rgb, (await look(plain.path, corner(box))).rgb)).toBeGreaterThan(8);
      const rest = crop({ x: box.x, y: box.y, w: box.w, h: box.h / 2 });
      expect(mad((await look(stamped.path, rest)).rgb, (await look(plain.path, rest)).rgb)).toBeLessThan(3);
    }
  });

  it('exact mode, PNG and WebP, own background, margin and padding', async () => {
    const clip = await makeClip({ duration: 6 });
    const { result, path } = await sheet(clip, { columns: 3, rows: 2, tileWidth: 100, mode: 'exact', format: 'png', background: '#ff0000', margin: 6, padding: 2, header: false, timestamps: false });
    expect(result.tiles.map((t) => t.time)).toEqual([0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
    for (const t of result.tiles) expect(Math.abs((t.actualTime ?? -1) - t.time)).toBeLessThan(0.04 + 1e-6);
    expect(await imageInfo(path)).toEqual({ codec: 'png', width: 2 * 6 + 3 * 100 + 2 * 2, height: 2 * 6 + 2 * 75 + 2 });
    expect([...(await raw(path, 'crop=4:4:0:0,format=rgb24'))].slice(0, 3)).toEqual([255, 0, 0]);
    const webp = await sheet(clip, { columns: 2, rows: 2, tileWidth: 64, format: 'webp' });
    expect((await imageInfo(webp.path)).codec).toBe('webp');
    expect(webp.rec.artifacts[0]).toMatchObject({ name: 'contact-sheet.webp', contentType: 'image/webp' });
  });

  it('shows anamorphic video at its display aspect and rotated video upright (portrait tiles)', async () => {
    const ana = await sheet(await makeClip({ width: 720, height: 576, sar: '64:45', duration: 2 }), { columns: 2, rows: 1, header: false });
    expect(ana.result.tileHeight).toBe(180);
    const turned = await sheet(await makeClip({ rotation: 90, duration: 2 }), { columns: 2, rows: 1, tileWidth: 120 });
    expect(turned.result).toMatchObject({ tileWidth: 120, tileHeight: 160 });
    expect(turned.result.header).toMatchObject({ displayWidth: 240, displayHeight: 320 });
    expect(await imageInfo(turned.path)).toMatchObject({ height: turned.result.header!.height + 20 + 160 });
  });

  it('escapes file names with : \' % \\ and brackets in the header', async () => {
    const name = String.raw`we:ird 'name' 100% \x [a],b;c.mp4`;
    const { result } = await sheet(await copyClip(await makeClip({ duration: 2 }), name), { columns: 1, rows: 1 });
    expect(result.header?.lines[0]).toBe(name);
    expect(result.textRendered).toBe(true);
  });

  it('without a font: no text, textRendered false, and the task log says how to fix it', async () => {
    process.env.VIDFLEET_FONT = '/nonexistent/font.ttf';
    const { result, rec, path } = await sheet(await makeClip({ duration: 2 }), { columns: 2, rows: 1 });
    expect(result).toMatchObject({ textRendered: false, header: null, height: 20 + 240 });
    expect(await imageInfo(path)).toMatchObject({ width: 20 + 640 + 4, height: 260 });
    expect(rec.logs.join('\n')).toMatch(/no font file was found .*fonts-dejavu-core.*VIDFLEET_FONT/);
  });

  it('skipBlank moves a black tile to a later frame', async () => {
    const clip = await makeBlackStartClip(); // 2 s black, 4 s pattern
    const { result, path } = await sheet(clip, { columns: 2, rows: 1, skipBlank: true, mode: 'exact', header: false, timestamps: false });
    expect(result.tiles[0]).toMatchObject({ time: 1.5, movedFromBlank: true });
    expect(result.tiles[0]?.actualTime).toBeGreaterThanOrEqual(2);
    expect(await spread(path, crop(tileBox(result, 0)))).toBeGreaterThan(8);
  });

  it('a sheet too high for WebP fails before any frame is taken', async () => {
    const err = await sheetError(await makeClip({ duration: 2 }), { columns: 1, rows: 20, tileWidth: 1920, format: 'webp' });
    expect(err.code).toBe('INVALID_PARAMS');
    expect(err.message).toMatch(/px high .* more than webp allows \(16383\); use fewer rows or a smaller tileWidth/);
  });

  it('cancel stops ffmpeg at once and rethrows the reason', async () => {
    const { rec, reason, rejectedWith, ffmpegLeft } = await cancelWhileFfmpegRuns((ctx) => contactSheetRunner.run(ctx), await makeInterlacedClip(), { columns: 12, rows: 20, mode: 'exact' });
    expect(rejectedWith).toBe(reason);
    expect(ffmpegLeft).toBe(false);
    expect(rec.artifacts).toEqual([]);
  });

  it('rejects bad inputs cleanly', async () => {
    expect((await sheetError(await makeTextFile('list.txt'))).code).toBe('NOT_A_VIDEO');
    expect((await sheetError('/nonexistent/clip.mp4')).code).toBe('INPUT_NOT_FOUND');
    expect((await sheetError(await makeTruncatedMp4())).code).toBe('INPUT_CORRUPT');
    expect((await sheetError(await makeClip({ video: false, audio: true }))).code).toBe('NOT_A_VIDEO');
  });
});

describe.skipIf(!HAVE_REAL_MEDIA)('contact sheets of the real-world corpus', () => {
  const { good, bad } = realMediaFiles();
  const file = (prefix: string) => join(REAL_MEDIA_DIR, good.concat(bad).map((f) => basename(f)).find((f) => f.startsWith(prefix)) ?? prefix);

  it.each(good.map((f) => [basename(f), f] as const))('%s gives a 2×2 sheet of the exact layout size', async (_name, path) => {
    const { result, path: out } = await sheet(path, { columns: 2, rows: 2, tileWidth: 160 });
    expect(await imageInfo(out)).toEqual({ codec: 'mjpeg', width: 20 + 2 * 160 + 4, height: result.header!.height + 20 + 2 * result.tileHeight + 4 });
    expect(result.tiles).toHaveLength(4);
    const shown = result.header!;
    expect(result.tileHeight).toBeCloseTo((160 * shown.displayHeight) / shown.displayWidth, -0.5);
    // Not blank, unless the frame it shows is (20 is black throughout, 02 opens on a black title card).
    for (const [i, t] of result.tiles.entries()) {
      if ((await spread(out, crop(tileBox(result, i)))) > 8) continue;
      const frame = await raw(path, 'scale=16:16:flags=area,format=gray', ['-ss', String(t.actualTime ?? t.time)]);
      expect(Math.max(...frame) - Math.min(...frame)).toBeLessThanOrEqual(8);
    }
  });

  it.each(['03_', '04_'])('%s (rotated phone clip) gives portrait tiles', async (prefix) => {
    const { result } = await sheet(file(prefix), { columns: 2, rows: 1, header: false });
    expect(result.tileHeight).toBeGreaterThan(result.tileWidth);
  });

  it.each([
    ['08_', 'smpte2084'],
    ['17_', 'smpte2084'], // untagged 10-bit BT.2020 VP9: taken as PQ
  ])('%s (HDR) tiles are tone-mapped like the reference frame, not washed out', async (prefix, transfer) => {
    const { result, path } = await sheet(file(prefix), { columns: 1, rows: 1, tileWidth: 320, mode: 'exact', header: false, timestamps: false });
    const t = result.tiles[0]!;
    const { reference, naive } = await hdrReferences(file(prefix), transfer, result.tileWidth, result.tileHeight, t.actualTime ?? 0);
    const ours = await look(path, crop(tileBox(result, 0)));
    expect(Math.abs(ours.luma - reference.luma)).toBeLessThan(8);
    expect(mad(ours.rgb, reference.rgb)).toBeLessThan(6);
    expect(ours.contrast).toBeGreaterThan(naive.contrast + 8);
  });

  it('19 (576i) tiles are deinterlaced', async () => {
    const { result, path } = await sheet(file('19_'), { columns: 1, rows: 1, tileWidth: 1024, mode: 'exact', margin: 0, header: false, timestamps: false, format: 'png' });
    expect(result).toMatchObject({ width: 1024, height: 576 });
    const woven = await combing(file('19_'), 'scale=1024:576', ['-ss', String(result.tiles[0]?.actualTime)]);
    expect(await combing(path)).toBeLessThan(woven);
  });

  it('12 (MKV without a duration) is measured, so the tiles still spread over it', async () => {
    const { result, rec } = await sheet(file('12_'), { columns: 3, rows: 1 });
    expect(rec.logs.join('\n')).toMatch(/contact-sheet: .* declares no duration; reading its packet timestamps/);
    expect(result.tiles.map((t) => Math.round(t.time))).toEqual([6, 18, 29]);
    expect(result.header?.lines[1]).toMatch(/^Duration: 00:00:3\d/);
  });

  it.each(['bad_01', 'bad_02', 'bad_03'])('%s fails with a clear error', async (prefix) => {
    const err = await sheetError(file(prefix), { columns: 2, rows: 2 });
    expect(['NOT_A_VIDEO', 'INPUT_CORRUPT']).toContain(err.code);
    expect(err.message).toContain(basename(file(prefix)));
  });
});
