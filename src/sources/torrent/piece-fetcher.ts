// Fetches given pieces of a torrent and nothing else: select each missing piece on its own,
// wait for webtorrent to verify it (SHA-1) and put it in the store, then deselect. Reads share
// pieces through a count per piece, so one read finishing (or giving up) never deselects a piece
// another read still waits for.
//
// Stalls: a read fails with TORRENT_PEERS_UNAVAILABLE (retryable) when no piece data arrives for
// `pieceTimeoutMs` while it waits — an inactivity limit, not a deadline, so a slow but live
// swarm is not cut off in the middle of a 4 MiB piece, while a vanished seeder is noticed in
// pieceTimeoutMs. (On loopback a 256 KiB piece arrives in ~50 ms; webtorrent's own per-wire
// request timeout is 30 s, and its reconnects to a dead peer give up after 1 + 5 + 15 s.)
import type { Torrent, Wire } from 'webtorrent';
import { VidfleetError } from '../../protocol/index.js';

interface Waiter {
  missing: Set<number>;
  /** Restarts the inactivity timer. */
  poke(): void;
  settle(err?: unknown): void;
}

export class PieceFetcher {
  /** Pieces verified from peers in this session, in the order they arrived. */
  readonly fetched: number[] = [];
  private readonly wanted = new Map<number, number>();
  private readonly waiters = new Set<Waiter>();
  private closed: unknown = null;

  private readonly onVerified = (index: number): void => {
    this.fetched.push(index);
    for (const w of [...this.waiters]) {
      if (!w.missing.delete(index)) continue;
      if (w.missing.size === 0) w.settle();
      else w.poke();
    }
  };

  private readonly onDownload = (): void => {
    for (const w of this.waiters) w.poke();
  };

  /**
   * BEP 6 "allowed fast" pieces: a peer may offer a few pieces it lets us fetch while choked,
   * and webtorrent then requests all of them whether selected or not (libtorrent offers 10 to
   * each new peer: up to 10 stray pieces per peer). Forget the offer; selected pieces are
   * fetched once the peer unchokes, which it does as soon as we are interested.
   */
  private readonly onWire = (wire: Wire): void => {
    wire.on('allowed-fast', () => {
      wire.peerAllowedFastSet.length = 0;
    });
  };

  constructor(
    private readonly torrent: Torrent,
    private readonly pieceTimeoutMs: number,
  ) {
    torrent.on('verified', this.onVerified);
    torrent.on('download', this.onDownload);
    torrent.on('wire', this.onWire);
  }

  has(index: number): boolean {
    return this.torrent.bitfield.get(index);
  }

  /** Resolves when every piece in `indices` is verified and stored; fetches the missing ones. */
  ensure(indices: readonly number[], signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const missing = new Set(indices.filter((i) => !this.has(i)));
    if (missing.size === 0) return Promise.resolve();

    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const wanted = [...missing];
      const onAbort = (): void => waiter.settle(signal!.reason);
      const waiter: Waiter = {
        missing,
        poke: () => {
          clearTimeout(timer);
          timer = setTimeout(() => waiter.settle(this.stallError(missing)), this.pieceTimeoutMs);
        },
        settle: (err?: unknown) => {
          if (!this.waiters.delete(waiter)) return;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          for (const i of wanted) this.release(i);
          if (err === undefined) resolve();
          else reject(err);
        },
      };
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      waiter.poke();
      try {
        for (const i of wanted) this.want(i);
      } catch (err) {
        waiter.settle(err);
      }
    });
  }

  /** `length` bytes at `offset` of a verified piece, from the store. */
  readSlice(index: number, offset: number, length: number): Promise<Buffer> {
    const store = this.torrent.store;
    if (this.closed || !store) return Promise.reject(this.closed ?? new VidfleetError('INTERNAL', 'The torrent session is closed.'));
    return new Promise((resolve, reject) => {
      store.get(index, { offset, length }, (err, buf) => {
        if (err || !buf) {
          reject(new VidfleetError('INPUT_UNREADABLE', `Piece ${index} of torrent ${this.torrent.infoHash} could not be read from the local store: ${err?.message ?? 'no data'}.`, { cause: err }));
        } else {
          resolve(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
        }
      });
    });
  }

  /** Fails every waiting read with `err` and stops listening; later calls fail with it too. */
  close(err: unknown): void {
    if (this.closed) return;
    this.closed = err;
    for (const w of [...this.waiters]) w.settle(err);
    this.torrent.off('verified', this.onVerified);
    this.torrent.off('download', this.onDownload);
    this.torrent.off('wire', this.onWire);
  }

  private want(index: number): void {
    const n = this.wanted.get(index) ?? 0;
    this.wanted.set(index, n + 1);
    if (n === 0) this.torrent.select(index, index);
  }

  private release(index: number): void {
    const n = (this.wanted.get(index) ?? 1) - 1;
    if (n > 0) return void this.wanted.set(index, n);
    this.wanted.delete(index);
    // A verified piece's selection is already gone (webtorrent drops completed selections).
    if (!this.torrent.destroyed && !this.has(index)) this.torrent.deselect(index, index);
  }

  private stallError(missing: Set<number>): VidfleetError {
    const pieces = [...missing].sort((a, b) => a - b);
    const peers = this.torrent.numPeers;
    return new VidfleetError(
      'TORRENT_PEERS_UNAVAILABLE',
      `No peer sent data for piece${pieces.length > 1 ? 's' : ''} ${pieces.slice(0, 10).join(', ')}${pieces.length > 10 ? ', …' : ''} of torrent ` +
        `${this.torrent.infoHash} for ${this.pieceTimeoutMs} ms (${peers} peer${peers === 1 ? '' : 's'} connected): the seeders left, stalled or lack the piece.`,
      { details: { infoHash: this.torrent.infoHash, missingPieces: pieces, peers, pieceTimeoutMs: this.pieceTimeoutMs } },
    );
  }
}
