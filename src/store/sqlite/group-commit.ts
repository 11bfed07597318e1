// Group commit: writes that arrive in the same turn of the event loop share one transaction, so
// one WAL commit serves them all. On this 2-core VM a commit of one submitted job cost ~0.17 ms
// of the coordinator's CPU (bench/dispatch profile: 957 ms of commits for 5,700 jobs) — the
// largest single cost of a submit; under load many submits arrive together and share it.
// Each write still runs in its own savepoint: one that throws rolls back alone, and its caller
// gets the error while the others commit.
import type { Ctx } from './connection.js';

interface Pending {
  fn: () => unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(private readonly ctx: Ctx) {}

  /** Runs `fn` in a transaction shared with the other writes of this turn; settles after the commit. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    const { db } = this.ctx;
    let outcomes: { ok: boolean; value: unknown }[];
    try {
      outcomes = db
        .transaction(() =>
          batch.map((item) => {
            try {
              // Nested: better-sqlite3 makes it a savepoint of the outer transaction.
              return { ok: true, value: db.transaction(item.fn)() };
            } catch (err) {
              return { ok: false, value: err };
            }
          }),
        )
        .immediate();
    } catch (err) {
      // The commit itself failed (disk full, database locked past busy_timeout): nothing of
      // the batch was written, and every caller learns it.
      for (const item of batch) item.reject(err);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.value);
    });
  }
}
