// `torrent-screenshots`: screenshots of a video inside a torrent, fetching only the torrent's
// metadata and the pieces that hold the container index and the keyframes needed.
// Inputs: a magnet URI, a bare info-hash (40 hex / 32 base32), or an uploaded .torrent
// (store://…/name.torrent). See docs/jobs.md "torrent-screenshots".
import { Type, type Static } from '@sinclair/typebox';
import { MAX_SCREENSHOTS, ScreenshotsParamsSchema } from './screenshots.js';
import type { ThumbnailFormat } from './thumbnail.js';

const PEER_PATTERN = '^(\\[[0-9a-fA-F:.]+\\]|[^:\\[\\]\\s]+):\\d{1,5}$';

export const TorrentScreenshotsParamsSchema = Type.Object(
  {
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SCREENSHOTS, description: 'Images evenly spaced over the video (the middle of count equal parts); default 10. Give count or times, not both.' })),
    times: Type.Optional(
      Type.Array(Type.Number({ minimum: 0, maximum: 7 * 86_400 }), { minItems: 1, maxItems: MAX_SCREENSHOTS, description: 'Seconds from the start, one image each (the keyframe at or before each).' }),
    ),
    file: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'Path of the video inside the torrent (with or without the torrent name); default: the largest file with a video extension.' })),
    peers: Type.Optional(
      Type.Array(Type.String({ pattern: PEER_PATTERN, maxLength: 300 }), { maxItems: 50, description: 'Peers to connect to, "host:port" ("[::1]:port" for IPv6); added to the magnet\'s x.pe peers.' }),
    ),
    trackers: Type.Optional(
      Type.Array(Type.String({ pattern: '^(udp|https?|wss?)://', maxLength: 2048 }), { maxItems: 20, description: 'Tracker URLs to announce to (none by default; the magnet\'s own tr= trackers are not used).' }),
    ),
    dht: Type.Optional(Type.Boolean({ description: 'Find peers through the mainline DHT (default false; the worker must allow it).' })),
    maxBytes: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Byte budget: refuse (TORRENT_BUDGET_EXCEEDED) before fetching keyframes when the pieces holding the index and the keyframes would exceed it.' }),
    ),
    metadataTimeoutSeconds: Type.Optional(Type.Number({ minimum: 1, maximum: 3600, description: 'How long to wait for the metadata from peers (default 60).' })),
    pieceTimeoutSeconds: Type.Optional(Type.Number({ minimum: 1, maximum: 3600, description: 'How long a read may go without piece data before the attempt fails recoverably (default 30).' })),
    // The images themselves: as a screenshots job's.
    width: ScreenshotsParamsSchema.properties.width,
    height: ScreenshotsParamsSchema.properties.height,
    format: ScreenshotsParamsSchema.properties.format,
    quality: ScreenshotsParamsSchema.properties.quality,
  },
  { additionalProperties: false },
);
export type TorrentScreenshotsParams = Static<typeof TorrentScreenshotsParamsSchema>;

export interface TorrentScreenshot {
  /** 1-based, as in the artifact name (screenshot-001.jpg). */
  index: number;
  /** Seconds asked for (computed for evenly spaced ones). */
  time: number;
  /** Seconds of the keyframe taken (null when the fallback's ffmpeg did not say). */
  keyframeTime: number | null;
  artifact: string;
  /** Bytes of the image. */
  size: number;
}

export interface TorrentScreenshotsCost {
  /** Bytes of the video file, and of each piece. */
  fileSize: number;
  pieceLength: number;
  /** Pieces and bytes this attempt received from peers (metadata included in bytes). */
  piecesFetched: number;
  bytesFetched: number;
  /** Index + keyframe bytes (what a perfect byte-range reader would read). */
  floorBytes: number;
  /** Pieces covering the index reads and the keyframes: the least a BitTorrent client must fetch. */
  floorPieces: number;
  /** Pieces earlier attempts fetched (any worker). */
  piecesFetchedEarlier: number;
  /** Pieces this worker held already when the attempt began. */
  piecesHeldAtStart: number;
  timeToMetadataMs: number;
  /** 'mp4' | 'fmp4' | 'mkv', or what the fallback saw ('MPEG-TS', 'AVI', …). */
  container: string;
  /** The container has no index the engine reads: ffmpeg read it through a bounded-range bridge. */
  fallback: boolean;
}

export interface TorrentScreenshotsResult {
  infoHash: string;
  /** The file's path inside the torrent. */
  file: string;
  format: ThumbnailFormat;
  /** Seconds of video the times were placed in (null when times were given and no duration was known). */
  duration: number | null;
  screenshots: TorrentScreenshot[];
  /** Made by this attempt, and reused from an earlier one's uploads. */
  made: number;
  reused: number;
  cost: TorrentScreenshotsCost;
}

export function torrentScreenshotsParamsProblem(params: Record<string, unknown>): string | null {
  if (params.count !== undefined && params.times !== undefined) return 'give either "count" (evenly spaced) or "times" (seconds), not both';
  return null;
}
