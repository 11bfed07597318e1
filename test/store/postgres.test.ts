// The PostgreSQL store: the conformance suite on a fresh schema per test (all under one random
// prefix per file, dropped at the end), then what only PostgreSQL has: migrations racing under the
// advisory lock, json fidelity, query plans, 8 pools racing to claim, and claim latency against
// queue depth. Skipped, saying why, when no server answers on 127.0.0.1:5432.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CLAIM_SQL } from '../../src/store/postgres/claim.js';
import { TASK_COUNTS_SQL } from '../../src/store/postgres/counts.js';
import { PostgresStore } from '../../src/store/postgres/index.js';
import { EXPIRED_SQL } from '../../src/store/postgres/leases.js';
import { SCHEMA_VERSION } from '../../src/store/postgres/migrations.js';
import { PRUNE_SQL } from '../../src/store/postgres/retention.js';
import type { Job } from '../../src/protocol/index.js';
import { deriveJob, jsonText } from '../../src/store/derive.js';
import type { NewJob } from '../../src/store/store.js';
import { bulkTasks, percentile, pgAvailable, PgTestSchemas } from '../helpers/postgres.js';
import { runStoreConformance } from './conformance.js';

const probe = await pgAvailable();
const SKIP_MESSAGE = `no PostgreSQL server answered (${probe.reason}); start one on 127.0.0.1:5432 with a database "test", or set VIDFLEET_TEST_PG`;
if (!probe.url) process.stderr.write(`\n[postgres.test] SKIPPED: ${SKIP_MESSAGE}\n\n`);
const schemas = probe.url ? new PgTestSchemas(probe.url) : undefined;
afterAll(async () => {
  await schemas?.dropAll();
});

const CAPS = { kinds: ['noop'], concurrency: 1, ffmpegVersion: '7.1', encoders: [], hwaccels: [] };
const noopJob = (tasks = 1): NewJob => ({
  kind: 'noop',
  input: 'noop://',
  params: {},
  priority: 0,
  tasks: Array.from({ length: tasks }, () => ({ kind: 'noop', input: 'noop://', params: {}, maxAttempts: 3, maxRunMs: 60_000 })),
});

