// Time-sortable ids: `job_` + 9 base36 chars of ms timestamp + 12 base36 random chars.
// Lexicographic order is creation order, so "newest first" is simply ORDER BY id DESC and a
// page cursor can be the last id seen. Within one process ids are strictly increasing even
// inside one millisecond (the random part is incremented, as ULID does); across processes they
// are ordered to the millisecond, which is all listing needs.
import { randomInt } from 'node:crypto';

export type IdPrefix = 'job' | 'task' | 'wkr' | 'art' | 'key' | 'upl';

const TIME_LEN = 9; // 36^9 ms reaches the year 5188
const RAND_LEN = 12;
const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';

let lastMs = -1;
let lastRand: number[] = [];

function freshRandom(): number[] {
  return Array.from({ length: RAND_LEN }, () => randomInt(36));
}

/** Adds one to a base36 digit array in place; false when it overflowed. */
function increment(digits: number[]): boolean {
  for (let i = digits.length - 1; i >= 0; i--) {
    const d = digits[i] ?? 0;
    if (d < 35) {
      digits[i] = d + 1;
      return true;
    }
    digits[i] = 0;
  }
  return false;
}

export function newId(prefix: IdPrefix): string {
  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    lastRand = freshRandom();
  } else {
    // Same millisecond, or the wall clock stepped back: stay on the last timestamp and count up
    // so ids never go backwards in this process.
    ms = lastMs;
    if (!increment(lastRand)) {
      lastMs = ms = lastMs + 1;
      lastRand = freshRandom();
    }
  }
  const time = ms.toString(36).padStart(TIME_LEN, '0');
  const rand = lastRand.map((d) => DIGITS[d]).join('');
  return `${prefix}_${time}${rand}`;
}

/** True when `value` has the shape newId produces for `prefix`. */
export function isId(prefix: IdPrefix, value: string): boolean {
  return new RegExp(`^${prefix}_[0-9a-z]{${TIME_LEN + RAND_LEN}}$`).test(value);
}
