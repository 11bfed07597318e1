// `contact-sheet`: columns × rows frames from the middles of equal parts of the video, laid out
// in one image under a header band. The tiles are taken like screenshots (batched seeked
// inputs through the still chain, so rotation, aspect, deinterlacing and HDR come out right;
// skipBlank and exact-seek fixes per tile) as lossless PNGs, then one more ffmpeg lays them
// out with `tile` and draws the times and the header.
//
// Why two steps rather than one filter graph (16 seeked inputs → chain → drawtext → xstack →
// pad → drawtext): on the 1080p25 5-minute H.264 file (2 s GOPs), 4×4 at 320 px, keyframe mode,
// medians of 5 on 2 busy cores: one graph 1.61 s, grab + compose 1.64 s (the compose step
// alone ~0.19 s). The same within noise, and the two steps keep what one graph cannot: memory
// bounded by batches (one graph holds a decoder per tile: 240 at 12×20), per-tile recovery and
// skipBlank, which must see a tile before it is placed.
import { join } from 'node:path';
import { VidfleetError, STILL_MAX_SIDE, type ContactSheetParams, type ContactSheetResult, type ContactSheetTile } from '../../protocol/index.js';
import { hasFilter } from '../capabilities.js';
import { findFont, NO_FONT_HELP, type TextSpec } from '../drawtext.js';
import { requireStillEncoder, taskSide, type GrabRequest } from '../grab.js';
import { imageFileSize } from '../image-size.js';
import { composeSheet, sheetSize, textColorOn, tileHeightFor, type GridLayout } from '../sheet-grid.js';
import { STILL_FORMATS, stillChain, stillEncoderArgs } from '../stills.js';
import { headerBand, headerFont, headerInfo, headerLines, tileClock, timestampText } from './contact-sheet-plan.js';
import type { KindRunner, TaskContext } from './kind.js';
import { batchSize, planShots } from './screenshots-plan.js';
import { chunks, probeShotSource, Shooter } from './still-shots.js';
import { usableFrameRate } from './thumbnail.js';

const DEFAULT_QUALITY = 85;
const FFMPEG_TIMEOUT_MS = 10 * 60_000;

export const contactSheetRunner: KindRunner = {
  name: 'contact-sheet',
  async run(ctx: TaskContext): Promise<ContactSheetResult> {
    const params = ctx.params as ContactSheetParams;
    const format = params.format ?? 'jpeg';
    const mode = params.mode ?? 'keyframe';
    const columns = params.columns ?? 4;
    const rows = params.rows ?? 4;
    const tileWidth = params.tileWidth ?? 320;
    const background = params.background ?? '#000000';
    const wantText = params.timestamps !== false || params.header !== false;
    await requireStillEncoder(format);
    ctx.onProgress({ progress: 0, message: 'starting' });

    const source = await probeShotSource(ctx, 'contact-sheet');
    const { video, duration } = source;
    const plan = planShots({ count: columns * rows }, duration, video.frameRate, ctx.input);
    ctx.onProgress({ progress: 0.05, message: 'probed' });

    const font = wantText ? await findFont() : null;
    if (wantText && !font) ctx.log(`contact-sheet: warning: ${NO_FONT_HELP}; the sheet is made without timestamps and header`);
    const grid: GridLayout = { columns, rows, tileWidth, tileHeight: tileHeightFor(video, tileWidth), margin: params.margin ?? 10, padding: params.padding ?? 4, top: 0 };
    const width = sheetSize(grid).width;
    const info = headerInfo(source, ctx.input);
    const lines = params.header !== false && font ? headerLines(info, source, headerFont(width, grid.margin).maxChars) : null;
    const band = lines ? headerBand(lines, width, grid.margin, textColorOn(background)) : null;
    const layout: GridLayout = { ...grid, top: band?.height ?? 0 };
    const size = sheetSize(layout);
    if (size.height > STILL_MAX_SIDE[format]) {
      throw new VidfleetError('INVALID_PARAMS', `The sheet would be ${size.height} px high (tiles of this video are ${layout.tileHeight} px high at ${tileWidth} px wide), more than ${format} allows (${STILL_MAX_SIDE[format]}); use fewer rows or a smaller tileWidth.`);
    }

    // Tiles are lossless PNGs: the sheet is encoded once, at the end, in the format asked for.
    const zscale = await hasFilter('zscale');
    const chainOptions = { width: tileWidth, format: 'png' as const, zscale };
    for (const w of stillChain(video, { ...chainOptions, tag: 'x' }).warnings) ctx.log(`contact-sheet: warning: ${w}`);
    const req: GrabRequest = {
      ...taskSide(ctx),
      stream: String(source.stream.index),
      chain: (tag) => stillChain(video, { ...chainOptions, tag }),
      encoderArgs: stillEncoderArgs('png', 100),
      action: 'could not take the frames of a contact sheet of',
      timeoutMs: FFMPEG_TIMEOUT_MS,
    };
    const shooter = new Shooter(ctx, req, mode, 'png', duration, 2 / (usableFrameRate(video.frameRate) ?? 25), 'contact-sheet');
    const tilePath = (index: number): string => join(ctx.workDir, `tile-${String(index).padStart(4, '0')}.png`);
    const tiles: ContactSheetTile[] = [];
    for (const batch of chunks(plan, batchSize(mode, video.width, video.height))) {
      await shooter.take(batch, batch.map((p) => tilePath(p.index)), params.skipBlank ?? false, async (shot, taken) => {
        const tile: ContactSheetTile = { index: shot.index, time: shot.time, actualTime: taken.outcome.actualTime };
        if (taken.movedFromBlank) tile.movedFromBlank = true;
        if (taken.blank) tile.blank = true;
        tiles.push(tile);
        ctx.onProgress({ progress: 0.05 + (0.85 * tiles.length) / plan.length, message: `tile ${tiles.length}/${plan.length}` });
      });
    }

    const texts: TextSpec[] = [...(band?.texts ?? [])];
    if (params.timestamps !== false) {
      for (const [i, t] of tiles.entries()) texts.push(timestampText(layout, i, tileClock(t.actualTime ?? t.time, duration, plan.length)));
    }
    const name = `contact-sheet.${STILL_FORMATS[format].extension}`;
    const out = join(ctx.workDir, name);
    await composeSheet({
      tiles: join(ctx.workDir, 'tile-%04d.png'), first: 1, count: plan.length, layout, background, texts, font,
      format, quality: params.quality ?? DEFAULT_QUALITY, out, signal: ctx.signal, log: ctx.log, toolLog: ctx.toolLog, timeoutMs: FFMPEG_TIMEOUT_MS,
    });
    const image = await imageFileSize(out);
    if (image?.width !== size.width || image.height !== size.height) {
      throw new VidfleetError('FFMPEG_FAILED', `ffmpeg wrote ${name} at ${image ? `${image.width}x${image.height}` : 'an unreadable size'}, not the ${size.width}x${size.height} the layout needs.`);
    }
    await ctx.emitArtifact({ name, path: out, contentType: STILL_FORMATS[format].contentType });
    ctx.onProgress({ progress: 1, message: 'done' });
    return {
      artifact: name, format, mode, width: size.width, height: size.height, columns, rows, tileWidth, tileHeight: layout.tileHeight, duration, tiles,
      header: lines && band ? { ...info, lines, height: band.height } : null,
      textRendered: !wantText || font !== null,
    };
  },
};
