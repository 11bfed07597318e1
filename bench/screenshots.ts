// bench/screenshots: 10 keyframe-mode screenshots of a 1080p 5-minute file end to end through
// vidfleet (submit → claim → worker runs ffmpeg → 10 uploads → completion seen by the client)
// against the fastest bare-ffmpeg way to make the same 10 images, measured in the same run:
// each bare variant is timed and the fastest median is the reference. Contact sheet and sprite
// jobs on the same file are timed too when this build has those kinds. Writes bench/RESULTS.md.
//
//   npm run bench:screenshots            (add -- --runs 10 for more samples)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { VidfleetClient } from '../src/client/api-client.js';
import { startLocalFleet } from '../src/cli/local-fleet.js';
import { generateSampleClip } from '../src/media/sample.js';
import { fileUri, isKindName, type Job } from '../src/protocol/index.js';
import { ffmpegVersionLine, machineLine, summarize, writeResultsSection, type Summary } from './results.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '8' }, source: { type: 'string' } } });
const RUNS = Number(values.runs);
const COUNT = 10;
const WIDTH = 320;

function ffmpeg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', ...args], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg ${args.join(' ')} exited ${code}`))));
  });
}

/** One keyframe-only grab: the keyframe at or before `t`, decoded alone. */
const grabArgs = (input: string, t: number, out: string): string[] => [
  '-skip_frame', 'nokey', '-ss', t.toFixed(3), '-i', input, '-frames:v', '1', '-an', '-sn', '-vf', `scale=${WIDTH}:-2`, out,
];

/** Evenly spaced times need the duration: a script asks ffprobe first, as the kind does. */
function probeDuration(input: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', input], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`ffprobe exited ${code}`))));
  });
}

const evenlySpaced = (duration: number): number[] => Array.from({ length: COUNT }, (_, i) => ((i + 0.5) * duration) / COUNT);

/**
 * The bare ways a user would make the 10 images of a file, each starting, as the kind does,
 * from the file alone (ffprobe for the duration, then the grabs); the bench keeps the fastest.
 */
