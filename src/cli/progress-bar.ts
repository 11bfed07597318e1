// A one-line progress bar for `vidfleet watch`. On a terminal it redraws in place; in a log
// (not a TTY) it prints a line only when the status or the tenth of progress changes.
export class ProgressBar {
  private lastLine = '';
  private readonly tty: boolean;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, private readonly width = 30) {
    this.tty = Boolean(stream.isTTY);
  }

  update(label: string, fraction: number, status: string): void {
    const f = Math.min(1, Math.max(0, fraction));
    const filled = Math.round(f * this.width);
    const bar = '#'.repeat(filled) + '-'.repeat(this.width - filled);
    const pct = `${Math.floor(f * 100)}%`.padStart(4);
    const line = `${label} [${bar}] ${pct} ${status}`;
    if (this.tty) {
      this.stream.write(`\r${line}\x1b[K`);
      this.lastLine = line;
      return;
    }
    const coarse = `${status}:${Math.floor(f * 10)}`;
    if (coarse !== this.lastLine) {
      this.stream.write(line + '\n');
      this.lastLine = coarse;
    }
  }

  done(): void {
    if (this.tty && this.lastLine) this.stream.write('\n');
    this.lastLine = '';
  }
}
