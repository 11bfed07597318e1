// The one rule every container uses to turn a requested time into a keyframe.

/** Tolerance for comparing a keyframe's time with the requested one (float seconds). */
const EPSILON = 1e-9;

/**
 * The index of the last item whose time is at or before `t` in `sorted` (ascending times), or
 * 0 when `t` is before all of them (the first keyframe is the nearest picture there is), or -1
 * when the list is empty.
 */
export function atOrBefore(sorted: readonly { time: number }[], t: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.time <= t + EPSILON) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found === -1 ? (sorted.length ? 0 : -1) : found;
}
