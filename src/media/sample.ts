// A synthetic sample clip (moving test pattern with a timer, and a beeping tone) for the demo
// and benchmarks, when the user has no video at hand.
import { mkdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { VidfleetError } from '../protocol/index.js';
import { ffmpegBinary, runProcess } from './process.js';

export async function generateSampleClip(path: string, options: { seconds: number; width: number; height: number; fps?: number}): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.part.mp4`;
  const fps = options.fps ?? 25;
  const result = await runProcess(ffmpegBinary(), [
    '-hide_banner', '-nostdin', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${options.width}x${options.height}:rate=${fps}:duration=${options.seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:beep_factor=4:sample_rate=48000:duration=${options.seconds}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', String(fps * 2),
    '-c:a', 'aac', '-b:a', '96k', '-shortest', '-movflags', '+faststart', partial,
  ]);
  if (result.exitCode !== 0) {
    throw new VidfleetError('FFMPEG_FAILED', `ffmpeg could not generate the sample clip: ${result.stderr.trim().split('\n').pop() ?? 'unknown error'}`);
  }
  await rename(partial, path);
}
