// The key form: shown when the coordinator answers 401. The key ("<key id>:<secret>", as
// `vidfleet keys create` prints it) stays in sessionStorage for this tab; requests are signed
// with it from then on (signing.ts).
import { h } from './dom.js';
import { canSign, clearCredentials, loadCredentials, parseCredentials, saveCredentials } from './signing.js';

let open: HTMLElement | null = null;

/** Shows the form (once, however many requests were refused); `onSignedIn` runs after a key is saved. */
export function showKeyForm(reason: string, onSignedIn: () => void): void {
  const had = loadCredentials();
  if (had) clearCredentials(); // a refused key is not offered again on every request
  if (open) {
    open.querySelector('.reason')!.textContent = reason;
    return;
  }
  const input = h('input', {
    name: 'key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: 'key_…:secret', 'aria-label': 'API key',
  });
  const problem = h('p', { class: 'form-error', role: 'alert' });
  const secure = canSign();
  const form = h(
    'form',
    { id: 'key-form', class: 'card' },
    h('h2', null, 'Sign in with a key'),
    h('p', { class: 'reason muted' }, reason),
    h('p', null, 'This coordinator requires signed requests. Paste a key as ', h('code', null, 'keyId:secret'),
      ' (', h('code', null, 'vidfleet keys create --role client'), ' prints one). It is kept for this tab only.'),
    secure
      ? null
      : h('p', { class: 'form-error' }, 'This page is not a secure context (plain http off loopback), so the browser withholds the WebCrypto the signatures need. Open the dashboard over HTTPS or through an SSH tunnel to 127.0.0.1.'),
    h('label', null, 'Key', input),
    problem,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', disabled: !secure }, 'Sign in')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const creds = parseCredentials(input.value);
    if (!creds) {
      problem.textContent = 'A key looks like key_…:secret (the key id, a colon, the secret).';
      return;
    }
    saveCredentials(creds);
    closeKeyForm();
    onSignedIn();
  });
  open = h('div', { class: 'overlay', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'key-form-title' }, form);
  form.querySelector('h2')!.id = 'key-form-title';
  document.body.append(open);
  input.focus();
}

export function closeKeyForm(): void {
  open?.remove();
  open = null;
}
