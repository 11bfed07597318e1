// The fleet-wide event stream (/v1/events), one per tab and kept open while the tab is: pages
// subscribe and unsubscribe as the user moves around, and jobs completed per minute is counted
// from it. On first connect it replays the events the coordinator still keeps, which fills the
// throughput window at once. A client key may not read it (admins only): pages then poll.
import { serverNow } from './api.js';
import { followStream, type StreamState } from './sse.js';
import type { FeedEvent } from './types.js';

type Listener = (event: FeedEvent) => void;

/** Minutes of completions kept for the throughput chart. */
export const WINDOW_MINUTES = 15;

class FleetFeed {
  state: StreamState | 'idle' = 'idle';
  detail = '';
  private controller: AbortController | null = null;
  private listeners = new Set<Listener>();
  private stateListeners = new Set<() => void>();
  private completed: number[] = [];
  private failed: number[] = [];

  /** Starts the stream if it is not running; answers the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    if (!this.controller) this.start();
    return () => this.listeners.delete(listener);
  }

  onState(listener: () => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Whether pages can rely on the stream for changes (else they poll). */
  get live(): boolean {
    return this.state === 'live';
  }

  /** Connects again from scratch (after signing in with another key). */
  restart(): void {
    this.controller?.abort();
    this.controller = null;
    this.completed = [];
    this.failed = [];
    if (this.listeners.size > 0) this.start();
  }

  private start(): void {
    const controller = new AbortController();
    this.controller = controller;
    void followStream({
      path: '/v1/events',
      signal: controller.signal,
      onEvent: (e) => this.dispatch(e),
      onState: (state, detail) => {
        if (controller.signal.aborted) return;
        this.state = state;
        this.detail = detail ?? '';
        // Refused for good (for this key): let a later restart() try again.
        if (state === 'forbidden' || state === 'unauthorized') this.controller = null;
        for (const l of this.stateListeners) l();
      },
    });
  }

  private dispatch(e: FeedEvent): void {
    if (e.type === 'job.completed' || e.type === 'job.failed') {
      const list = e.type === 'job.completed' ? this.completed : this.failed;
      list.push(Date.parse(e.createdAt));
      const oldest = serverNow() - WINDOW_MINUTES * 60_000;
      while (list.length > 0 && list[0]! < oldest) list.shift();
    }
    for (const l of this.listeners) l(e);
  }

  /** Completions per minute over the last `WINDOW_MINUTES` (oldest first) and the recent rate. */
  throughput(): { perMinute: number[]; rate: number; completed: number; failed: number } {
    const now = serverNow();
    const perMinute = new Array<number>(WINDOW_MINUTES).fill(0);
    for (const t of this.completed) {
      const age = Math.floor((now - t) / 60_000);
      if (age >= 0 && age < WINDOW_MINUTES) perMinute[WINDOW_MINUTES - 1 - age]!++;
    }
    // The rate over the last 5 minutes: steadier than the current, partial minute.
    const recent = this.completed.filter((t) => now - t < 5 * 60_000).length;
    const inWindow = (list: number[]): number => list.filter((t) => now - t < WINDOW_MINUTES * 60_000).length;
    return { perMinute, rate: recent / 5, completed: inWindow(this.completed), failed: inWindow(this.failed) };
  }
}

export const fleetFeed = new FleetFeed();
