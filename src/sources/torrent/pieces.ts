// Byte ranges ↔ pieces. A torrent is one byte stream (its files back to back) cut into pieces
// of `pieceLength` (the last one shorter); a read of a file maps to the pieces that cover it.
// Pure arithmetic, so the reader fetches exactly the pieces a range needs and tests can compute
// the same set independently.

export interface PieceGeometry {
  pieceLength: number;
  /** Total bytes of the torrent (all files). */
  length: number;
  /** Number of pieces: ceil(length / pieceLength). */
  pieces: number;
}

export interface PieceSlice {
  index: number;
  /** Offset inside the piece. */
  offset: number;
  length: number;
}

export function pieceSize(g: PieceGeometry, index: number): number {
  return index === g.pieces - 1 ? g.length - index * g.pieceLength : g.pieceLength;
}

/** The pieces holding torrent bytes [start, start + length), in order, with the part of each. */
export function sliceRange(g: PieceGeometry, start: number, length: number): PieceSlice[] {
  const slices: PieceSlice[] = [];
  let pos = start;
  const end = Math.min(start + length, g.length);
  while (pos < end) {
    const index = Math.floor(pos / g.pieceLength);
    const offset = pos - index * g.pieceLength;
    const take = Math.min(pieceSize(g, index) - offset, end - pos);
    slices.push({ index, offset, length: take });
    pos += take;
  }
  return slices;
}

/** First and last piece of a file (a zero-length file covers none: null). */
export function filePieceSpan(g: PieceGeometry, file: { offset: number; length: number }): { first: number; last: number } | null {
  if (file.length === 0) return null;
  return { first: Math.floor(file.offset / g.pieceLength), last: Math.floor((file.offset + file.length - 1) / g.pieceLength) };
}
