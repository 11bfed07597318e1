// The one seam between where bytes live (a file, an HTTP server, S3, torrent pieces) and what
// reads containers: random access with bounded reads. Kept to this interface alone because the
// torrent reader implements it too; helpers live in read-range.ts.

export interface RangeReadStats { bytesRead: number; requests: number }
/** Random access to one file's bytes; every read is bounded. */
export interface RangeReader {
  /** Total size in bytes. */
  readonly size: number;
  /** Names the file in error messages (a URL, a path, "torrent <hash>/<path>"). */
  readonly label: string;
  /** Exactly `length` bytes from `offset` (fewer only at end of file). Throws VidfleetError on failure. */
  read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer>;
  /** Bytes and reads so far (what was fetched from the origin, not what callers asked twice from a cache). */
  stats(): RangeReadStats;
}
