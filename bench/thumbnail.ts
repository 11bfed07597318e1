// bench/thumbnail: one thumbnail end to end through vidfleet (submit over HTTP → long-poll claim
// → worker process runs ffmpeg → artifact upload → completion seen by the client) against the
// same ffmpeg command run bare, on the same file, interleaved in the same run. Writes the ratio
// of medians to bench/RESULTS.md.
//
//   npm run bench:thumbnail            (add -- --runs 30 for more samples)
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
import { fileUri } from '../src/protocol/index.js';
import { ffmpegVersionLine, machineLine, summarize, writeResultsSection, type Summary } from './results.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, source: { type: 'string' } } });
const RUNS = Number(values.runs);

function bareFfmpeg(input: string, time: number, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', '-ss', String(time), '-i', input, '-frames:v', '1', '-vf', 'scale=320:-1', out], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vidfleet-bench-'));
  const source = values.source ?? join(tmpdir(), 'vidfleet-bench-1080p-60s.mp4');
  if (!existsSync(source)) {
    process.stderr.write(`generating ${source} (1080p25, 60 s, GOP 2 s)…\n`);
    await generateSampleClip(source, { seconds: 60, width: 1920, height: 1080 });
  }
  const fleet = await startLocalFleet({ port: 0, dataDir: join(dir, 'data'), workers: 1, workerConcurrency: 1, workerLog: 'file' });
  const client = new VidfleetClient(fleet.coordinator.url);
  const bare: number[] = [];
  const viaVidfleet: number[] = [];
  try {
    const once = async (time: number, record: boolean, vidfleetFirst: boolean): Promise<void> => {
      const steps = [
        async () => {
          const t0 = performance.now();
          await bareFfmpeg(source, time, join(dir, `bare-${time}.jpg`));
          if (record) bare.push(performance.now() - t0);
        },
        async () => {
          const t0 = performance.now();
          const job = await client.submitJob({ kind: 'thumbnail', input: fileUri(source), params: { time, width: 320 } });
          const done = await client.getJob(job.id, 60);
          if (done.status !== 'completed') throw new Error(`job ${job.id} ${done.status}: ${done.error?.message}`);
          if (record) viaVidfleet.push(performance.now() - t0);
        },
      ];
      if (vidfleetFirst) steps.reverse();
      for (const step of steps) await step();
    };
    // Warm-up: page cache, worker registration, JIT.
    for (let i = 0; i < 3; i++) await once(10 + i, false, i % 2 === 0);
    for (let i = 0; i < RUNS; i++) {
      const time = 2 + ((i * 7.3) % 55);
      await once(Number(time.toFixed(2)), true, i % 2 === 0);
    }
  } finally {
    await fleet.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const b = summarize(bare);
  const v = summarize(viaVidfleet);
  const ratio = v.median / b.median;
  const row = (name: string, s: Summary): string => `| ${name} | ${s.n} | ${s.median.toFixed(1)} | ${s.p90.toFixed(1)} | ${s.mean.toFixed(1)} |`;
  const section = [
    `Source: ${values.source ?? 'synthetic 1920x1080 25 fps H.264, 60 s, keyframe every 2 s'}; output 320 px wide JPEG; time varies per run (same time for both sides of a pair); the two sides alternate which goes first.`,
    'vidfleet side: HTTP submit → long-poll claim wakes → worker process runs ffmpeg → uploads the JPEG (SHA-256) → completes → client long-poll on the job returns. One local worker process, concurrency 1, SQLite.',
    '',
    '| what | runs | median ms | p90 ms | mean ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    row('bare `ffmpeg -ss T -i file -frames:v 1 -vf scale=320:-1`', b),
    row('vidfleet thumbnail job, end to end', v),
    '',
    `**Ratio (median vidfleet / median bare): ${ratio.toFixed(3)}×** (goal ≤ 1.15×; overhead ${(v.median - b.median).toFixed(1)} ms per job).`,
    '',
    `${machineLine()}; ${await ffmpegVersionLine()}; measured ${new Date().toISOString().slice(0, 10)}.`,
  ].join('\n');
  await writeResultsSection('thumbnail', 'bench/thumbnail — one thumbnail, end to end', section);
  process.stdout.write(section + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
