// A job's result: the download cost when a torrent job reports one (how little of the torrent
// it had to fetch), a transcode's renditions as a table, and the whole result as JSON.
import { formatBytes, h } from '../dom.js';
import type { Job } from '../types.js';

interface DownloadCost {
  downloaded: number;
  total: number | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Finds a download cost in a result: bytes downloaded (bytesFetched / downloadedBytes /
 * bytesDownloaded / downloaded) and, when present, the size they are a part of (totalBytes /
 * torrentBytes / fileSize / size), at the top level or under `cost` / `torrent` / `download`.
 */
export function downloadCost(result: unknown): DownloadCost | null {
  if (typeof result !== 'object' || result === null) return null;
  const r = result as Record<string, unknown>;
  // torrent-screenshots reports { cost: { bytesFetched, fileSize, floorBytes, … } }.
  for (const scope of [r.cost, r.download, r.torrent, r]) {
    if (typeof scope !== 'object' || scope === null) continue;
    const s = scope as Record<string, unknown>;
    const downloaded = num(s.bytesFetched) ?? num(s.downloadedBytes) ?? num(s.bytesDownloaded) ?? num(s.downloaded);
    if (downloaded === null) continue;
    const total = num(s.totalBytes) ?? num(s.torrentBytes) ?? num(s.fileSize) ?? num(s.size) ?? num(s.totalSize);
    return { downloaded, total };
  }
  return null;
}

interface Rendition {
  name: string;
  width: number;
  height: number;
  codec: string;
  frames: number;
  duration: number;
  bitRate: number | null;
}

export function resultView(job: Job): HTMLElement | null {
  if (job.result === null || job.result === undefined) return null;
  const cost = downloadCost(job.result);
  const renditions = (job.result as { renditions?: unknown }).renditions;
  return h('section', { class: 'card wide', id: 'result' },
    h('h2', null, 'Result'),
    cost
      ? h('p', { class: 'cost', id: 'download-cost' }, h('strong', null, `Downloaded ${formatBytes(cost.downloaded)}`),
        cost.total ? ` of ${formatBytes(cost.total)} (${((cost.downloaded / cost.total) * 100).toFixed(2)}% of the torrent)` : '')
      : null,
    Array.isArray(renditions)
      ? h('table', { class: 'table' },
        h('thead', null, h('tr', null, ['rendition', 'size', 'codec', 'frames', 'duration', 'bit rate'].map((t) => h('th', null, t)))),
        h('tbody', null, (renditions as Rendition[]).map((r) => h('tr', null,
          h('td', null, r.name), h('td', null, `${r.width}×${r.height}`), h('td', null, r.codec), h('td', { class: 'num' }, r.frames),
          h('td', { class: 'num' }, `${r.duration.toFixed(2)} s`), h('td', { class: 'num' }, r.bitRate ? `${Math.round(r.bitRate / 1000)} kb/s` : '—')))))
      : null,
    h('details', { open: !cost && !Array.isArray(renditions) }, h('summary', null, 'JSON'), h('pre', { class: 'json' }, JSON.stringify(job.result, null, 2))));
}
