// `ffmpeg`: a raw ffmpeg or ffprobe command. Its logical paths are checked and mapped onto this
// worker's mounts (../logical-paths.ts), it runs with no shell in the attempt's private output
// directory ($out), and every file it leaves there is uploaded under its path relative to $out
// (hls/seg_001.ts stays hls/seg_001.ts). ffprobe's output is the job result.
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { ffmpegReadsInput, isSafeStoreKey, VidfleetError, type FfmpegArtifactInfo, type FfmpegParams, type FfmpegResult, type FfmpegTool } from '../../protocol/index.js';
import { detectFormats } from '../capabilities.js';
import { contentTypeFor } from '../content-types.js';
import { lastFfmpegLine, matchRule, tidyFfmpegLine } from '../errors.js';
import { buildArgv, demuxerWhitelist, mapFfmpegArgs, showLogical, type MappedCommand } from '../logical-paths.js';
import { ffmpegBinary, ffprobeBinary, runProcess, type RunResult } from '../process.js';
import { createProgressParser } from '../progress.js';
import type { KindRunner, TaskContext } from './kind.js';

/** ffprobe output larger than this is only an artifact, not inlined in the job result. */
const MAX_INLINE_OUTPUT = 1024 * 1024;
const UPLOAD_CONCURRENCY = 4;
/** Artifacts one command may leave in $out: each is a row and a blob, and a runaway image2 pattern can write millions. */
export const MAX_OUTPUT_FILES = 10_000;
const LOG_TAIL = 4000;

/** ffmpeg's time syntax: "[-][HH:]MM:SS[.m…]" or "[-]S+[.m…][s|ms|us]" → seconds. */
export function parseFfmpegTime(text: string): number | null {
  const clock = /^(\d+:)?(\d+):(\d+(?:\.\d+)?)$/.exec(text.trim());
  if (clock) return Number((clock[1] ?? '0:').slice(0, -1)) * 3600 + Number(clock[2]) * 60 + Number(clock[3]);
  const plain = /^(\d+(?:\.\d+)?)(s|ms|us)?$/.exec(text.trim());
  if (!plain) return null;
  const scale = plain[2] === 'ms' ? 1e-3 : plain[2] === 'us' ? 1e-6 : 1;
  return Number(plain[1]) * scale;
}

/** Seconds of output to expect from -t (or -to): the smallest given. */
function durationFromArgs(command: MappedCommand): number | null {
  const valuesOf = (option: string): number[] =>
    command.analysed.filter((a) => a.role === 'value' && a.option === option).map((a) => parseFfmpegTime(a.text)).filter((n): n is number => n !== null && n > 0);
  const t = valuesOf('t');
  if (t.length) return Math.min(...t);
  const to = valuesOf('to');
  return to.length ? Math.min(...to) : null;
}

/** Duration of the first local input, read with the same whitelists as the command; null when unknown. */
async function probeDuration(command: MappedCommand, demuxers: readonly string[], signal: AbortSignal): Promise<number | null> {
  const first = command.inputs.find((f) => !f.isUrl);
  if (!first) return null;
  const args = ['-v', 'error', '-protocol_whitelist', 'file', '-format_whitelist', demuxers.join(','), '-show_entries', 'format=duration', '-of', 'csv=p=0', first.real];
  const res = await runProcess(ffprobeBinary(), args, { signal, timeoutMs: 30_000 }).catch(() => null);
  const seconds = res?.exitCode === 0 ? Number(res.stdout.trim()) : NaN;
  return Number.isFinite(seconds) && seconds > 0 ? seconds : null;
}

function lastLines(stderr: string, count: number): string {
  return stderr.split(/\r?\n/).map(tidyFfmpegLine).filter(Boolean).slice(-count).join(' | ');
}

function commandFailure(tool: FfmpegTool, res: RunResult, command: MappedCommand): VidfleetError {
  const stderr = showLogical(res.stderr, command);
  const details = { tool, exitCode: res.exitCode, signal: res.signal, stderr: stderr.slice(-2000) };
  const tail = lastLines(stderr, 4);
  if (res.signal) {
    return new VidfleetError('FFMPEG_FAILED', `${tool} was killed by ${res.signal} (out of memory?); it is retried. Last output: ${tail || '(none)'}`, { details, retryable: true });
  }
  const refused = stderr.split('\n').find((l) => /not on whitelist/.test(l));
  if (refused) {
    return new VidfleetError('PATH_NOT_ALLOWED', `${tool} was refused to open something: "${tidyFfmpegLine(refused)}". Inputs may not be playlists or lists that open further files (HLS, DASH, concat), capture devices, or protocols this worker does not allow.`, { details });
  }
  const hit = matchRule(stderr);
  // Input problems keep their own codes (and retry policy); anything else is the command itself.
  if (hit && hit.rule.code !== 'FFMPEG_FAILED') {
    return new VidfleetError(hit.rule.code, `${tool} exited with code ${res.exitCode}: ${hit.rule.explain} (${tool}: "${hit.line}"). Last output: ${tail}`, {
      details,
      ...(hit.rule.retryable === undefined ? {} : { retryable: hit.rule.retryable }),
    });
  }
  const said = lastFfmpegLine(stderr);
  return new VidfleetError('FFMPEG_FAILED', `${tool} exited with code ${res.exitCode}${said ? `: "${said}"` : ' without an error message'}. Last output: ${tail || '(none)'}`, {
    details,
    retryable: false, // the same arguments fail the same way on any worker
  });
}

