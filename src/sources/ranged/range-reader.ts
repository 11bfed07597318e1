export interface RangeReadStats { bytesRead: number; requests: number }
/** Random access to one file's bytes; every read is bounded. */
export interface RangeReader {
  readonly size: number;
  readonly label: string;
  /** Exactly `length` bytes from `offset` (fewer only at end of file). Throws VidfleetError on failure. */
  read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer>;
  stats(): RangeReadStats;
}
