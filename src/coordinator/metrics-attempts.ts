// When each attempt this coordinator handed out was claimed, so the duration histogram can be fed
// when the worker reports the attempt's end — without a database read. The report names only
// (task, attempt); its kind and claim time live here. A Map set per claimed task and a delete per
// report: the store keeps started_at/finished_at too, but reading them back would cost a query
// per task on the dispatch path (bench/dispatch measures the coordinator's CPU per task).
//
// What this misses: an attempt claimed through another coordinator (several behind one load
// balancer; a worker's claim and its reports may travel on different sockets) or before a restart
// is not timed here. With one coordinator every attempt is; with several, each times the attempts
// it both handed out and heard the end of, so the histogram is a sample rather than a tally.

export interface EndedAttempt {
  kind: string;
  /** Claim → end report, in seconds. */
  seconds: number;
}

/**
 * In-flight attempts by task id. Bounded: an attempt that never reports here (its lease expired,
 * or its worker reports to another coordinator) leaves an entry that the oldest-first eviction
 * drops once `limit` are held. Workers × concurrency is far below the default.
 */
export class AttemptClock {
  private readonly started = new Map<string, { kind: string; attempt: number; at: number }>();

  constructor(
    private readonly limit = 50_000,
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  claimed(taskId: string, attempt: number, kind: string): void {
    // Delete first so a re-claimed task moves to the young end of the eviction order.
    this.started.delete(taskId);
    this.started.set(taskId, { kind, attempt, at: this.now() });
    if (this.started.size > this.limit) this.started.delete(this.started.keys().next().value!);
  }

  /** The attempt's kind and run time, once: undefined if it was not claimed here or ended already. */
  ended(taskId: string, attempt: number): EndedAttempt | undefined {
    const entry = this.started.get(taskId);
    if (!entry || entry.attempt !== attempt) return undefined;
    this.started.delete(taskId);
    return { kind: entry.kind, seconds: (this.now() - entry.at) / 1000 };
  }

  get size(): number {
    return this.started.size;
  }
}
