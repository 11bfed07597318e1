// The bench/transcode section of bench/RESULTS.md, from the measured runs only.
import type { AudioSpec, ChunkPlan, ResolvedRendition, SourceFacts } from '../../src/media/transcode/types.js';
import { summarize } from '../results.js';
import type { DecodeCost } from './media.js';
import { formula, simulate, stat, type Breakdown } from './model.js';

/** What every timed run records: its round, wall and CPU, and how busy the machine was. */
interface MeasuredRun {
  round: number;
  wall: number;
  cpu: number;
  outsideCpu: number;
  quiet: boolean;
  busyBefore: number;
}

export interface SingleRun extends MeasuredRun {
  /** The bench process's own CPU meanwhile (waiting on the child). */
  harness: number;
  bytes: Record<string, number>;
  args: string[];
}

export interface FleetRun extends MeasuredRun {
  label: string;
  concurrency: number;
  jobId: string;
  coordinator: number;
  workersNode: number;
  workersTools: number;
  breakdown: Breakdown;
  /** CPU and invocation count per use of the tools (wrapped runs only). */
  cpuByUse: Record<string, { cpu: number; count: number }> | null;
  chunks: ChunkPlan[];
  bytes: Record<string, number>;
}

/** One ffmpeg per rendition over the whole file, video only: decoding once per rendition, no chunking. */
export interface PassesRun extends MeasuredRun {
  harness: number;
  per: { name: string; wall: number; cpu: number; path: string }[];
}

export interface ReportInput {
  seconds: number;
  source: string | null;
  facts: SourceFacts;
  sourceBytes: number;
  renditions: ResolvedRendition[];
  audio: AudioSpec | null;
  preset: string;
  crf: number;
  chunkSeconds: number;
  workers: number;
  concurrency: number;
  cores: number;
  maxOutsideShare: number;
  linkMbps: number;
  singles: SingleRun[];
  vidfleetRuns: FleetRun[];
  decode: (DecodeCost & { quiet: boolean }) | null;
  passes: PassesRun[];
  /** One more job, HLS on, on the wrapped fleet (after the wrapped MP4-only one). */
  hls: FleetRun | null;
  /** Extras that failed (what and why). */
  failures: string[];
  singleArgs: string[];
  /** One extra job run with the workers' tools wrapped in GNU time (per-tool CPU), or null. */
  attribution: FleetRun | null;
  machine: string;
  ffmpeg: string;
  /** Day of the run (YYYY-MM-DD). */
  date: string;
}

const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '–');
const pct = (n: number): string => `${n >= 0 ? '+' : ''}${(n * 100).toFixed(1)} %`;
const mb = (n: number): string => (n / 1e6).toFixed(2);
const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const median = (xs: number[]): number => summarize(xs).median;

