// What survives a session, in two forms:
//
// 1. On this machine, per info-hash under dataDir (so a new session, in this or another process,
//    continues where the last stopped):
//      <dataDir>/<infoHash>/meta.torrent     the metadata: a later session needs no peer to send it
//      <dataDir>/<infoHash>/pieces.bitfield  pieces verified so far (BitTorrent bit order)
//      <dataDir>/<infoHash>/data/…           webtorrent's fs chunk store: the torrent's files,
//                                            sparse, holding only the fetched pieces
//    Why a bitfield file when webtorrent re-hashes its store at start anyway: without one it
//    hashes every piece up to the end of each file on disk, and a moov-at-end MP4 whose last
//    piece was fetched is a sparse file as long as the video, so a resume of a 4 GiB file would
//    read and SHA-1 4 GiB of mostly holes. Given the bitfield, webtorrent trusts it and re-hashes
//    one held piece per file (the whole file only if that one fails).
//    Both files are replaced atomically (write to a temp name, rename), and the bitfield is
//    written only after webtorrent has put a verified piece in the store, so it never claims a
//    piece the store lacks (after a process crash; an OS crash can lose either, and the one-piece
//    check catches a store that was lost).
//
// 2. Across workers, as a task's resume_data: the set of pieces earlier attempts fetched, as a
//    base64 bitfield. Another worker has its own dataDir and cannot get those bytes, but the
//    set says what the task already paid for (reported for cost), while the caller's own
//    resume_data records which screenshots were uploaded.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseTorrentInput } from '../../protocol/index.js';

export interface TorrentResumeData {
  v: 1;
  infoHash: string;
  /** Number of pieces of the torrent (the bitfield's length in bits). */
  pieces: number;
  /** Pieces fetched by this task's attempts so far, any worker: base64 of a BitTorrent-order bitfield. */
  fetched: string;
}

/** Base64 of a bitfield of `pieces` bits with `indices` set (bit 7 of byte 0 is piece 0, as on the wire). */
export function encodePieceSet(pieces: number, indices: Iterable<number>): string {
  const bits = new Uint8Array(Math.ceil(pieces / 8));
  for (const i of indices) if (Number.isInteger(i) && i >= 0 && i < pieces) bits[i >> 3]! |= 0x80 >> (i & 7);
  return Buffer.from(bits).toString('base64');
}

export function decodePieceSet(base64: string, pieces: number): number[] {
  const bits = Buffer.from(base64, 'base64');
  const out: number[] = [];
  for (let i = 0; i < pieces && i >> 3 < bits.length; i++) if (bits[i >> 3]! & (0x80 >> (i & 7))) out.push(i);
  return out;
}

/** The resume data of an earlier attempt if it is for this torrent and well formed; otherwise null (start afresh). */
export function parseResumeData(value: unknown, infoHash: string): TorrentResumeData | null {
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Partial<TorrentResumeData>;
  if (r.v !== 1 || r.infoHash !== infoHash || typeof r.fetched !== 'string' || !Number.isInteger(r.pieces) || (r.pieces ?? 0) <= 0) return null;
  if (Buffer.from(r.fetched, 'base64').length !== Math.ceil(r.pieces! / 8)) return null;
  return { v: 1, infoHash, pieces: r.pieces!, fetched: r.fetched };
}

export function countBits(bits: Uint8Array, pieces: number): number {
  let n = 0;
  for (let i = 0; i < pieces; i++) if (bits[i >> 3]! & (0x80 >> (i & 7))) n++;
  return n;
}

let tmpCounter = 0;
async function replaceFile(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${++tmpCounter}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

/** One torrent's directory under dataDir. */
export class TorrentDataDir {
  readonly root: string;
  /** Where webtorrent's fs chunk store keeps the torrent's files. */
  readonly dataPath: string;
  private readonly torrentPath: string;
  private readonly bitfieldPath: string;

  constructor(dataDir: string, readonly infoHash: string) {
    this.root = join(dataDir, infoHash);
    this.dataPath = join(this.root, 'data');
    this.torrentPath = join(this.root, 'meta.torrent');
    this.bitfieldPath = join(this.root, 'pieces.bitfield');
  }

  async ensure(): Promise<void> {
    await mkdir(this.dataPath, { recursive: true });
  }

  /** The saved .torrent, if there is one and it is this torrent's (a damaged one is ignored). */
  async loadTorrentFile(): Promise<Uint8Array | null> {
    const bytes = await readFile(this.torrentPath).catch(() => null);
    if (!bytes) return null;
    try {
      return parseTorrentInput(bytes).infoHash === this.infoHash ? bytes : null;
    } catch {
      return null;
    }
  }

  async saveTorrentFile(bytes: Uint8Array): Promise<void> {
    await replaceFile(this.torrentPath, bytes);
  }

  /** The saved bitfield (webtorrent ignores one whose length does not fit the torrent). */
  async loadBitfield(): Promise<Uint8Array | null> {
    const bytes = await readFile(this.bitfieldPath).catch(() => null);
    return bytes && bytes.length > 0 ? new Uint8Array(bytes) : null;
  }

  bitfieldWriter(onError: (err: Error) => void): BitfieldWriter {
    return new BitfieldWriter((bits) => replaceFile(this.bitfieldPath, bits), onError);
  }
}

/**
 * Writes the latest bitfield, one write at a time: pieces verified while a write is in flight
 * are folded into the next one, so a burst of pieces costs two writes, not one per piece.
 */
export class BitfieldWriter {
  private pending: Uint8Array | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly write: (bits: Uint8Array) => Promise<void>,
    private readonly onError: (err: Error) => void,
  ) {}

  update(bits: Uint8Array): void {
    this.pending = Uint8Array.from(bits);
    this.running ??= this.drain();
  }

  /** Resolves when everything given to update() is on disk (or failed and was reported). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const bits = this.pending;
      this.pending = null;
      await this.write(bits).catch((err: Error) => this.onError(err));
    }
    this.running = null;
  }
}
