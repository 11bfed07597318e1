// Runs ffmpeg/ffprobe (or any binary) as a child process: argument vector only, never a shell,
// so file names and URLs from users cannot inject anything. Stops the child on abort or
// timeout (SIGTERM first so ffmpeg can close its output, SIGKILL if it does not listen) and
// only settles once the child has really exited, so a canceled task leaves no process behind
// still writing into a work directory the worker is about to delete.
import { spawn } from 'node:child_process';
import { basename, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import { VidfleetError } from '../protocol/index.js';

/** Protocols an input may use (also the nested ones HLS/HTTPS need); concat:, subfile:, data: are out. */
export const PROTOCOL_WHITELIST = 'file,http,https,tcp,tls,crypto';

/**
 * The argument to give ffmpeg for a task input. Local paths become explicit `file:` URLs so
 * that a name like "concat:a|b" or "subfile:..." can only ever mean a file with that name.
 */
export function ffmpegInputArg(input: string): string {
  if (/^https?:\/\//i.test(input)) return input;
  const path = /^file:\/\//i.test(input) ? fileURLToPath(input) : resolve(input);
  return `file:${path}`;
}

export function ffmpegBinary(): string {
  return process.env.VIDFLEET_FFMPEG || 'ffmpeg';
}

export function ffprobeBinary(): string {
  return process.env.VIDFLEET_FFPROBE || 'ffprobe';
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Kill the child when it runs longer than this (ms). */
  timeoutMs?: number;
  /** How long SIGTERM gets before SIGKILL (ms). Default 2000. */
  killGraceMs?: number;
  /** Streams stdout to this callback instead of collecting it. */
  onStdout?: (text: string) => void;
  /** Also sees stderr as it arrives (it is collected either way). */
  onStderr?: (text: string) => void;
  /** Cap on collected stdout (bytes); the child is killed past it. Default 64 MiB. */
  maxStdoutBytes?: number;
  /** Bytes of stderr kept from the start and from the end. Default 4 KiB / 32 KiB. */
  stderrHeadBytes?: number;
  stderrTailBytes?: number;
  /** Called with the child's pid once it is running (tests use it to check the child is gone). */
  onSpawn?: (pid: number) => void;
  cwd?: string;
}

export interface RunResult {
  exitCode: number | null;
  /** Set when the child died from a signal it did not get from us. */
  signal: NodeJS.Signals | null;
  stdout: string;
  /** First and last bytes of stderr; the middle of a long log is elided. */
  stderr: string;
}

/** Thrown on abort when the signal's reason is not an Error itself (otherwise the reason is thrown). */
export class ProcessAbortedError extends Error {
  constructor(command: string, reason: unknown) {
    super(`${command} stopped: the task was aborted`, { cause: reason });
    this.name = 'AbortError';
  }
}

// Like fetch(): the abort reason the caller chose (e.g. the worker's "canceled") is what surfaces.
function abortError(command: string, reason: unknown): Error {
  return reason instanceof Error ? reason : new ProcessAbortedError(command, reason);
}

/** Keeps the first `headMax` and last `tailMax` bytes of a stream without unbounded growth. */
class HeadTail {
  private head = '';
  private tail = '';
  private skipped = 0;
  constructor(
    private readonly headMax: number,
    private readonly tailMax: number,
  ) {}

  push(text: string): void {
    if (this.head.length < this.headMax) {
      const room = this.headMax - this.head.length;
      this.head += text.slice(0, room);
      text = text.slice(room);
    }
    if (!text) return;
    this.tail += text;
    if (this.tail.length > this.tailMax * 2) this.trimTail();
  }

  private trimTail(): void {
    const cut = this.tail.length - this.tailMax;
    if (cut <= 0) return;
    // Cut at a line start so classification never sees half a line.
    const nl = this.tail.indexOf('\n', cut);
    const at = nl === -1 ? cut : nl + 1;
    this.skipped += at;
    this.tail = this.tail.slice(at);
  }

  toString(): string {
    this.trimTail();
    if (!this.skipped) return this.head + this.tail;
    return `${this.head}\n[... ${this.skipped} characters of log skipped ...]\n${this.tail}`;
  }
}

export function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { signal, timeoutMs, killGraceMs = 2000, onStdout, maxStdoutBytes = 64 * 1024 * 1024 } = options;
  const name = basename(command);
  if (signal?.aborted) return Promise.reject(abortError(name, signal.reason));

  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd, windowsHide: true });
    const stderr = new HeadTail(options.stderrHeadBytes ?? 4096, options.stderrTailBytes ?? 32 * 1024);
    const outDecoder = new StringDecoder('utf8');
    const errDecoder = new StringDecoder('utf8');
    const stdoutParts: string[] = [];
    let stdoutBytes = 0;
    // Why we stopped the child ourselves; decides what the caller sees.
    let stopReason: { kind: 'abort' | 'timeout' | 'overflow' } | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const stop = (kind: 'abort' | 'timeout' | 'overflow'): void => {
      if (stopReason || child.exitCode !== null || child.signalCode !== null) return;
      stopReason = { kind };
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), killGraceMs);
      killTimer.unref();
    };

    const onAbort = (): void => stop('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
    const timeoutTimer = timeoutMs === undefined ? undefined : setTimeout(() => stop('timeout'), timeoutMs);

    const cleanup = (): void => {
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (timeoutTimer) clearTimeout(timeoutTimer);
      if (killTimer) clearTimeout(killTimer);
    };

    child.on('spawn', () => {
      if (child.pid !== undefined) options.onSpawn?.(child.pid);
    });

    child.stdout.on('data', (chunk: Buffer) => {
      const text = outDecoder.write(chunk);
      if (onStdout) {
        if (text) onStdout(text);
        return;
      }
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxStdoutBytes) return stop('overflow');
      stdoutParts.push(text);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      const text = errDecoder.write(chunk);
      stderr.push(text);
      if (text) options.onStderr?.(text);
    });

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      cleanup();
      if (err.code === 'ENOENT' || err.code === 'EACCES') {
        const envVar = name.includes('ffprobe') ? 'VIDFLEET_FFPROBE' : 'VIDFLEET_FFMPEG';
        reject(
          new VidfleetError(
            'FFMPEG_MISSING',
            `${command} could not be started (${err.code}): install it (apt-get install -y ffmpeg) or point ${envVar} at the binary.`,
            { cause: err },
          ),
        );
      } else {
        reject(new VidfleetError('FFMPEG_FAILED', `${command} could not be started: ${err.message}`, { cause: err }));
      }
    });

    // 'close' (not 'exit') so every byte of stdout/stderr has been read before we settle.
    child.on('close', (exitCode, exitSignal) => {
      if (settled) return;
      cleanup();
      const tailOut = outDecoder.end();
      if (tailOut && onStdout) onStdout(tailOut);
      else if (tailOut) stdoutParts.push(tailOut);
      stderr.push(errDecoder.end());
      const log = stderr.toString();
      switch (stopReason?.kind) {
        case 'abort':
          return reject(abortError(name, signal?.reason));
        case 'timeout':
          return reject(
            new VidfleetError('FFMPEG_FAILED', `${name} did not finish within ${Math.round((timeoutMs ?? 0) / 1000)} s and was stopped; a slow input or a hung network read is the usual cause.`, {
              details: { stderr: log.slice(-2000) },
            }),
          );
        case 'overflow':
          return reject(new VidfleetError('FFMPEG_FAILED', `${name} wrote more than ${maxStdoutBytes} bytes to stdout and was stopped.`));
      }
      resolve({ exitCode, signal: exitSignal, stdout: stdoutParts.join(''), stderr: log });
    });
  });
}
