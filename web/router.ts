// Hash routing (#/jobs/job_123?tab=x): the coordinator serves one page at /, so every view is a
// fragment and a reload or a shared link lands on the same view.

/** A page draws itself into `root` and answers what to stop (streams, timers) when left. */
export type Page = (root: HTMLElement, params: Record<string, string>, query: URLSearchParams) => (() => void) | void;

interface Route {
  pattern: RegExp;
  keys: string[];
  page: Page;
}

export class Router {
  private routes: Route[] = [];
  private cleanup: (() => void) | null = null;

  constructor(
    private readonly root: HTMLElement,
    private readonly onChange: (path: string) => void = () => {},
  ) {}

  /** `path` like /jobs/:id; a :name segment matches one path segment. */
  add(path: string, page: Page): this {
    const keys: string[] = [];
    const pattern = new RegExp(
      `^${path.replace(/\/:([A-Za-z]+)/g, (_m, key: string) => {
        keys.push(key);
        return '/([^/]+)';
      })}/?$`,
    );
    this.routes.push({ pattern, keys, page });
    return this;
  }

  start(): void {
    window.addEventListener('hashchange', () => this.render());
    this.render();
  }

  /** Draws the current view again (after signing in: everything it showed was refused). */
  refresh(): void {
    this.render();
  }

  private render(): void {
    const [path = '/', search = ''] = (location.hash.replace(/^#/, '') || '/').split('?', 2);
    this.cleanup?.();
    this.cleanup = null;
    this.root.replaceChildren();
    window.scrollTo(0, 0);
    this.onChange(path);
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => {
        params[k] = decodeURIComponent(m[i + 1] ?? '');
      });
      this.cleanup = route.page(this.root, params, new URLSearchParams(search)) ?? null;
      return;
    }
    const notFound = document.createElement('p');
    notFound.className = 'empty';
    notFound.textContent = `Nothing at ${path}.`;
    this.root.append(notFound);
  }
}

/** Changes the hash's query without adding history entries for every keystroke of a filter. */
export function replaceQuery(path: string, query: Record<string, string>): void {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== ''));
  const text = q.toString();
  history.replaceState(null, '', `#${path}${text ? `?${text}` : ''}`);
}
