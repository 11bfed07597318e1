// What a torrent-screenshots attempt reads, in pieces: a RangeReader in front of the torrent's
// file reader that records which pieces each read covers (the index reads and the keyframes are
// the floor the cost report compares against) and refuses a read that would take the pieces
// touched past the job's byte budget (maxBytes) before anything is fetched for it.
import { VidfleetError } from '../../../protocol/index.js';
import type { RangeReader, RangeReadStats } from '../../../sources/ranged/range-reader.js';

export interface PieceLayout {
  pieceLength: number;
  /** Offset of the file's first byte in the torrent's byte stream. */
  fileOffset: number;
}

/** Pieces covering bytes [offset, offset + length) of the file. */
export function piecesOf(layout: PieceLayout, offset: number, length: number): number[] {
  if (length <= 0) return [];
  const first = Math.floor((layout.fileOffset + offset) / layout.pieceLength);
  const last = Math.floor((layout.fileOffset + offset + length - 1) / layout.pieceLength);
  const out: number[] = [];
  for (let i = first; i <= last; i++) out.push(i);
  return out;
}

export function budgetError(maxBytes: number, pieces: number, pieceLength: number, what: string): VidfleetError {
  return new VidfleetError(
    'TORRENT_BUDGET_EXCEEDED',
    `${what} needs ${pieces} piece(s) of ${pieceLength} bytes (${pieces * pieceLength} bytes), more than the job's maxBytes of ${maxBytes}; nothing more was fetched. Raise maxBytes or ask for fewer screenshots.`,
    { details: { maxBytes, pieces, pieceLength, bytes: pieces * pieceLength } },
  );
}

export class PieceMeter implements RangeReader {
  readonly size: number;
  readonly label: string;
  /** Every piece a read covered so far. */
  readonly touched = new Set<number>();
  /** Budget in bytes (pieces × pieceLength); Infinity: none. */
  maxBytes = Infinity;
  /** The budget error, once a read was refused (a reader behind the range bridge: ffmpeg only sees a dropped connection). */
  refused: VidfleetError | null = null;

  constructor(
    private readonly origin: RangeReader,
    readonly layout: PieceLayout,
  ) {
    this.size = origin.size;
    this.label = origin.label;
  }

  read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const want = piecesOf(this.layout, offset, Math.max(0, Math.min(length, this.size - offset)));
    const after = new Set([...this.touched, ...want]);
    if (after.size * this.layout.pieceLength > this.maxBytes) {
      this.refused ??= budgetError(this.maxBytes, after.size, this.layout.pieceLength, `Reading ${this.label}`);
      return Promise.reject(this.refused);
    }
    for (const p of want) this.touched.add(p);
    return this.origin.read(offset, length, signal);
  }

  stats(): RangeReadStats {
    return this.origin.stats();
  }
}
