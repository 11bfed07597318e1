// Per-invocation CPU of the ffmpeg/ffprobe processes vidfleet's workers run, so the report can
// say where vidfleet's CPU goes (chunk encodes, audio, packet-listing checks, concat merge, the
// plan's packet scan). Workers find their tools through VIDFLEET_FFMPEG / VIDFLEET_FFPROBE; these
// point at two-line shell wrappers that exec GNU time, which runs the real tool and appends its
// wall, user and system seconds (from wait4's rusage) and command line to a log file.
//
// The wrappers cost a shell exec and a `time` process per invocation; that cost is inside the
// measured totals (they come from /proc, not from these records) and shows up there as the
// difference between the workers' children CPU and the sum of these records.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Invocation {
  tool: string;
  wall: number;
  user: number;
  sys: number;
  args: string;
}

export interface ToolWrappers {
  env: Record<string, string>;
  clear(): void;
  read(): Invocation[];
}

const GNU_TIME = '/usr/bin/time';

function which(name: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** Null when GNU time or a tool is missing (the bench then reports totals only). */
export function installToolWrappers(dir: string): ToolWrappers | null {
  const ffmpeg = which('ffmpeg');
  const ffprobe = which('ffprobe');
  if (!existsSync(GNU_TIME) || !ffmpeg || !ffprobe) return null;
  try {
    execFileSync(GNU_TIME, ['-f', '%e', '-o', '/dev/null', 'true']);
  } catch {
    return null; // not GNU time
  }
  const bin = join(dir, 'bin');
  const logs = join(dir, 'times');
  mkdirSync(bin, { recursive: true });
  mkdirSync(logs, { recursive: true });
  for (const [name, real] of [['ffmpeg', ffmpeg], ['ffprobe', ffprobe]] as const) {
    // -a: a recycled pid appends instead of overwriting. %C is the command line as run.
    writeFileSync(join(bin, name), `#!/bin/sh\nexec ${GNU_TIME} -a -o "${logs}/$$.txt" -f '%e %U %S %C' ${real} "$@"\n`, { mode: 0o755 });
  }
  return {
    env: { VIDFLEET_FFMPEG: join(bin, 'ffmpeg'), VIDFLEET_FFPROBE: join(bin, 'ffprobe') },
    clear() {
      rmSync(logs, { recursive: true, force: true });
      mkdirSync(logs, { recursive: true });
    },
    read() {
      const out: Invocation[] = [];
      for (const file of readdirSync(logs)) {
        for (const line of readFileSync(join(logs, file), 'utf8').split('\n')) {
          // "Command exited with non-zero status N" lines precede a failed run's record.
          const m = /^(\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\S+)(.*)$/.exec(line);
          if (!m) continue;
          out.push({ tool: m[4]!.split('/').pop()!, wall: Number(m[1]), user: Number(m[2]), sys: Number(m[3]), args: m[5]!.trim() });
        }
      }
      return out;
    },
  };
}

/** What a worker ran the tool for, from its arguments (see src/media/transcode/*). */
export function classify(inv: Invocation, sizes: Map<string, string>, source: string): string {
  const a = inv.args;
  if (inv.tool === 'ffprobe') {
    if (!a.includes(source)) {
      // The package task: a probe of each merged file, then packet counts of the package.
      if (a.includes('-count_packets')) return 'package: verify (packet counts of the package)';
      if (!a.includes('packet=')) return 'package: probe of the merged files';
    }
    if (a.includes('packet=stream_index,pts,dts,size,flags')) {
      if (/\/chunk\.mp4(\s|$)/.test(a)) return 'checks: chunk file listed after its encode';
      if (/\/merged\.mp4(\s|$)/.test(a)) return 'checks: merged file listed';
      if (/\/in\//.test(a)) return 'checks: chunk files listed again by the merge';
      return 'checks: other packet listing';
    }
    return 'plan: probe + packet scan of the source';
  }
  if (inv.tool === 'ffmpeg') {
    if (/-f concat /.test(a)) return 'merge: concat copy + audio mux';
    if (/-f hls /.test(a)) return 'package: HLS remux';
    if (/-f dash /.test(a)) return 'package: DASH remux';
    if (/ -vn /.test(a)) return 'audio encode (once for all renditions)';
    const scale = /scale=(\d+):(\d+)/.exec(a);
    if (scale && / -ss /.test(a)) return `chunk encodes ${sizes.get(`${scale[1]}x${scale[2]}`) ?? `${scale[1]}x${scale[2]}`}`;
    return 'ffmpeg: other';
  }
  return `${inv.tool}: other`;
}
