// Parser for `ffmpeg -progress pipe:1`: blocks of key=value lines, each block closed by
// `progress=continue` or `progress=end`. Chunks from a pipe split anywhere (mid-key, mid-line),
// so the parser buffers the partial last line and only acts on whole blocks.

export interface ProgressSnapshot {
  /** Output position in seconds, null while ffmpeg reports N/A. */
  outTime: number | null;
  frame: number | null;
  fps: number | null;
  /** Multiple of real time ("1.5x" → 1.5), null when N/A. */
  speed: number | null;
  /** 0..1 given a duration; 1 once ffmpeg says progress=end; null when it cannot be known. */
  progress: number | null;
  done: boolean;
  /** Every key of the block, as ffmpeg wrote it. */
  raw: Record<string, string>;
}

function finiteOrNull(value: string | undefined): number | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  if (!trimmed || trimmed === 'N/A') return null;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : null;
}

/** "01:02:03.500000" → 3723.5; negative or malformed → null. */
export function parseClock(value: string | undefined): number | null {
  const m = /^(-)?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value?.trim() ?? '');
  if (!m || m[1]) return null;
  return Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

function outTimeSeconds(raw: Record<string, string>): number | null {
  // out_time_ms is microseconds too (a long-standing ffmpeg naming bug), so both divide by 1e6.
  // Before the first frame ffmpeg prints N/A or INT64_MIN-ish negatives: treat as unknown.
  for (const key of ['out_time_us', 'out_time_ms']) {
    const us = finiteOrNull(raw[key]);
    if (us !== null) return us >= 0 ? us / 1e6 : null;
  }
  return parseClock(raw.out_time);
}

/** Turns one complete block into a snapshot. `duration` (seconds) gives the progress fraction. */
export function snapshotFromBlock(raw: Record<string, string>, duration?: number | null): ProgressSnapshot {
  const outTime = outTimeSeconds(raw);
  const speedText = raw.speed?.trim();
  const speed = speedText && speedText !== 'N/A' ? finiteOrNull(speedText.replace(/x$/, '')) : null;
  const done = raw.progress === 'end';
  let progress: number | null = null;
  if (done) progress = 1;
  else if (outTime !== null && duration && duration > 0) progress = Math.min(1, Math.max(0, outTime / duration));
  return { outTime, frame: finiteOrNull(raw.frame), fps: finiteOrNull(raw.fps), speed, progress, done, raw };
}

export interface ProgressParser {
  /** Feed stdout text as it arrives. */
  push(text: string): void;
  /** The stream ended; a trailing block without a progress= line is dropped (ffmpeg died mid-write). */
  end(): void;
  /** The most recent snapshot, if any block completed. */
  readonly last: ProgressSnapshot | undefined;
}

export function createProgressParser(onSnapshot: (s: ProgressSnapshot) => void, options: { duration?: number | null } = {}): ProgressParser {
  let pending = '';
  let block: Record<string, string> = {};
  let last: ProgressSnapshot | undefined;

  const line = (text: string): void => {
    const trimmed = text.replace(/\r$/, '');
    const eq = trimmed.indexOf('=');
    if (eq <= 0) return;
    const key = trimmed.slice(0, eq).trim();
    const value = trimmed.slice(eq + 1);
    block[key] = value;
    if (key === 'progress') {
      last = snapshotFromBlock(block, options.duration);
      block = {};
      onSnapshot(last);
    }
  };

  return {
    push(text: string): void {
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        line(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    },
    end(): void {
      if (pending) line(pending);
      pending = '';
      block = {};
    },
    get last() {
      return last;
    },
  };
}
