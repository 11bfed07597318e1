// One LISTEN connection per store, outside the pool (a pooled connection would be handed to
// queries and its LISTEN lost). Notifications sent at commit by any coordinator on the database
// reach every coordinator's listeners; a payload names the schema, so coordinators on other
// schemas of the same database ignore each other. On a lost connection it reconnects with
// backoff and rings once, since notifications sent meanwhile are gone: the readers re-read.
import pg from 'pg';
import { FeedSignal } from '../feed.js';

export class PgListener {
  private client: pg.Client | null = null;
  private closed = false;
  private retryMs = 250;
  private started = false;

  constructor(
    private readonly connectionString: string,
    private readonly schema: string,
    private readonly channel: string,
    readonly signal: FeedSignal,
  ) {}

  /** Connects on first use: a coordinator nobody follows the feed of holds no extra connection. */
  on(listener: () => void): () => void {
    const off = this.signal.on(listener);
    if (!this.started) {
      this.started = true;
      void this.connect();
    }
    return off;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.connectionString, application_name: 'vidfleet-listen' });
    client.on('notification', (n) => {
      if (n.payload === this.schema) this.signal.fire();
    });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.client = client;
      this.retryMs = 250;
      this.signal.fire();
    } catch {
      this.lost(client);
    }
  }

  private lost(client: pg.Client): void {
    if (this.client === client) this.client = null;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    if (this.closed) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 5_000);
    setTimeout(() => void this.connect(), delay).unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }
}
