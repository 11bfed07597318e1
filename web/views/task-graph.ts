// A job's tasks as a graph laid out in stage columns: plan → chunks (video encodes, grouped by
// rung when each chunk × rung is its own task, plus the audio encode) → merge per rung →
// package. Nodes are kept by task id and updated in place, so a live update changes a colour
// and a bar rather than redrawing the graph (and a node's details stay open).
import { fill, formatSeconds, h, progressBar, setProgress, statusBadge } from '../dom.js';
import type { Job, Task, TaskStatus } from '../types.js';

const STAGES = [
  { id: 'plan', title: 'Plan' },
  { id: 'chunks', title: 'Chunks' },
  { id: 'merge', title: 'Merge' },
  { id: 'package', title: 'Package' },
  { id: 'other', title: 'Tasks' },
] as const;
type StageId = (typeof STAGES)[number]['id'];

function stageOf(t: Task): StageId {
  const name = t.name ?? '';
  if (name === 'plan') return 'plan';
  if (name.startsWith('video/') || name === 'audio' || name.startsWith('audio/')) return 'chunks';
  if (name.startsWith('merge/')) return 'merge';
  if (name === 'package') return 'package';
  return 'other';
}

/** The group a chunk task is shown in: its rung (video/720p/00003), "all rungs" (video/00003) or audio. */
function groupOf(t: Task): string {
  const parts = (t.name ?? '').split('/');
  if (parts[0] === 'video') return parts.length > 2 ? parts[1]! : 'all rungs';
  if (parts[0] === 'audio') return 'audio';
  return '';
}

/** A short label: the chunk number for chunk tasks, the rung for merges, else the name or kind. */
function labelOf(t: Task): string {
  const name = t.name ?? t.kind;
  const parts = name.split('/');
  if (parts[0] === 'video') return `#${Number(parts.at(-1))}`;
  if (parts[0] === 'merge') return parts.slice(1).join('/');
  return name;
}

// Forward order of the lifecycle: a late event never moves a node back (a retry does, through
// the job being fetched again).
const RANK: Record<TaskStatus, number> = { pending: 0, assigned: 1, running: 2, canceling: 3, completed: 4, failed: 4, canceled: 4 };

export class TaskGraph {
  readonly el = h('div', { class: 'graph', id: 'task-graph' });
  private readonly info = h('div', { class: 'task-info', hidden: true });
  readonly root = h('section', { class: 'card wide' }, h('h2', null, 'Tasks'), this.el, this.info);
  private nodes = new Map<string, HTMLElement>();
  private tasks = new Map<string, Task>();
  private layoutKey = '';
  private selected: string | null = null;

  /** Draws the job's tasks: the layout again when the set of tasks changed (a plan expanded), else in place. */
  update(job: Job): void {
    const tasks = job.tasks ?? [];
    const key = tasks.map((t) => t.id).join(',');
    this.tasks = new Map(tasks.map((t) => [t.id, t]));
    if (key !== this.layoutKey) {
      this.layoutKey = key;
      this.layout(tasks);
    }
    for (const t of tasks) this.paint(t);
    this.showInfo();
  }

  /** Applies a task event before the job is fetched again: status and progress only. */
  patch(taskId: string, change: { status?: TaskStatus; progress?: number }): void {
    const t = this.tasks.get(taskId);
    if (!t) return;
    if (change.status && RANK[change.status] >= RANK[t.status]) t.status = change.status;
    if (change.progress !== undefined && t.status === 'running') t.progress = change.progress;
    if (change.status === 'completed') t.progress = 1;
    this.paint(t);
    if (this.selected === taskId) this.showInfo();
  }

  private layout(tasks: Task[]): void {
    this.nodes.clear();
    const columns = STAGES.map((s) => ({ ...s, tasks: tasks.filter((t) => stageOf(t) === s.id) })).filter((c) => c.tasks.length > 0);
    fill(this.el, columns.map((c, i) => [
      i > 0 ? h('div', { class: 'arrow', 'aria-hidden': 'true' }) : null,
      h('div', { class: `stage stage-${c.id}`, 'data-stage': c.id },
        h('h3', null, c.title, h('small', { class: 'muted' }, ` ${c.tasks.length}`)),
        c.id === 'chunks' ? this.groups(c.tasks) : h('div', { class: 'nodes' }, c.tasks.map((t) => this.node(t)))),
    ]));
  }

  private groups(tasks: Task[]): HTMLElement[] {
    const groups = new Map<string, Task[]>();
    for (const t of tasks) groups.set(groupOf(t), [...(groups.get(groupOf(t)) ?? []), t]);
    return [...groups].map(([name, list]) =>
      h('div', { class: 'group' }, groups.size > 1 ? h('div', { class: 'group-name muted small' }, name) : null,
        h('div', { class: 'nodes tiles' }, list.map((t) => this.node(t)))));
  }

  private node(t: Task): HTMLElement {
    const el = h('button', { type: 'button', class: 'task', 'data-task-id': t.id, 'data-task-name': t.name ?? t.kind },
      h('span', { class: 'label' }, labelOf(t)), progressBar(t.progress, false));
    el.addEventListener('click', () => {
      this.selected = this.selected === t.id ? null : t.id;
      for (const n of this.nodes.values()) n.classList.toggle('selected', n.dataset.taskId === this.selected);
      this.showInfo();
    });
    this.nodes.set(t.id, el);
    return el;
  }

  private paint(t: Task): void {
    const el = this.nodes.get(t.id);
    if (!el) return;
    el.dataset.status = t.status;
    el.className = `task s-${t.status}${this.selected === t.id ? ' selected' : ''}`;
    setProgress(el, t.status === 'completed' ? 1 : t.progress);
    const waiting = t.status === 'pending' && t.waitingOn > 0 ? `, waiting on ${t.waitingOn}` : '';
    el.title = `${t.name ?? t.kind}: ${t.status}${waiting}${t.status === 'running' ? ` ${Math.round(t.progress * 100)}%` : ''}`;
  }

  private showInfo(): void {
    const t = this.selected ? this.tasks.get(this.selected) : undefined;
    this.info.hidden = !t;
    if (!t) return;
    const d = t.progressDetail;
    fill(this.info,
      h('strong', null, t.name ?? t.kind), ' ', statusBadge(t.status),
      h('dl', null,
        h('dt', null, 'kind'), h('dd', null, t.kind),
        h('dt', null, 'attempt'), h('dd', null, `${t.attempt} of ${t.maxAttempts}`),
        h('dt', null, 'worker'), h('dd', { class: 'mono' }, t.workerId ?? '—'),
        h('dt', null, 'progress'), h('dd', null, `${Math.round(t.progress * 100)}%`,
          d?.fps !== undefined ? ` · ${Math.round(d.fps)} fps` : '', d?.speed !== undefined ? ` · ${d.speed.toFixed(2)}×` : '',
          d?.etaSeconds !== undefined ? ` · ETA ${formatSeconds(d.etaSeconds)}` : '', d?.message ? ` · ${d.message}` : ''),
        t.waitingOn > 0 ? [h('dt', null, 'waiting on'), h('dd', null, `${t.waitingOn} task(s)`)] : null,
        t.error ? [h('dt', null, 'error'), h('dd', { class: 'row-error' }, `${t.error.code}: ${t.error.message}`)] : null));
  }
}
