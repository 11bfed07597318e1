// Submitting a job: a kind from GET /v1/kinds (its parameters listed from its JSON Schema), an
// input (a file uploaded to the coordinator first, or a URL / store:// / file:// URI) and the
// parameters as JSON. On success the job's page opens.
import { api, type SubmitBody } from '../api.js';
import { errorBox, fill, h } from '../dom.js';
import type { KindInfo } from '../types.js';

export function submitPage(root: HTMLElement, _params: Record<string, string>, query: URLSearchParams): () => void {
  const controller = new AbortController();
  const kindSelect = h('select', { name: 'kind', id: 'submit-kind', required: true });
  const description = h('p', { class: 'muted', id: 'kind-description' });
  const paramHelp = h('details', { class: 'param-help' });
  const file = h('input', { type: 'file', name: 'file', id: 'submit-file' });
  const uri = h('input', { type: 'text', name: 'input', id: 'submit-input', placeholder: 'https://…, store://…, file:///…', spellcheck: 'false' });
  const params = h('textarea', { name: 'params', id: 'submit-params', rows: 6, spellcheck: 'false' }, query.get('params') ?? '{}');
  const priority = h('input', { type: 'number', name: 'priority', id: 'submit-priority', value: '0', min: -1000, max: 1000, step: 1 });
  const status = h('div', { class: 'form-status', id: 'submit-status', role: 'status' });
  const button = h('button', { type: 'submit', class: 'primary', id: 'submit-job' }, 'Submit');
  const source = (value: string, label: string, checked: boolean): HTMLLabelElement =>
    h('label', { class: 'radio' }, h('input', { type: 'radio', name: 'source', value, checked }), ` ${label}`);

  const form = h('form', { class: 'card form', id: 'submit-form' },
    h('label', null, 'Kind', kindSelect), description, paramHelp,
    h('fieldset', null, h('legend', null, 'Input'),
      h('div', { class: 'radios' }, source('upload', 'Upload a file', !query.get('input')), source('uri', 'URL or URI', Boolean(query.get('input')))),
      h('div', { class: 'source-upload' }, file),
      h('div', { class: 'source-uri' }, uri)),
    h('label', null, 'Parameters (JSON)', params),
    h('label', { class: 'short' }, 'Priority', priority),
    h('div', { class: 'actions' }, button),
    status);
  root.append(h('h1', null, 'Submit a job'), form);
  uri.value = query.get('input') ?? '';

  let kinds: KindInfo[] = [];
  const chosen = (): string => (form.querySelector<HTMLInputElement>('input[name=source]:checked')?.value ?? 'upload');
  const showSource = (): void => form.setAttribute('data-source', chosen());
  for (const r of form.querySelectorAll('input[name=source]')) r.addEventListener('change', showSource);
  showSource();

  function showKind(): void {
    const k = kinds.find((x) => x.name === kindSelect.value);
    description.textContent = k?.description ?? '';
    const props = Object.entries(k?.params.properties ?? {});
    fill(paramHelp, h('summary', null, `${props.length} parameter${props.length === 1 ? '' : 's'}`),
      h('dl', null, props.map(([name, p]) => [h('dt', { class: 'mono' }, name, p.type ? h('span', { class: 'muted small' }, ` ${p.type}`) : null), h('dd', null, p.description ?? '')])));
  }
  kindSelect.addEventListener('change', showKind);

  api.kinds(controller.signal).then((list) => {
    kinds = list;
    const want = query.get('kind') ?? 'probe';
    fill(kindSelect, list.map((k) => h('option', { value: k.name, selected: k.name === want }, k.name)));
    showKind();
  }, (err: unknown) => fill(status, errorBox(err)));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void submit();
  });

  async function submit(): Promise<void> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(params.value.trim() || '{}');
    } catch (err) {
      return fill(status, errorBox(new Error(`The parameters are not JSON: ${err instanceof Error ? err.message : String(err)}`)));
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fill(status, errorBox(new Error('The parameters must be a JSON object, e.g. {"width": 640}.')));
    button.disabled = true;
    try {
      let input = uri.value.trim();
      if (chosen() === 'upload') {
        const f = file.files?.[0];
        if (!f) throw new Error('Choose a file to upload, or give a URL.');
        fill(status, `Uploading ${f.name}…`);
        input = (await api.upload(f)).uri;
      } else if (input === '') {
        throw new Error('Give the input: a URL, store://… or file:///… URI.');
      }
      fill(status, 'Submitting…');
      const body: SubmitBody = { kind: kindSelect.value, input, params: parsed as Record<string, unknown> };
      const p = Number(priority.value);
      if (Number.isInteger(p) && p !== 0) body.priority = p;
      const job = await api.submitJob(body);
      location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
    } catch (err) {
      fill(status, errorBox(err));
    } finally {
      button.disabled = false;
    }
  }

  return () => controller.abort();
}
