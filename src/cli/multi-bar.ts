// Several progress bars at once (one per task group). On a terminal the block is redrawn in
// place; in a log (not a TTY) a bar's line is printed only when its summary or its tenth of
// progress changes, so a CI log gets a readable history instead of thousands of redraws.
export interface BarLine {
  label: string;
  fraction: number;
  status: string;
}

export class MultiBar {
  private drawn = 0;
  private readonly last = new Map<string, string>();
  private readonly tty: boolean;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, private readonly width = 24) {
    this.tty = Boolean(stream.isTTY);
  }

  private line(b: BarLine, labelWidth: number): string {
    const f = Math.min(1, Math.max(0, b.fraction));
    const filled = Math.round(f * this.width);
    return `${b.label.padEnd(labelWidth)} [${'#'.repeat(filled)}${'-'.repeat(this.width - filled)}] ${`${Math.floor(f * 100)}%`.padStart(4)} ${b.status}`;
  }

  render(bars: readonly BarLine[]): void {
    const labelWidth = Math.max(0, ...bars.map((b) => b.label.length));
    if (this.tty) {
      const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
      this.stream.write(`${up}${bars.map((b) => `\r${this.line(b, labelWidth)}\x1b[K`).join('\n')}\n`);
      this.drawn = bars.length;
      return;
    }
    for (const b of bars) {
      const coarse = `${b.status.replace(/, \d+ fps.*$/, '')}:${Math.floor(Math.min(1, b.fraction) * 10)}`;
      if (this.last.get(b.label) === coarse) continue;
      this.last.set(b.label, coarse);
      this.stream.write(`${this.line(b, labelWidth)}\n`);
    }
  }
}
