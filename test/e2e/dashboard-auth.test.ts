// The dashboard on a deployment with keys: the page and its files load unsigned, the API answers
// 401 and the page asks for a key; with one, every request is signed in the browser (WebCrypto)
// exactly as src/protocol/auth.ts signs on Node — JSON, an upload with its body digest, the
// event streams read with fetch() — and a client key sees only its own jobs.
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VidfleetClient } from '../../src/client/api-client.js';
import { createKey } from '../../src/coordinator/auth/keys.js';
import { loadMasterKey } from '../../src/coordinator/auth/master-key.js';
import { generateSampleClip } from '../../src/media/sample.js';
import type { Credentials, KeyRole } from '../../src/protocol/index.js';
import { WorkerAgent } from '../../src/worker/agent.js';
import { launchChromium, openPage, screenshot, waitUntil, type TestPage } from '../helpers/browser.js';
import { SHOTS, assertDashboardBuilt, rawGet, submitThroughForm, waitForJobStatus } from '../helpers/dashboard.js';
import { startTestFleet, untilFinished, type TestFleet } from '../helpers/fleet.js';

let fleet: TestFleet;
let browser: Browser;
let worker: WorkerAgent;
let clip: string;
let base: string;
let ui: TestPage;
const creds: Record<string, Credentials> = {};

async function makeKey(role: KeyRole, name: string): Promise<Credentials> {
  const masterKey = await loadMasterKey(join(fleet.coordinator.config.dataDir, 'master.key'), undefined);
  const { key, secret } = await createKey(fleet.coordinator.store, masterKey, role, name);
  return { keyId: key.id, secret };
}

const asText = (c: Credentials): string => `${c.keyId}:${c.secret}`;

async function signIn(c: Credentials | { keyId: string; secret: string }): Promise<void> {
  await ui.page.waitForSelector('#key-form');
  await ui.page.fill('#key-form input[name=key]', asText(c));
  await ui.page.click('#key-form button[type=submit]');
}

beforeAll(async () => {
  assertDashboardBuilt();
  fleet = await startTestFleet();
  base = fleet.coordinator.url;
  clip = join(fleet.dir, 'clip.mp4');
  await generateSampleClip(clip, { seconds: 2, width: 320, height: 180 });
  creds.admin = await makeKey('admin', 'ops');
  creds.alice = await makeKey('client', 'alice');
  creds.worker = await makeKey('worker', 'farm');
  // The coordinator notices the first key within its 2 s cache.
  const deadline = Date.now() + 10_000;
  while ((await fetch(`${base}/v1/jobs`)).status !== 401 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  worker = new WorkerAgent(
    { coordinatorUrl: base, concurrency: 2, kinds: ['thumbnail', 'noop'], workDir: join(fleet.dir, 'w'), claimWaitSeconds: 2, mounts: new Map(), allowProtocols: [], credentials: creds.worker! },
    () => {},
  );
  await worker.start();
  browser = await launchChromium();
  ui = await openPage(browser);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await fleet?.stop();
});

describe('dashboard with keys', () => {
  it('serves the page and its files unsigned, and nothing else through their paths', async () => {
    expect((await fetch(`${base}/v1/jobs`)).status).toBe(401);
    for (const path of ['/', '/ui/main.js', '/ui/style.css', '/ui/vendor/hls.min.mjs']) expect((await fetch(`${base}${path}`)).status, path).toBe(200);
    // An open prefix must not open what lies behind it.
    for (const path of ['/ui/../v1/jobs', '/ui/%2e%2e/v1/jobs', '/ui/..%2fv1/jobs', '/ui/../v1/workers']) {
      const res = await rawGet(base, path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('"jobs"');
    }
  });

  it('asks for a key, refuses a wrong one, and shows a client only its own jobs', async () => {
    const alice = new VidfleetClient(base, { credentials: creds.alice! });
    const own = await alice.submitJob({ kind: 'noop', input: 'none', params: { sleepMs: 100 } });
    const others = await new VidfleetClient(base, { credentials: creds.admin! }).submitJob({ kind: 'noop', input: 'none', params: {} });
    await untilFinished(alice, own.id);

    const { page } = ui;
    await page.goto(`${base}/#/jobs`);
    await signIn({ keyId: creds.alice!.keyId, secret: 'not-the-secret' });
    await waitUntil(page, '/signature does not match/.test(document.querySelector("#key-form .reason")?.textContent ?? "")');
    await signIn(creds.alice!);
    await page.waitForSelector(`.job-row[data-job-id="${own.id}"][data-status="completed"]`);
    expect(await page.locator(`.job-row[data-job-id="${others.id}"]`).count()).toBe(0);
    expect(await page.locator('.job-row').count()).toBe(1);
    // The fleet-wide stream is for admins: a client's pages poll instead.
    await page.waitForSelector('#live[data-state="forbidden"]');
    expect(await page.locator('#session').innerText()).toContain(creds.alice!.keyId);
    await screenshot(page, SHOTS, 'signed-jobs.png');
  }, 60_000);

  it('signs an upload (body digest), the submit and the job’s event stream: a thumbnail made for the client, previewed', async () => {
    const { page } = ui;
    const id = await submitThroughForm(page, base, 'thumbnail', { file: clip }, { width: 160 });
    await waitForJobStatus(page, 'completed', 60_000);
    // The page followed the job's own stream (signed fetch, not EventSource).
    await page.waitForSelector('#job-live[data-state="live"]');
    await waitUntil(page, '(document.querySelector("img[data-artifact]")?.naturalWidth ?? 0) > 0', 15_000);
    // The preview came from a signed fetch (an object URL): a plain <img> URL would be refused.
    expect(await page.evaluate<string>('document.querySelector("img[data-artifact]").src')).toMatch(/^blob:/);
    const job = await new VidfleetClient(base, { credentials: creds.admin! }).getJob(id);
    expect(job.owner).toBe(creds.alice!.keyId);
    expect(job.input).toMatch(/^store:\/\/uploads\/.*clip\.mp4$/);
  }, 90_000);

  it('signs out, and with an admin key follows the fleet stream and shows the signed worker', async () => {
    const { page } = ui;
    await page.click('#session button');
    await page.goto(`${base}/#/`);
    await signIn(creds.admin!);
    await page.waitForSelector('#live[data-state="live"]');
    await page.waitForSelector('#workers .worker.online');
    await waitUntil(page, '/3 completed/.test(document.querySelector("#throughput").innerText)');
    expect(ui.errors).toEqual([]);
    await screenshot(page, SHOTS, 'signed-overview.png');
  }, 60_000);
});
