// bench/transcode (issue 5): the same H.264 ladder (1080p/720p/480p + AAC) from one 1080p25
// source, made by ONE single-pass ffmpeg (decode once, split, three encodes, audio once) and by
// vidfleet's chunked transcode on a local fleet (2 worker processes × concurrency 1), alternated
// in the same run. Wall time and total CPU time (every process of each side, from /proc), the
// vidfleet job's task timeline (plan / chunk encodes / audio / merges / package), where the extra
// CPU goes, and the speed-up model for N workers built from the measured task times.
// Writes its section of bench/RESULTS.md.
//
//   npm run bench:transcode                                   (60 s source, 3 rounds)
//   npm run bench:transcode -- --seconds 20 --rounds 1        (quick check)
//   options: --preset veryfast --crf 23 --chunk-seconds 10 --workers 2 --concurrency 1
//            --variant-concurrency 2 (adds a 2 × 2 fleet to every round) --link-mbps 1000
//            --quiet-wait-s 180 --no-attribution --skip-extras --dry-run (no RESULTS.md)
//            --render FILE (write the section again from a run's saved measurements)
import { mkdir, mkdtemp, readFile, rm, stat as fsStat, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { VidfleetClient } from '../src/client/api-client.js';
import { startLocalFleet, type LocalFleet } from '../src/cli/local-fleet.js';
import { analyzeSource } from '../src/media/transcode/analyze.js';
import { resolveRenditions } from '../src/media/transcode/chunks.js';
import type { AudioSpec, RenditionSpec, ResolvedRendition, SourceFacts, TranscodePlan } from '../src/media/transcode/types.js';
import { fileUri, isTerminalJobStatus, type Job, type TranscodeResult } from '../src/protocol/index.js';
import { waitForQuietMachine } from './dispatch/cpu.js';
import { ffmpegVersionLine, machineLine, writeResultsSection } from './results.js';
import { countVideoPackets, ensureSource, hasAudio, measureDecodeCost } from './transcode/media.js';
import { breakdown } from './transcode/model.js';
import { delta, machineBusyTicks, procTicks, seconds, snapshot } from './transcode/proc.js';
import { renderReport, type FleetRun, type PassesRun, type ReportInput, type SingleRun } from './transcode/report.js';
import { runMeasured, singlePassArgs } from './transcode/single-pass.js';
import { classify, installToolWrappers, type ToolWrappers } from './transcode/tools.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    rounds: { type: 'string', default: '3' },
    preset: { type: 'string', default: 'veryfast' },
    crf: { type: 'string', default: '23' },
    'chunk-seconds': { type: 'string', default: '10' },
    workers: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '1' },
    'variant-concurrency': { type: 'string' },
    'link-mbps': { type: 'string', default: '1000' },
    'quiet-wait-s': { type: 'string', default: '180' },
    'max-busy-cores': { type: 'string', default: '0.25' },
    source: { type: 'string' },
    'no-attribution': { type: 'boolean', default: false },
    'skip-extras': { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
    render: { type: 'string' },
  },
});

