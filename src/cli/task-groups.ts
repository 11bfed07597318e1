// What `vidfleet watch` shows: a job's tasks in groups (a transcode's plan, its chunk encodes
// per rung, the audio, the merges, the packaging), each with its share done, what runs and how
// fast, kept current from the job's event stream. Pure, so its rules are unit-tested.
import type { FeedEvent, Job, ProgressDetail, TaskStatus } from '../protocol/index.js';

interface TaskState {
  group: string;
  status: TaskStatus;
  progress: number;
  detail: ProgressDetail | null;
}

export interface GroupView {
  name: string;
  total: number;
  done: number;
  running: number;
  failed: number;
  /** 0..1: completed tasks count whole, running ones by their progress. */
  fraction: number;
  /** Summed over the group's running tasks. */
  fps: number | null;
  /** Mean of the running tasks' speeds. */
  speed: number | null;
  /** The longest ETA among running tasks. */
  etaSeconds: number | null;
}

/** video/720p/00003 → video/720p, video/00003 → video, merge/720p → merge; unnamed tasks by kind. */
export function groupOf(task: { name: string | null; kind: string }): string {
  if (!task.name) return task.kind;
  const parts = task.name.split('/');
  if (parts.length > 1 && /^\d+$/.test(parts.at(-1)!)) parts.pop();
  else if (parts.length > 1) parts.splice(1);
  return parts.join('/');
}

export class TaskGroups {
  private readonly tasks = new Map<string, TaskState>();
  private readonly order: string[] = [];

  /**
   * Takes tasks of the job this view does not know yet (at start, and after the graph grew).
   * `asRead`: with their state as read (a finished job, whose events may be pruned); otherwise
   * as pending, for the job's event stream, replayed from its start, to bring up to date.
   */
  load(job: Job, asRead: boolean): void {
    for (const t of job.tasks ?? []) {
      if (this.tasks.has(t.id)) continue;
      const group = groupOf(t);
      if (!this.order.includes(group)) this.order.push(group);
      this.tasks.set(t.id, asRead ? { group, status: t.status, progress: t.status === 'completed' ? 1 : t.progress, detail: null } : { group, status: 'pending', progress: 0, detail: null });
    }
  }

  /** Applies one event; answers true when the job's task list changed (reload it). */
  apply(e: FeedEvent): boolean {
    if (e.type === 'job.expanded') return true;
    const t = e.taskId === null ? undefined : this.tasks.get(e.taskId);
    if (!t) return e.taskId !== null && e.type.startsWith('task.');
    switch (e.type) {
      case 'task.claimed':
        Object.assign(t, { status: 'assigned', progress: 0, detail: null });
        break;
      case 'task.running':
        t.status = 'running';
        break;
      case 'task.progress':
        t.status = 'running';
        t.progress = typeof e.data.progress === 'number' ? e.data.progress : t.progress;
        t.detail = (e.data.detail as ProgressDetail | undefined) ?? t.detail;
        break;
      case 'task.completed':
        Object.assign(t, { status: 'completed', progress: 1, detail: null });
        break;
      case 'task.failed':
        Object.assign(t, { status: 'failed', detail: null });
        break;
      case 'task.retrying':
      case 'task.lease_expired':
      case 'task.timed_out':
        Object.assign(t, { status: 'pending', progress: 0, detail: null });
        break;
      case 'task.canceling':
        t.status = 'canceling';
        break;
      case 'task.canceled':
        Object.assign(t, { status: 'canceled', detail: null });
        break;
    }
    return false;
  }

  view(): GroupView[] {
    return this.order.map((name) => {
      const members = [...this.tasks.values()].filter((t) => t.group === name);
      const running = members.filter((t) => t.status === 'running' || t.status === 'assigned');
      const details = running.map((t) => t.detail).filter((d): d is ProgressDetail => d !== null);
      const fps = details.filter((d) => d.fps !== undefined).map((d) => d.fps!);
      const speeds = details.filter((d) => d.speed !== undefined).map((d) => d.speed!);
      const etas = details.filter((d) => d.etaSeconds !== undefined).map((d) => d.etaSeconds!);
      return {
        name,
        total: members.length,
        done: members.filter((t) => t.status === 'completed').length,
        running: running.length,
        failed: members.filter((t) => t.status === 'failed').length,
        fraction: members.length === 0 ? 0 : members.reduce((sum, t) => sum + (t.status === 'completed' ? 1 : t.progress), 0) / members.length,
        fps: fps.length ? fps.reduce((a, b) => a + b, 0) : null,
        speed: speeds.length ? speeds.reduce((a, b) => a + b, 0) / speeds.length : null,
        etaSeconds: etas.length ? Math.max(...etas) : null,
      };
    });
  }
}

/** "3/12 done, 2 running, 48 fps 1.9x ETA 0:42" */
export function describeGroup(g: GroupView): string {
  const parts = [`${g.done}/${g.total} done`];
  if (g.running > 0) parts.push(`${g.running} running`);
  if (g.failed > 0) parts.push(`${g.failed} failed`);
  const speed = describeSpeed({ fps: g.fps ?? undefined, speed: g.speed ?? undefined, etaSeconds: g.etaSeconds ?? undefined });
  return speed ? `${parts.join(', ')}, ${speed}` : parts.join(', ');
}

/** "48 fps 1.9x ETA 0:42", or '' when nothing is known. */
export function describeSpeed(d: ProgressDetail): string {
  const parts: string[] = [];
  if (d.fps !== undefined) parts.push(`${Math.round(d.fps)} fps`);
  if (d.speed !== undefined) parts.push(`${d.speed.toFixed(1)}x`);
  if (d.etaSeconds !== undefined) {
    const s = Math.round(d.etaSeconds);
    parts.push(`ETA ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`);
  }
  return parts.join(' ');
}
