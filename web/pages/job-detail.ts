// One job: its state and actions (cancel, run again), the task graph, an HLS player for a
// transcode's package, artifacts with previews, the result and the log tail. It follows the
// job's own event stream (/v1/jobs/{id}/events, open to the job's owner) from the moment it
// loaded: events move graph nodes at once, and the job is fetched again shortly after each
// burst so the page converges on the coordinator's state.
import { api, serverNow } from '../api.js';
import { ago, coalesce, errorBox, fill, h, progressBar, shortTime, statusBadge } from '../dom.js';
import { followStream, latestCursor, type StreamState } from '../sse.js';
import { isTerminal, type Artifact, type FeedEvent, type Job, type TaskStatus } from '../types.js';
import { ArtifactsView } from '../views/artifacts.js';
import { logTail, type LogTail } from '../views/log-tail.js';
import { PlayerView } from '../views/player.js';
import { resultView } from '../views/result.js';
import { TaskGraph } from '../views/task-graph.js';

/** The task status each lifecycle event leaves a task in. */
const TASK_EVENT_STATUS: Record<string, TaskStatus> = {
  'task.claimed': 'assigned', 'task.running': 'running', 'task.completed': 'completed', 'task.failed': 'failed',
  'task.retrying': 'pending', 'task.lease_expired': 'pending', 'task.canceling': 'canceling', 'task.canceled': 'canceled',
};

