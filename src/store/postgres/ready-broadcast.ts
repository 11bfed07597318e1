// Newly claimable tasks, told to every coordinator on the database: a task submitted through one
// coordinator (or released by a completion there) wakes the long-polling claims of workers
// connected to the others at once, instead of at their next re-check (claimRecheckMs). A hint
// only: claims still re-read the database on their own. Sent after the write committed, and
// batched: the kinds of every write in one turn of the event loop go in one NOTIFY.
import { randomBytes } from 'node:crypto';
import type { ReadyListener } from '../graph.js';
import { q, type Ctx } from './connection.js';

export const TASKS_CHANNEL = 'vidfleet_tasks';

interface Payload {
  /** schema */
  s: string;
  /** the sending store, which told its own listeners already */
  o: string;
  /** kind → count */
  k: Record<string, number>;
}

export class ReadyBroadcast {
  readonly origin = randomBytes(6).toString('hex');
  private pending = new Map<string, number>();
  private scheduled = false;

  constructor(
    private readonly ctx: Ctx,
    private readonly listeners: ReadonlySet<ReadyListener>,
  ) {}

  /** A ReadyListener: queues the kinds for the next NOTIFY. */
  readonly send: ReadyListener = (ready) => {
    for (const [kind, count] of ready) this.pending.set(kind, (this.pending.get(kind) ?? 0) + count);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const kinds = this.pending;
      this.pending = new Map();
      const payload: Payload = { s: this.ctx.schema, o: this.origin, k: Object.fromEntries(kinds) };
      // A lost hint costs the other coordinators' claims at most one re-check interval.
      q(this.ctx.pool, 'SELECT pg_notify($1, $2)', [TASKS_CHANNEL, JSON.stringify(payload)]).catch(() => undefined);
    });
  };

  /** The LISTEN side: another coordinator's kinds go to this store's listeners. */
  readonly receive = (raw: string | null): void => {
    if (raw === null) return; // reconnected: claims re-check on their own within claimRecheckMs
    let payload: Payload;
    try {
      payload = JSON.parse(raw) as Payload;
    } catch {
      return;
    }
    if (payload.s !== this.ctx.schema || payload.o === this.origin) return;
    const ready = new Map(Object.entries(payload.k).filter(([, n]) => Number.isInteger(n) && n > 0));
    if (ready.size > 0) for (const listener of this.listeners) listener(ready);
  };
}
