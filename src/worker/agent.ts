// The worker process's main loop: register, claim up to the free concurrency (long poll),
// run each attempt, and heartbeat the attempts it holds. It only ever talks HTTP.
import { hostname } from 'node:os';
import { VidfleetClient } from '../client/api-client.js';
import { isNetworkError } from '../client/http.js';
import { detectCapabilities, KIND_RUNNERS } from '../media/index.js';
import type { KindRunner } from '../media/kinds/kind.js';
import { VidfleetError, isKindName, kindSpec, type WorkerCapabilities } from '../protocol/index.js';
import { parseWorkerConfig, type WorkerConfig } from './config.js';
import { AckOutbox } from './ack-outbox.js';
import { startAttempt, stopAttempt, type RunningAttempt } from './task-runner.js';

export interface WorkerLogger {
  (message: string, fields?: Record<string, unknown>): void;
}

const jsonLogger: WorkerLogger = (message, fields) => {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), component: 'worker', message, ...fields }) + '\n');
};

export class WorkerAgent {
  readonly config: WorkerConfig;
  private readonly client: VidfleetClient;
  private readonly runners: Map<string, KindRunner>;
  /** Attempts whose lease this worker holds (heartbeats renew them), finished or not. */
  private readonly active = new Map<string, RunningAttempt>();
  /** Attempts still working: what counts against the concurrency. */
  private busy = 0;
  private readonly outbox: AckOutbox;
  private readonly stopController = new AbortController();
  private workerId: string | null = null;
  private leaseMs = 30_000;
  private heartbeatMs = 10_000;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private loop: Promise<void> | null = null;
  private slotFreed: (() => void) | null = null;
  private resolveHandBack: () => void = () => {};
  private readonly handBackRequested = new Promise<void>((resolve) => (this.resolveHandBack = resolve));

  constructor(options: Partial<WorkerConfig> & { coordinatorUrl: string }, private readonly log: WorkerLogger = jsonLogger) {
    this.config = parseWorkerConfig(options);
    this.client = new VidfleetClient(this.config.coordinatorUrl, { credentials: this.config.credentials });
    this.outbox = new AckOutbox({
      send: (body) => this.client.acknowledge(this.workerId!, body),
      retryForMs: () => this.leaseMs,
      log: this.log,
    });
    // A graph kind asked for by name (--kinds transcode) means the task kinds its graph is made of.
    const wanted = this.config.kinds?.flatMap((k) => (isKindName(k) ? [k, ...(kindSpec(k).taskKinds ?? [])] : [k]));
    this.runners = new Map(Object.values(KIND_RUNNERS).filter((r) => !wanted || wanted.includes(r.name)).map((r) => [r.name, r]));
    if (this.runners.size === 0) throw new Error(`This worker implements none of the kinds asked for (${wanted?.join(', ')}).`);
  }

  get id(): string | null {
    return this.workerId;
  }

  get runningTasks(): number {
    return this.active.size;
  }

