// The dashboard's entry: routes, the key form on 401, and the header (live state, session).
import { onAuthRequired } from './api.js';
import { showKeyForm } from './auth-form.js';
import { h } from './dom.js';
import { fleetFeed } from './fleet-feed.js';
import { Router } from './router.js';
import { clearCredentials, loadCredentials } from './signing.js';
import { jobDetailPage } from './pages/job-detail.js';
import { jobsPage } from './pages/jobs.js';
import { overviewPage } from './pages/overview.js';
import { submitPage } from './pages/submit.js';

const root = document.getElementById('page')!;
const live = document.getElementById('live')!;
const session = document.getElementById('session')!;

const router = new Router(root, (path) => {
  // The nav item of the section the view belongs to (a job's page is under Jobs).
  const section = path.startsWith('/jobs') ? '/jobs' : path;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) a.classList.toggle('active', a.dataset.nav === section);
});
router
  .add('/', overviewPage)
  .add('/jobs', jobsPage)
  .add('/jobs/:id', jobDetailPage)
  .add('/submit', submitPage);

function renderSession(): void {
  const creds = loadCredentials();
  session.replaceChildren(
    creds
      ? h('span', null, h('span', { class: 'muted', title: 'Requests are signed with this key' }, creds.keyId), ' ',
        h('button', { type: 'button', class: 'link', onclick: () => signOut() }, 'Sign out'))
      : '',
  );
}

/** After the key changed (signed in or out): everything shown was fetched with the old one. */
function keyChanged(): void {
  renderSession();
  fleetFeed.restart();
  router.refresh();
}

function signOut(): void {
  clearCredentials();
  keyChanged();
}

const LIVE_TEXT: Record<string, [string, string]> = {
  idle: ['', ''],
  connecting: ['connecting…', 'Opening the event stream'],
  live: ['live', 'Following the coordinator’s event stream'],
  retrying: ['reconnecting…', 'The event stream dropped; it resumes from the last event seen'],
  forbidden: ['polling', 'This key may not follow the fleet’s event stream (admins only): pages refresh every few seconds'],
  unauthorized: ['signed out', 'Sign in to follow live events'],
};

fleetFeed.onState(() => {
  const [text, title] = LIVE_TEXT[fleetFeed.state] ?? ['', ''];
  live.textContent = text;
  live.title = fleetFeed.detail ? `${title} (${fleetFeed.detail})` : title;
  live.dataset.state = fleetFeed.state;
});

onAuthRequired((reason, signedWith) => {
  // A refusal of a request sent before the current key was given says nothing about that key.
  const current = loadCredentials();
  if (current && (current.keyId !== signedWith?.keyId || current.secret !== signedWith.secret)) return;
  showKeyForm(reason, keyChanged);
});
renderSession();
router.start();