export function renderReport(o: ReportInput): string {
  const disturbed = (r: { quiet: boolean; outsideCpu: number; wall: number }): string | null => {
    if (r.outsideCpu > o.maxOutsideShare * r.wall * o.cores) return `${f1(r.outsideCpu)} CPU-s used outside the bench over ${f1(r.wall)} s`;
    if (!r.quiet) return 'the machine was busy when it started';
    return null;
  };
  const pick = <T extends { quiet: boolean; outsideCpu: number; wall: number }>(runs: T[]): { used: T[]; allDisturbed: boolean } => {
    const clean = runs.filter((r) => disturbed(r) === null);
    return clean.length ? { used: clean, allDisturbed: false } : { used: runs, allDisturbed: true };
  };
  const names = o.renditions.map((r) => r.name);
  const single = pick(o.singles);
  const sWall = median(single.used.map((r) => r.wall));
  const sCpu = median(single.used.map((r) => r.cpu));
  const labels = [...new Set(o.vidfleetRuns.map((r) => r.label))];
  const head = o.vidfleetRuns.filter((r) => r.concurrency === o.concurrency);
  // The default graph: one task per chunk decodes it once and encodes every rung (video/{i});
  // chunkTasks "rendition" gives one task per chunk × rung (video/{rung}/{i}).
  const ladder = head.some((r) => r.breakdown.tasks.some((t) => /^video\/\d+$/.test(t.name)));
  const headPick = pick(head);
  const vWall = median(headPick.used.map((r) => r.wall));
  const vCpu = median(headPick.used.map((r) => r.cpu));
  const wallRatio = vWall / sWall;
  const cpuRatio = vCpu / sCpu;
  const out: string[] = [];
  const w = (line = ''): void => void out.push(line);

  const facts = o.facts;
  w(
    `Source: ${o.source ?? `synthetic testsrc2 1920x1080 25 fps H.264 (keyframe every 2 s) with a stereo AAC tone, ${o.seconds} s`}: ${facts.frames} frames, ${mb(o.sourceBytes)} MB. ` +
      `Ladder: ${o.renditions.map((r) => `${r.name} ${r.width}x${r.height}`).join(', ')}, libx264 preset ${o.preset}, CRF ${o.crf}, closed GOP, keyint ${Math.round(facts.fps * 2)} (vidfleet's \`videoCodecArgs\`; MP4 only, so no forced segment keyframes), ` +
      `audio ${o.audio ? `${o.audio.codec.toUpperCase()} ${o.audio.bitrateKbps} kbit/s ${o.audio.channels} ch` : 'none'}; MP4 outputs with faststart, HLS/DASH off in the timed runs.`,
  );
  w();
  w(`- **Single pass**: one \`ffmpeg\` decodes the source once, \`split\`s it to the ${o.renditions.length} rungs (each through vidfleet's own filter chain, \`videoFilters\`), encodes each rung with vidfleet's x264 arguments, encodes the audio **once** (vidfleet's audio filter and settings) and writes the ${o.renditions.length} MP4s through the \`tee\` muxer (each file gets its video stream and the one audio stream).`);
  w(`- **vidfleet**: \`startLocalFleet\` (coordinator with SQLite and the local store in this process; ${o.workers} worker processes × concurrency ${o.concurrency}), job submitted over HTTP with a \`file://\` input, \`chunkSeconds\` ${o.chunkSeconds}: plan → ${ladder ? `${head[0]?.chunks.length ?? '?'} chunk tasks, each decoding its chunk once and encoding all ${o.renditions.length} rungs,` : `${o.renditions.length} × ${head[0]?.chunks.length ?? '?'} chunk encodes`} + 1 audio encode → ${o.renditions.length} merges → package. Wall = submit → the client's long-poll sees the job completed. Every run's result is checked: each rendition has the source's ${facts.frames} frames (the single pass's outputs are counted with ffprobe).`);
  w(`- **CPU** is user+system time from /proc, every process of a side: the single-pass ffmpeg is a child of the bench, so its CPU is the growth of the bench's \`cutime+cstime\` over the run; for vidfleet it is the bench process itself (coordinator and client, \`utime+stime\`) plus each worker process's \`utime+stime+cutime+cstime\` read before it exits (every ffmpeg/ffprobe a worker ran has exited and been reaped by the time the job completes, so their CPU is in the worker's \`cutime\`).`);
  w(`- Each round runs the sides in turn, starting with a different one each round (rotation); before each run the bench waits for a quiet machine (≤ 0.25 cores busy). A run during which processes outside the bench used more than ${o.maxOutsideShare * 100} % of the machine (/proc/stat busy time minus the side's own CPU) is set aside when an undisturbed one exists.`);
  w();
  w('| side | runs used | wall s (median) | CPU s (median) | CPU ÷ wall (cores) | MP4 MB ' + names.join(' / ') + ' |');
  w('| --- | ---: | ---: | ---: | ---: | ---: |');
  const sizes = (runs: { bytes: Record<string, number> }[]): string => names.map((n) => mb(mean(runs.map((r) => r.bytes[n] ?? NaN)))).join(' / ');
  w(`| single-pass ffmpeg (one process, ${o.cores} cores) | ${single.used.length}/${o.singles.length} | ${f2(sWall)} | ${f2(sCpu)} | ${f2(sCpu / sWall)} | ${sizes(single.used)} |`);
  for (const label of labels) {
    const runs = pick(o.vidfleetRuns.filter((r) => r.label === label));
    const wl = median(runs.used.map((r) => r.wall));
    const cp = median(runs.used.map((r) => r.cpu));
    w(`| ${label} | ${runs.used.length}/${runs.used.length + o.vidfleetRuns.filter((r) => r.label === label).length - runs.used.length} | ${f2(wl)} | ${f2(cp)} | ${f2(cp / wl)} | ${sizes(runs.used)} |`);
  }
  if (o.passes.length) {
    const pp = pick(o.passes);
    w(`| reference: one ffmpeg per rendition, whole file, video only, one after another (not chunked) | ${pp.used.length}/${o.passes.length} | ${f2(median(pp.used.map((r) => r.wall)))} | ${f2(median(pp.used.map((r) => r.cpu)))} | ${f2(median(pp.used.map((r) => r.cpu)) / median(pp.used.map((r) => r.wall)))} | – |`);
  }
  w();
  w(`**vidfleet ÷ single pass (medians, ${head[0]?.label ?? 'vidfleet'}): wall ${f2(wallRatio)}×, CPU ${f2(cpuRatio)}× (${pct(cpuRatio - 1)} CPU).**`);
  for (const label of labels.slice(1)) {
    const runs = pick(o.vidfleetRuns.filter((r) => r.label === label)).used;
    w(`Variant ${label}: wall ${f2(median(runs.map((r) => r.wall)) / sWall)}×, CPU ${f2(median(runs.map((r) => r.cpu)) / sCpu)}×.`);
  }
  if (single.allDisturbed || headPick.allDisturbed) w('**Caution:** every run of a side was disturbed by other work on the machine; its numbers are used anyway and read high.');
  w();
  w('Goals (issue 5):');
  w();
  w(`- CPU overhead of chunking ≤ 5 %: **${pct(cpuRatio - 1)}** (${f1(vCpu)} vs ${f1(sCpu)} CPU-s) — **${cpuRatio <= 1.05 ? 'met' : 'not met'}**.`);
  w(`- On ${o.cores} cores, wall time ≤ single pass: **${f2(wallRatio)}×** (${f1(vWall)} vs ${f1(sWall)} s) — **${wallRatio <= 1 ? 'met' : 'not met'}**.`);
  w();
  w('Every run:');
  w();
  w('| round | side | wall s | CPU s | coordinator + client | worker node processes | worker tools (ffmpeg/ffprobe) | CPU-s outside the bench | used |');
  w('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  const rounds = [...new Set([...o.singles.map((r) => r.round), ...o.vidfleetRuns.map((r) => r.round)])].sort((a, b) => a - b);
  for (const round of rounds) {
    for (const r of o.singles.filter((x) => x.round === round)) {
      const why = disturbed(r);
      w(`| ${round + 1} | single pass | ${f2(r.wall)} | ${f2(r.cpu)} | – | – | ${f2(r.cpu)} | ${f1(r.outsideCpu)} | ${why === null || single.allDisturbed ? 'yes' : `no: ${why}`} |`);
    }
    for (const r of o.passes.filter((x) => x.round === round)) {
      const why = disturbed(r);
      w(`| ${round + 1} | one ffmpeg per rendition (reference) | ${f2(r.wall)} | ${f2(r.cpu)} | – | – | ${f2(r.cpu)} | ${f1(r.outsideCpu)} | ${why === null || pick(o.passes).allDisturbed ? 'yes' : `no: ${why}`} |`);
    }
    for (const r of o.vidfleetRuns.filter((x) => x.round === round)) {
      const why = disturbed(r);
      const all = pick(o.vidfleetRuns.filter((x) => x.label === r.label)).allDisturbed;
      w(`| ${round + 1} | ${r.label} | ${f2(r.wall)} | ${f2(r.cpu)} | ${f2(r.coordinator)} | ${f2(r.workersNode)} | ${f2(r.workersTools)} | ${f1(r.outsideCpu)} | ${why === null || all ? 'yes' : `no: ${why}`} |`);
    }
  }
  for (const [what, r] of [['wrapped MP4-only job (per-tool split)', o.attribution], ['wrapped job with HLS on (packaging)', o.hls]] as const) {
    if (!r) continue;
    const why = disturbed(r);
    w(`| after | ${what} | ${f2(r.wall)} | ${f2(r.cpu)} | ${f2(r.coordinator)} | ${f2(r.workersNode)} | ${f2(r.workersTools)} | ${f1(r.outsideCpu)} | not in the medians${why ? `; ${why}` : ''} |`);
  }
  w();

  // ---- where vidfleet's extra CPU goes ----
  const used = headPick.used;
  const A = o.attribution;
  const vMean = mean(used.map((r) => r.cpu));
  const sMean = mean(single.used.map((r) => r.cpu));
  const coord = mean(used.map((r) => r.coordinator));
  const node = mean(used.map((r) => r.workersNode));
  const toolsMean = mean(used.map((r) => r.workersTools));
  w(`### Where vidfleet's CPU goes`);
  w();
  const byUse = A?.cpuByUse ? Object.entries(A.cpuByUse).map(([k, v]) => ({ k, cpu: v.cpu, count: v.count })).sort((x, y) => y.cpu - x.cpu) : [];
  if (A) {
    w(`Per tool, from one more job run after the timed rounds on a fleet whose workers' ffmpeg/ffprobe are wrapped in GNU \`time\` (VIDFLEET_FFMPEG/VIDFLEET_FFPROBE point at \`exec /usr/bin/time -o … ffmpeg "$@"\`), which records each invocation's rusage. The timed runs above are not wrapped. That job: ${f2(A.wall)} s wall, ${f2(A.cpu)} CPU-s (timed median ${f2(vCpu)})${disturbed(A) ? ` — run while the machine was busy (${disturbed(A)}), so read its shares, not its totals` : ''}.`);
    w();
    w('| part | invocations | CPU s | share of that job |');
    w('| --- | ---: | ---: | ---: |');
    const share = (x: number): string => `${((x / A.cpu) * 100).toFixed(1)} %`;
    let accounted = 0;
    for (const u of byUse) {
      accounted += u.cpu;
      w(`| ${u.k} | ${u.count} | ${f2(u.cpu)} | ${share(u.cpu)} |`);
    }
    w(`| wrappers (a shell exec + GNU \`time\` per invocation) and \`time\` truncating each figure to 10 ms | | ${f2(A.workersTools - accounted)} | ${share(A.workersTools - accounted)} |`);
    w(`| worker Node processes (claims, HTTP uploads/downloads, SHA-256, progress and log shipping) | | ${f2(A.workersNode)} | ${share(A.workersNode)} |`);
    w(`| coordinator + waiting client (the bench process) | | ${f2(A.coordinator)} | ${share(A.coordinator)} |`);
    w(`| **vidfleet job total** | | **${f2(A.cpu)}** | 100 % |`);
    w(`| single pass, the whole ladder in one ffmpeg (median of its runs used) | 1 | ${f2(sCpu)} | ${share(sCpu)} |`);
  } else {
    w(`Timed runs used (mean): ffmpeg/ffprobe of the workers ${f2(toolsMean)} CPU-s, worker Node processes ${f2(node)}, coordinator + client ${f2(coord)}; total ${f2(vMean)} vs the single pass's ${f2(sMean)}. (No per-tool split: GNU time was not found or --no-attribution was given.)`);
  }
  w();
  const sumOf = (prefix: string): number => byUse.filter((u) => u.k.startsWith(prefix)).reduce((a, u) => a + u.cpu, 0);
  const checksCpu = sumOf('checks');
  const planCpu = sumOf('plan');
  const mergeCpu = sumOf('merge');
  // The decomposition uses means over the runs used, so its lines add up: vidfleet = coordinator
  // + worker Node + tools, tools = chunk encodes + audio + checks + plan + merges (the last four
  // from the wrapped job), single pass = its video work + the same audio encode.
  const R = o.renditions.length;
  const C = head[0]?.chunks.length ?? NaN;
  const passesPick = pick(o.passes);
  const pMean = mean(passesPick.used.map((r) => r.cpu));
  const audioCpu = sumOf('audio encode');
  const smallTools = audioCpu + checksCpu + planCpu + mergeCpu;
  const chunkCpu = toolsMean - smallTools;
  const singleVideo = sMean - audioCpu;
  const d = o.decode;
  // Frames decoded chunk by chunk as vidfleet seeks, minus as many chunks seeking onto their keyframes.
  const prerollFrames = d ? d.chunked.framesDecoded - d.atKeyframe.framesDecoded : NaN;
  const decodesPerChunk = ladder ? 1 : R;
  const prerollCpu = d ? (decodesPerChunk * prerollFrames * d.whole.cpuSeconds) / d.whole.framesDecoded : NaN;
  const extraMean = vMean - sMean;
  w(`Means of the runs used: vidfleet ${f2(vMean)} CPU-s, single pass ${f2(sMean)} CPU-s: **${f2(extraMean)} CPU-s more (${pct(extraMean / sMean)})**. The lines below add up to that difference. ${ladder ? 'Each chunk task decodes its chunk once for every rung, as the single pass does, so the chunk line is chunking alone' : 'The full-file passes (one ffmpeg per rendition, video only, not chunked, run in every round) split "each rendition decodes the source" from "chunking"'}; the small parts come from the wrapped job${A ? '' : ' (not run: they are missing, and chunk encodes below include them)'}:`);
  w();
  w('| where vidfleet\'s extra CPU goes | CPU-s | of the single pass |');
  w('| --- | ---: | ---: |');
  const row = (label: string, x: number): void => w(`| ${label} | ${f2(x)} | ${Number.isFinite(x) ? pct(x / sMean) : '–'} |`);
  if (ladder) {
    row(`chunking: the ${C} chunk tasks, each one decode for all ${R} rungs (${f2(chunkCpu)} CPU-s) − the single pass's video work (${f2(sMean)} − ${f2(audioCpu)} audio)`, chunkCpu - singleVideo);
  } else {
    row(`each rendition decodes the source: ${R} full-file ffmpegs, one per rendition (${f2(pMean)} CPU-s) − the single pass's video work (${f2(sMean)} − ${f2(audioCpu)} audio)`, pMean - singleVideo);
    row(`chunking: the ${R} × ${C} chunk encodes (${f2(chunkCpu)} CPU-s) − those ${R} full-file ffmpegs`, chunkCpu - pMean);
  }
  if (Number.isFinite(prerollCpu)) row(`  of which seek pre-roll: ${decodesPerChunk} × ${prerollFrames} frames decoded and dropped, at the source's decode cost per frame (estimate)`, prerollCpu);
  row('checks: ffprobe packet listing of every chunk after its encode, and of each merged file and every chunk again in the merges', checksCpu);
  row('split: the plan task (ffprobe + packet scan of the source, nothing decoded)', planCpu);
  row('merges: concat copy + audio mux', mergeCpu);
  row('worker Node processes: claims, HTTP uploads and downloads with SHA-256, progress and log shipping', node);
  row('coordinator + the waiting client (bench process): receiving and hashing uploads, SQLite, long-polls', coord);
  row('**total**', extraMean);
  w();
  if (d) {
    w(`Decode-only runs (\`-f null\`: no scaling, no encoding), after the rounds: the whole source ${f2(d.whole.cpuSeconds)} CPU-s for ${d.whole.framesDecoded} frames, so each extra full decode is about that much. Chunk by chunk, seeking as the chunk encodes seek, ${d.chunked.framesDecoded} frames are decoded for ${d.chunked.framesKept} kept; seeking instead a quarter of a stream tick before each chunk's first frame (a keyframe), ${d.atKeyframe.framesDecoded} for the same ${d.atKeyframe.framesKept}: **${prerollFrames} frames of pre-roll per rendition (${pct(prerollFrames / d.whole.framesDecoded)} of the source)**, a whole GOP before every chunk but the first. The chunk encodes seek as \`seekPoint\` does (a quarter of a stream tick before the chunk's keyframe); seeking half a frame early, as they did before, made ffmpeg's \`-ss\` start at the previous GOP's keyframe and drop what it decoded up to the seek point.${d.quiet ? '' : ' (These runs started on a busy machine: the frame counts hold, the CPU figures read high.)'}`);
    w();
  }
  if (passesPick.used.length) {
    w(`Full-file passes (vidfleet's filter chain and x264 arguments, each ffmpeg alone on the ${o.cores} cores), mean CPU-s: ${names.map((n) => `${n} ${f2(mean(passesPick.used.map((r) => r.per.find((p) => p.name === n)?.cpu ?? NaN)))}`).join(', ')}.`);
    w();
  }
  // ---- task timeline ----
  const sortedByWall = [...used].sort((a, b) => a.wall - b.wall);
  const rep = sortedByWall[Math.floor((sortedByWall.length - 1) / 2)]!;
  const b = rep.breakdown;
  w(`### The vidfleet job's tasks (round ${rep.round + 1}, the median-wall run used: ${f2(rep.wall)} s)`);
  w();
  w('Times are the coordinator\'s task timestamps: started = the worker\'s "started" report arrives, finished = its completion arrives (after the task\'s checks and uploads). "ffmpeg" is the time inside the encode or concat process as the worker measured it; the rest of a task is its checks, downloads and uploads.');
  w();
  w('| stage | tasks | mean s | longest s | sum s | of which ffmpeg (mean s) |');
  w('| --- | ---: | ---: | ---: | ---: | ---: |');
  w(`| submit → plan starts (dispatch) | | ${f2(b.toPlanStart)} | | | |`);
  w(`| plan: the split (ffprobe + packet scan of the source; ${rep.chunks.length} chunks at keyframes) | 1 | ${f2(b.plan)} | | | |`);
  w(`| plan ends → first encode starts (graph expansion, claims) | | ${f2(b.planToEncode)} | | | |`);
  for (const r of b.renditions) w(`| chunk encodes ${r.name} (encode + chunk check + upload) | ${r.chunks.n} | ${f2(r.chunks.mean)} | ${f2(r.chunks.max)} | ${f2(r.chunks.sum)} | ${f2(r.chunkEncode.mean)} |`);
  w(`| audio encode (once, whole file) | 1 | ${f2(b.audio)} | | | |`);
  for (const r of b.renditions) w(`| merge ${r.name} (download ${mb(r.chunkBytes + b.audioBytes)} MB, concat, checks, upload ${mb(r.mergedBytes)} MB) | 1 | ${f2(r.merge)} | | | ${f2(r.mergeConcat)} |`);
  w(`| last merge ends → package starts | | ${f2(b.mergeToPackage)} | | | |`);
  w(`| package (MP4 only: gathers the merge reports into the result) | 1 | ${f2(b.package)} | | | |`);
  w(`| hand-off: a worker's next task starts after its last ends, work ready (median) | | ${f2(b.handoff)} | | | |`);
  w(`| **job, submit → client sees it completed** | ${b.tasks.length} | **${f2(b.jobSeconds)}** | | | |`);
  w();
  w(`The path that finished last: ${b.observedPath.map((s) => `${s.stage} ${f2(s.seconds)} s`).join('; ')}. With unlimited workers the graph's critical path would be dispatch + plan + expansion + the longest (chunk or audio) + its rendition's merge + package = **${f2(b.dagCriticalPath)} s**.`);
  if (o.hls) {
    const h = o.hls;
    const tool = (prefix: string): number => Object.entries(h.cpuByUse ?? {}).filter(([k]) => k.startsWith(prefix)).reduce((x, [, v]) => x + v.cpu, 0);
    w();
    w(`**Packaging.** In the jobs above HLS is off and the package task only gathers the merge reports (${f2(b.package)} s). One more job with \`hls: true\` (segments of 4 s), on the wrapped fleet right after the wrapped MP4-only job: **package task ${f2(h.breakdown.package)} s** (downloads the ${R} merged MP4s, remuxes each into fMP4 segments, verifies the package, uploads every file), of which HLS remux ${f2(tool('package: HLS remux'))} CPU-s and probes + package verification ${f2(tool('package: probe') + tool('package: verify'))} CPU-s. The whole job: ${f2(h.wall)} s wall and ${f2(h.cpu)} CPU-s, against ${A ? `${f2(A.wall)} s and ${f2(A.cpu)} CPU-s for the wrapped MP4-only job` : 'the MP4-only job'} (with HLS on, the chunk encodes also force keyframes on the 4-s segment grid and use a 4-s keyint)${disturbed(h) ? `. **This job ran while the machine was busy** (${disturbed(h)}): its times read high` : ''}.`);
  }
  w();

  // ---- model ----
  const encodes = b.tasks.filter((t) => t.kind === 'transcode.video' || t.kind === 'transcode.audio');
  const merges = b.tasks.filter((t) => t.kind === 'transcode.merge');
  const e = stat(encodes.map((t) => t.duration));
  const m = stat(merges.map((t) => t.duration));
  const longest = b.longestEncode;
  const longestChunk = rep.chunks.find((c) => longest.name.endsWith(`/${String(c.index).padStart(5, '0')}`));
  const longestSeconds = longestChunk ? longestChunk.end - longestChunk.start : o.chunkSeconds;
  const lambda = longest.duration / longestSeconds;
  const W = e.sum;
  const videoTasks = b.tasks.filter((t) => t.kind === 'transcode.video');
  const fixed = mean(videoTasks.map((t) => t.duration - Number(t.result?.encodeSeconds ?? NaN)));
  const prerollShare = o.decode ? o.decode.chunked.framesDecoded / o.decode.whole.framesDecoded : 1;
  const chunkCount = rep.chunks.length || 1;
  const srcPerChunk = (o.sourceBytes / chunkCount) * prerollShare;
  const biggest = [...b.renditions].sort((x, y) => y.mergedBytes - x.mergedBytes)[0]!;
  const maxChunkBytes = biggest.chunkBytes / Math.max(1, biggest.chunks.n);
  const txBytes = srcPerChunk + maxChunkBytes + biggest.chunkBytes + b.audioBytes + biggest.mergedBytes;
  const tx = (txBytes * 8) / (o.linkMbps * 1e6);
  w('### Speed-up model: N workers');
  w();
  w(`T(N) ≈ d + p + x + max(⌈K/N⌉ · ē, e_max) + max(⌈R/N⌉ · m̄, m_max) + g + k (+ transfer), measured in this run:`);
  w();
  w(`- d = submit → plan starts ${f2(b.toPlanStart)} s; **p = split (plan) ${f2(b.plan)} s**; x = plan → first encode ${f2(b.planToEncode)} s;`);
  w(`- K = ${e.n} encode tasks (${videoTasks.length} chunk encodes + audio), ē = ${f2(e.mean)} s mean, e_max = ${f2(e.max)} s (${longest.name}); their sum W = ${f1(W)} task-seconds; a chunk task carries ${f2(fixed)} s besides its ffmpeg (check + upload + reporting);`);
  w(`- R = ${m.n} merges, **m̄ = ${f2(m.mean)} s, m_max = ${f2(m.max)} s** (${b.renditions.map((r) => `${r.name} ${f2(r.merge)} s of which concat ${f2(r.mergeConcat)} s`).join(', ')}); g = last merge → package ${f2(b.mergeToPackage)} s; **k = package ${f2(b.package)} s** (MP4 only${o.hls ? `; ${f2(o.hls.breakdown.package)} s with HLS` : ''}); hand-off between tasks ${f2(b.handoff)} s.`);
  w(`- A "worker" is what each of the bench's ${o.workers} workers had: one task at a time on ≈ ${f2(o.cores / (o.workers * o.concurrency))} core(s) of this CPU (${o.workers * o.concurrency} tasks shared ${o.cores} cores). A worker machine with c such cores runs each chunk up to c× faster (x264 threads), which divides ē and e_max, not p, m or k.`);
  w(`- Transfer (not in the loopback numbers below): on the critical path one chunk's source range (≈ ${mb(srcPerChunk)} MB with pre-roll) and its output (≈ ${mb(maxChunkBytes)} MB), then the largest merge's download (${mb(biggest.chunkBytes + b.audioBytes)} MB) and upload (${mb(biggest.mergedBytes)} MB): ${mb(txBytes)} MB ≈ ${f2(tx)} s at ${o.linkMbps} Mbit/s (an assumed link, not measured).`);
  w();
  w(`"Simulated" replays the job's graph with the measured task durations on N workers in the coordinator's hand-out order (creation order: audio, then each rung's chunks and merge, then package), with the measured dispatch, expansion and hand-off delays. Check: simulated at N = ${o.workers} gives ${f2(simulate(b, names, o.workers))} s; this run measured ${f2(rep.wall)} s.`);
  w();
  w(`| N workers | formula T s | simulated T s | + transfer s | speed-up vs single pass on ${o.cores} cores (${f2(sWall)} s) | vs single pass on one such worker (≈ its ${f2(sCpu)} CPU-s) | vs N = 1 | chunk length where the longest chunk = W/N |`);
  w('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const t1 = simulate(b, names, 1);
  for (const n of [1, 2, 4, 8, 16]) {
    const tf = formula(b, n);
    const ts = simulate(b, names, n);
    const chunksAt = Math.max(1, Math.round(o.facts.duration / (W / (n * lambda))));
    w(`| ${n} | ${f2(tf)} | ${f2(ts)} | ${f2(ts + tx)} | ${f2(sWall / ts)}× | ${f2(sCpu / ts)}× | ${f2(t1 / ts)}× | ${f1(W / (n * lambda))} s (${chunksAt} chunk${chunksAt === 1 ? '' : 's'}) |`);
  }
  w();
  const nStar = Math.ceil(W / e.max);
  const floor = b.toPlanStart + b.plan + b.planToEncode + e.max + m.max + b.mergeToPackage + b.package + b.packageToClient;
  w(`- The encode phase is bounded by the longest chunk once N ≥ W / e_max = ${f1(W / e.max)}, i.e. **N* = ${nStar} workers** for these ${chunkCount}-chunk × ${R}-rung jobs (${e.n} encode tasks); past that T(N) stays at ≈ d + p + x + e_max + m_max + g + k = ${f2(floor)} s, of which split + merge + package (p + m_max + k) is ${f2(b.plan + m.max + b.package)} s.`);
  w(`- With N workers the best chunk length is where the longest (1080p) chunk, λ·L with λ = ${f2(lambda)} s of task per source second, equals the share of work per worker W/N: L*(N) = W/(N·λ) (last column). Longer chunks leave workers idle behind the longest chunk; shorter ones do not shorten the encode phase and cost, per extra chunk and rung, one more GOP of pre-roll decoding and ≈ ${f2(fixed + b.handoff)} s of fixed task overhead (check, upload, hand-off).`);
  w(`- The serial parts do not shrink with N: split ${f2(b.plan)} s + longest merge ${f2(m.max)} s + package ${f2(b.package)} s + dispatch/expansion/hand-offs ${f2(b.toPlanStart + b.planToEncode + b.mergeToPackage + b.packageToClient)} s = ${f2(b.plan + m.max + b.package + b.toPlanStart + b.planToEncode + b.mergeToPackage + b.packageToClient)} s per job (Amdahl floor, before transfer).`);
  w();
  w(`Single-pass command (paths shortened): \`ffmpeg ${o.singleArgs.map((a) => (/[\s;[\]|']/.test(a) ? `'${a}'` : a)).join(' ').replace(/\/tmp\/[^\s']*\//g, '…/')}\``);
  w();
  if (o.failures.length) {
    w(`Not measured (failed in this run): ${o.failures.join('; ')}.`);
    w();
  }
  w(`${o.machine}; ${o.ffmpeg}; measured ${o.date}.`);
  return out.join('\n');
}
