// `torrent-screenshots`: screenshots of a video inside a torrent, fetching only the metadata
// and the pieces that hold the container index and the keyframes.
//
//   open the torrent (the worker's torrent cache; DHT and trackers off unless the job gives
//   them) → pick the file → PieceMeter (pieces touched, byte budget) → CachedReader →
//   locateKeyframes (once without times when count needs the duration) → budget check on
//   index + keyframe pieces → per screenshot: read its keyframe, decode it alone, upload it,
//   checkpoint (torrent pieces held + screenshots stored).
//
// A container the index parsers cannot read (INDEX_UNSUPPORTED) goes through ffmpeg over a
// byte-budgeted range bridge instead (torrent-shots/fallback.ts). A failure after the session
// opened saves the checkpoint, so the next attempt (any worker) skips the stored screenshots.
import { dirname, join } from 'node:path';
import { stat } from 'node:fs/promises';
import {
  VidfleetError,
  type TorrentScreenshot,
  type TorrentScreenshotsCost,
  type TorrentScreenshotsParams,
  type TorrentScreenshotsResult,
} from '../../protocol/index.js';
import { locateKeyframes, sniffContainer } from '../../sources/index/locate.js';
import { readKeyframes } from '../../sources/index/keyframe-bytes.js';
import type { KeyframeIndex } from '../../sources/index/types.js';
import { CachedReader } from '../../sources/ranged/cached-reader.js';
import { openTorrent, pickFile, type TorrentSession } from '../../sources/torrent/index.js';
import { hasFilter } from '../capabilities.js';
import { requireStillEncoder } from '../grab.js';
import { imageFileSize } from '../image-size.js';
import { decodeKeyframes } from '../keyframe-decode.js';
import { scaleFilter, STILL_FORMATS, stillPixelFormat, toneMapFilters, type StillFormat } from '../stills.js';
import type { KindRunner, TaskContext } from './kind.js';
import { artifactName } from './screenshots-plan.js';
import { defaultFallbackBudget, startFallback } from './torrent-shots/fallback.js';
import { torrentRefOf } from './torrent-shots/input.js';
import { budgetError, PieceMeter, piecesOf } from './torrent-shots/meter.js';
import { ShotLedger } from './torrent-shots/ledger.js';
import { evenTimes, priorTorrentResume, reusable, type TorrentShotsCheckpoint } from './torrent-shots/plan.js';

const DEFAULT_COUNT = 10;
const DEFAULT_QUALITY = 85;
const DEFAULT_METADATA_TIMEOUT_S = 60;

/** One session per torrent per worker process at a time: two webtorrent clients must not share a piece store. */
const locks = new Map<string, Promise<void>>();
async function withTorrentLock<T>(infoHash: string, work: () => Promise<T>): Promise<T> {
  const before = locks.get(infoHash) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chained = before.then(() => mine);
  locks.set(infoHash, chained);
  await before;
  try {
    return await work();
  } finally {
    release();
    if (locks.get(infoHash) === chained) locks.delete(infoHash);
  }
}

const turn = { 0: [], 90: ['transpose=clock'], 180: ['hflip', 'vflip'], 270: ['transpose=cclock'] } as const;

/** The filter for an HDR keyframe (PQ = transfer 16, HLG = 18): turn, scale, tone map; null for SDR (decodeKeyframes' own chain). */
function hdrFilter(index: KeyframeIndex, params: TorrentScreenshotsParams, format: StillFormat, zscale: boolean): string | null {
  const trc = index.color?.transfer;
  const curve = trc === 16 ? 'hdr10' : trc === 18 ? 'hlg' : null;
  if (!curve) return null;
  const tone = toneMapFilters({ colorSpace: 'bt2020nc', colorPrimaries: 'bt2020' }, curve, zscale);
  return [...turn[index.rotation], scaleFilter(params.width, params.height), ...tone, `format=${stillPixelFormat(format)}`].join(',');
}