function bareVariants(input: string, dir: string): Record<string, () => Promise<void>> {
  const out = (v: string, i: number): string => join(dir, `${v}-${String(i + 1).padStart(2, '0')}.jpg`);
  return {
    'ffprobe, then one ffmpeg per image, one after another': async () => {
      const times = evenlySpaced(await probeDuration(input));
      for (const [i, t] of times.entries()) await ffmpeg(grabArgs(input, t, out('seq', i)));
    },
    'ffprobe, then one ffmpeg per image, two at a time (2 cores)': async () => {
      const times = evenlySpaced(await probeDuration(input));
      const queue = [...times.entries()];
      const lane = async (): Promise<void> => {
        for (let next = queue.shift(); next; next = queue.shift()) await ffmpeg(grabArgs(input, next[1], out('par', next[0])));
      };
      await Promise.all([lane(), lane()]);
    },
    'ffprobe, then one ffmpeg with 10 seeked inputs and 10 outputs': async () => {
      const times = evenlySpaced(await probeDuration(input));
      const args: string[] = [];
      for (const t of times) args.push('-skip_frame', 'nokey', '-ss', t.toFixed(3), '-i', input);
      times.forEach((_, i) => args.push('-map', `${i}:v:0`, '-frames:v', '1', '-vf', `scale=${WIDTH}:-2`, out('one', i)));
      await ffmpeg(args);
    },
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vidfleet-bench-shots-'));
  const source = values.source ?? join(tmpdir(), 'vidfleet-bench-1080p-300s.mp4');
  if (!existsSync(source)) {
    process.stderr.write(`generating ${source} (1080p25, 5 min, GOP 2 s)…\n`);
    await generateSampleClip(source, { seconds: 300, width: 1920, height: 1080 });
  }
  const fleet = await startLocalFleet({ port: 0, dataDir: join(dir, 'data'), workers: 1, workerConcurrency: 1, workerLog: 'file' });
  const client = new VidfleetClient(fleet.coordinator.url);
  const runJob = async (kind: string, params: Record<string, unknown>): Promise<Job> => {
    const job = await client.submitJob({ kind, input: fileUri(source), params });
    const done = await client.getJob(job.id, 60);
    if (done.status !== 'completed') throw new Error(`${kind} job ${job.id} ${done.status}: ${done.error?.message}`);
    return done;
  };
  const variants = bareVariants(source, dir);
  const bare = new Map<string, number[]>(Object.keys(variants).map((k) => [k, []]));
  const viaVidfleet: number[] = [];
  const extras = new Map<string, { params: Record<string, unknown>; samples: number[] }>();
  if (isKindName('contact-sheet')) extras.set('contact-sheet', { params: { columns: 4, rows: 4, tileWidth: WIDTH }, samples: [] });
  if (isKindName('sprite')) extras.set('sprite', { params: { interval: 10, tileWidth: 160 }, samples: [] });
  try {
    const shots = (): Promise<Job> => runJob('screenshots', { count: COUNT, mode: 'keyframe', width: WIDTH });
    // Warm-up: page cache, worker registration, JIT.
    await shots();
    for (const fn of Object.values(variants)) await fn();
    for (let i = 0; i < RUNS; i++) {
      // Alternate the order so neither side always runs on a warmer cache.
      const order = i % 2 === 0 ? ['vidfleet', ...Object.keys(variants)] : [...Object.keys(variants), 'vidfleet'];
      for (const what of order) {
        if (what === 'vidfleet') viaVidfleet.push(await timed(shots));
        else bare.get(what)!.push(await timed(variants[what]!));
      }
      for (const [kind, e] of extras) e.samples.push(await timed(() => runJob(kind, e.params)));
    }
  } finally {
    await fleet.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const summaries = [...bare].map(([name, s]) => ({ name, s: summarize(s) })).sort((a, b) => a.s.median - b.s.median);
  const fastest = summaries[0]!;
  const v = summarize(viaVidfleet);
  const ratio = v.median / fastest.s.median;
  const row = (name: string, s: Summary): string => `| ${name} | ${s.n} | ${s.median.toFixed(1)} | ${s.p90.toFixed(1)} | ${s.mean.toFixed(1)} |`;
  const section = [
    `Source: ${values.source ?? 'synthetic 1920x1080 25 fps H.264, 5 min, keyframe every 2 s'}; ${COUNT} images at the middles of ${COUNT} equal parts, ${WIDTH} px wide JPEG, keyframe mode (the keyframe at or before each time, decoded alone).`,
    'vidfleet side: one `screenshots` job (count 10, mode keyframe): HTTP submit → claim → one local worker process (concurrency 1, SQLite) probes the file and runs ffmpeg, uploads each image as it is made (SHA-256), completes → the client long-poll returns. Bare side: each way below starts from the file alone (ffprobe for the duration, as the job does, then the grabs), timed in the same rounds; the fastest median is the reference.',
    '',
    '| what | runs | median ms | p90 ms | mean ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...summaries.map(({ name, s }) => row(`bare: ${name}`, s)),
    row('vidfleet screenshots job, end to end', v),
    ...[...extras].map(([kind, e]) => row(`vidfleet ${kind} job (${JSON.stringify(e.params)}), end to end`, summarize(e.samples))),
    '',
    `**Ratio (median vidfleet / fastest bare median, "${fastest.name}"): ${ratio.toFixed(3)}×** (goal ≤ 1.15×; ${(v.median - fastest.s.median).toFixed(1)} ms per job).`,
    '',
    `${machineLine()}; ${await ffmpegVersionLine()}; measured ${new Date().toISOString().slice(0, 10)}.`,
  ].join('\n');
  await writeResultsSection('screenshots', 'bench/screenshots — 10 screenshots, end to end', section);
  process.stdout.write(section + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
