// One torrent, opened for bounded reads: metadata (from the data dir, a .torrent, or peers),
// then range readers over its files that fetch only the pieces each read covers. A session owns
// one webtorrent client (its sockets, timers and files) and close() releases all of it.
import type WebTorrent from 'webtorrent';
import type { Torrent } from 'webtorrent';
import { VidfleetError, type TorrentRef } from '../../protocol/index.js';
import type { RangeReader, RangeReadStats } from '../ranged/range-reader.js';
import { createClient } from './client.js';
import type { TorrentFileInfo, TorrentMetadata } from './metadata.js';
import { PieceFetcher } from './piece-fetcher.js';
import { sliceRange } from './pieces.js';
import { countBits, decodePieceSet, encodePieceSet, parseResumeData, TorrentDataDir, type TorrentResumeData } from './resume.js';

export interface OpenTorrentOptions {
  /** Directory for per-torrent state (metadata, piece store, bitfield); reused across sessions. */
  dataDir: string;
  /** Peers to connect to, "host:port" (IPv6 as "[::1]:port"). */
  peers: string[];
  /** How long to wait for the metadata from peers before TORRENT_METADATA_TIMEOUT. */
  metadataTimeoutMs: number;
  /** How long a read may go without any piece data before TORRENT_PEERS_UNAVAILABLE (default 30 s). */
  pieceTimeoutMs?: number;
  /** Tracker URLs to announce to (none by default). */
  trackers?: string[];
  /** Also announce to the trackers the magnet/.torrent lists (default false: they are usually public). */
  useTorrentTrackers?: boolean;
  /** Find peers through the mainline DHT (default false). */
  dht?: boolean;
  /** Listening socket for incoming peers (default 127.0.0.1, any port). */
  listenHost?: string;
  listenPort?: number;
  /** An earlier attempt's resumeData() (any worker); one for another torrent is ignored. */
  resume?: unknown;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface TorrentSessionStats {
  /** Pieces this session fetched from peers (verified), and which. */
  piecesFetched: number;
  fetchedPieces: number[];
  /** Pieces the data dir already held when the session opened (a local resume). */
  piecesHeldAtStart: number;
  /** Pieces held now. */
  piecesHeld: number;
  /** Pieces earlier attempts of the task fetched, on any worker (from `resume`). */
  piecesFetchedEarlier: number;
  /** Bytes received from peers this session: piece data (counting any that failed its hash) and metadata. */
  bytesDownloaded: number;
  /** Peers with an open connection now. */
  peers: number;
}

export interface TorrentSession {
  readonly metadata: TorrentMetadata;
  /** Where the metadata came from: 'peers' costs a metadata exchange, the others none. */
  readonly metadataSource: 'peers' | 'torrent-file' | 'data-dir';
  /** From add to metadata, in ms. */
  readonly timeToMetadataMs: number;
  fileReader(fileIndex: number): RangeReader;
  stats(): TorrentSessionStats;
  /** Compact record of the pieces this task has had (this and earlier attempts), for resume_data. */
  resumeData(): TorrentResumeData;
  /** Ends every read (they reject), closes peers, sockets, timers and files. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_PIECE_TIMEOUT_MS = 30_000;

export async function openTorrent(ref: TorrentRef, opts: OpenTorrentOptions): Promise<TorrentSession> {
  for (const peer of opts.peers) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):\d{1,5}$/.test(peer)) {
      throw new VidfleetError('INVALID_PARAMS', `Peer "${peer}" is not an address like 127.0.0.1:6881 or [::1]:6881.`);
    }
  }
  opts.signal?.throwIfAborted();
  const log = opts.log ?? (() => undefined);
  const dir = new TorrentDataDir(opts.dataDir, ref.infoHash);
  await dir.ensure();

  const saved = await dir.loadTorrentFile();
  const metadataSource = saved ? 'data-dir' : ref.torrentFile ? 'torrent-file' : 'peers';
  // A bare magnet (no tr, no x.pe): trackers and peers are added below, as the options say.
  const torrentId = saved ?? ref.torrentFile ?? `magnet:?xt=urn:btih:${ref.infoHash}`;
  const bitfield = saved ? await dir.loadBitfield() : null;
  const trackers = [...new Set([...(opts.trackers ?? []), ...(opts.useTorrentTrackers ? ref.trackers : [])])];

  const client = createClient({
    dht: opts.dht,
    trackers: trackers.length > 0 || opts.useTorrentTrackers === true,
    listenHost: opts.listenHost,
    listenPort: opts.listenPort,
  });
  // Until the session takes over, any client or torrent error (a fixed listen port in use, a
  // store that cannot be created) ends the open; listening from the start means none is lost
  // (an 'error' event with no listener would throw).
  let fail!: (err: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);
  const onOpenError = (err: unknown): void =>
    fail(err instanceof VidfleetError ? err : new VidfleetError('INPUT_CORRUPT', `Torrent ${ref.infoHash} could not be opened: ${(err as Error)?.message ?? err}`, { cause: err }));
  client.on('error', onOpenError);
  const started = performance.now();
  try {
    const t = client.add(torrentId, { path: dir.dataPath, deselect: true, storeCacheSlots: 0, ...(bitfield ? { bitfield } : {}) });
    t.on('error', onOpenError);
    t.on('warning', (err: Error) => log(`torrent ${ref.infoHash}: ${err.message}`));
    t.once('infoHash', () => {
      // The torrent's own announce list is used only when asked (it is usually public trackers).
      t.announce = opts.useTorrentTrackers ? [...new Set([...t.announce, ...trackers])] : [...trackers];
      for (const peer of new Set([...opts.peers, ...ref.peers])) t.addPeer(peer);
    });

    await waitFor(t, 'metadata', failed, opts.signal, {
      ms: opts.metadataTimeoutMs,
      error: () =>
        new VidfleetError(
          'TORRENT_METADATA_TIMEOUT',
          `No peer sent the metadata of torrent ${ref.infoHash} within ${opts.metadataTimeoutMs} ms ` +
            `(${t.numPeers} peer${t.numPeers === 1 ? '' : 's'} connected; asked ${opts.peers.length + ref.peers.length} given peer(s)` +
            `${trackers.length ? `, ${trackers.length} tracker(s)` : ''}${opts.dht ? ', the DHT' : ''}).`,
          { details: { infoHash: ref.infoHash, peers: opts.peers, metadataTimeoutMs: opts.metadataTimeoutMs } },
        ),
    });
    const timeToMetadataMs = performance.now() - started;
    if (metadataSource !== 'data-dir') {
      await dir.saveTorrentFile(ref.torrentFile ?? t.torrentFile).catch((err: Error) => log(`could not save the metadata: ${err.message}`));
    }
    // 'ready' follows once the store is checked against the saved bitfield: local work, no timeout.
    if (!t.ready) await waitFor(t, 'ready', failed, opts.signal);
    const session = new Session(client, t, dir, ref, opts, metadataSource, timeToMetadataMs, bitfield, log);
    client.off('error', onOpenError);
    t.off('error', onOpenError);
    return session;
  } catch (err) {
    await destroyClient(client);
    throw err;
  }
}

class Session implements TorrentSession {
  readonly metadata: TorrentMetadata;
  private readonly fetcher: PieceFetcher;
  private readonly earlier: Set<number>;
  private readonly heldAtStart: number;
  private readonly flushBitfield: () => Promise<void>;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly client: WebTorrent,
    private readonly torrent: Torrent,
    dir: TorrentDataDir,
    ref: TorrentRef,
    opts: OpenTorrentOptions,
    readonly metadataSource: TorrentSession['metadataSource'],
    readonly timeToMetadataMs: number,
    savedBitfield: Uint8Array | null,
    log: (line: string) => void,
  ) {
    const t = torrent;
    this.metadata = {
      infoHash: t.infoHash,
      name: t.name,
      pieceLength: t.pieceLength,
      pieces: t.pieces.length,
      length: t.length,
      files: t.files.map((f, index) => ({ index, path: f.path, length: f.length, offset: f.offset })),
    };
    this.heldAtStart = countBits(t.bitfield.buffer, this.metadata.pieces);
    const prior = parseResumeData(opts.resume, ref.infoHash);
    this.earlier = new Set(prior && prior.pieces === this.metadata.pieces ? decodePieceSet(prior.fetched, prior.pieces) : []);
    this.fetcher = new PieceFetcher(t, opts.pieceTimeoutMs ?? DEFAULT_PIECE_TIMEOUT_MS);

    const writer = dir.bitfieldWriter((err) => log(`could not save the piece bitfield: ${err.message}`));
    this.flushBitfield = () => writer.flush();
    // The start-up check may have dropped pieces the saved bitfield claimed: record the truth.
    if (!savedBitfield || !Buffer.from(savedBitfield).equals(Buffer.from(t.bitfield.buffer))) writer.update(t.bitfield.buffer);
    t.on('verified', () => writer.update(t.bitfield.buffer));
    // Errors after open (e.g. the store failing a write) end the reads; the session stays closable.
    const onError = (err: unknown): void => this.fetcher.close(new VidfleetError('INPUT_UNREADABLE', `Torrent ${ref.infoHash} failed: ${(err as Error)?.message ?? err}`, { cause: err }));
    t.on('error', onError);
    client.on('error', onError);
  }

  fileReader(fileIndex: number): RangeReader {
    const file = this.metadata.files[fileIndex];
    if (!file) {
      throw new VidfleetError('TORRENT_FILE_NOT_FOUND', `Torrent ${this.metadata.infoHash} has no file #${fileIndex} (it has ${this.metadata.files.length}).`);
    }
    return new TorrentFileReader(this.metadata, file, this.fetcher);
  }

  stats(): TorrentSessionStats {
    const t = this.torrent;
    const pieces = this.metadata.pieces;
    return {
      piecesFetched: this.fetcher.fetched.length,
      fetchedPieces: [...this.fetcher.fetched],
      piecesHeldAtStart: this.heldAtStart,
      piecesHeld: t.destroyed ? this.heldAtStart + this.fetcher.fetched.length : countBits(t.bitfield.buffer, pieces),
      piecesFetchedEarlier: this.earlier.size,
      bytesDownloaded: t.received,
      peers: t.destroyed ? 0 : t.numPeers,
    };
  }

  resumeData(): TorrentResumeData {
    const { pieces, infoHash } = this.metadata;
    const held: number[] = [];
    for (let i = 0; i < pieces; i++) if (this.torrent.bitfield.get(i)) held.push(i);
    return { v: 1, infoHash, pieces, fetched: encodePieceSet(pieces, [...this.earlier, ...held]) };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.fetcher.close(new VidfleetError('INTERNAL', `The torrent session for ${this.metadata.infoHash} was closed while reading.`));
      await this.flushBitfield();
      await destroyClient(this.client);
    })();
    return this.closing;
  }
}

class TorrentFileReader implements RangeReader {
  readonly size: number;
  readonly label: string;
  private bytesRead = 0;
  private requests = 0;

  constructor(
    private readonly metadata: TorrentMetadata,
    private readonly file: TorrentFileInfo,
    private readonly fetcher: PieceFetcher,
  ) {
    this.size = file.length;
    this.label = `torrent ${metadata.infoHash}/${file.path}`;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new VidfleetError('INVALID_PARAMS', `Bad range read of ${this.label}: offset ${offset}, length ${length}.`);
    }
    this.requests++;
    const len = Math.max(0, Math.min(length, this.size - offset));
    if (len === 0) return Buffer.alloc(0);
    const slices = sliceRange(this.metadata, this.file.offset + offset, len);
    await this.fetcher.ensure(
      slices.map((s) => s.index),
      signal,
    );
    signal?.throwIfAborted();
    const parts = await Promise.all(slices.map((s) => this.fetcher.readSlice(s.index, s.offset, s.length)));
    const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, len);
    this.bytesRead += out.length;
    return out;
  }

  stats(): RangeReadStats {
    return { bytesRead: this.bytesRead, requests: this.requests };
  }
}

/** Waits for `event` on the torrent; fails when `failed` does, on abort, or after `timeout`. */
async function waitFor(t: Torrent, event: 'metadata' | 'ready', failed: Promise<never>, signal: AbortSignal | undefined, timeout?: { ms: number; error: () => VidfleetError }): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onEvent!: () => void;
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      failed,
      new Promise<void>((resolve, reject) => {
        onEvent = resolve;
        t.once(event, onEvent);
        if (timeout) timer = setTimeout(() => reject(timeout.error()), timeout.ms);
        if (signal) {
          onAbort = () => reject(signal.reason);
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        }
      }),
    ]);
  } finally {
    clearTimeout(timer);
    t.off(event, onEvent);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

async function destroyClient(client: WebTorrent): Promise<void> {
  // Late errors from sockets being torn down have nobody to go to.
  client.on('error', () => undefined);
  if (!client.destroyed) await new Promise<void>((resolve) => client.destroy(() => resolve()));
  // destroy() calls back before the last sockets' handles are released: let them close.
  await new Promise((resolve) => setImmediate(resolve));
}
