// In-process wake-ups for long polls: a claim waiting for work, a client waiting for a job to
// finish. Waiters re-check the database themselves, so a missed or spurious wake-up costs at
// most one poll interval, never correctness.
//
// A new task wakes only as many waiting claims as there are new tasks, and only claims whose
// worker runs that kind: waking every waiter made each submit cost one claim query per waiting
// worker and kind, nearly all of them empty (bench/dispatch, 4 idle workers: the claim
// candidate query was the coordinator's largest cost after HTTP writes).
export interface WakeHint {
  kind: string;
  /** How many waiters to wake at most. */
  count: number;
}

interface Waiter {
  wake(): void;
  accepts?: (kind: string) => boolean;
}

export class Wakeup {
  /** In arrival order: the longest waiting is woken first. */
  private waiters = new Set<Waiter>();

  /** Wakes every waiter, or with a hint, the first `count` waiters that accept its kind. */
  notify(hint?: WakeHint): void {
    if (!hint) {
      const current = this.waiters;
      this.waiters = new Set();
      for (const w of current) w.wake();
      return;
    }
    let left = hint.count;
    for (const w of this.waiters) {
      if (left <= 0) break;
      if (w.accepts && !w.accepts(hint.kind)) continue;
      left--;
      w.wake();
    }
  }

  /**
   * Resolves on a notify() that picks this waiter, after `ms`, or when `signal` aborts —
   * whichever is first. `accepts` says which kinds of new work concern this waiter.
   */
  wait(ms: number, signal?: AbortSignal, accepts?: (kind: string) => boolean): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted || ms <= 0) return resolve();
      const waiter: Waiter = {
        wake: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          signal?.removeEventListener('abort', waiter.wake);
          resolve();
        },
        ...(accepts && { accepts }),
      };
      const timer = setTimeout(waiter.wake, ms);
      this.waiters.add(waiter);
      signal?.addEventListener('abort', waiter.wake, { once: true });
    });
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
