// Ships one attempt's log lines (the kind's notes and ffmpeg's stderr) to the coordinator in
// batches: every second, or sooner when a batch fills. While the coordinator is away lines wait
// here (bounded: the oldest go first, and a marker says how many), so a short outage loses
// nothing and the tail arrives when it is back; close() delivers what is left before the
// attempt reports its outcome.
import { isNetworkError } from '../client/http.js';
import { VidfleetError } from '../protocol/index.js';

export interface LogLine {
  ts: number;
  line: string;
}

export interface LogShipperOptions {
  send(lines: LogLine[]): Promise<unknown>;
  intervalMs?: number;
  /** Lines sent per request (the API takes up to 1000). */
  batchLines?: number;
  /** Lines kept while the coordinator is unreachable. */
  maxBuffered?: number;
  log(message: string, fields?: Record<string, unknown>): void;
}

export class LogShipper {
  private buffer: LogLine[] = [];
  private dropped = 0;
  private sending: Promise<void> | null = null;
  private refused = false;
  private readonly timer: NodeJS.Timeout;
  private readonly batchLines: number;
  private readonly maxBuffered: number;

  constructor(private readonly options: LogShipperOptions) {
    this.batchLines = options.batchLines ?? 500;
    this.maxBuffered = options.maxBuffered ?? 5_000;
    this.timer = setInterval(() => void this.flush(), options.intervalMs ?? 1_000);
    this.timer.unref();
  }

  push(line: string): void {
    if (this.refused) return;
    this.buffer.push({ ts: Date.now(), line });
    if (this.buffer.length > this.maxBuffered) {
      this.buffer.shift();
      this.dropped++;
    }
    if (this.buffer.length >= this.batchLines) void this.flush();
  }

  /** Sends one batch unless one is on its way; false when it could not be delivered (network). */
  async flush(): Promise<boolean> {
    if (this.sending) {
      await this.sending;
      return true;
    }
    if (this.buffer.length === 0 && this.dropped === 0) return true;
    const lines = this.buffer.splice(0, this.batchLines);
    if (this.dropped > 0) {
      lines.unshift({ ts: Date.now(), line: `[vidfleet] ${this.dropped} earlier log line(s) dropped while the coordinator was unreachable` });
    }
    const dropped = this.dropped;
    this.dropped = 0;
    let delivered = true;
    this.sending = (async () => {
      try {
        await this.options.send(lines);
      } catch (err) {
        if (isNetworkError(err)) {
          // Back in front, in order; the cap still holds.
          this.buffer = [...lines.filter((l, i) => !(dropped > 0 && i === 0)), ...this.buffer];
          this.dropped += dropped;
          while (this.buffer.length > this.maxBuffered) {
            this.buffer.shift();
            this.dropped++;
          }
          delivered = false;
        } else {
          // Stale attempt or a refused batch: nobody will take these lines.
          this.refused = true;
          this.buffer = [];
          if (!(err instanceof VidfleetError && err.code === 'STALE_ATTEMPT')) this.options.log('task log lines refused', { error: String(err) });
        }
      }
    })();
    try {
      await this.sending;
    } finally {
      this.sending = null;
    }
    return delivered;
  }

  /** Stops the timer; lines not yet sent stay unsent. */
  stop(): void {
    clearInterval(this.timer);
  }

  /** Stops the timer and delivers what is left, retrying while unreachable for up to `forMs`. */
  async close(forMs: number): Promise<void> {
    clearInterval(this.timer);
    const deadline = Date.now() + forMs;
    let delay = 200;
    while (!this.refused && (this.buffer.length > 0 || this.dropped > 0 || this.sending)) {
      if (await this.flush()) continue;
      if (Date.now() + delay > deadline) {
        this.options.log('task log tail not delivered: the coordinator stayed unreachable', { lines: this.buffer.length });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5_000);
    }
  }
}