/** Refuses a command that left more files in $out than a job may have artifacts. */
export function assertOutputCount(count: number, limit = MAX_OUTPUT_FILES): void {
  if (count <= limit) return;
  throw new VidfleetError(
    'FFMPEG_FAILED',
    `ffmpeg wrote ${count} files under $out; a job may produce at most ${limit} artifacts. Write fewer, larger files (longer HLS segments, a video instead of an image per frame), or write to a :rw mount.`,
    { retryable: false },
  );
}

/** Every regular file under dir, as paths relative to it with "/" separators (symbolic links are skipped). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

async function uploadAll(ctx: TaskContext, outDir: string, names: string[]): Promise<FfmpegArtifactInfo[]> {
  const done: FfmpegArtifactInfo[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next++]!;
      const path = join(outDir, name);
      const contentType = contentTypeFor(name);
      await ctx.emitArtifact({ name, path, contentType });
      done.push({ name, size: (await stat(path)).size, contentType });
      ctx.onProgress({ progress: 0.9 + (0.1 * done.length) / names.length, message: `uploaded ${done.length}/${names.length}` });
    }
  };
  await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, names.length) }, worker));
  return done.sort((a, b) => (a.name < b.name ? -1 : 1));
}

async function runProbe(ctx: TaskContext, command: MappedCommand, argv: string[], outDir: string): Promise<FfmpegResult> {
  const res = await runProcess(ffprobeBinary(), argv, { signal: ctx.signal, cwd: outDir, timeoutMs: 30 * 60_000, onStderrLine: (line) => ctx.toolLog(showLogical(line, command)) });
  if (res.exitCode !== 0) throw commandFailure('ffprobe', res, command);
  const text = showLogical(res.stdout, command);
  let output: unknown = text;
  let json = false;
  try {
    const parsed: unknown = JSON.parse(text);
    // csv output of one number parses as JSON too; -of json always prints an object.
    if (parsed !== null && typeof parsed === 'object') [output, json] = [parsed, true];
  } catch {
    // plain text (-of default, csv, flat, ini…)
  }
  const name = json ? 'ffprobe.json' : 'ffprobe.txt';
  const path = join(ctx.workDir, name);
  await writeFile(path, text);
  await ctx.emitArtifact({ name, path, contentType: contentTypeFor(name) });
  ctx.onProgress({ progress: 1, message: 'probed' });
  const big = Buffer.byteLength(text) > MAX_INLINE_OUTPUT;
  return { tool: 'ffprobe', artifacts: [{ name, size: Buffer.byteLength(text), contentType: contentTypeFor(name) }], output: big ? null : output, log: showLogical(res.stderr, command).slice(-LOG_TAIL) };
}

export const ffmpegRunner: KindRunner = {
  name: 'ffmpeg',
  async run(ctx: TaskContext): Promise<FfmpegResult> {
    const params = ctx.params as FfmpegParams;
    const tool = params.tool ?? 'ffmpeg';
    const outDir = join(ctx.workDir, 'out');
    await mkdir(outDir, { recursive: true });
    ctx.onProgress({ progress: 0, message: 'checking paths' });
    const demuxers = demuxerWhitelist((await detectFormats()).demuxers);
    const command = await mapFfmpegArgs(tool, params.args, {
      mounts: ctx.mounts ?? new Map(),
      outDir,
      input: ffmpegReadsInput(params) ? ctx.input : undefined,
      allowProtocols: ctx.allowProtocols ?? [],
      demuxers,
    });
    const argv = buildArgv(tool, command, demuxers);
    ctx.log(`${tool} ${showLogical(argv.filter((a) => a !== demuxers.join(',')).join(' '), command)}`);
    if (tool === 'ffprobe') return runProbe(ctx, command, argv, outDir);

    const duration = params.duration ?? durationFromArgs(command) ?? (await probeDuration(command, demuxers, ctx.signal));
    const parser = createProgressParser(
      (s) => {
        const time = s.outTime === null ? '' : ` time=${s.outTime.toFixed(2)}s`;
        ctx.onProgress({
          progress: s.progress === null ? 0 : 0.9 * s.progress,
          ...(s.fps !== null && { fps: s.fps }),
          ...(s.speed !== null && { speed: s.speed }),
          message: `frame=${s.frame ?? 0}${time}`,
        });
      },
      { duration },
    );
    const res = await runProcess(ffmpegBinary(), argv, {
      signal: ctx.signal,
      cwd: outDir,
      onStdout: (t) => parser.push(t),
      // The live task log, with mount directories shown as their $variables.
      onStderrLine: (line) => ctx.toolLog(showLogical(line, command)),
    });
    parser.end();
    if (res.exitCode !== 0) throw commandFailure('ffmpeg', res, command);

    const names = await filesUnder(outDir);
    assertOutputCount(names.length);
    for (const wanted of params.outputs ?? []) {
      if (!names.includes(wanted.slice('$out/'.length))) {
        throw new VidfleetError('FFMPEG_FAILED', `ffmpeg finished but did not write ${wanted}, which the job lists in outputs. Last output: ${lastLines(showLogical(res.stderr, command), 4)}`, { retryable: false });
      }
    }
    const unsafe = names.find((n) => !isSafeStoreKey(n));
    if (unsafe) throw new VidfleetError('FFMPEG_FAILED', `ffmpeg wrote "$out/${unsafe}", whose name cannot be an artifact name; write plain relative names.`, { retryable: false });
    const artifacts = await uploadAll(ctx, outDir, names);
    ctx.onProgress({ progress: 1, message: `done, ${artifacts.length} file(s)` });
    return { tool: 'ffmpeg', artifacts, log: showLogical(res.stderr, command).slice(-LOG_TAIL) };
  },
};
