// What a torrent holds, as the rest of vidfleet sees it, and which file of it is "the video".
import { VidfleetError } from '../../protocol/index.js';
import type { PieceGeometry } from './pieces.js';

export interface TorrentFileInfo {
  /** Position in the torrent's file list (what fileReader takes). */
  index: number;
  /** Path inside the torrent, '/'-separated; multi-file torrents start with the torrent's name. */
  path: string;
  length: number;
  /** Offset of the file's first byte in the torrent's byte stream. */
  offset: number;
}

export interface TorrentMetadata extends PieceGeometry {
  infoHash: string;
  name: string;
  files: TorrentFileInfo[];
}

/**
 * Extensions of containers ffmpeg reads as video. Chosen by name because nothing else is known
 * before downloading: probing a file's first bytes would cost a piece per candidate.
 */
export const VIDEO_EXTENSIONS: ReadonlySet<string> = new Set([
  'mp4', 'm4v', 'mov', 'mkv', 'webm', 'avi', 'wmv', 'asf', 'flv', 'f4v', 'ts', 'm2ts', 'mts',
  'mpg', 'mpeg', 'm2v', 'vob', 'ogv', '3gp', '3g2', 'mxf', 'rm', 'rmvb', 'divx',
]);

export function isVideoPath(path: string): boolean {
  const dot = path.lastIndexOf('.');
  return dot > path.lastIndexOf('/') && VIDEO_EXTENSIONS.has(path.slice(dot + 1).toLowerCase());
}

/**
 * The file a job means: the one at `selector` (its torrent path, with or without the leading
 * torrent name) when given, else the largest file with a video extension (samples and extras
 * are smaller than the feature). Errors list the torrent's files so a person can pick one.
 */
export function pickFile(metadata: TorrentMetadata, selector?: string): TorrentFileInfo {
  const files = metadata.files;
  if (selector !== undefined && selector !== '') {
    const want = selector.replace(/^\/+/, '');
    const found = files.find((f) => f.path === want) ?? files.find((f) => f.path === `${metadata.name}/${want}`);
    if (!found) {
      throw new VidfleetError('TORRENT_FILE_NOT_FOUND', `Torrent ${metadata.infoHash} has no file "${selector}" (files: ${listFiles(files)}).`, {
        details: { infoHash: metadata.infoHash, files: files.map((f) => f.path).slice(0, 100) },
      });
    }
    return found;
  }
  let best: TorrentFileInfo | undefined;
  for (const f of files) if (isVideoPath(f.path) && f.length > 0 && (!best || f.length > best.length)) best = f;
  if (!best) {
    throw new VidfleetError('TORRENT_NO_VIDEO', `The torrent has no video file (files: ${listFiles(files)}).`, {
      details: { infoHash: metadata.infoHash, files: files.map((f) => f.path).slice(0, 100) },
    });
  }
  return best;
}

function listFiles(files: readonly TorrentFileInfo[]): string {
  const shown = files.slice(0, 20).map((f) => `${f.path} (${f.length} bytes)`);
  return files.length > 20 ? `${shown.join(', ')}, … and ${files.length - 20} more` : shown.join(', ') || 'none';
}