const num = (name: keyof typeof values, min: number, integer = true): number => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${String(values[name])}`);
  return n;
};
const SECONDS = num('seconds', 4);
const ROUNDS = num('rounds', 1);
const CRF = num('crf', 0);
const CHUNK_SECONDS = num('chunk-seconds', 1, false);
const WORKERS = num('workers', 1);
const CONCURRENCY = num('concurrency', 1);
const VARIANT = values['variant-concurrency'] === undefined ? null : num('variant-concurrency', 1);
const LINK_MBPS = num('link-mbps', 1, false);
const PRESET = values.preset!;
const CORES = availableParallelism();
/** A run during which processes outside the bench used more than this share of the machine is set aside. */
const MAX_OUTSIDE_SHARE = 0.1;

const log = (line: string): void => void process.stderr.write(`${line}\n`);

interface Fleet {
  label: string;
  concurrency: number;
  fleet: LocalFleet;
  client: VidfleetClient;
  workerPids: number[];
}

async function waitForWorkers(client: VidfleetClient, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await client.listWorkers()).filter((w) => w.status === 'online').length < n) {
    if (Date.now() > deadline) throw new Error(`the ${n} local workers did not register within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function startFleet(dir: string, concurrency: number, tools: ToolWrappers | null): Promise<Fleet> {
  // Workers inherit this process's environment when spawned: point them at the timing wrappers,
  // then put the environment back so the bench's own ffmpeg runs are not wrapped.
  const saved = { VIDFLEET_FFMPEG: process.env.VIDFLEET_FFMPEG, VIDFLEET_FFPROBE: process.env.VIDFLEET_FFPROBE };
  Object.assign(process.env, tools?.env ?? {});
  let fleet: LocalFleet;
  try {
    fleet = await startLocalFleet({ port: 0, dataDir: join(dir, `data-c${concurrency}${tools ? '-tools' : ''}`), workers: WORKERS, workerConcurrency: concurrency, workerLog: 'file' });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const client = new VidfleetClient(fleet.coordinator.url);
  await waitForWorkers(client, WORKERS);
  return { label: `vidfleet, ${WORKERS} workers × concurrency ${concurrency}`, concurrency, fleet, client, workerPids: fleet.workers.map((w) => w.pid!) };
}

async function quiet(): Promise<{ quiet: boolean; busyCores: number }> {
  return waitForQuietMachine({ maxBusyCores: num('max-busy-cores', 0, false), timeoutMs: num('quiet-wait-s', 0) * 1000, log });
}

async function runSingle(o: { round: number; dir: string; source: string; facts: SourceFacts; renditions: ResolvedRendition[]; audio: AudioSpec | null; sourceFrames: number }): Promise<SingleRun> {
  const outDir = join(o.dir, `single-${o.round}`);
  await mkdir(outDir, { recursive: true });
  const plan = singlePassArgs({ source: o.source, facts: o.facts, renditions: o.renditions, audio: o.audio, outDir });
  const before = await quiet();
  const self0 = procTicks('self').self;
  const m0 = machineBusyTicks();
  const run = await runMeasured('ffmpeg', plan.args);
  const machine = seconds(machineBusyTicks() - m0);
  const harness = seconds(procTicks('self').self - self0);
  const bytes: Record<string, number> = {};
  for (const out of plan.outputs) {
    const frames = await countVideoPackets(out.path);
    if (frames !== o.sourceFrames) throw new Error(`single pass: ${out.name} has ${frames} frames, the source ${o.sourceFrames}`);
    if (o.audio && !(await hasAudio(out.path))) throw new Error(`single pass: ${out.name} has no audio`);
    bytes[out.name] = (await fsStat(out.path)).size;
  }
  await rm(outDir, { recursive: true, force: true });
  return { round: o.round, wall: run.wallSeconds, cpu: run.cpuSeconds, harness, outsideCpu: Math.max(0, machine - run.cpuSeconds - harness), quiet: before.quiet, busyBefore: before.busyCores, bytes, args: plan.args };
}

/**
 * One full-file ffmpeg per rendition, video only: every rendition decodes the whole source
 * itself, as in vidfleet, but nothing is chunked. Separates "decoding once per rendition" from
 * "chunking" in vidfleet's extra CPU.
 */
async function runPasses(o: { round: number; dir: string; source: string; facts: SourceFacts; renditions: ResolvedRendition[]; sourceFrames: number }): Promise<PassesRun> {
  const before = await quiet();
  const self0 = procTicks('self').self;
  const m0 = machineBusyTicks();
  const t0 = performance.now();
  const per: PassesRun['per'] = [];
  for (const r of o.renditions) {
    const outDir = join(o.dir, `pass-${o.round}-${r.name}`);
    await mkdir(outDir, { recursive: true });
    const plan = singlePassArgs({ source: o.source, facts: o.facts, renditions: [r], audio: null, outDir });
    const run = await runMeasured('ffmpeg', plan.args);
    per.push({ name: r.name, wall: run.wallSeconds, cpu: run.cpuSeconds, path: plan.outputs[0]!.path });
  }
  const wall = (performance.now() - t0) / 1000;
  const machine = seconds(machineBusyTicks() - m0);
  const harness = seconds(procTicks('self').self - self0);
  const cpu = per.reduce((a, p) => a + p.cpu, 0);
  for (const p of per) {
    const frames = await countVideoPackets(p.path);
    if (frames !== o.sourceFrames) throw new Error(`per-rendition pass ${p.name}: ${frames} frames, the source ${o.sourceFrames}`);
    await rm(join(p.path, '..'), { recursive: true, force: true });
  }
  return { round: o.round, wall, cpu, harness, outsideCpu: Math.max(0, machine - cpu - harness), quiet: before.quiet, busyBefore: before.busyCores, per };
}

async function runVidfleet(f: Fleet, o: { round: number; source: string; renditions: RenditionSpec[]; audio: AudioSpec | null; sourceFrames: number; tools: ToolWrappers | null; sizes: Map<string, string>; hls?: boolean }): Promise<FleetRun> {
  const before = await quiet();
  o.tools?.clear();
  const pids: (number | 'self')[] = ['self', ...f.workerPids];
  const s0 = snapshot(pids);
  const submittedAt = Date.now();
  const job = await f.client.submitJob({
    kind: 'transcode',
    input: fileUri(o.source),
    params: { renditions: o.renditions, chunkSeconds: CHUNK_SECONDS, mp4: true, hls: o.hls === true, dash: false, audio: o.audio ?? false },
  });
  let done: Job = job;
  while (!isTerminalJobStatus(done.status)) done = await f.client.getJob(job.id, 60);
  const seenAt = Date.now();
  const s1 = snapshot(pids);
  if (done.status !== 'completed') throw new Error(`vidfleet job ${job.id} ${done.status}: ${done.error?.message ?? ''}`);
  const d = delta(s0, s1);
  const self = d.per.get('self')!;
  const workers = f.workerPids.map((p) => d.per.get(p)!);
  const coordinator = self.self;
  const workersNode = workers.reduce((a, w) => a + w.self, 0);
  const workersTools = workers.reduce((a, w) => a + w.children, 0) + self.children;
  const cpu = coordinator + workersNode + workersTools;
  const result = done.result as TranscodeResult;
  for (const r of o.renditions) {
    const got = result.renditions.find((x) => x.name === r.name);
    if (!got) throw new Error(`vidfleet job ${job.id}: no rendition ${r.name} in the result`);
    if (got.frames !== o.sourceFrames) throw new Error(`vidfleet job ${job.id}: ${r.name} has ${got.frames} frames, the source ${o.sourceFrames}`);
  }
  const b = breakdown(done, submittedAt, seenAt, o.renditions.map((r) => r.name));
  const cpuByUse = new Map<string, { cpu: number; count: number }>();
  const invocations = o.tools?.read() ?? null;
  for (const inv of invocations ?? []) {
    const k = classify(inv, o.sizes, o.source);
    const cur = cpuByUse.get(k) ?? { cpu: 0, count: 0 };
    cpuByUse.set(k, { cpu: cur.cpu + inv.user + inv.sys, count: cur.count + 1 });
  }
  const planTask = done.tasks?.find((t) => t.name === 'plan');
  return {
    round: o.round,
    label: f.label,
    concurrency: f.concurrency,
    jobId: job.id,
    wall: (seenAt - submittedAt) / 1000,
    cpu,
    coordinator,
    workersNode,
    workersTools,
    outsideCpu: Math.max(0, d.machineSeconds - cpu),
    quiet: before.quiet,
    busyBefore: before.busyCores,
    breakdown: b,
    cpuByUse: invocations ? Object.fromEntries(cpuByUse) : null,
    chunks: (planTask?.result as TranscodePlan | undefined)?.chunks ?? [],
    bytes: Object.fromEntries(result.renditions.map((r) => [r.name, Number(b.renditions.find((x) => x.name === r.name)?.mergedBytes ?? NaN)])),
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vidfleet-bench-transcode-'));
  const source = values.source ?? join(tmpdir(), `vidfleet-bench-transcode-1080p25-${SECONDS}s.mp4`);
  if (!values.source) await ensureSource(source, SECONDS, log);
  // vidfleet's own analysis (what the plan task computes), for the single pass's arguments.
  const { facts } = await analyzeSource(source);
  const sourceFrames = await countVideoPackets(source);
  if (sourceFrames !== facts.frames) throw new Error(`ffprobe counts ${sourceFrames} video packets, vidfleet's analysis ${facts.frames} frames`);
  const ladder: RenditionSpec[] = [1080, 720, 480].map((h) => ({ name: `${h}p`, height: h, codec: 'h264', crf: CRF, preset: PRESET }));
  const renditions = resolveRenditions(facts, ladder);
  const sizes = new Map(renditions.map((r) => [`${r.width}x${r.height}`, r.name]));
  // As the planner resolves the job's audio (src/coordinator/planner/transcode.ts).
  const audio: AudioSpec | null = facts.audio ? { codec: 'aac', bitrateKbps: 128, channels: Math.min(2, facts.audio.channels || 2) } : null;
  const tools = values['no-attribution'] ? null : installToolWrappers(join(dir, 'tools'));
  if (!values['no-attribution'] && !tools) log('GNU time (/usr/bin/time) not found: CPU totals only, no per-tool breakdown');

  const fleets: Fleet[] = [];
  const singles: SingleRun[] = [];
  const vidfleetRuns: FleetRun[] = [];
  let decode: ReportInput['decode'] = null;
  let hls: FleetRun | null = null;
  const failures: string[] = [];
  let attribution: FleetRun | null = null;
  const passes: PassesRun[] = [];
  let singleArgs: string[] = [];
  try {
    // The timed fleets run the tools unwrapped; the per-tool split comes from one more job on a
    // fleet whose tools are wrapped, after the timed rounds.
    fleets.push(await startFleet(dir, CONCURRENCY, null));
    if (VARIANT !== null && VARIANT !== CONCURRENCY) fleets.push(await startFleet(dir, VARIANT, null));
    log(`source ${source}: ${facts.frames} frames, ${facts.duration.toFixed(2)} s; ladder ${renditions.map((r) => `${r.name} ${r.width}x${r.height}`).join(', ')}; preset ${PRESET}, crf ${CRF}, chunks of ${CHUNK_SECONDS} s`);
    for (let round = 0; round < ROUNDS; round++) {
      // Each round starts with a different side.
      const order: (Fleet | 'single' | 'passes')[] = ['single', ...fleets, 'passes'];
      const sides = [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
      for (const side of sides) {
        if (side === 'passes') {
          const r = await runPasses({ round, dir, source, facts, renditions, sourceFrames });
          passes.push(r);
          log(`round ${round + 1}/${ROUNDS} one ffmpeg per rendition: ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} CPU-s (${r.per.map((p) => `${p.name} ${p.cpu.toFixed(2)}`).join(', ')})${r.quiet ? '' : ' (machine was busy)'}; outside CPU ${r.outsideCpu.toFixed(1)} s`);
        } else if (side === 'single') {
          const r = await runSingle({ round, dir, source, facts, renditions, audio, sourceFrames });
          singleArgs = r.args;
          singles.push(r);
          log(`round ${round + 1}/${ROUNDS} single pass: ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} CPU-s${r.quiet ? '' : ' (machine was busy)'}; outside CPU ${r.outsideCpu.toFixed(1)} s`);
        } else {
          const r = await runVidfleet(side, { round, source, renditions: ladder, audio, sourceFrames, tools: null, sizes });
          vidfleetRuns.push(r);
          log(`round ${round + 1}/${ROUNDS} ${side.label}: ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} CPU-s (coordinator ${r.coordinator.toFixed(2)}, worker node ${r.workersNode.toFixed(2)}, tools ${r.workersTools.toFixed(2)})${r.quiet ? '' : ' (machine was busy)'}; outside CPU ${r.outsideCpu.toFixed(1)} s`);
        }
      }
    }
    // Extras after the timed rounds; one failing is reported, not fatal.
    const extra = async <T>(what: string, fn: () => Promise<T>): Promise<T | null> => {
      try {
        return await fn();
      } catch (err) {
        log(`${what} failed: ${(err as Error).message}`);
        failures.push(`${what}: ${(err as Error).message}`);
        return null;
      }
    };
    if (tools && !values['skip-extras']) {
      log('two more vidfleet jobs with the workers\' ffmpeg/ffprobe wrapped in GNU time: MP4 only (per-tool CPU split), then with HLS on…');
      const timed = await startFleet(dir, CONCURRENCY, tools);
      fleets.push(timed);
      attribution = await extra('the wrapped MP4-only job', () => runVidfleet(timed, { round: ROUNDS, source, renditions: ladder, audio, sourceFrames, tools, sizes }));
      if (attribution) log(`wrapped MP4-only job: ${attribution.wall.toFixed(2)} s wall, ${attribution.cpu.toFixed(2)} CPU-s`);
      hls = await extra('the wrapped HLS job', () => runVidfleet(timed, { round: ROUNDS, source, renditions: ladder, audio, sourceFrames, tools, sizes, hls: true }));
      if (hls) log(`wrapped HLS job: ${hls.wall.toFixed(2)} s wall, ${hls.cpu.toFixed(2)} CPU-s, package task ${hls.breakdown.package.toFixed(2)} s`);
    }
    if (!values['skip-extras']) {
      const last = vidfleetRuns.filter((r) => r.concurrency === CONCURRENCY).at(-1)!;
      log('decode-only runs (whole source, then chunk by chunk as the chunk encodes seek)…');
      decode = await extra('the decode-only runs', async () => {
        const q = await quiet();
        return { ...(await measureDecodeCost(source, facts, last.chunks)), quiet: q.quiet };
      });
    }
  } finally {
    for (const f of fleets) {
      f.client.close();
      await f.fleet.stop();
    }
    await rm(dir, { recursive: true, force: true });
  }

  const input: ReportInput = {
    seconds: SECONDS,
    source: values.source ?? null,
    facts,
    sourceBytes: (await fsStat(source)).size,
    renditions,
    audio,
    preset: PRESET,
    crf: CRF,
    chunkSeconds: CHUNK_SECONDS,
    workers: WORKERS,
    concurrency: CONCURRENCY,
    cores: CORES,
    maxOutsideShare: MAX_OUTSIDE_SHARE,
    linkMbps: LINK_MBPS,
    singles,
    passes,
    vidfleetRuns,
    decode,
    hls,
    failures,
    singleArgs,
    attribution,
    machine: machineLine(),
    ffmpeg: await ffmpegVersionLine(),
    date: new Date().toISOString().slice(0, 10),
  };
  // Every measurement, so the section can be rendered again (--render) without another run.
  const dump = join(tmpdir(), 'vidfleet-bench-transcode-last.json');
  await writeFile(dump, JSON.stringify(input, null, 2));
  log(`measurements saved to ${dump} (re-render with --render ${dump})`);
  await publish(input);
}

async function publish(input: ReportInput): Promise<void> {
  const section = renderReport(input);
  if (!values['dry-run']) await writeResultsSection('transcode', 'bench/transcode — one ladder: single-pass ffmpeg vs vidfleet chunked', section);
  process.stdout.write(section + '\n');
}

(values.render ? readFile(values.render, 'utf8').then((text) => publish(JSON.parse(text) as ReportInput)) : main()).catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
