// Chunks from a pipe split anywhere; this hands on whole lines (either line ending, and the
// carriage returns ffmpeg uses to redraw its status line).
export interface LineSplitter {
  push(text: string): void;
  /** The stream ended: a last line without a newline is still a line. */
  end(): void;
}

export function createLineSplitter(onLine: (line: string) => void): LineSplitter {
  let pending = '';
  return {
    push(text: string): void {
      pending += text;
      const parts = pending.split(/\r\n|\r|\n/);
      pending = parts.pop() ?? '';
      for (const line of parts) onLine(line);
    },
    end(): void {
      if (pending) onLine(pending);
      pending = '';
    },
  };
}
