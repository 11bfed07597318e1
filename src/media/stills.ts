// The filter chain every still image goes through (thumbnail, screenshots, contact sheets,
// sprites), so they all show a frame the way a player does:
//
//   [deinterlace] → [rotate, only when we deinterlace] → thin (fps=…, from the caller)
//   → scale to display aspect → [tone map] → pick (thumbnail=N, tile, … from the caller)
//   → 8-bit format for the encoder → showinfo
//
// Interlaced video is deinterlaced before anything resizes rows (bwdif, one frame per frame;
// `deint=interlaced` touches only frames flagged interlaced, so it is safe when we do not know).
// HDR (PQ/HLG) is tone-mapped to SDR BT.709 with zscale+tonemap (hable): without it an HDR
// frame comes out grey and flat. Scaling happens first because tone mapping works in float RGB
// and costs per pixel: on file 08 (1080p HDR10) it added ~10 ms at 320 px wide, ~400 ms at full size.
// The chain ends in a named showinfo, whose line tells the caller which frame was taken and how flat it is.
import type { ProbeVideo } from '../protocol/index.js';

export const STILL_FORMATS = {
  jpeg: { extension: 'jpg', contentType: 'image/jpeg', encoder: 'mjpeg' },
  webp: { extension: 'webp', contentType: 'image/webp', encoder: 'libwebp' },
  png: { extension: 'png', contentType: 'image/png', encoder: 'png' },
} as const;
export type StillFormat = keyof typeof STILL_FORMATS;

/** What the chain needs to know about the source; null when it is not known (no probe yet). */
export type StillSource = Pick<ProbeVideo, 'hdr' | 'colorSpace' | 'colorPrimaries' | 'bitDepth' | 'fieldOrder' | 'interlaced' | 'rotation'>;

export interface StillChainOptions {
  width?: number;
  height?: number;
  format: StillFormat;
  /**
   * Filters that drop most frames (`fps=1/10`), placed before scaling and tone mapping so those
   * run on the frames kept only; after the deinterlacer, which needs each frame's neighbours.
   */
  thin?: readonly string[];
  /** Filters that choose or combine frames (`thumbnail=50`, `tile=10x10`): they see scaled SDR frames. */
  pick?: readonly string[];
  /** Names the showinfo instance (`showinfo@<tag>`) so its line can be found in the log. */
  tag: string;
  /** Whether this ffmpeg has zscale; without it HDR gets a simpler luma curve (see hdrFallback). */
  zscale: boolean;
}

export interface StillChain {
  /** The -vf / filter_complex chain. */
  filter: string;
  /** Options that go before this input's -i (e.g. -noautorotate when the chain rotates). */
  inputArgs: string[];
  /** The transfer being tone-mapped, or null for SDR. */
  toneMap: 'hdr10' | 'hlg' | null;
  /** Things the task log should say (assumptions, fallbacks). */
  warnings: string[];
}

/** 1-100 (higher is better) onto mjpeg's -q:v 31..2 (lower is better). */
export function jpegQscale(quality: number): number {
  const q = Math.min(100, Math.max(1, quality));
  return Math.round(2 + ((100 - q) * 29) / 99);
}

/** Encoder options for one image. PNG is lossless, so quality does not apply to it. */
export function stillEncoderArgs(format: StillFormat, quality: number): string[] {
  if (format === 'webp') return ['-c:v', 'libwebp', '-quality', String(quality), '-lossless', '0'];
  if (format === 'png') return ['-c:v', 'png'];
  return ['-c:v', 'mjpeg', '-q:v', String(jpegQscale(quality))];
}

/**
 * The scale step. `sar` and `dar` in scale expressions are those of the (already rotated)
 * input, so sizes follow the display aspect; setsar=1 then makes the pixels square so image
 * viewers, which ignore SAR, show the same shape.
 */