  /** Registers (retrying until the coordinator answers) and starts claiming. */
  async start(): Promise<void> {
    await this.register();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatMs);
    this.loop = this.claimLoop();
  }

  /**
   * Stops claiming. Running attempts get `drainMs` to finish (0: none); whatever still runs then,
   * or when handBack() is called meanwhile, is handed back so another worker takes it at once.
   * Then the worker deregisters. Leases stay renewed while it drains.
   */
  async stop(options: { drainMs?: number } = {}): Promise<void> {
    this.stopController.abort();
    await this.loop;
    const drained = Promise.all([...this.active.values()].map((a) => a.done));
    if (options.drainMs && options.drainMs > 0 && this.active.size > 0) {
      this.log('draining', { running: this.active.size, drainMs: options.drainMs });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, options.drainMs))), this.handBackRequested]);
      clearTimeout(timer);
    }
    this.handBack();
    await drained;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.workerId) {
      await this.client.deregisterWorker(this.workerId).catch((err: unknown) => this.log('deregister failed', { error: String(err) }));
    }
    this.client.close();
  }

  /** Hands every running attempt back now (the second Ctrl-C of a drain). */
  handBack(): void {
    this.resolveHandBack();
    for (const attempt of this.active.values()) stopAttempt(attempt, 'shutdown');
  }

  private async capabilities(): Promise<WorkerCapabilities> {
    const detected = await detectCapabilities();
    return {
      kinds: [...this.runners.keys()],
      concurrency: this.config.concurrency,
      ffmpegVersion: detected.ffmpegVersion,
      encoders: detected.encoders,
      hwaccels: detected.hwaccels,
      filters: detected.filters,
      ...(this.config.mounts.size > 0 && { mounts: [...this.config.mounts.keys()] }),
      ...(this.config.tags.length > 0 && { tags: this.config.tags }),
    };
  }

  private async register(): Promise<void> {
    const capabilities = await this.capabilities();
    let delay = 500;
    for (;;) {
      try {
        const registered = await this.client.registerWorker({ name: this.config.name, hostname: hostname(), capabilities });
        this.workerId = registered.workerId;
        this.leaseMs = registered.leaseMs;
        this.heartbeatMs = registered.heartbeatMs;
        this.log('registered', { workerId: this.workerId, coordinator: this.config.coordinatorUrl, kinds: capabilities.kinds });
        return;
      } catch (err) {
        if (!isNetworkError(err) || this.stopController.signal.aborted) throw err;
        this.log('coordinator unreachable, retrying', { error: (err as Error).message });
        await sleep(delay, this.stopController.signal);
        delay = Math.min(delay * 2, 10_000);
      }
    }
  }

  private async claimLoop(): Promise<void> {
    const stop = this.stopController.signal;
    let backoff = 250;
    while (!stop.aborted) {
      const free = this.config.concurrency - this.busy;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            stop.removeEventListener('abort', done);
            resolve();
          };
          this.slotFreed = done;
          stop.addEventListener('abort', done, { once: true });
        });
        continue;
      }
      // Reports waiting in the outbox ride on this claim (which then answers without waiting).
      const batch = this.outbox.take();
      try {
        const { tasks, acks } = await this.client.claim(this.workerId!, free, this.config.claimWaitSeconds, stop, batch?.body);
        if (batch) this.outbox.settle(batch, acks ?? []);
        backoff = 250;
        for (const task of tasks) this.run(task);
      } catch (err) {
        // Aborted by stop(): the reports were maybe never sent; they go on their own request.
        if (batch) this.outbox.requeue(batch, err, stop.aborted);
        if (stop.aborted) break;
        if (err instanceof VidfleetError && err.code === 'WORKER_NOT_FOUND') {
          await this.register().catch((e: unknown) => this.log('re-register failed', { error: String(e) }));
          continue;
        }
        this.log('claim failed', { error: (err as Error).message, retryInMs: backoff });
        await sleep(backoff, stop);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  private run(task: Parameters<typeof startAttempt>[1]): void {
    const attempt = startAttempt(
      {
        client: this.client, workerId: this.workerId!, workDir: this.config.workDir, leaseMs: this.leaseMs, runners: this.runners, outbox: this.outbox, log: this.log,
        mounts: this.config.mounts, allowProtocols: this.config.allowProtocols,
        torrentDir: this.config.torrentDir, torrentAllowDht: this.config.torrentAllowDht,
      },
      task,
    );
    this.active.set(task.taskId, attempt);
    this.busy++;
    void attempt.finished.then(() => {
      this.busy--;
      this.slotFreed?.();
      this.slotFreed = null;
    });
    void attempt.done.finally(() => {
      if (this.active.get(task.taskId) === attempt) this.active.delete(task.taskId);
    });
  }

  private async heartbeat(): Promise<void> {
    if (!this.workerId) return;
    const held = [...this.active.values()].map((a) => ({ taskId: a.task.taskId, attempt: a.task.attempt }));
    try {
      const { tasks } = await this.client.heartbeat(this.workerId, held);
      for (const t of tasks) {
        const attempt = this.active.get(t.taskId);
        if (attempt && attempt.task.attempt === t.attempt && t.state !== 'ok') stopAttempt(attempt, t.state);
      }
    } catch (err) {
      if (err instanceof VidfleetError && err.code === 'WORKER_NOT_FOUND') {
        // The coordinator forgot us (reset database): our attempts are void there.
        for (const attempt of this.active.values()) stopAttempt(attempt, 'lost');
      } else {
        this.log('heartbeat failed', { error: (err as Error).message });
      }
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
