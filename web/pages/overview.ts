// Fleet overview: what is queued (jobs by kind and state), what runs where (tasks of the active
// jobs, with their workers), how fast jobs complete (from the event stream), and the workers
// with their capabilities and last heartbeat. Built from the /v1 API alone, so it works on any
// coordinator; refreshed when the event stream says something changed, and every few seconds.
import { api, serverNow } from '../api.js';
import { ago, coalesce, errorBox, fill, h, progressBar, statusBadge } from '../dom.js';
import { WINDOW_MINUTES, fleetFeed } from '../fleet-feed.js';
import type { Job, Task, Worker } from '../types.js';

/** Active jobs whose tasks are fetched (one request each) to list running tasks. */
const MAX_ACTIVE_DETAILS = 40;
const QUEUE_STATES = ['pending', 'running', 'canceling'] as const;
const LIVE_TASK = new Set(['assigned', 'running', 'canceling']);

interface Snapshot {
  workers: Worker[];
  byState: Record<(typeof QUEUE_STATES)[number], { jobs: Job[]; more: boolean }>;
  tasks: Task[];
  jobs: Map<string, Job>;
}

export function overviewPage(root: HTMLElement): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  const throughputEl = h('section', { class: 'card', id: 'throughput' });
  const queueEl = h('section', { class: 'card', id: 'queue' });
  const tasksEl = h('section', { class: 'card wide', id: 'running-tasks' });
  const workersEl = h('section', { class: 'card wide', id: 'workers' });
  root.append(h('h1', null, 'Fleet'), h('div', { class: 'grid' }, throughputEl, queueEl, tasksEl, workersEl));

  let snapshot: Snapshot | null = null;
  let loadedAt = 0;
  let loading = false;
  let again = false;

  async function load(): Promise<void> {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    loadedAt = Date.now();
    try {
      const [workers, ...lists] = await Promise.all([
        api.workers(signal),
        ...QUEUE_STATES.map((status) => api.listJobs({ status, limit: 500 }, signal)),
      ]);
      const byState = Object.fromEntries(QUEUE_STATES.map((s, i) => [s, { jobs: lists[i]!.jobs, more: lists[i]!.nextCursor !== null }])) as Snapshot['byState'];
      const active = [...byState.running.jobs, ...byState.canceling.jobs].slice(0, MAX_ACTIVE_DETAILS);
      const details = await Promise.all(active.map((j) => api.getJob(j.id, signal).catch(() => j)));
      snapshot = {
        workers,
        byState,
        tasks: details.flatMap((d) => d.tasks ?? []),
        jobs: new Map(details.map((d) => [d.id, d])),
      };
      render();
    } catch (err) {
      if (!signal.aborted) fill(queueEl, h('h2', null, 'Queue'), errorBox(err));
    } finally {
      loading = false;
      if (again && !signal.aborted) {
        again = false;
        void load();
      }
    }
  }

  function render(): void {
    renderThroughput();
    if (!snapshot) return;
    renderQueue(snapshot);
    renderTasks(snapshot);
    renderWorkers(snapshot);
  }

  function renderThroughput(): void {
    const t = fleetFeed.throughput();
    const max = Math.max(1, ...t.perMinute);
    const source = fleetFeed.live ? '' : ' (needs the event stream: admin keys only)';
    fill(
      throughputEl,
      h('h2', null, 'Throughput'),
      h('p', { class: 'big' }, h('span', { id: 'rate' }, t.rate.toFixed(1)), h('small', null, ' jobs/min')),
      h('p', { class: 'muted' }, `${t.completed} completed, ${t.failed} failed in the last ${WINDOW_MINUTES} min${source}`),
      h('div', { class: 'spark', title: `Jobs completed per minute, last ${WINDOW_MINUTES} minutes` },
        t.perMinute.map((n, i) => h('span', { style: `height:${Math.round((n / max) * 100)}%`, title: `${WINDOW_MINUTES - i} min ago: ${n}` }))),
    );
  }

  function renderQueue(s: Snapshot): void {
    const kinds = [...new Set(QUEUE_STATES.flatMap((st) => s.byState[st].jobs.map((j) => j.kind)))].sort();
    const count = (kind: string | null, st: (typeof QUEUE_STATES)[number]): string => {
      const n = s.byState[st].jobs.filter((j) => kind === null || j.kind === kind).length;
      return `${n}${s.byState[st].more && kind === null ? '+' : ''}`;
    };
    const taskCounts = new Map<string, number>();
    for (const t of s.tasks) taskCounts.set(t.status, (taskCounts.get(t.status) ?? 0) + 1);
    fill(
      queueEl,
      h('h2', null, 'Queue'),
      kinds.length === 0
        ? h('p', { class: 'empty' }, 'Nothing queued or running.')
        : h('table', { class: 'table' },
          h('thead', null, h('tr', null, h('th', null, 'kind'), QUEUE_STATES.map((st) => h('th', { class: 'num' }, st)))),
          h('tbody', null, kinds.map((k) => h('tr', { 'data-kind': k }, h('td', null, h('a', { href: `#/jobs?kind=${encodeURIComponent(k)}` }, k)),
            QUEUE_STATES.map((st) => h('td', { class: 'num' }, count(k, st)))))),
          h('tfoot', null, h('tr', null, h('th', null, 'all'), QUEUE_STATES.map((st) => h('th', { class: 'num' }, count(null, st)))))),
      s.tasks.length > 0
        ? h('p', { class: 'muted' }, 'Tasks of running jobs: ', ['pending', 'assigned', 'running', 'canceling', 'completed'].filter((st) => taskCounts.has(st))
          .map((st) => `${taskCounts.get(st)} ${st}`).join(' · '))
        : null,
    );
  }

  function renderTasks(s: Snapshot): void {
    const running = s.tasks.filter((t) => LIVE_TASK.has(t.status));
    const workerName = new Map(s.workers.map((w) => [w.id, w.name]));
    fill(
      tasksEl,
      h('h2', null, `Running tasks (${running.length})`),
      running.length === 0
        ? h('p', { class: 'empty' }, 'No task is running.')
        : h('div', { class: 'rows' }, running.map((t) => {
          const job = s.jobs.get(t.jobId);
          const d = t.progressDetail;
          return h('div', { class: 'row task-row', 'data-task-id': t.id },
            h('a', { href: `#/jobs/${encodeURIComponent(t.jobId)}`, class: 'mono' }, t.jobId),
            h('span', null, job?.kind ?? '', t.name ? h('span', { class: 'muted' }, ` · ${t.name}`) : null),
            statusBadge(t.status),
            progressBar(t.progress),
            h('span', { class: 'muted' }, t.workerId ? (workerName.get(t.workerId) ?? t.workerId) : '—'),
            h('span', { class: 'muted small' }, [d?.fps !== undefined ? `${Math.round(d.fps)} fps` : '', d?.speed !== undefined ? `${d.speed.toFixed(1)}×` : '',
              d?.etaSeconds !== undefined ? `ETA ${Math.round(d.etaSeconds)} s` : ''].filter(Boolean).join(' · ')));
        })),
    );
  }

  function renderWorkers(s: Snapshot): void {
    const now = serverNow();
    const workers = [...s.workers].sort((a, b) => (a.status === b.status ? a.name.localeCompare(b.name) : a.status === 'online' ? -1 : 1));
    fill(
      workersEl,
      h('h2', null, `Workers (${workers.filter((w) => w.status === 'online').length} online)`),
      workers.length === 0
        ? h('p', { class: 'empty' }, 'No worker has registered. Start one: ', h('code', null, 'vidfleet worker --coordinator URL'))
        : h('div', { class: 'workers' }, workers.map((w) => workerCard(w, s.tasks.filter((t) => t.workerId === w.id && LIVE_TASK.has(t.status)), now))),
    );
  }

  // One refresh costs a request per active job (for its tasks): at most one every 2 s.
  const refresh = coalesce(() => void load(), 2_000);
  const unsubscribe = fleetFeed.subscribe((e) => {
    if (e.type !== 'task.progress' || (snapshot?.tasks.some((t) => t.id === e.taskId) ?? false)) refresh();
  });
  const offState = fleetFeed.onState(() => renderThroughput());
  // Heartbeat ages move on their own; without the stream (a client key) this is the only update.
  const timer = window.setInterval(() => {
    if (!fleetFeed.live || Date.now() - loadedAt >= 10_000) void load();
  }, 4_000);
  void load();
  return () => {
    controller.abort();
    refresh.cancel();
    unsubscribe();
    offState();
    window.clearInterval(timer);
  };
}