export function scaleFilter(width?: number, height?: number): string {
  let w: string;
  let h: string;
  if (width && height) {
    // Fit inside the box, keeping the display aspect.
    w = `min(${width}\\,max(1\\,round(${height}*dar)))`;
    h = `min(${height}\\,max(1\\,round(${width}/dar)))`;
  } else if (width) {
    w = String(width);
    h = `max(1\\,round(${width}/dar))`;
  } else if (height) {
    w = `max(1\\,round(${height}*dar))`;
    h = String(height);
  } else {
    w = 'round(iw*sar)';
    h = 'ih';
  }
  return `scale=w=${w}:h=${h},setsar=1`;
}

/**
 * Which curve to undo. Untagged 10-bit BT.2020 video (VP9 Profile 2 WebM whose Colour element
 * has no transfer, file 17 in the corpus) is nearly always PQ: shown as SDR it is washed out.
 */
export function toneMapOf(source: StillSource | null): { curve: 'hdr10' | 'hlg'; assumed: boolean } | null {
  if (!source) return null;
  if (source.hdr === 'hdr10' || source.hdr === 'hlg') return { curve: source.hdr, assumed: false };
  if (source.hdr === 'unknown' && /^bt2020/.test(source.colorSpace ?? '') && (source.bitDepth ?? 10) > 8) return { curve: 'hdr10', assumed: true };
  return null;
}

/**
 * Whether the chain built without knowing the source (`stillChain(null, …)`) already shows
 * this source right: true unless it needs tone mapping, or is interlaced and rotated (ffmpeg's
 * autorotate turns the frame before our deinterlacer, which would then work across columns).
 */
export function unknownChainFits(source: StillSource): boolean {
  return toneMapOf(source) === null && !(source.interlaced && source.rotation !== 0);
}

function rotationFilters(clockwise: number): string[] {
  if (clockwise === 90) return ['transpose=clock'];
  if (clockwise === 180) return ['hflip', 'vflip'];
  if (clockwise === 270) return ['transpose=cclock'];
  return [];
}

const HDR_TRANSFER = { hdr10: 'smpte2084', hlg: 'arib-std-b67' } as const;

/** PQ → linear (units of 100 nits) → hable, as ffmpeg's tonemap does it, with a 1000-nit peak. */
function hable(x: number): number {
  return (x * (0.15 * x + 0.05) + 0.004) / (x * (0.15 * x + 0.5) + 0.06) - 0.02 / 0.3;
}

/**
 * Without zscale there is no float linear-light path, so HDR10 gets a lookup table on luma
 * alone: PQ EOTF, hable with a 1000-nit peak, BT.709 OETF. Brightness and contrast come out
 * close to the real tone map (file 08: mean luma 130 vs 130), colours are less saturated. HLG is
 * built to look acceptable on SDR screens as it is, so it is left alone.
 */
export function hdrFallback(curve: 'hdr10' | 'hlg'): string | null {
  if (curve === 'hlg') return null;
  const norm = '(clip(val,minval,maxval)-minval)/(maxval-minval)';
  const linear = '100*pow(max(ld(0)-0.8359375,0)/(18.8515625-18.6875*ld(0)),1/0.1593017578125)';
  const toned = `(ld(1)*(0.15*ld(1)+0.05)+0.004)/(ld(1)*(0.15*ld(1)+0.5)+0.06)-0.02/0.3`;
  const expr = [
    `st(0,pow(${norm},1/78.84375))`,
    `st(1,${linear})`,
    `st(2,(${toned})/${hable(10).toFixed(6)})`,
    'minval+(maxval-minval)*if(lt(ld(2),0.018),4.5*ld(2),1.099*pow(ld(2),0.45)-0.099)',
  ].join(';');
  return `lutyuv=y='${expr}'`;
}

