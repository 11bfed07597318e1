// A few helpers for building the DOM by hand (no framework) and formatting what it shows.

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined | ((event: Event) => void);

/** Creates an element: `on*` attributes become listeners, `false`/`null`/`undefined` are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, AttrValue> | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (name === 'class') el.className = String(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

/** Replaces everything inside `el`. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge s-${status}`, 'data-status': status }, status);
}

/** A progress bar (0..1) that can be updated in place with setProgress. */
export function progressBar(value: number, label = true): HTMLElement {
  const bar = h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100 }, h('span'));
  const wrap = h('div', { class: 'progress' }, bar, label ? h('small', { class: 'pct' }) : null);
  setProgress(wrap, value);
  return wrap;
}

export function setProgress(wrap: Element, value: number): void {
  const pct = Math.round(Math.max(0, Math.min(1, value)) * 100);
  const bar = wrap.querySelector('.bar');
  bar?.setAttribute('aria-valuenow', String(pct));
  const fillEl = bar?.querySelector('span');
  if (fillEl) fillEl.style.width = `${pct}%`;
  const text = wrap.querySelector('.pct');
  if (text) text.textContent = `${pct}%`;
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** "12 s ago", from an ISO time and the server's notion of now. */
export function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  return `${formatSeconds(s)} ago`;
}

export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Coalesces calls: the first schedules `fn` in `ms`, the calls until then ride along with it. */
export function coalesce(fn: () => void, ms: number): { (): void; cancel(): void } {
  let timer: number | undefined;
  const call = (): void => {
    if (timer !== undefined) return;
    timer = window.setTimeout(() => {
      timer = undefined;
      fn();
    }, ms);
  };
  call.cancel = (): void => {
    if (timer !== undefined) window.clearTimeout(timer);
    timer = undefined;
  };
  return call;
}

/** A message block for a failed load, so a page says what went wrong instead of staying blank. */
export function errorBox(err: unknown): HTMLElement {
  const message = err instanceof Error ? err.message : String(err);
  const hint = (err as { hint?: string } | null)?.hint;
  return h('div', { class: 'error-box', role: 'alert' }, h('strong', null, message), hint ? h('div', { class: 'hint' }, hint) : null);
}