/** Kinds a graph worker registers come as a family (transcode.plan, transcode.video, …): shown once. */
function kindFamilies(kinds: string[]): string[] {
  return [...new Set(kinds.map((k) => k.split('.')[0]!))];
}

function workerCard(w: Worker, tasks: Task[], now: number): HTMLElement {
  const c = w.capabilities;
  return h('article', { class: `worker ${w.status}`, 'data-worker-id': w.id },
    h('header', null, h('strong', null, w.name), ' ', statusBadge(w.status), h('span', { class: 'muted small' }, ` ${w.hostname}`)),
    h('dl', null,
      h('dt', null, 'kinds'), h('dd', { class: 'chips' }, kindFamilies(c.kinds).map((k) => h('span', { class: 'chip' }, k))),
      h('dt', null, 'slots'), h('dd', null, `${tasks.length} / ${c.concurrency} busy`),
      h('dt', null, 'encoders'), h('dd', { title: c.encoders.join(', ') }, `${c.encoders.length}`, c.hwaccels.length > 0 ? ` · hw: ${c.hwaccels.join(', ')}` : ''),
      c.tags?.length ? [h('dt', null, 'tags'), h('dd', { class: 'chips' }, c.tags.map((t) => h('span', { class: 'chip tag' }, t)))] : null,
      c.mounts?.length ? [h('dt', null, 'mounts'), h('dd', null, c.mounts.map((m) => `$${m}`).join(' '))] : null,
      h('dt', null, 'heartbeat'), h('dd', { title: w.lastHeartbeatAt }, ago(w.lastHeartbeatAt, now)),
      h('dt', null, 'ffmpeg'), h('dd', { class: 'small' }, c.ffmpegVersion)),
    tasks.length > 0
      ? h('ul', { class: 'worker-tasks' }, tasks.map((t) => h('li', null, h('a', { href: `#/jobs/${encodeURIComponent(t.jobId)}` }, t.name ?? t.kind), ' ', `${Math.round(t.progress * 100)}%`)))
      : null);
}
