// Small numeric summaries shared by the keyframe and timing analyses.
import type { NumberStats } from '../protocol/index.js';

/** Median of numbers already sorted ascending (mean of the middle two for an even count). */
export function medianOfSorted(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const mid = Math.floor(n / 2);
  return n % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarise(values: readonly number[], digits = 6): NumberStats | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const round = (v: number): number => Number(v.toFixed(digits));
  const sum = sorted.reduce((a, b) => a + b, 0);
  return { min: round(sorted[0]!), max: round(sorted[sorted.length - 1]!), mean: round(sum / sorted.length), median: round(medianOfSorted(sorted)) };
}
