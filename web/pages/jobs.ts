// The jobs list: newest first, filtered by status and kind (server side) and searched by id or
// input (in the rows loaded; an exact job id is looked up directly). Rows follow the event
// stream: a job whose tasks move is fetched again and its row redrawn in place; new jobs appear
// at the top. Without the stream (client keys) the first page is polled.
import { ApiError, api, serverNow } from '../api.js';
import { ago, coalesce, errorBox, fill, h, progressBar, statusBadge } from '../dom.js';
import { fleetFeed } from '../fleet-feed.js';
import { replaceQuery } from '../router.js';
import { JOB_STATUSES, type Job } from '../types.js';

const PAGE = 50;

export function jobsPage(root: HTMLElement, _params: Record<string, string>, query: URLSearchParams): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  const filters = { status: query.get('status') ?? '', kind: query.get('kind') ?? '', q: query.get('q') ?? '' };

  let jobs: Job[] = [];
  let nextCursor: string | null = null;
  const rows = new Map<string, HTMLElement>();

  const statusSelect = h('select', { id: 'filter-status', 'aria-label': 'Status' },
    h('option', { value: '' }, 'any status'), JOB_STATUSES.map((s) => h('option', { value: s, selected: s === filters.status }, s)));
  const kindSelect = h('select', { id: 'filter-kind', 'aria-label': 'Kind' }, h('option', { value: '' }, 'any kind'),
    filters.kind ? h('option', { value: filters.kind, selected: true }, filters.kind) : null);
  const search = h('input', { id: 'search', type: 'search', placeholder: 'job id or input…', value: filters.q, 'aria-label': 'Search by id or input' });
  const list = h('div', { id: 'jobs-list', class: 'rows jobs' });
  const more = h('button', { type: 'button', class: 'more', hidden: true }, 'Load more');
  const message = h('div');
  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Jobs'), h('a', { href: '#/submit', class: 'button primary' }, 'Submit a job')),
    h('form', { class: 'filters', role: 'search' }, statusSelect, kindSelect, search),
    message,
    list,
    more,
  );

  void api.kinds(signal).then((kinds) => {
    for (const k of kinds) if (k.name !== filters.kind) kindSelect.append(h('option', { value: k.name }, k.name));
  }, () => undefined);

  const setQuery = (): void => replaceQuery('/jobs', filters);

  async function loadFirst(): Promise<void> {
    try {
      const page = await api.listJobs({ status: filters.status, kind: filters.kind, limit: PAGE }, signal);
      // Rows loaded with "Load more" stay (those older than this page); the page replaces the rest.
      const fresh = new Set(page.jobs.map((j) => j.id));
      const oldest = page.jobs.at(-1)?.createdAt;
      const older = oldest !== undefined && page.nextCursor !== null ? jobs.filter((j) => !fresh.has(j.id) && j.createdAt < oldest) : [];
      jobs = [...page.jobs, ...older];
      if (older.length === 0) nextCursor = page.nextCursor;
      fill(message);
      render();
    } catch (err) {
      if (!signal.aborted) fill(message, errorBox(err));
    }
  }

  async function loadMore(): Promise<void> {
    if (nextCursor === null) return;
    const page = await api.listJobs({ status: filters.status, kind: filters.kind, limit: PAGE, cursor: nextCursor }, signal);
    const known = new Set(jobs.map((j) => j.id));
    jobs.push(...page.jobs.filter((j) => !known.has(j.id)));
    nextCursor = page.nextCursor;
    render();
  }

  const matches = (j: Job): boolean => {
    const q = filters.q.trim().toLowerCase();
    return q === '' || j.id.toLowerCase().includes(q) || j.input.toLowerCase().includes(q);
  };

  function render(): void {
    const shown = jobs.filter(matches);
    rows.clear();
    fill(list, shown.length === 0 ? h('p', { class: 'empty' }, jobs.length === 0 ? 'No jobs yet.' : 'No loaded job matches; press Enter to look the id up.') : null);
    for (const j of shown) {
      const row = jobRow(j);
      rows.set(j.id, row);
      list.append(row);
    }
    more.hidden = nextCursor === null;
  }

  function update(job: Job): void {
    const i = jobs.findIndex((j) => j.id === job.id);
    if (i >= 0) jobs[i] = job;
    const old = rows.get(job.id);
    if (old) {
      const row = jobRow(job);
      old.replaceWith(row);
      rows.set(job.id, row);
    }
  }

  // Jobs whose events arrived, at most about once a second: those on the first page by reading
  // the page again (one request, no task lists), older ones one by one.
  const dirty = new Set<string>();
  const flush = coalesce(() => {
    const ids = [...dirty];
    dirty.clear();
    const firstPage = new Set(jobs.slice(0, PAGE).map((j) => j.id));
    if (ids.some((id) => firstPage.has(id))) void loadFirst();
    for (const id of ids.filter((i) => !firstPage.has(i))) void api.getJob(id, signal).then(update, () => undefined);
  }, 1_000);
  const reloadFirst = coalesce(() => void loadFirst(), 1_000);

  const unsubscribe = fleetFeed.subscribe((e) => {
    if (!e.jobId) return;
    if (rows.has(e.jobId) || jobs.some((j) => j.id === e.jobId)) {
      dirty.add(e.jobId);
      flush();
    } else if (e.type === 'job.created' || (filters.status !== '' && e.type.startsWith('job.'))) {
      reloadFirst();
    }
  });
  const timer = window.setInterval(() => {
    if (!fleetFeed.live) void loadFirst();
  }, 4_000);

  statusSelect.addEventListener('change', () => {
    filters.status = statusSelect.value;
    setQuery();
    jobs = [];
    nextCursor = null;
    void loadFirst();
  });
  kindSelect.addEventListener('change', () => {
    filters.kind = kindSelect.value;
    setQuery();
    jobs = [];
    nextCursor = null;
    void loadFirst();
  });
  search.addEventListener('input', () => {
    filters.q = search.value;
    setQuery();
    render();
  });
  search.form?.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = search.value.trim();
    if (id === '' || jobs.some((j) => j.id === id)) return;
    api.getJob(id, signal).then(
      (job) => void (location.hash = `#/jobs/${encodeURIComponent(job.id)}`),
      (err: unknown) => fill(message, err instanceof ApiError && err.status === 404 ? h('p', { class: 'empty' }, `No job ${id}.`) : errorBox(err)),
    );
  });
  more.addEventListener('click', () => void loadMore().catch((err: unknown) => fill(message, errorBox(err))));

  void loadFirst();
  return () => {
    controller.abort();
    flush.cancel();
    reloadFirst.cancel();
    unsubscribe();
    window.clearInterval(timer);
  };
}

function jobRow(j: Job): HTMLElement {
  const href = `#/jobs/${encodeURIComponent(j.id)}`;
  return h('div', { class: 'row job-row', 'data-job-id': j.id, 'data-status': j.status },
    h('a', { href, class: 'mono id' }, j.id),
    h('span', { class: 'kind' }, j.kind),
    statusBadge(j.status),
    progressBar(j.progress),
    h('span', { class: 'input mono', title: j.input }, j.input),
    h('span', { class: 'muted small when', title: j.createdAt }, ago(j.createdAt, serverNow())),
    j.error ? h('span', { class: 'row-error', title: j.error.hint ?? '' }, j.error.message) : null);
}