describe.skipIf(!schemas)(schemas ? 'PostgreSQL store' : `PostgreSQL store — SKIPPED: ${SKIP_MESSAGE}`, () => {
  const pgs = schemas as PgTestSchemas;

  runStoreConformance(
    'postgres',
    async ({ now, sameDatabaseAs, expanders }) => pgs.store({ now, same: sameDatabaseAs as PostgresStore | undefined, expanders }),
    { countRows: (store, table) => pgs.countRows((store as PostgresStore).schema, table) },
  );

  describe('PostgresStore specifics', () => {
    const stores: PostgresStore[] = [];
    const open = async (options: Parameters<PgTestSchemas['store']>[0] = {}) => {
      const s = pgs.store(options);
      stores.push(s);
      await s.migrate();
      return s;
    };
    // Per test, so idle pools do not pile up connections on a server other test files share.
    afterEach(async () => {
      for (const s of stores.splice(0)) await s.close();
    });

    it('coordinators migrating one new schema at once apply each migration exactly once', async () => {
      const schema = pgs.next();
      const racers = Array.from({ length: 6 }, () => pgs.store({ schema }));
      stores.push(...racers);
      await Promise.all(racers.map((s) => s.migrate()));
      const versions = await pgs.sql<{ version: number }>(schema, 'SELECT version FROM schema_migrations ORDER BY version');
      expect(versions.map((v) => v.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
      const { job } = await (racers[0] as PostgresStore).createJob(noopJob());
      expect((await (racers[5] as PostgresStore).getJob(job.id))?.id).toBe(job.id);
    });

    it('refuses a schema whose version is newer than the code', async () => {
      const s = await open();
      await pgs.sql(s.schema, 'INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)', [SCHEMA_VERSION + 1]);
      await expect(s.migrate()).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('newer') });
    });

    it('refuses a schema name that is not a plain identifier', () => {
      expect(() => new PostgresStore({ connectionString: probe.url as string, schema: 'x"; DROP TABLE jobs; --' })).toThrow(/plain lower-case identifier/);
    });

    it('keeps JSON exactly as written: key order, and \\u0000 (which jsonb refuses)', async () => {
      const s = await open();
      const w = (await s.registerWorker({ name: 'w', hostname: 'h', capabilities: CAPS })).id;
      const { job } = await s.createJob({ ...noopJob(), params: { z: 1, a: 2 } });
      const [c] = await s.claimTasks({ workerId: w, kinds: ['noop'], max: 1, leaseMs: 30_000 });
      if (!c) throw new Error('nothing claimed');
      await s.completeTask({ taskId: c.taskId, attempt: c.attempt, workerId: w }, { tag: 'a\u0000b', b: 1, a: [1.5, 'é'] });
      const done = await s.getJob(job.id);
      expect(done?.result).toEqual({ tag: 'a\u0000b', b: 1, a: [1.5, 'é'] });
      expect(Object.keys(done?.result as object)).toEqual(['tag', 'b', 'a']);
      expect(Object.keys(done?.params as object)).toEqual(['z', 'a']);
    });

    it('claims through tasks_claim before the table was ever analyzed', async () => {
      // bench/dispatch met this: autoanalyze had not yet run after a burst of 100k submits, and
      // a claim that went through tasks_due sorted every pending task (109 ms instead of 1.5).
      const s = await open();
      await bulkTasks(pgs, s.schema, 50_000, ['noop'], { analyze: false });
      const w = (await s.registerWorker({ name: 'w', hostname: 'h', capabilities: CAPS })).id;
      const [row] = await pgs.sql<{ 'QUERY PLAN': string }>(s.schema, `EXPLAIN (FORMAT TEXT) ${CLAIM_SQL}`, [w, ['noop'], Date.now(), Date.now() + 1000, 1, []]).then((r) => [r.map((x) => x['QUERY PLAN']).join('\n')]);
      expect(row).toMatch(/Index Scan using tasks_claim on tasks/);
      expect(row).not.toMatch(/tasks_due/);
    });

    it('claims with one index range scan per kind, finds expired leases and prunable jobs by index, never a seq scan', async () => {
      const s = await open();
      // Enough rows that the planner would rather not read the table.
      await bulkTasks(pgs, s.schema, 20_000, ['noop', 'probe']);
      const w = (await s.registerWorker({ name: 'w', hostname: 'h', capabilities: CAPS })).id;
      const plan = async (sql: string, values: unknown[]) =>
        (await pgs.sql<{ 'QUERY PLAN': string }>(s.schema, `EXPLAIN ${sql}`, values)).map((r) => r['QUERY PLAN']).join('\n');
      const claim = await plan(CLAIM_SQL, [w, ['noop', 'probe'], Date.now(), Date.now() + 1000, 10, []]);
      expect(claim).toMatch(/Index Scan using tasks_claim on tasks/);
      expect(claim).not.toMatch(/Seq Scan on tasks/);
      // Held attempts are few (workers × concurrency), and both partial indexes hold only them, so
      // either index serves; what must never happen is reading the whole table.
      await s.claimTasks({ workerId: w, kinds: ['noop', 'probe'], max: 100, leaseMs: 1000 });
      await pgs.sql(s.schema, 'ANALYZE tasks');
      const expired = await plan(EXPIRED_SQL, [Date.now(), 500]);
      expect(expired).toMatch(/tasks_lease|tasks_run_deadline/);
      expect(expired).not.toMatch(/Seq Scan/);
      const prune = await plan(PRUNE_SQL, [Date.now(), 100]);
      if (process.env.VIDFLEET_TEST_PLANS) process.stdout.write(`${claim}\n\n${expired}\n\n${prune}\n`);
      expect(prune).toMatch(/Index Scan using jobs_finished on jobs/);
      expect(prune).not.toMatch(/Seq Scan on (jobs|tasks)/);
    });

    it('counts unfinished tasks (the /metrics queue gauge) through the partial indexes, never reading finished rows', async () => {
      const s = await open();
      await bulkTasks(pgs, s.schema, 20_000, ['noop', 'probe'], { analyze: false });
      // As a day of work leaves it: most tasks finished (all but every 16th: ids end in hex), a few held.
      await pgs.sql(s.schema, `UPDATE tasks SET status = 'completed', finished_at = created_at WHERE id NOT LIKE '%0'`);
      const w = (await s.registerWorker({ name: 'w', hostname: 'h', capabilities: CAPS })).id;
      await s.claimTasks({ workerId: w, kinds: ['noop'], max: 50, leaseMs: 60_000 });
      await pgs.pool().query(`VACUUM ANALYZE "${s.schema}".tasks`); // not in a transaction, as pgs.sql runs one
      const plan = (await pgs.sql<{ 'QUERY PLAN': string }>(s.schema, `EXPLAIN ${TASK_COUNTS_SQL}`)).map((r) => r['QUERY PLAN']).join('\n');
      if (process.env.VIDFLEET_TEST_PLANS) process.stdout.write(`${plan}\n`);
      expect(plan).toMatch(/tasks_due/);
      expect(plan).toMatch(/tasks_lease|tasks_run_deadline/);
      expect(plan).not.toMatch(/Seq Scan/);
      expect(Object.fromEntries((await s.taskCounts()).map((c) => [`${c.kind} ${c.status}`, c.count]))).toEqual({ 'noop pending': 1200, 'noop assigned': 50 });
    });

    it('a reader following one busy job with afterId never skips an event', async () => {
      // Identity values are taken at insert, not commit: without the job lock held from the first
      // event to commit, event 11 could be visible before event 10 and a poller would skip 10.
      const main = await open();
      const { job } = await main.createJob(noopJob(60));
      const racers = await Promise.all(Array.from({ length: 6 }, () => open({ same: main, poolSize: 1 })));
      const seen: number[] = [];
      let done = false;
      const reader = (async () => {
        let after = 0;
        while (!done) {
          for (const e of await main.listEvents(job.id, after)) {
            seen.push(e.id);
            after = e.id;
          }
        }
      })();
      await Promise.all(
        racers.map(async (s, i) => {
          const w = (await s.registerWorker({ name: `r${i}`, hostname: 'h', capabilities: CAPS })).id;
          for (;;) {
            const got = await s.claimTasks({ workerId: w, kinds: ['noop'], max: 2, leaseMs: 60_000 });
            if (got.length === 0) return;
            for (const c of got) {
              const r = { taskId: c.taskId, attempt: c.attempt, workerId: w };
              await s.reportProgress(r, 0.5);
              await s.recordArtifact(r, { name: `${c.taskId}.txt`, key: `k/${c.taskId}`, size: 1, sha256: 'x', contentType: 'text/plain' });
              await s.completeTask(r, { i });
            }
          }
        }),
      );
      done = true;
      await reader;
      for (const e of await main.listEvents(job.id, seen[seen.length - 1] ?? 0)) seen.push(e.id);
      const all = (await main.listEvents(job.id)).map((e) => e.id);
      expect(all.length).toBe(1 + 60 * 5 + 1); // job.created; per task claimed, running, progress, artifact, completed; job.completed
      expect(seen).toEqual(all);
      expect((await main.getJob(job.id))?.status).toBe('completed');
    });

    it('cancels, failures, completions and claims racing on the same jobs end consistent, without escaping deadlocks', async () => {
      const main = await open();
      const racers = await Promise.all(Array.from({ length: 4 }, () => open({ same: main, poolSize: 2 })));
      const deadlocks = async () => Number((await pgs.sql<{ n: string }>('public', 'SELECT deadlocks AS n FROM pg_stat_database WHERE datname = current_database()'))[0]?.n);
      const before = await deadlocks();
      const jobs = await Promise.all(Array.from({ length: 30 }, () => main.createJob(noopJob(4)).then((r) => r.job)));
      const workers = await Promise.all(racers.map((s, i) => s.registerWorker({ name: `x${i}`, hostname: 'h', capabilities: CAPS })));
      const error = { code: 'NOT_A_VIDEO' as const, message: 'no', hint: 'h', retryable: false };
      let reports = 0;
      await Promise.all([
        ...racers.map(async (s, i) => {
          const w = (workers[i] as { id: string }).id;
          for (let round = 0; round < 40; round++) {
            const got = await s.claimTasks({ workerId: w, kinds: ['noop'], max: 3, leaseMs: 60_000 });
            if (got.length === 0) return;
            for (const c of got) {
              const r = { taskId: c.taskId, attempt: c.attempt, workerId: w };
              // Refusals are expected (the job was canceled or failed meanwhile); nothing else is.
              const settle = (p: Promise<unknown>) => p.catch((e: { code?: string }) => expect(e.code).toBe('STALE_ATTEMPT'));
              await settle(s.reportProgress(r, 0.1));
              await settle(++reports % 7 === 0 ? s.failTask(r, error, { retryDelayMs: 0 }) : s.completeTask(r, null));
            }
          }
        }),
        // Spread out, so cancels land before, during and after the other writes to their job.
        ...jobs.map(async (j, i) => {
          await new Promise((r) => setTimeout(r, ((i * 17) % 30) * 10));
          await (racers[i % racers.length] as PostgresStore).cancelJob(j.id, 1000);
        }),
      ]);
      // Backends report their counters when they exit; not asserted, as other clients share the database.
      for (const r of racers) await r.close();
      await new Promise((r) => setTimeout(r, 200));
      const finals = await Promise.all(jobs.map(async (j) => (await main.getJob(j.id, { withTasks: true })) as Job));
      const outcome: Record<string, number> = {};
      for (const f of finals) outcome[f.status] = (outcome[f.status] ?? 0) + 1;
      const lost = (await deadlocks()) - before;
      process.stdout.write(`[postgres] cancel/fail/complete/claim race: jobs ${JSON.stringify(outcome)}, ${lost} deadlocks detected (each retried by tx())\n`);
      for (const final of finals) {
        const tasks = final.tasks ?? [];
        expect(['failed', 'canceled', 'canceling', 'completed']).toContain(final.status);
        // A finished job waits for nothing: no task of it is still pending.
        if (final.status !== 'completed') expect(tasks.filter((t) => t.status === 'pending')).toEqual([]);
        const facts = tasks.map((t) => ({ status: t.status, progress: t.progress, error: jsonText(t.error), result: jsonText(t.result), finishedAt: null }));
        expect(final.status).toBe(deriveJob(facts).status);
      }
    });

    it('8 pools racing to claim 5,000 tasks, one at a time and in batches of 10: each task claimed exactly once', async () => {
      const main = await open();
      const claimers = await Promise.all(Array.from({ length: 8 }, () => open({ same: main, poolSize: 1 })));
      const report: string[] = [];
      for (const [round, kind, max] of [[0, 'one', 1], [1, 'batch', 10]] as const) {
        // 5 tasks per job, so claimers also meet on job rows, not only on task rows.
        await bulkTasks(pgs, main.schema, 5000, [kind], { perJob: 5, from: round * 5000 });
        const owner = new Map<string, string>();
        let duplicates = 0;
        const started = performance.now();
        await Promise.all(
          claimers.map(async (s, i) => {
            const w = (await s.registerWorker({ name: `racer-${kind}-${i}`, hostname: 'h', capabilities: CAPS })).id;
            for (;;) {
              const got = await s.claimTasks({ workerId: w, kinds: [kind], max, leaseMs: 600_000 });
              if (got.length === 0) return;
              for (const c of got) {
                if (owner.has(c.taskId) || c.attempt !== 1) duplicates++;
                owner.set(c.taskId, w);
              }
            }
          }),
        );
        const seconds = (performance.now() - started) / 1000;
        report.push(`max=${max}: ${Math.round(owner.size / seconds)} claims/s (${owner.size} in ${seconds.toFixed(2)} s)`);
        expect(duplicates).toBe(0);
        expect(owner.size).toBe(5000);
        const rows = await pgs.sql<{ id: string; status: string; attempt: number; worker_id: string }>(main.schema, 'SELECT id, status, attempt, worker_id FROM tasks WHERE kind = $1', [kind]);
        expect(rows.filter((r) => r.status !== 'assigned' || r.attempt !== 1 || r.worker_id !== owner.get(r.id))).toEqual([]);
        const [events] = await pgs.sql<{ n: string }>(main.schema, `SELECT count(*) AS n FROM events e JOIN tasks t ON t.id = e.task_id WHERE t.kind = $1 AND e.type = 'task.claimed'`, [kind]);
        expect(Number(events?.n)).toBe(5000);
        const [pending] = await pgs.sql<{ n: string }>(main.schema, `SELECT count(*) AS n FROM jobs WHERE kind = $1 AND status <> 'running'`, [kind]);
        expect(Number(pending?.n)).toBe(0);
      }
      process.stdout.write(`[postgres] 8 claimers × 5,000 tasks: ${report.join('; ')}\n`);
    });

    it('claim latency barely moves from 10k to 100k pending tasks (printed, not asserted)', async () => {
      const depths = process.env.VIDFLEET_PG_1M ? [10_000, 100_000, 1_000_000] : [10_000, 100_000];
      const lines: string[] = [];
      for (const depth of depths) {
        const s = await open();
        await bulkTasks(pgs, s.schema, depth, ['noop', 'probe']);
        const w = (await s.registerWorker({ name: 'w', hostname: 'h', capabilities: CAPS })).id;
        const times: number[] = [];
        for (let i = 0; i < 220; i++) {
          const t = performance.now();
          const got = await s.claimTasks({ workerId: w, kinds: ['noop', 'probe'], max: 10, leaseMs: 600_000 });
          if (i >= 20) times.push(performance.now() - t); // the first 20 warm the pool and the plans
          expect(got).toHaveLength(10);
        }
        times.sort((a, b) => a - b);
        lines.push(`${depth.toLocaleString('en')} pending: p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms`);
        await s.close();
        await pgs.sql('public', `DROP SCHEMA "${s.schema}" CASCADE`);
      }
      process.stdout.write(`[postgres] claim of 10 (2 kinds): ${lines.join('; ')}\n`);
    });
  });
});
