// What this machine's ffmpeg can do, for worker registration and for choosing encoders
// (e.g. WebP needs libwebp). Asked once per process and binary: it does not change while we run.
import { VidfleetError } from '../protocol/index.js';
import { ffmpegBinary, runProcess } from './process.js';

export interface MediaCapabilities {
  /** "5.1.9-0+deb12u1" — the token after "ffmpeg version". */
  ffmpegVersion: string;
  /** Encoder names as `ffmpeg -encoders` lists them (libx264, mjpeg, libwebp, …). */
  encoders: string[];
  /** Hardware acceleration methods compiled in (not necessarily usable on this machine). */
  hwaccels: string[];
  /** Filter names as `ffmpeg -filters` lists them (zscale, tonemap, libplacebo, …). */
  filters: string[];
}

/** `ffmpeg -encoders` lines look like " V....D libwebp   libwebp WebP image" after a "------" rule. */
export function parseEncoders(output: string): string[] {
  const lines = output.split(/\r?\n/);
  const start = lines.findIndex((l) => /^\s*-{3,}\s*$/.test(l));
  const names: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^\s*[VAS][A-Z.]{5}\s+(\S+)/.exec(line);
    if (m?.[1] && m[1] !== '=') names.push(m[1]);
  }
  return names;
}

/** `ffmpeg -filters` lines look like " TSC zscale   V->V   Apply resizing…" after a "Filters:" legend. */
export function parseFilters(output: string): string[] {
  const names: string[] = [];
  for (const line of output.split(/\r?\n/)) {
    const m = /^\s*[T.][S.][C.]\s+(\S+)\s+\S*->\S*\s/.exec(line);
    if (m?.[1]) names.push(m[1]);
  }
  return names;
}

export function parseHwaccels(output: string): string[] {
  return output
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !/:$/.test(l));
}

export function parseVersion(output: string): string {
  return /ffmpeg version (\S+)/.exec(output)?.[1] ?? 'unknown';
}

async function ask(args: string[]): Promise<string> {
  const res = await runProcess(ffmpegBinary(), ['-hide_banner', ...args], { timeoutMs: 30_000 });
  if (res.exitCode !== 0) {
    throw new VidfleetError('FFMPEG_FAILED', `${ffmpegBinary()} ${args.join(' ')} failed (exit ${res.exitCode}): ${res.stderr.trim().slice(-500)}`);
  }
  return res.stdout;
}

const cache = new Map<string, Promise<MediaCapabilities>>();

export function detectCapabilities(): Promise<MediaCapabilities> {
  const bin = ffmpegBinary();
  let pending = cache.get(bin);
  if (!pending) {
    pending = (async () => {
      // -version without -hide_banner: the banner is the answer.
      const version = await runProcess(bin, ['-version'], { timeoutMs: 30_000 });
      const [encoders, hwaccels, filters] = await Promise.all([ask(['-encoders']), ask(['-hwaccels']), ask(['-filters'])]);
      return { ffmpegVersion: parseVersion(version.stdout), encoders: parseEncoders(encoders), hwaccels: parseHwaccels(hwaccels), filters: parseFilters(filters) };
    })();
    // A failure (ffmpeg not installed yet) must not stick: the next call asks again.
    pending.catch(() => cache.delete(bin));
    cache.set(bin, pending);
  }
  return pending;
}

export async function hasEncoder(name: string): Promise<boolean> {
  return (await detectCapabilities()).encoders.includes(name);
}

export interface FormatCatalog {
  /** Every demuxer name (aliases split: "mov,mp4,…" gives each). */
  demuxers: string[];
}

/** `ffmpeg -demuxers` lines look like " D  mov,mp4,m4a   QuickTime / MOV" after a "--" rule. */
export function parseFormatList(output: string): string[] {
  const lines = output.split(/\r?\n/);
  const start = lines.findIndex((l) => /^\s*-{2,}\s*$/.test(l));
  const names: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^\s[D ][E ]\s?\s(\S+)/.exec(line);
    if (m?.[1]) names.push(...m[1].split(','));
  }
  return names;
}

const catalogs = new Map<string, Promise<FormatCatalog>>();

export function detectFormats(): Promise<FormatCatalog> {
  const bin = ffmpegBinary();
  let pending = catalogs.get(bin);
  if (!pending) {
    pending = (async () => {
      // Filters come with detectCapabilities(); capture devices are refused by name (DEVICE_FORMATS).
      return { demuxers: parseFormatList(await ask(['-demuxers'])) };
    })();
    pending.catch(() => catalogs.delete(bin));
    catalogs.set(bin, pending);
  }
  return pending;
}

export async function hasFilter(name: string): Promise<boolean> {
  return (await detectCapabilities()).filters.includes(name);
}
