// The parsers' handle on the bytes: every read goes through a CachedReader (so a parser may
// ask for an 8-byte header without costing a request) and is recorded, so the index can say
// how many bytes it really needed (KeyframeIndex.indexBytes) apart from what the cache fetched.
import { VidfleetError } from '../../protocol/index.js';
import { CachedReader } from '../ranged/cached-reader.js';
import type { RangeReader } from '../ranged/range-reader.js';

/** A union of byte ranges. */
export class RangeSet {
  private spans: Array<[number, number]> = [];

  add(start: number, end: number): void {
    if (end <= start) return;
    const kept: Array<[number, number]> = [];
    for (const [a, b] of this.spans) {
      if (b < start || a > end) kept.push([a, b]);
      else {
        start = Math.min(start, a);
        end = Math.max(end, b);
      }
    }
    kept.push([start, end]);
    this.spans = kept.sort((x, y) => x[0] - y[0]);
  }

  total(): number {
    return this.spans.reduce((sum, [a, b]) => sum + (b - a), 0);
  }
}

export class IndexSource {
  readonly cache: CachedReader;
  readonly needed = new RangeSet();

  constructor(
    reader: RangeReader,
    readonly signal: AbortSignal | undefined,
    readonly maxIndexBytes: number,
  ) {
    this.cache = reader instanceof CachedReader ? reader : new CachedReader(reader);
  }

  get size(): number {
    return this.cache.size;
  }

  get label(): string {
    return this.cache.label;
  }

  /**
   * `length` bytes at `offset` (fewer at end of file). `readAhead`: how much the cache may
   * fetch for a short read (the default suits headers followed by more parsing; 0 for a read
   * that is exactly what is wanted).
   */
  async bytes(offset: number, length: number, readAhead?: number): Promise<Buffer> {
    const buf = readAhead === undefined ? await this.cache.read(offset, length, this.signal) : await this.cache.readWith(offset, length, readAhead, this.signal);
    this.needed.add(offset, offset + buf.length);
    return buf;
  }

  /** Exactly `length` bytes or an INPUT_CORRUPT error naming `what`. */
  async exact(offset: number, length: number, what: string, readAhead?: number): Promise<Buffer> {
    if (length > this.maxIndexBytes) {
      throw new VidfleetError('INDEX_UNSUPPORTED', `${this.label}: the ${what} is ${length} bytes, more than the ${this.maxIndexBytes}-byte limit for an index.`, { details: { reason: 'index-too-large' } });
    }
    const buf = await this.bytes(offset, length, readAhead);
    if (buf.length < length) throw truncated(this.label, what, offset + length, this.size);
    return buf;
  }
}

export function truncated(label: string, what: string, needEnd: number, size: number): VidfleetError {
  return new VidfleetError('INPUT_CORRUPT', `${label} is truncated: its ${what} ends at byte ${needEnd} but the file has ${size} bytes (an unfinished download or recording).`, {
    details: { needEnd, size },
  });
}

export function unsupported(label: string, what: string, reason: string): VidfleetError {
  return new VidfleetError('INDEX_UNSUPPORTED', `${label}: ${what}; keyframes cannot be located from its index.`, { details: { reason } });
}

export function corrupt(label: string, what: string): VidfleetError {
  return new VidfleetError('INPUT_CORRUPT', `${label} is damaged: ${what}.`);
}