export const torrentScreenshotsRunner: KindRunner = {
  name: 'torrent-screenshots',
  async run(ctx: TaskContext): Promise<TorrentScreenshotsResult> {
    const params = ctx.params as TorrentScreenshotsParams;
    const format: StillFormat = params.format ?? 'jpeg';
    await requireStillEncoder(format);
    ctx.onProgress({ progress: 0, message: 'opening the torrent' });
    const ref = await torrentRefOf(ctx);
    return withTorrentLock(ref.infoHash, async () => {
      const dht = params.dht === true && ctx.torrentAllowDht === true;
      if (params.dht && !dht) ctx.log('torrent-screenshots: this worker does not allow the DHT (start it with VIDFLEET_TORRENT_DHT=1); using the given peers and trackers only');
      const session = await openTorrent(ref, {
        dataDir: ctx.torrentDir ?? join(dirname(ctx.workDir), 'torrents'),
        peers: params.peers ?? [],
        trackers: params.trackers ?? [],
        dht,
        metadataTimeoutMs: (params.metadataTimeoutSeconds ?? DEFAULT_METADATA_TIMEOUT_S) * 1000,
        ...(params.pieceTimeoutSeconds !== undefined && { pieceTimeoutMs: params.pieceTimeoutSeconds * 1000 }),
        resume: priorTorrentResume(ctx.resumeData),
        signal: ctx.signal,
        log: ctx.log,
      });
      const checkpoint: TorrentShotsCheckpoint = { v: 1, kind: 'torrent-screenshots', infoHash: ref.infoHash, format, torrent: null, done: [] };
      try {
        ctx.log(`torrent-screenshots: metadata of ${ref.infoHash} from ${session.metadataSource} in ${Math.round(session.timeToMetadataMs)} ms`);
        ctx.onProgress({ progress: 0.05, message: 'metadata' });
        return await shoot(ctx, params, format, session, checkpoint);
      } catch (err) {
        // What this attempt fetched and stored survives it: the next attempt (any worker) starts from here.
        checkpoint.torrent = session.resumeData();
        ctx.saveResumeData(checkpoint);
        throw err;
      } finally {
        await session.close();
      }
    });
  },
};

async function shoot(ctx: TaskContext, params: TorrentScreenshotsParams, format: StillFormat, session: TorrentSession, checkpoint: TorrentShotsCheckpoint): Promise<TorrentScreenshotsResult> {
  const meta = session.metadata;
  const file = pickFile(meta, params.file);
  const meter = new PieceMeter(session.fileReader(file.index), { pieceLength: meta.pieceLength, fileOffset: file.offset });
  if (params.maxBytes !== undefined) meter.maxBytes = params.maxBytes;
  // Whole pieces arrive anyway, so the cache keeps whole pieces, when the file starts on a piece
  // boundary (a block straddling two pieces would fetch both); else 4 KiB read-ahead.
  const cache = new CachedReader(meter, file.offset % meta.pieceLength === 0 ? { blockSize: meta.pieceLength, maxCacheBytes: Math.max(32 * 1024 * 1024, 4 * meta.pieceLength) } : {});
  const zscale = await hasFilter('zscale');
  const quality = params.quality ?? DEFAULT_QUALITY;
  const save = (): void => {
    checkpoint.torrent = session.resumeData();
    ctx.saveResumeData(checkpoint);
  };
  const costBase = (container: string, fallback: boolean, floorBytes: number, floorPieces: number): TorrentScreenshotsCost => {
    const s = session.stats();
    return {
      fileSize: file.length,
      pieceLength: meta.pieceLength,
      piecesFetched: s.piecesFetched,
      bytesFetched: s.bytesDownloaded,
      floorBytes,
      floorPieces,
      piecesFetchedEarlier: s.piecesFetchedEarlier,
      piecesHeldAtStart: s.piecesHeldAtStart,
      timeToMetadataMs: Math.round(session.timeToMetadataMs),
      container,
      fallback,
    };
  };

  // 1. The index: the duration first when count needs it (the same cache, so nothing is read twice).
  let index: KeyframeIndex;
  let duration: number | null = null;
  let times: number[];
  try {
    if (params.times) {
      times = [...params.times];
      index = await locateKeyframes(cache, times, { signal: ctx.signal });
      duration = index.duration;
    } else {
      const count = params.count ?? DEFAULT_COUNT;
      const head = await locateKeyframes(cache, [], { signal: ctx.signal });
      duration = head.duration;
      if (duration === null) {
        // No declared duration (fragmented MP4 without mehd/sidx): the last keyframe bounds it.
        const last = await locateKeyframes(cache, [7 * 86_400], { signal: ctx.signal });
        duration = last.keyframes[0]?.time ?? 0;
        ctx.log(`torrent-screenshots: ${file.path} declares no duration; placing the screenshots within its last keyframe at ${duration.toFixed(3)} s`);
      }
      times = evenTimes(count, duration);
      index = await locateKeyframes(cache, times, { signal: ctx.signal });
    }
  } catch (err) {
    if (err instanceof VidfleetError && err.code === 'INDEX_UNSUPPORTED') {
      ctx.log(`torrent-screenshots: ${err.message} Falling back to ffmpeg through a bounded range bridge.`);
      return fallback(ctx, params, format, session, checkpoint, file, meter, cache, zscale, quality, save, costBase);
    }
    throw err;
  }
  ctx.onProgress({ progress: 0.15, message: 'index read' });

  // 2. The floor and the budget, before any keyframe is fetched.
  const indexPieces = new Set(meter.touched);
  const distinct = new Map(index.keyframes.map((k) => [k.offset, k.size]));
  const keyPieces = new Set([...distinct].flatMap(([offset, size]) => piecesOf(meter.layout, offset, size)));
  const floorPieces = new Set([...indexPieces, ...keyPieces]).size;
  const floorBytes = index.indexBytes + [...distinct.values()].reduce((a, b) => a + b, 0);
  if (params.maxBytes !== undefined && floorPieces * meta.pieceLength > params.maxBytes) {
    throw budgetError(params.maxBytes, floorPieces, meta.pieceLength, `${times.length} screenshot(s) of ${file.path} (index + keyframes)`);
  }
  const done = new ShotLedger(ctx, checkpoint, save, times.length, reusable(ctx.resumeData, meta.infoHash, format, times));
  if (done.size) ctx.log(`torrent-screenshots: ${done.size} of ${times.length} were stored by an earlier attempt; fetching the keyframes of the other ${times.length - done.size} only`);

  // 3. One keyframe at a time: fetch, decode, upload, checkpoint.
  const filter = hdrFilter(index, params, format, zscale);
  for (const [i, kf] of index.keyframes.entries()) {
    const n = i + 1;
    if (done.has(n)) continue;
    const [unit] = await readKeyframes(cache, { ...index, keyframes: [kf] }, ctx.signal);
    const name = artifactName(n, format);
    const out = join(ctx.workDir, name);
    const { wrote } = await decodeKeyframes([unit!], [out], {
      format,
      quality,
      width: params.width,
      height: params.height,
      rotation: index.rotation,
      color: index.color,
      sampleAspect: index.sampleAspect,
      ...(filter && { filter }),
      workDir: ctx.workDir,
      sourcePixels: index.width * index.height,
      signal: ctx.signal,
      log: ctx.toolLog,
    });
    if (!wrote[0]) throw new VidfleetError('INPUT_CORRUPT', `The keyframe at ${kf.time.toFixed(3)} s of ${file.path} could not be decoded.`);
    done.add(await store(ctx, n, times[i]!, kf.time, name, out, format));
  }
  ctx.onProgress({ progress: 1, message: 'done' });
  return done.result({ infoHash: meta.infoHash, file: file.path, format, duration, cost: costBase(index.container, false, floorBytes, floorPieces) });
}

