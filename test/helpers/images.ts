// Looking at images the way the still-image tests need: size and codec from ffprobe, and
// pixels decoded by ffmpeg into numbers (luma mean and contrast, colourfulness, combing).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function imageInfo(path: string): Promise<{ codec: string; width: number; height: number }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', path]);
  const s = (JSON.parse(stdout) as { streams: Array<{ codec_name: string; width: number; height: number }> }).streams[0];
  if (!s) throw new Error(`${path} has no image stream`);
  return { codec: s.codec_name, width: s.width, height: s.height };
}

/** Raw pixels of the first frame of `path` after `filter` (which should end in a size and format). */
export async function raw(path: string, filter: string, inputArgs: string[] = []): Promise<Buffer> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', ...inputArgs, '-i', path, '-frames:v', '1', '-vf', filter, '-f', 'rawvideo', '-'], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export interface Look {
  /** 32x32 RGB, for pixel-wise comparison. */
  rgb: Buffer;
  /** Mean and standard deviation of luma (0-255, full range). */
  luma: number;
  contrast: number;
  /** Mean |U-128|+|V-128|: how colourful. */
  saturation: number;
}

/** How an image (or a video's first frame after `filter`) looks, shrunk to 32x32. */
export async function look(path: string, filter = 'null', inputArgs: string[] = []): Promise<Look> {
  const yuv = await raw(path, `${filter},scale=32:32:flags=area:out_range=pc,format=yuvj444p`, inputArgs);
  const n = yuv.length / 3;
  const y = [...yuv.subarray(0, n)];
  const luma = y.reduce((a, b) => a + b, 0) / n;
  const contrast = Math.sqrt(y.reduce((a, b) => a + (b - luma) ** 2, 0) / n);
  let saturation = 0;
  for (let i = 0; i < n; i++) saturation += Math.abs((yuv[n + i] ?? 128) - 128) + Math.abs((yuv[2 * n + i] ?? 128) - 128);
  return { rgb: await raw(path, `${filter},scale=32:32:flags=area,format=rgb24`, inputArgs), luma, contrast, saturation: saturation / n };
}

/** Mean absolute difference of two equally sized buffers. */
export const mad = (a: Buffer, b: Buffer): number => a.reduce((s, v, i) => s + Math.abs(v - (b[i] ?? 0)), 0) / a.length;

/** Max minus min grey level at 16x16 (after `filter`, e.g. a crop): more than ~8 means the image shows something. */
export async function spread(path: string, filter = 'null'): Promise<number> {
  const px = await raw(path, `${filter},scale=16:16:flags=area,format=gray`);
  return Math.max(...px) - Math.min(...px);
}

/**
 * Combing: mean |row − average of the rows above and below| at full size, in grey. Two fields
 * from different moments woven into one frame make every other row jump, which this measures.
 */
export async function combing(path: string, filter = 'null', inputArgs: string[] = []): Promise<number> {
  const dims = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width', '-of', 'csv=p=0', path]);
  const probeWidth = Number(dims.stdout.trim().split('\n')[0]);
  const px = await raw(path, `${filter},format=gray`, inputArgs);
  const width = filter === 'null' ? probeWidth : Number(/scale=(\d+):/.exec(filter)?.[1] ?? probeWidth);
  const rows = Math.floor(px.length / width);
  let sum = 0;
  for (let r = 1; r < rows - 1; r++) {
    for (let c = 0; c < width; c++) {
      const at = (rr: number) => px[rr * width + c] ?? 0;
      sum += Math.abs(at(r) - (at(r - 1) + at(r + 1)) / 2);
    }
  }
  return sum / ((rows - 2) * width);
}

/**
 * An HDR frame as tone mapping should show it, made independently of vidfleet (zscale with every
 * colour parameter spelled out rather than read from the frame, hable, BT.709), and as the naive
 * conversion that ignores the transfer shows it (grey and flat for PQ, pale for HLG).
 */
export async function hdrReferences(path: string, transfer: string, width: number, height: number, atSeconds: number): Promise<{ reference: Look; naive: Look }> {
  const at = ['-ss', String(atSeconds)];
  const size = `scale=${width}:${height}`;
  const reference = await look(
    path,
    `${size},format=yuv444p10le,zscale=tin=${transfer}:min=bt2020nc:pin=bt2020:rin=limited:t=linear:npl=100:p=bt2020:m=bt2020nc,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv444p`,
    at,
  );
  return { reference, naive: await look(path, size, at) };
}
