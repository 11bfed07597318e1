// Argument checks every RangeReader shares, so each says the same thing about a bad read.
import { VidfleetError } from '../../protocol/index.js';

/**
 * The byte count a read of `length` at `offset` returns on a file of `size` bytes (fewer at
 * the end, 0 at or past it). Throws on negative or non-integer arguments: those are bugs in a
 * parser, and a reader must never turn them into an unbounded request.
 */
export function clampRead(label: string, size: number, offset: number, length: number): number {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new VidfleetError('INTERNAL', `Bad read of ${label}: offset ${offset}, length ${length}.`);
  }
  return Math.max(0, Math.min(length, size - offset));
}

/** The error for a read that came back shorter than the bytes the file says it has. */
export function shortRead(label: string, offset: number, wanted: number, got: number): VidfleetError {
  return new VidfleetError('INPUT_UNREADABLE', `Reading ${label} at byte ${offset} returned ${got} of ${wanted} bytes; the file changed or the source cut the read short.`);
}

/** Rejects with the signal's reason when it is already aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
}
