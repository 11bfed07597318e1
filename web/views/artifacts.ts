// A job's artifacts: images shown inline (thumbnails, screenshots, contact sheets, sprites),
// everything else as download links; the many files of an HLS/DASH package folded into one
// line per folder. With keys, previews are fetched signed and shown from object URLs, and links
// point at blob URLs the coordinator signs (a plain link cannot carry a signature).
import { api, artifactPath } from '../api.js';
import { errorBox, fill, formatBytes, h } from '../dom.js';
import { loadCredentials } from '../signing.js';
import type { Artifact } from '../types.js';

const PREVIEW_MAX_BYTES = 32 * 1024 * 1024;
/** Folders shown folded: packages with one file per segment. */
const FOLDED = /^(hls|dash|work)\//;

export class ArtifactsView {
  readonly list = h('div', { id: 'artifacts' });
  readonly root = h('section', { class: 'card wide' }, h('h2', null, 'Artifacts'), this.list);
  private shown = '';
  private objectUrls: string[] = [];

  constructor(private readonly signal: AbortSignal) {
    signal.addEventListener('abort', () => this.revoke(), { once: true });
  }

  render(artifacts: Artifact[]): void {
    // Redraw only when the list changed: previews are not fetched again on every job update.
    const key = artifacts.map((a) => `${a.name}:${a.sha256}`).join('|');
    if (key === this.shown) return;
    this.shown = key;
    this.revoke();
    if (artifacts.length === 0) return fill(this.list, h('p', { class: 'empty' }, 'No artifacts yet.'));
    const images = artifacts.filter((a) => a.contentType.startsWith('image/') && a.size <= PREVIEW_MAX_BYTES && !FOLDED.test(a.name));
    const rest = artifacts.filter((a) => !images.includes(a));
    const folders = new Map<string, Artifact[]>();
    const files: Artifact[] = [];
    for (const a of rest) {
      const folder = FOLDED.exec(a.name)?.[1];
      if (folder) folders.set(folder, [...(folders.get(folder) ?? []), a]);
      else files.push(a);
    }
    fill(this.list,
      images.length > 0 ? h('div', { class: 'previews' }, images.map((a) => this.preview(a))) : null,
      files.length > 0 ? h('ul', { class: 'files' }, files.map((a) => this.fileItem(a))) : null,
      [...folders].map(([folder, list]) =>
        h('details', { class: 'folder' }, h('summary', null, `${folder}/ — ${list.length} files, ${formatBytes(list.reduce((n, a) => n + a.size, 0))}`),
          h('ul', { class: 'files' }, list.map((a) => this.fileItem(a))))));
  }

  private preview(a: Artifact): HTMLElement {
    const img = h('img', { alt: a.name, 'data-artifact': a.name });
    const full = h('a', { target: '_blank', rel: 'noopener', title: 'Open full size' }, img);
    const figure = h('figure', { class: 'preview' }, full,
      h('figcaption', null, h('span', { class: 'mono' }, a.name), ` ${formatBytes(a.size)} `, this.link(a, 'download')));
    this.source(a).then((src) => {
      img.src = src;
      full.href = src;
    }, (err: unknown) => figure.replaceChildren(errorBox(err)));
    return figure;
  }

  private async source(a: Artifact): Promise<string> {
    if (!loadCredentials()) return artifactPath(a.jobId, a.name);
    const url = await api.objectUrl(a, this.signal);
    this.objectUrls.push(url);
    return url;
  }

  private fileItem(a: Artifact): HTMLElement {
    return h('li', { 'data-artifact': a.name }, this.link(a, a.name), h('span', { class: 'muted small' }, ` ${formatBytes(a.size)} · ${a.contentType}`));
  }

  /**
   * A download link. With keys a link cannot sign, so the URL is minted when it is clicked (a
   * blob URL, which expires; minting one per file up front would cost a request per segment).
   */
  private link(a: Artifact, text: string): HTMLAnchorElement {
    const link = h('a', { href: artifactPath(a.jobId, a.name), download: a.name.split('/').pop() ?? a.name, class: 'mono' }, text);
    link.addEventListener('click', (e) => {
      if (!loadCredentials()) return;
      e.preventDefault();
      void api.linkFor(a).then((url) => {
        const go = h('a', { href: url, download: link.download });
        go.click();
      }, (err: unknown) => link.after(errorBox(err)));
    });
    return link;
  }

  private revoke(): void {
    for (const url of this.objectUrls) URL.revokeObjectURL(url);
    this.objectUrls = [];
  }
}
