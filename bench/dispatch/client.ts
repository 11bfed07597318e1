// bench/dispatch child: the submitting client, in its own process for every system (so neither
// vidfleet's coordinator nor Redis/PostgreSQL shares a thread with it). It submits no-op tasks
// one request per task through each system's ordinary client library and reports when each
// submit was sent.
import { Queue } from 'bullmq';
import PgBoss from 'pg-boss';
import { VidfleetClient } from '../../src/client/api-client.js';
import {
  childConfig, reportReady, reportStartFailure, serveChild, sleep, wallMs,
  type ClientCommand, type ClientResult, type ClientTarget, type Sent,
} from './common.js';

interface Submitter {
  submit(tag: string): Promise<string>;
  close(): Promise<void>;
}

async function connect(target: ClientTarget): Promise<Submitter> {
  switch (target.system) {
    case 'vidfleet': {
      // Several coordinators (comma-separated): submits take turns, as behind a round-robin balancer.
      const clients = target.url.split(',').map((url) => new VidfleetClient(url));
      let turn = 0;
      return {
        // `input` is never read for noop; the API still wants one.
        submit: async () => (await clients[turn++ % clients.length]!.submitJob({ kind: 'noop', input: 'none', params: {} })).id,
        close: async () => clients.forEach((c) => c.close()),
      };
    }
    case 'bullmq': {
      const { host, port, prefix, queue: name } = target.redis;
      const queue = new Queue(name, { connection: { host, port }, prefix });
      await queue.waitUntilReady();
      return {
        submit: async (tag) => {
          const job = await queue.add('noop', { tag });
          if (!job.id) throw new Error('BullMQ returned a job without an id');
          return job.id;
        },
        close: () => queue.close(),
      };
    }
    case 'pgboss': {
      const { connectionString, schema, queue } = target.pg;
      const boss = new PgBoss({ connectionString, schema, supervise: false, schedule: false, migrate: false, max: 16 });
      boss.on('error', (err) => process.stderr.write(`pg-boss client: ${String(err)}\n`));
      await boss.start();
      return {
        submit: async (tag) => {
          const id = await boss.send(queue, { tag });
          if (!id) throw new Error('pg-boss returned no job id');
          return id;
        },
        close: () => boss.stop({ graceful: false, wait: true, close: true }),
      };
    }
  }
}

async function burst(s: Submitter, count: number, concurrency: number, tag: string): Promise<ClientResult> {
  const sent: Sent[] = new Array<Sent>(count);
  let next = 0;
  let lastAckedAt = 0;
  const firstSentAt = wallMs();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        const sentAt = wallMs();
        const id = await s.submit(tag);
        sent[i] = { id, sentAt };
        lastAckedAt = Math.max(lastAckedAt, wallMs());
      }
    }),
  );
  return { sent, firstSentAt: Math.min(firstSentAt, sent[0]?.sentAt ?? firstSentAt), lastAckedAt, maxLagMs: 0 };
}

async function paced(s: Submitter, count: number, ratePerSec: number, tag: string): Promise<ClientResult> {
  const gap = 1000 / ratePerSec;
  const start = wallMs() + 20;
  const sent: Sent[] = new Array<Sent>(count);
  const inFlight: Promise<void>[] = [];
  let maxLagMs = 0;
  let lastAckedAt = 0;
  for (let i = 0; i < count; i++) {
    const due = start + i * gap;
    // Sleep most of the gap, then spin the last stretch: timers fire up to ~1 ms late.
    let now = wallMs();
    if (due - now > 2) await sleep(due - now - 1.5);
    while ((now = wallMs()) < due) {
      // busy-wait ≤ ~2 ms for an on-time send
    }
    maxLagMs = Math.max(maxLagMs, now - due);
    const sentAt = wallMs();
    inFlight.push(
      s.submit(tag).then((id) => {
        sent[i] = { id, sentAt };
        lastAckedAt = Math.max(lastAckedAt, wallMs());
      }),
    );
  }
  await Promise.all(inFlight);
  return { sent, firstSentAt: sent[0]?.sentAt ?? start, lastAckedAt, maxLagMs };
}

async function main(): Promise<void> {
  const target = childConfig<ClientTarget>();
  let submitter: Submitter;
  try {
    submitter = await connect(target);
  } catch (err) {
    reportStartFailure(err);
  }
  serveChild<ClientCommand>(
    async (command) => {
      if (command.type === 'burst') return burst(submitter, command.count, command.concurrency, command.tag);
      return paced(submitter, command.count, command.ratePerSec, command.tag);
    },
    () => submitter.close(),
  );
  reportReady();
}

void main();