/** HDR → SDR BT.709 (zscale + hable), or a luma curve without zscale; shared with transcode. */
export function toneMapFilters(source: Pick<StillSource, 'colorSpace' | 'colorPrimaries'>, curve: 'hdr10' | 'hlg', zscale: boolean): string[] {
  if (!zscale) {
    const lut = hdrFallback(curve);
    return lut ? [lut] : [];
  }
  // setparams fills in what the stream leaves untagged, or zscale finds "no path between colorspaces".
  const space = /^bt2020/.test(source.colorSpace ?? '') ? source.colorSpace : 'bt2020nc';
  const primaries = source.colorPrimaries ?? 'bt2020';
  // zimg refuses 4:2:0 at odd sizes (a 240 px wide 16:9 image is 240x135), so it works in
  // 4:4:4 both ways and the final subsampling is left to swscale.
  return [
    'format=yuv444p10le',
    `setparams=color_trc=${HDR_TRANSFER[curve]}:color_primaries=${primaries}:colorspace=${space}`,
    'zscale=t=linear:npl=100',
    'format=gbrpf32le',
    'zscale=p=bt709',
    'tonemap=tonemap=hable:desat=0',
    'zscale=t=bt709:m=bt709:r=tv',
    'format=yuv444p',
  ];
}

/** The pixel format each still encoder is given: JPEG full-range 4:2:0, WebP 4:2:0, PNG RGB. */
export function stillPixelFormat(format: StillFormat): string {
  return format === 'png' ? 'rgb24' : format === 'jpeg' ? 'yuvj420p' : 'yuv420p';
}

/** The last steps: an 8-bit format the encoder takes, then showinfo (on YUV, so plane 0 is luma). */
function outputFilters(format: StillFormat, tag: string): string[] {
  const info = ['sidedata=mode=delete', `showinfo@${tag}`]; // side data (Dolby Vision RPUs…) would flood the log
  if (format === 'png') return ['format=yuv444p', ...info, `format=${stillPixelFormat(format)}`];
  return [`format=${stillPixelFormat(format)}`, ...info];
}

export function stillChain(source: StillSource | null, options: StillChainOptions): StillChain {
  const warnings: string[] = [];
  const inputArgs: string[] = [];
  const filters: string[] = [];
  if (source?.fieldOrder !== 'progressive') {
    filters.push('bwdif=mode=send_frame:parity=auto:deint=interlaced');
    if (source?.interlaced && source.rotation) {
      inputArgs.push('-noautorotate');
      filters.push(...rotationFilters(source.rotation));
    }
  }
  filters.push(...(options.thin ?? []), scaleFilter(options.width, options.height));
  const tone = toneMapOf(source);
  if (source && tone) {
    if (tone.assumed) warnings.push(`the video is ${source.bitDepth ?? 10}-bit ${source.colorSpace} with no transfer tag; assumed HDR10 (PQ) and tone-mapped it`);
    if (!options.zscale) {
      warnings.push(
        tone.curve === 'hlg'
          ? "this ffmpeg has no zscale filter, so HLG is shown without tone mapping (HLG looks acceptable on SDR screens; install an ffmpeg built with libzimg for exact colours)"
          : "this ffmpeg has no zscale filter, so HDR10 is tone-mapped with a simpler luma-only curve (colours less saturated; install an ffmpeg built with libzimg for exact colours)",
      );
    }
    filters.push(...toneMapFilters(source, tone.curve, options.zscale));
  }
  filters.push(...(options.pick ?? []), ...outputFilters(options.format, options.tag));
  return { filter: filters.join(','), inputArgs, toneMap: tone?.curve ?? null, warnings };
}

export interface LumaStats {
  mean: number;
  stdev: number;
}

/**
 * Whether an image says nothing: black (or nearly), or one flat colour. `stats` is the luma of
 * the encoded image's YUV (full range for JPEG, video range for WebP/PNG's intermediate).
 */
export function isBlank(stats: LumaStats, format: StillFormat): boolean {
  const full = format === 'jpeg';
  const mean = full ? stats.mean : ((stats.mean - 16) * 255) / 219;
  const stdev = full ? stats.stdev : (stats.stdev * 255) / 219;
  return stdev < 3 || (mean < 32 && stdev < 8);
}
