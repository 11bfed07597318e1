// The screenshots of a torrent-screenshots attempt: those an earlier attempt stored and those
// made now, kept in the checkpoint (saved after each one) and reported as the job's result. The
// indexed path and the range-bridge fallback both record through it.
import type { TorrentScreenshot, TorrentScreenshotsCost, TorrentScreenshotsResult } from '../../../protocol/index.js';
import type { TaskContext } from '../kind.js';
import type { TorrentShotsCheckpoint } from './plan.js';

export class ShotLedger {
  private made = 0;

  constructor(
    private readonly ctx: Pick<TaskContext, 'onProgress'>,
    private readonly checkpoint: TorrentShotsCheckpoint,
    private readonly save: () => void,
    private readonly total: number,
    /** Screenshots an earlier attempt stored (reusable()). */
    private readonly done: Map<number, TorrentScreenshot>,
  ) {
    checkpoint.done = [...done.values()];
    save();
  }

  has(index: number): boolean {
    return this.done.has(index);
  }

  get size(): number {
    return this.done.size;
  }

  /** A screenshot stored by this attempt: checkpointed at once, so a retry skips it. */
  add(shot: TorrentScreenshot): void {
    this.done.set(shot.index, shot);
    this.checkpoint.done = this.sorted();
    this.made++;
    this.save();
    this.ctx.onProgress({ progress: 0.15 + (0.85 * this.done.size) / this.total, message: `screenshot ${this.done.size}/${this.total}` });
  }

  result(base: { infoHash: string; file: string; format: TorrentScreenshotsResult['format']; duration: number | null; cost: TorrentScreenshotsCost }): TorrentScreenshotsResult {
    const { cost, ...head } = base;
    return { ...head, screenshots: this.sorted(), made: this.made, reused: this.total - this.made, cost };
  }

  private sorted(): TorrentScreenshot[] {
    return [...this.done.values()].sort((a, b) => a.index - b.index);
  }
}
