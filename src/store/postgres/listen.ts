// One LISTEN connection per store, outside the pool (a pooled connection would be handed to
// queries and its LISTEN lost). Notifications sent at commit by any coordinator on the database
// reach every coordinator; payloads name the schema, so coordinators on other schemas of the
// same database ignore each other. On a lost connection it reconnects with backoff and then
// tells every channel's handler it may have missed something (null payload): notifications
// sent meanwhile are gone, and the readers re-read.
import pg from 'pg';

export type NotificationHandler = (payload: string | null) => void;

export class PgListener {
  private client: pg.Client | null = null;
  private closed = false;
  private retryMs = 250;
  private started = false;

  constructor(
    private readonly connectionString: string,
    private readonly handlers: Readonly<Record<string, NotificationHandler>>,
  ) {}

  /** Connects on first use: a store nobody listens to holds no extra connection. */
  start(): void {
    if (this.started) return;
    this.started = true;
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.connectionString, application_name: 'vidfleet-listen' });
    client.on('notification', (n) => this.handlers[n.channel]?.(n.payload ?? ''));
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      for (const channel of Object.keys(this.handlers)) await client.query(`LISTEN ${channel}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.client = client;
      this.retryMs = 250;
      for (const handler of Object.values(this.handlers)) handler(null);
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
