// The header readers agree with ffmpeg on every image format a thumbnail can be.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageFileSize, jpegSize, pngSize, webpSize } from '../../src/media/image-size.js';

const dir = mkdtempSync(join(tmpdir(), 'vidfleet-img-'));

function make(name: string, size: string, codecArgs: string[]): string {
  const out = join(dir, name);
  // Scale after the source so odd sizes survive (testsrc2 itself rounds to even).
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360', '-vf', `scale=${size.replace('x', ':')}`, '-frames:v', '1', ...codecArgs, out]);
  return out;
}

describe('image header sizes', () => {
  it.each([
    ['odd.jpg', '161x121', ['-c:v', 'mjpeg']],
    ['wide.jpg', '3026x1386', ['-c:v', 'mjpeg']],
    ['lossy.webp', '321x179', ['-c:v', 'libwebp']],
    ['lossless.webp', '33x25', ['-c:v', 'libwebp', '-lossless', '1']],
    ['odd.png', '161x121', ['-c:v', 'png']],
    ['wide.png', '3026x1386', ['-c:v', 'png', '-pix_fmt', 'rgb24']],
  ])('%s', async (name, size, args) => {
    const path = make(name, size, args);
    const truth = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', path]).toString().trim();
    const [width, height] = truth.split(',').map(Number);
    expect(await imageFileSize(path)).toEqual({ width, height });
  });

  it('answers null for what is not a JPEG, WebP or PNG', async () => {
    const path = join(dir, 'text.jpg');
    writeFileSync(path, 'not an image at all, but long enough to read a header from it');
    expect(await imageFileSize(path)).toBeNull();
    expect(jpegSize(Buffer.from([0xff, 0xd8, 0xff]))).toBeNull();
    expect(webpSize(Buffer.alloc(10))).toBeNull();
    expect(pngSize(Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'))).toBeNull();
  });
});
