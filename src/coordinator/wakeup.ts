// In-process wake-ups for long polls: a claim waiting for work, a client waiting for a job to
// finish. notify() wakes every current waiter; waiters re-check the database themselves, so a
// missed or spurious wake-up costs at most one poll interval, never correctness.
export class Wakeup {
  private waiters = new Set<() => void>();

  notify(): void {
    const current = this.waiters;
    this.waiters = new Set();
    for (const wake of current) wake();
  }

  /** Resolves on the next notify(), after `ms`, or when `signal` aborts — whichever is first. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted || ms <= 0) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
