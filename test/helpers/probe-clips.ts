// Clips whose keyframes, frame timing, colours or damage are known exactly, for the probe
// extras. They live in the shared clip dir of clips.ts and are made once per test file.
import { execFile } from 'node:child_process';
import { chmod, copyFile, open, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLIP_DIR } from './clips.js';

const run = promisify(execFile);
// Read once: tests swap these variables for counting wrappers, which must still reach the real tools.
const FFMPEG = process.env.VIDFLEET_FFMPEG || 'ffmpeg';
const FFPROBE = process.env.VIDFLEET_FFPROBE || 'ffprobe';
const cache = new Map<string, Promise<string>>();

function once(name: string, make: (out: string) => Promise<void>): Promise<string> {
  let pending = cache.get(name);
  if (!pending) {
    const out = join(CLIP_DIR, name);
    pending = make(out).then(() => out);
    cache.set(name, pending);
  }
  return pending;
}

async function ffmpeg(args: string[]): Promise<void> {
  await run(FFMPEG, ['-hide_banner', '-nostdin', '-v', 'error', '-y', ...args], { maxBuffer: 16 * 1024 * 1024 });
}

/** 4 s at 25 fps with a keyframe every 25 frames exactly (no scene-cut keyframes), B-frames on. */
export const makeFixedGopClip = (): Promise<string> =>
  once('gop25.mp4', (out) =>
    ffmpeg([
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=4',
      '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '2', '-pix_fmt', 'yuv420p', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0', out,
    ]),
  );

/**
 * Variable frame rate: 30 frames 1/30 s apart, then 12 frames 1/12 s apart (2.5 times as long,
 * so not a whole-multiple gap), stamped in 1/90000 s so the durations are exact to a tick.
 */
export const makeVfrClip = (): Promise<string> =>
  once('vfr-30-then-12.mp4', (out) =>
    ffmpeg([
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30:duration=1.4',
      '-vf', "settb=1/90000,setpts='if(lt(N\\,30)\\,N/30\\,1+(N-30)/12)/TB'",
      '-fps_mode', 'passthrough', '-enc_time_base', '1/90000', '-video_track_timescale', '90000',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', out,
    ]),
  );

/** One flat colour (an ffmpeg colour name such as "red"), 1 s at 25 fps. */
export const makeSolidClip = (color: string): Promise<string> =>
  once(`solid-${color}.mp4`, (out) =>
    ffmpeg(['-f', 'lavfi', '-i', `color=c=${color}:size=320x240:rate=25:duration=1`, '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', out]),
  );

/** A detailed 4 s clip (moov at the end, so the middle of the file is picture data). */
export const makeDetailedClip = (): Promise<string> =>
  once('detailed.mp4', (out) =>
    ffmpeg([
      '-f', 'lavfi', '-i', 'testsrc2=size=640x480:rate=25:duration=4', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=4',
      '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', '50', '-c:a', 'aac', out,
    ]),
  );

/**
 * The detailed clip with 4 KiB of noise written over it at 30 %, 50 % and 70 % of its size:
 * the container is intact, so it opens and probes, but frames there no longer decode. The noise
 * comes from a fixed-seed generator, so every run damages the same bytes the same way.
 */
export const makeCorruptedClip = (): Promise<string> =>
  once('corrupted.mp4', async (out) => {
    await copyFile(await makeDetailedClip(), out);
    const { size } = await stat(out);
    let seed = 4;
    const noise = Buffer.alloc(4096);
    const fh = await open(out, 'r+');
    try {
      for (const at of [0.3, 0.5, 0.7]) {
        for (let i = 0; i < noise.length; i++) {
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          noise[i] = seed >>> 24;
        }
        await fh.write(noise, 0, noise.length, Math.floor(size * at));
      }
    } finally {
      await fh.close();
    }
  });

/** A wrapper script that appends its name to `log` and runs the real tool: counts ffmpeg/ffprobe runs. */
export async function countingWrapper(tool: 'ffmpeg' | 'ffprobe', log: string): Promise<string> {
  const real = tool === 'ffmpeg' ? FFMPEG : FFPROBE;
  const path = join(CLIP_DIR, `counting-${tool}.sh`);
  await writeFile(path, `#!/bin/sh\necho ${tool} >> '${log}'\nexec ${real} "$@"\n`);
  await chmod(path, 0o755);
  return path;
}