async function store(ctx: TaskContext, index: number, time: number, keyframeTime: number | null, name: string, out: string, format: StillFormat): Promise<TorrentScreenshot> {
  const image = await imageFileSize(out);
  if (!image?.width || !image.height) throw new VidfleetError('FFMPEG_FAILED', `ffmpeg wrote ${name} but it cannot be read back as an image.`);
  const size = (await stat(out)).size;
  await ctx.emitArtifact({ name, path: out, contentType: STILL_FORMATS[format].contentType });
  return { index, time, keyframeTime, artifact: name, size };
}

async function fallback(
  ctx: TaskContext,
  params: TorrentScreenshotsParams,
  format: StillFormat,
  session: TorrentSession,
  checkpoint: TorrentShotsCheckpoint,
  file: { path: string; length: number },
  meter: PieceMeter,
  cache: CachedReader,
  zscale: boolean,
  quality: number,
  save: () => void,
  costBase: (container: string, fallback: boolean, floorBytes: number, floorPieces: number) => TorrentScreenshotsCost,
): Promise<TorrentScreenshotsResult> {
  const container = sniffContainer(await cache.read(0, 512, ctx.signal));
  const maxBytes = params.maxBytes ?? defaultFallbackBudget(file.length);
  const shooter = await startFallback(meter, { maxBytes, format, quality, width: params.width, height: params.height, zscale, signal: ctx.signal, log: ctx.log, toolLog: ctx.toolLog });
  try {
    let duration: number | null = null;
    let times: number[];
    if (params.times) times = [...params.times];
    else {
      duration = await shooter.duration();
      if (duration === null) throw new VidfleetError('INPUT_CORRUPT', `${file.path} (${container}) declares no duration, so evenly spaced screenshots cannot be placed; give times instead.`);
      times = evenTimes(params.count ?? DEFAULT_COUNT, duration);
    }
    const done = new ShotLedger(ctx, checkpoint, save, times.length, reusable(ctx.resumeData, session.metadata.infoHash, format, times));
    const todo = times.map((t, i) => ({ n: i + 1, t })).filter((s) => !done.has(s.n));
    for (let start = 0; start < todo.length; start += 5) {
      const batch = todo.slice(start, start + 5);
      const outs = batch.map((s) => join(ctx.workDir, artifactName(s.n, format)));
      const shots = await shooter.take(batch.map((s) => s.t), outs);
      for (const [k, s] of batch.entries()) {
        if (!shots[k]?.wrote) throw new VidfleetError('INPUT_CORRUPT', `ffmpeg found no keyframe at or before ${s.t.toFixed(3)} s of ${file.path} (${container}).`);
        done.add(await store(ctx, s.n, s.t, shots[k].actualTime, artifactName(s.n, format), outs[k]!, format));
      }
    }
    ctx.log(`torrent-screenshots: the range bridge served ${shooter.bridge.bytesServed()} bytes of ${file.length} in ${shooter.bridge.requests()} responses (budget ${maxBytes})`);
    return done.result({ infoHash: session.metadata.infoHash, file: file.path, format, duration, cost: costBase(container, true, shooter.bridge.bytesServed(), meter.touched.size) });
  } finally {
    await shooter.close();
  }
}
