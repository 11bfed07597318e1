// Shared by bench/dispatch and its child processes: the clock every process stamps with, the
// messages that pass between the bench and its children, bounded waits, and percentiles.
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/**
 * Wall-clock milliseconds with sub-millisecond resolution. Every process on this machine reads
 * the same system clock, so stamps taken in different processes can be subtracted; the
 * coordinator's own stamps (Date.now(), whole ms) and PostgreSQL's now() (µs) are on that
 * clock too.
 */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface RedisTarget {
  host: string;
  port: number;
  /** Key prefix owned by this run: everything under it is deleted at the end. */
  prefix: string;
  queue: string;
}

export interface PgBossTarget {
  connectionString: string;
  /** Schema owned by this run: dropped at the end. */
  schema: string;
  queue: string;
}

/** What a submitting client talks to. */
export type ClientTarget =
  | { system: 'vidfleet'; url: string }
  | { system: 'bullmq'; redis: RedisTarget }
  | { system: 'pgboss'; pg: PgBossTarget };

export type WorkerTarget = { system: 'bullmq'; redis: RedisTarget; concurrency: number } | { system: 'pgboss'; pg: PgBossTarget; concurrency: number };

/** Client jobs: `burst` submits `count` tasks with `concurrency` requests in flight; `paced` sends one every 1000/rate ms. */
export type ClientCommand =
  | { type: 'burst'; count: number; concurrency: number; tag: string }
  | { type: 'paced'; count: number; ratePerSec: number; tag: string };

export interface Sent {
  id: string;
  /** wallMs() just before the submit was handed to the client library. */
  sentAt: number;
}

export interface ClientResult {
  sent: Sent[];
  firstSentAt: number;
  /** When the last submit was acknowledged. */
  lastAckedAt: number;
  /** Paced runs: how far behind schedule the latest send went out (ms). */
  maxLagMs: number;
}

/** Messages from a child to the bench. */
export type ChildMessage = { type: 'ready' } | { type: 'result'; seq: number; result: unknown } | { type: 'error'; seq: number | null; message: string };
/** Messages from the bench to a child. */
export type ParentMessage = { type: 'run'; seq: number; command: unknown } | { type: 'stop' };

/** A child process started by the bench: waits for `ready`, runs commands, stops within a bound. */
export class Child {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<void>;
  private readyResolve: () => void = () => {};
  private readyReject: (e: Error) => void = () => {};
  private readonly readyPromise = new Promise<void>((resolve, reject) => {
    this.readyResolve = resolve;
    this.readyReject = reject;
  });

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.on('message', (raw) => {
      const msg = raw as ChildMessage;
      if (msg.type === 'ready') this.readyResolve();
      else if (msg.type === 'result') this.settle(msg.seq, (p) => p.resolve(msg.result));
      else if (msg.seq === null) this.readyReject(new Error(`${name}: ${msg.message}`));
      else this.settle(msg.seq, (p) => p.reject(new Error(`${name}: ${msg.message}`)));
    });
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        const err = new Error(`${name} exited (code ${code}, signal ${signal})`);
        this.readyReject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        resolve();
      });
    });
    // A rejected ready promise nobody awaits yet must not crash the bench.
    this.readyPromise.catch(() => undefined);
  }

  static start(name: string, script: string, config: unknown): Child {
    const proc = fork(script, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Child(name, proc);
  }

  private settle(seq: number, fn: (p: { resolve: (v: unknown) => void; reject: (e: Error) => void }) => void): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    fn(p);
  }

  ready(timeoutMs: number): Promise<void> {
    return withTimeout(this.readyPromise, timeoutMs, `${this.name} to start`);
  }

  run<T>(command: unknown, timeoutMs: number): Promise<T> {
    const seq = ++this.seq;
    const answer = new Promise<unknown>((resolve, reject) => this.pending.set(seq, { resolve, reject }));
    const message: ParentMessage = { type: 'run', seq, command };
    this.proc.send(message);
    return withTimeout(answer, timeoutMs, `${this.name} to finish ${JSON.stringify(command).slice(0, 80)}`) as Promise<T>;
  }

  /** Asks the child to stop; SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const message: ParentMessage = { type: 'stop' };
    try {
      this.proc.send(message);
    } catch {
      // channel already closed: the exit is on its way
    }
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(killer);
  }
}

/**
 * The child side: parses its config from argv, answers `run` with `handle`, and on `stop` (or
 * when the bench goes away) calls `close` and exits.
 */
export function serveChild<C>(handle: (command: C) => Promise<unknown>, close: () => Promise<void>): void {
  let closing = false;
  const shutdown = (): void => {
    if (closing) return;
    closing = true;
    const hardExit = setTimeout(() => process.exit(0), 8_000);
    hardExit.unref();
    close()
      .catch((err: unknown) => process.stderr.write(`child close failed: ${String(err)}\n`))
      .finally(() => process.exit(0));
  };
  process.on('message', (raw) => {
    const msg = raw as ParentMessage;
    if (msg.type === 'stop') return shutdown();
    handle(msg.command as C).then(
      (result) => process.send?.({ type: 'result', seq: msg.seq, result } satisfies ChildMessage),
      (err: unknown) => process.send?.({ type: 'error', seq: msg.seq, message: (err as Error).stack ?? String(err) } satisfies ChildMessage),
    );
  });
  process.on('disconnect', shutdown);
  process.on('SIGTERM', shutdown);
}

export function childConfig<T>(): T {
  const raw = process.argv[2];
  if (!raw) throw new Error('missing config argument');
  return JSON.parse(raw) as T;
}

export function reportReady(): void {
  process.send?.({ type: 'ready' } satisfies ChildMessage);
}

export function reportStartFailure(err: unknown): never {
  process.send?.({ type: 'error', seq: null, message: (err as Error).stack ?? String(err) } satisfies ChildMessage);
  process.stderr.write(`child failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `check` every `intervalMs` until it answers non-null; throws after `timeoutMs`. */
export async function pollUntil<T>(check: () => Promise<T | null>, options: { timeoutMs: number; intervalMs: number; what: string }): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
    await sleep(options.intervalMs);
  }
}

/** Nearest-rank percentile of `samples` (q in 0..1). */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 0.5);
}

/** Runs `fn` over `items` with at most `limit` at once, in order of start. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return out;
}
