// Where the screenshots go and what an earlier attempt left: times from count and the
// duration (the middle of count equal parts, as `screenshots` places them), and the checkpoint
// saved after each upload, so a retry on any worker skips the images already stored.
import type { TorrentResumeData } from '../../../sources/torrent/index.js';
import type { TorrentScreenshot } from '../../../protocol/index.js';
import type { StillFormat } from '../../stills.js';

export interface TorrentShotsCheckpoint {
  v: 1;
  kind: 'torrent-screenshots';
  infoHash: string;
  format: StillFormat;
  /** The torrent's pieces this task has had (openTorrent's resume). */
  torrent: TorrentResumeData | null;
  done: TorrentScreenshot[];
}

export function evenTimes(count: number, duration: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.round(((duration * (i + 0.5)) / count) * 1e6) / 1e6);
}

/** Screenshots an earlier attempt stored for this torrent and format, by index, when they are for the same time. */
export function reusable(resume: unknown, infoHash: string, format: StillFormat, times: readonly number[]): Map<number, TorrentScreenshot> {
  const done = new Map<number, TorrentScreenshot>();
  const c = resume as Partial<TorrentShotsCheckpoint> | null;
  if (!c || c.v !== 1 || c.kind !== 'torrent-screenshots' || c.infoHash !== infoHash || c.format !== format || !Array.isArray(c.done)) return done;
  for (const s of c.done) {
    const t = times[s.index - 1];
    if (t !== undefined && Math.abs(t - s.time) < 1e-6 && typeof s.artifact === 'string') done.set(s.index, s);
  }
  return done;
}

export function priorTorrentResume(resume: unknown): unknown {
  const c = resume as Partial<TorrentShotsCheckpoint> | null;
  return c && c.kind === 'torrent-screenshots' ? c.torrent : null;
}