export function jobDetailPage(root: HTMLElement, params: Record<string, string>): () => void {
  const id = params.id ?? '';
  const controller = new AbortController();
  const { signal } = controller;
  const head = h('section', { class: 'card wide', id: 'job-head' });
  const graph = new TaskGraph();
  const artifacts = new ArtifactsView(signal);
  const playerSlot = h('div', { class: 'slot' });
  const resultSlot = h('div', { class: 'slot' });
  const logSlot = h('div', { class: 'slot' });
  const liveNote = h('span', { class: 'live small', id: 'job-live' });
  root.append(
    h('div', { class: 'page-head' }, h('h1', { class: 'mono' }, id), liveNote),
    h('div', { class: 'grid' }, head, graph.root, playerSlot, artifacts.root, resultSlot, logSlot),
  );

  let job: Job | null = null;
  let streamState: StreamState = 'connecting';
  let player: PlayerView | null = null;
  let tail: LogTail | null = null;
  let confirmCancel = 0;

  async function reload(): Promise<Job | null> {
    try {
      job = await api.getJob(id, signal);
      render(job);
    } catch (err) {
      if (!signal.aborted && !job) fill(head, errorBox(err));
    }
    return job;
  }

  async function reloadArtifacts(): Promise<void> {
    const list = await api.artifacts(id, signal).catch(() => null);
    if (!list || signal.aborted) return;
    artifacts.render(list);
    showPlayer(list);
  }

  function render(j: Job): void {
    renderHead(j);
    graph.update(j);
    fill(resultSlot, j.status === 'completed' ? resultView(j) : null);
    tail?.setTaskNames(new Map((j.tasks ?? []).map((t) => [t.id, t.name ?? t.kind])));
    if (isTerminal(j.status)) tail?.finished();
  }

  function renderHead(j: Job): void {
    const now = serverNow();
    const canCancel = !isTerminal(j.status) && j.status !== 'canceling';
    const cancel = canCancel
      ? h('button', { type: 'button', id: 'cancel-job', class: confirmCancel > Date.now() ? 'danger' : '', onclick: () => void onCancel() },
        confirmCancel > Date.now() ? 'Confirm cancel' : 'Cancel job')
      : null;
    fill(head,
      h('div', { class: 'head-line' }, h('span', { id: 'job-status' }, statusBadge(j.status)), h('strong', null, j.kind), progressBar(j.progress)),
      h('dl', { class: 'facts' },
        h('dt', null, 'input'), h('dd', { class: 'mono wrap' }, j.input),
        h('dt', null, 'params'), h('dd', { class: 'mono wrap small' }, JSON.stringify(j.params)),
        h('dt', null, 'created'), h('dd', { title: j.createdAt }, `${shortTime(j.createdAt)} (${ago(j.createdAt, now)})`),
        j.finishedAt ? [h('dt', null, 'finished'), h('dd', { title: j.finishedAt }, shortTime(j.finishedAt))] : null,
        j.owner ? [h('dt', null, 'owner'), h('dd', { class: 'mono' }, j.owner)] : null,
        j.waitingFor ? [h('dt', null, 'waiting'), h('dd', { class: 'row-error' }, j.waitingFor)] : null),
      j.error ? h('div', { class: 'error-box' }, h('strong', null, `${j.error.code}: ${j.error.message}`), j.error.hint ? h('div', { class: 'hint' }, j.error.hint) : null) : null,
      h('div', { class: 'actions' }, cancel,
        h('button', { type: 'button', id: 'retry-job', onclick: () => void onRetry(), title: 'Submit the same kind, input and parameters again' }, 'Run again')));
  }

  async function onCancel(): Promise<void> {
    if (!job) return;
    // Two clicks: a stray tap must not stop an hour-long transcode.
    if (confirmCancel <= Date.now()) {
      confirmCancel = Date.now() + 4_000;
      renderHead(job);
      window.setTimeout(() => job && !signal.aborted && renderHead(job), 4_100);
      return;
    }
    confirmCancel = 0;
    try {
      render(await api.cancelJob(id));
      await reload();
    } catch (err) {
      head.append(errorBox(err));
    }
  }

  async function onRetry(): Promise<void> {
    if (!job) return;
    try {
      const again = await api.submitJob({ kind: job.kind, input: job.input, params: job.params, priority: job.priority });
      location.hash = `#/jobs/${encodeURIComponent(again.id)}`;
    } catch (err) {
      head.append(errorBox(err));
    }
  }

  function showPlayer(list: Artifact[]): void {
    if (player) return;
    const named = (job?.result as { hls?: unknown } | null)?.hls;
    const master = list.find((a) => a.name === named) ?? list.find((a) => a.name.endsWith('master.m3u8'));
    if (!master) return;
    player = new PlayerView(id, master.name);
    fill(playerSlot, player.root);
  }

  const refresh = coalesce(() => void reload(), 500);
  // Progress alone moves nodes through patches; the job (its weighted progress) follows slower.
  const refreshProgress = coalesce(() => void reload(), 2_000);
  const refreshArtifacts = coalesce(() => void reloadArtifacts(), 500);

  function onEvent(e: FeedEvent): void {
    const status = TASK_EVENT_STATUS[e.type];
    if (e.taskId && (status || e.type === 'task.progress')) {
      const progress = typeof e.data.progress === 'number' ? e.data.progress : undefined;
      graph.patch(e.taskId, { ...(status && { status }), ...(progress !== undefined && { progress }) });
    }
    if (e.type === 'artifact.added' || e.type === 'job.completed') refreshArtifacts();
    // A plan that expanded into the graph is drawn at once; other changes ride a short coalesce.
    if (e.type === 'job.expanded') void reload();
    else if (e.type === 'task.progress') refreshProgress();
    else refresh();
  }

  // Without the stream (refused, or reconnecting) the job is fetched every few seconds.
  const timer = window.setInterval(() => {
    if (streamState !== 'live' && job && !isTerminal(job.status)) void reload();
  }, 3_000);

  void (async () => {
    const path = `/v1/jobs/${encodeURIComponent(id)}/events`;
    // The cursor before the snapshot: every event after it is newer than what the page shows.
    const after = await latestCursor(path, signal).catch(() => undefined);
    const first = await reload();
    if (!first || signal.aborted) return;
    tail = logTail(id, signal, isTerminal(first.status));
    fill(logSlot, tail.root);
    render(job ?? first);
    await reloadArtifacts();
    void followStream({
      path,
      ...(after !== undefined && { after }),
      signal,
      onEvent,
      onState: (state) => {
        streamState = state;
        liveNote.textContent = state === 'live' ? 'live' : state === 'connecting' ? '' : state === 'forbidden' ? 'polling' : state;
        liveNote.dataset.state = state;
        // Back after a gap: the snapshot may have missed what the stream did not replay.
        if (state === 'live') refresh();
      },
    });
  })();

  return () => {
    controller.abort();
    refresh.cancel();
    refreshProgress.cancel();
    refreshArtifacts.cancel();
    window.clearInterval(timer);
    player?.destroy();
  };
}
