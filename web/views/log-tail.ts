// The job's log tail: the workers' task logs (notes and ffmpeg's stderr), followed with the
// logs route's long poll (?after=&wait=) while the job runs. Only the newest lines are kept on
// screen; the view sticks to the bottom unless the reader scrolled up.
import { api } from '../api.js';
import { h } from '../dom.js';
import type { LogLine } from '../types.js';

const KEEP = 600;
const WAIT_SECONDS = 25;

export interface LogTail {
  root: HTMLElement;
  /** Names for task ids (the job's task names), used as line prefixes. */
  setTaskNames(names: Map<string, string>): void;
  /** Tells the tail the job ended: it reads what is left and stops. */
  finished(): void;
}

export function logTail(jobId: string, signal: AbortSignal, startFinished: boolean): LogTail {
  const pre = h('pre', { class: 'log', id: 'log-tail', tabindex: 0 });
  const status = h('span', { class: 'muted small' });
  const root = h('section', { class: 'card wide' }, h('h2', null, 'Log ', status), pre);
  let names = new Map<string, string>();
  let done = startFinished;
  let wake: (() => void) | null = null;

  const line = (l: LogLine): string => {
    const time = l.ts.slice(11, 19);
    return `${time} ${names.get(l.taskId) ?? l.taskId.slice(-6)}#${l.attempt} ${l.line}\n`;
  };

  const pause = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      wake = resolve;
      window.setTimeout(resolve, ms);
    }).then(() => {
      wake = null;
    });

  async function run(): Promise<void> {
    let after = 0;
    let failures = 0;
    while (!signal.aborted) {
      const finalRead = done;
      try {
        status.textContent = finalRead ? '' : '(following)';
        const page = await api.logs(jobId, after, finalRead ? 0 : WAIT_SECONDS, signal);
        failures = 0;
        after = page.next;
        if (page.lines.length > 0) {
          const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
          pre.append(...page.lines.map(line));
          while (pre.childNodes.length > KEEP) pre.firstChild?.remove();
          if (atBottom) pre.scrollTop = pre.scrollHeight;
        }
        // A full page means more is waiting: read on at once.
        if (page.lines.length >= 1000) continue;
        if (finalRead) break;
        // Nothing new: the job may have just ended (the long poll answers at once then) before
        // this page heard of it.
        if (page.lines.length === 0) await pause(1_000);
      } catch {
        if (signal.aborted) return;
        failures++;
        status.textContent = '(reconnecting)';
        await pause(Math.min(15_000, 1_000 * 2 ** failures));
      }
    }
    status.textContent = pre.childNodes.length === 0 ? '(no lines)' : '';
  }

  void run();
  return {
    root,
    setTaskNames(n) {
      names = n;
    },
    finished() {
      done = true;
      wake?.();
    },
  };
}
