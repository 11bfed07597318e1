// Submits that a program makes at the same time leave in one request. While a batch request is
// in flight, later submits gather for the next one, so a client firing many jobs at once sends
// few large batches (one commit each on SQLite) and a client submitting one job at a time sends
// each alone, at once, on the ordinary single-submit route. The HTTP analogue of ioredis'
// pipelining, which is what BullMQ's Queue.add rides on.
import { MAX_BATCH_JOBS, VidfleetError, type Job, type SubmitJobBody, type SubmitJobsBody, type SubmitJobsResponse } from '../protocol/index.js';

interface Queued {
  body: SubmitJobBody;
  idempotencyKey: string | undefined;
  resolve(job: Job): void;
  reject(err: unknown): void;
}

export interface SubmitTransport {
  one(body: SubmitJobBody, idempotencyKey: string | undefined): Promise<Job>;
  many(body: SubmitJobsBody): Promise<SubmitJobsResponse>;
}

/** Requests in flight at once: two keeps the pipe full while one batch is being answered. */
const MAX_IN_FLIGHT = 2;

export class SubmitBatcher {
  private queue: Queued[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(private readonly transport: SubmitTransport) {}

  submit(body: SubmitJobBody, idempotencyKey: string | undefined): Promise<Job> {
    return new Promise<Job>((resolve, reject) => {
      this.queue.push({ body, idempotencyKey, resolve, reject });
      this.schedule();
    });
  }

  /** After this turn of the event loop, so the submits a loop or a Promise.all makes go together. */
  private schedule(): void {
    if (this.scheduled || this.inFlight >= MAX_IN_FLIGHT) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.send();
    });
  }

  private send(): void {
    while (this.queue.length > 0 && this.inFlight < MAX_IN_FLIGHT) {
      const batch = this.queue.splice(0, MAX_BATCH_JOBS);
      this.inFlight++;
      void this.deliver(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.schedule();
      });
    }
  }

  private async deliver(batch: Queued[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [Queued];
      await this.transport.one(only.body, only.idempotencyKey).then(only.resolve, only.reject);
      return;
    }
    let response: SubmitJobsResponse;
    try {
      response = await this.transport.many({
        jobs: batch.map((q) => (q.idempotencyKey === undefined ? { job: q.body } : { job: q.body, idempotencyKey: q.idempotencyKey })),
      });
    } catch (err) {
      // The request itself failed (network, or the batch as a whole was refused): every job in
      // it learns so. A retry is safe for jobs sent with an idempotency key.
      for (const q of batch) q.reject(err);
      return;
    }
    batch.forEach((q, i) => {
      const outcome = response.results[i];
      if (!outcome) q.reject(new VidfleetError('INTERNAL', `The coordinator answered ${response.results.length} results for a batch of ${batch.length} jobs.`));
      else if ('job' in outcome) q.resolve(outcome.job);
      else q.reject(VidfleetError.fromBody(outcome.error));
    });
  }
}
