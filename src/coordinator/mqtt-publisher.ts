// Publishes the event feed to an MQTT broker: each job event on {prefix}/jobs/{jobId}, each
// worker event on {prefix}/workers/{workerId}, QoS 1, in feed order. Downlink only: the HTTP API
// stays the source of truth. With several coordinators exactly one publishes at a time (a
// singleton lease in the database); its cursor is saved after each acknowledged batch, so a
// coordinator that takes over continues where the last one stopped. Delivery is at least once:
// a publisher that dies between a broker's acknowledgement and saving its cursor has the next
// one publish those events again (as QoS 1 may anyway).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import mqtt, { type MqttClient } from 'mqtt';
import type { FeedEvent } from '../protocol/index.js';
import type { Store } from '../store/store.js';
import type { Wakeup } from './wakeup.js';

export const MQTT_SINGLETON = 'mqtt-publisher';
/** A dead publisher's lease runs out this long after its last renewal; another takes over then. */
const LEASE_MS = 10_000;
const PAGE = 200;
/** Without a wake-up (another coordinator's events on SQLite), look again this often. */
const POLL_MS = 1_000;

export interface MqttPublisherOptions {
  url: string;
  prefix: string;
}

export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** The topic an event goes to. */
export function mqttTopic(prefix: string, e: Pick<FeedEvent, 'jobId' | 'workerId'>): string {
  return e.jobId !== null ? `${prefix}/jobs/${e.jobId}` : `${prefix}/workers/${e.workerId ?? 'unknown'}`;
}

/**
 * The promise, or a rejection once `signal` aborts: a publish waiting for an unreachable broker
 * must not hold a stopping coordinator (mqtt.js may leave it pending after a forced end).
 */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('stopped'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('stopped'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

export class MqttPublisher {
  private readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly client: MqttClient;
  private readonly stopping = new AbortController();
  private readonly loop: Promise<void>;
  private leader = false;

  constructor(
    private readonly store: Store,
    private readonly eventsAppended: Wakeup,
    private readonly options: MqttPublisherOptions,
    private readonly log: Logger,
  ) {
    // mqtt.js reconnects by itself and queues QoS 1 messages while offline; a publish resolves
    // once the broker has acknowledged it.
    this.client = mqtt.connect(options.url, { clientId: `vidfleet-${this.holder.replace(/[^A-Za-z0-9-]/g, '-')}`.slice(0, 64), reconnectPeriod: 1_000, connectTimeout: 10_000 });
    this.client.on('error', (err) => this.log.warn({ err: err.message, url: options.url }, 'MQTT connection error'));
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const stop = this.stopping.signal;
    let renewedAt = 0;
    let cursor: string | undefined;
    while (!stop.aborted) {
      try {
        if (!this.leader || Date.now() - renewedAt >= LEASE_MS / 3) {
          const { held, cursor: saved } = await this.store.holdSingleton(MQTT_SINGLETON, this.holder, LEASE_MS);
          renewedAt = Date.now();
          if (held !== this.leader) this.log.info({ holder: this.holder }, held ? 'publishing events to MQTT' : 'another coordinator publishes to MQTT');
          if (held && !this.leader) cursor = saved ?? (await this.startCursor());
          this.leader = held;
        }
        if (!this.leader) {
          await this.eventsAppended.wait(LEASE_MS / 3, stop);
          continue;
        }
        const events = await this.store.listFeed({ limit: PAGE, ...(cursor !== undefined && { after: cursor }) });
        for (const e of events) {
          if (stop.aborted) return;
          await untilAborted(this.client.publishAsync(mqttTopic(this.options.prefix, e), JSON.stringify(e), { qos: 1 }), stop);
          cursor = e.cursor;
        }
        if (events.length > 0 && !(await this.store.saveSingletonCursor(MQTT_SINGLETON, this.holder, cursor!))) {
          this.leader = false; // lost the lease meanwhile: the new holder goes on from its saved cursor
          continue;
        }
        if (events.length < PAGE) await this.eventsAppended.wait(POLL_MS, stop);
      } catch (err) {
        if (stop.aborted) return;
        this.log.warn({ err: (err as Error).message }, 'MQTT publisher: retrying');
        await this.eventsAppended.wait(POLL_MS, stop);
      }
    }
  }

  /** The first publisher of a deployment starts at the newest event: no replay of history. */
  private async startCursor(): Promise<string | undefined> {
    const latest = await this.store.latestFeedCursor();
    if (latest !== null) await this.store.saveSingletonCursor(MQTT_SINGLETON, this.holder, latest);
    return latest ?? undefined;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    await this.client.endAsync(true).catch(() => undefined);
    if (this.leader) await this.store.releaseSingleton(MQTT_SINGLETON, this.holder).catch(() => undefined);
  }
}
