// The web dashboard (issue 8) in a real browser against a real coordinator and worker: a
// transcode submitted by uploading a file through the page, its task graph followed live to the
// end, its HLS output played by hls.js, a contact sheet previewed, a long job canceled, the
// overview and the jobs list, and a phone-width layout. dashboard-auth.test.ts covers a
// deployment with keys.
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSampleClip } from '../../src/media/sample.js';
import { launchChromium, openPage, screenshot, scrollWidth, waitUntil, type TestPage } from '../helpers/browser.js';
import { SHOTS, assertDashboardBuilt, rawGet, submitThroughForm, waitForJobStatus } from '../helpers/dashboard.js';
import { startTestFleet, untilFinished, type TestFleet } from '../helpers/fleet.js';

const LADDER = { renditions: [{ name: '360p', height: 360 }, { name: '240p', height: 240 }], hls: true, chunkSeconds: 2, minChunkSeconds: 1 };

let fleet: TestFleet;
let browser: Browser;
let clip: string;
let base: string;

beforeAll(async () => {
  assertDashboardBuilt();
  fleet = await startTestFleet();
  base = fleet.coordinator.url;
  await fleet.addWorker({ concurrency: 2, kinds: ['transcode', 'contact-sheet', 'noop'] });
  clip = join(fleet.dir, 'sample-6s.mp4');
  await generateSampleClip(clip, { seconds: 6, width: 640, height: 360 });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await fleet?.stop();
});

describe('dashboard: static files', () => {
  it('serves the page, its modules and hls.js with their content types and ETags, and nothing outside its folder', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<script type="module" src="/ui/main.js">');
    const etag = page.headers.get('etag')!;
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(`${base}/`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    for (const [path, type] of [['/ui/main.js', /^text\/javascript/], ['/ui/pages/job-detail.js', /^text\/javascript/], ['/ui/style.css', /^text\/css/], ['/ui/vendor/hls.min.mjs', /^text\/javascript/]] as const) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toMatch(type);
    }
    for (const path of ['/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/..%2fpackage.json', '/ui/vendor/../../package.json', '/ui/nope.js', '/ui/', '/ui/pages', '/ui/../v1/jobs']) {
      const res = await rawGet(base, path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('"name": "vidfleet"');
    }
  });
});

describe('dashboard: a job from submission to its outputs', () => {
  let ui: TestPage;
  let transcodeId: string;

  beforeAll(async () => {
    ui = await openPage(browser);
  });

  it('uploads a clip, submits a transcode and follows its task graph to completed without reloading', async () => {
    const { page } = ui;
    await page.goto(`${base}/#/submit`);
    // Marks this document: a reload would lose it. The observer notes every state each graph node shows.
    await page.evaluate(`(() => {
      window.__sameDocument = true;
      window.__seen = {};
      const note = () => { for (const el of document.querySelectorAll('#task-graph .task')) (window.__seen[el.dataset.taskName] ??= []).includes(el.dataset.status) || window.__seen[el.dataset.taskName].push(el.dataset.status); };
      new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
    })()`);
    transcodeId = await submitThroughForm(page, base, 'transcode', { file: clip }, LADDER);
    await page.waitForSelector('#task-graph .task[data-task-name^="video/"]', { timeout: 60_000 });
    await waitForJobStatus(page, 'completed', 180_000);
    await waitUntil(page, '[...document.querySelectorAll("#task-graph .task")].every((el) => el.dataset.status === "completed")');

    const seen = await page.evaluate<Record<string, string[]>>('window.__seen');
    const chunks = Object.keys(seen).filter((n) => n.startsWith('video/'));
    // 6 s with a keyframe every 2 s in 2 s chunks: three chunk tasks, each seen before it was done.
    expect(chunks.sort()).toEqual(['video/00000', 'video/00001', 'video/00002']);
    expect(chunks.every((n) => seen[n]!.at(-1) === 'completed')).toBe(true);
    expect(chunks.some((n) => seen[n]!.some((s) => s !== 'completed')), JSON.stringify(seen)).toBe(true);
    expect(Object.keys(seen)).toEqual(expect.arrayContaining(['plan', 'audio', 'merge/360p', 'merge/240p', 'package']));
    expect(await page.evaluate('window.__sameDocument === true')).toBe(true);
    // The columns in stage order: plan → chunks → merges → package.
    expect(await page.$$eval('#task-graph .stage', (els) => els.map((e) => e.getAttribute('data-stage')))).toEqual(['plan', 'chunks', 'merge', 'package']);

    const job = await fleet.client.getJob(transcodeId);
    expect(job.status).toBe('completed');
    expect(await page.locator('#task-graph .task').count()).toBe(job.tasks!.length);
    await page.waitForSelector('#log-tail:not(:empty)');
    await page.waitForSelector('#result table');
    await screenshot(page, SHOTS, 'job-detail.png');
  }, 240_000);

  it('plays the HLS package with hls.js: the video clock moves', async () => {
    const { page } = ui;
    await page.click('#open-player');
    await waitUntil(page, '(document.querySelector("#player video")?.currentTime ?? 0) > 0.2', 30_000);
    const t1 = await page.evaluate<number>('document.querySelector("#player video").currentTime');
    await page.waitForTimeout(1_500);
    const t2 = await page.evaluate<number>('document.querySelector("#player video").currentTime');
    expect(t2).toBeGreaterThan(t1);
    expect(await page.locator('#player-level option').count()).toBe(3); // auto + two rungs
    await page.locator('#player').scrollIntoViewIfNeeded();
    await screenshot(page, SHOTS, 'player.png');
    expect(ui.errors).toEqual([]);
  }, 60_000);

  it('previews a contact sheet inline', async () => {
    const { page } = ui;
    const input = (await fleet.client.getJob(transcodeId)).input;
    const id = await submitThroughForm(page, base, 'contact-sheet', { uri: input }, { columns: 3, rows: 2, tileWidth: 160 });
    await waitForJobStatus(page, 'completed');
    await waitUntil(page, '(document.querySelector(\'img[data-artifact="contact-sheet.jpg"]\')?.naturalWidth ?? 0) > 0', 30_000);
    const size = await page.evaluate<[number, number]>('(() => { const i = document.querySelector(\'img[data-artifact="contact-sheet.jpg"]\'); return [i.naturalWidth, i.naturalHeight]; })()');
    const result = (await fleet.client.getJob(id)).result as { width: number; height: number };
    expect(size).toEqual([result.width, result.height]);
    await screenshot(page, SHOTS, 'contact-sheet.png');
  }, 120_000);

  it('cancels a long job from its page', async () => {
    const { page } = ui;
    const id = await submitThroughForm(page, base, 'noop', { uri: 'none' }, { sleepMs: 60_000 });
    await waitForJobStatus(page, 'running', 30_000);
    await page.click('#cancel-job');
    await page.waitForSelector('#cancel-job.danger'); // asks once more: a stray tap must not cancel
    await page.click('#cancel-job');
    await waitForJobStatus(page, 'canceled', 30_000);
    expect((await fleet.client.getJob(id)).status).toBe('canceled');

    // Run again: the same kind, input and parameters as a new job, whose page opens.
    await page.click('#retry-job');
    await waitUntil(page, `location.hash.startsWith("#/jobs/job_") && !location.hash.endsWith("${id}")`);
    const again = decodeURIComponent((await page.evaluate<string>('location.hash')).slice('#/jobs/'.length));
    await waitForJobStatus(page, 'running', 30_000);
    expect(await fleet.client.getJob(again)).toMatchObject({ kind: 'noop', input: 'none', params: { sleepMs: 60_000 } });
    await fleet.client.cancelJob(again);
    await waitForJobStatus(page, 'canceled', 30_000);
  }, 90_000);

  it('lists the jobs with live status, filters and search; new jobs appear without reloading', async () => {
    const { page } = ui;
    await page.goto(`${base}/#/jobs`);
    await page.waitForSelector(`.job-row[data-job-id="${transcodeId}"][data-status="completed"]`);
    expect(await page.locator('.job-row').count()).toBe(4);
    await page.waitForSelector('#live[data-state="live"]');
    const job = await fleet.client.submitJob({ kind: 'noop', input: 'none', params: { sleepMs: 500 } });
    await page.waitForSelector(`.job-row[data-job-id="${job.id}"]`, { timeout: 15_000 });
    await untilFinished(fleet.client, job.id);
    await page.waitForSelector(`.job-row[data-job-id="${job.id}"][data-status="completed"] .bar[aria-valuenow="100"]`, { timeout: 15_000 });
    await page.selectOption('#filter-status', 'canceled');
    await waitUntil(page, '[...document.querySelectorAll(".job-row")].length === 2 && [...document.querySelectorAll(".job-row")].every((r) => r.dataset.status === "canceled")');
    await page.selectOption('#filter-status', '');
    await waitUntil(page, 'document.querySelectorAll(".job-row").length === 5');
    await page.fill('#search', transcodeId.slice(-6));
    await waitUntil(page, `document.querySelectorAll(".job-row").length === 1 && document.querySelector(".job-row").dataset.jobId === "${transcodeId}"`);
    await page.fill('#search', '');
    await screenshot(page, SHOTS, 'jobs.png');
  }, 60_000);

  it('shows the fleet: queue, throughput from the event stream, workers with capabilities and heartbeat', async () => {
    const { page } = ui;
    await page.goto(`${base}/#/`);
    const worker = page.locator('#workers .worker');
    await worker.first().waitFor();
    expect(await worker.count()).toBe(1);
    const text = await worker.first().innerText();
    expect(text).toMatch(/transcode/);
    expect(text).toMatch(/contact-sheet/);
    expect(text).toMatch(/heartbeat\s+\d+ s ago/);
    // Three jobs completed (two were canceled): the throughput window counts them from the replayed stream.
    await waitUntil(page, '/3 completed/.test(document.querySelector("#throughput").innerText)');

    // Every connection dropped: the stream comes back with Last-Event-ID, so no event is counted twice.
    await page.evaluate(`(() => {
      const live = document.querySelector('#live');
      window.__liveStates = [];
      new MutationObserver(() => window.__liveStates.push(live.dataset.state)).observe(live, { attributes: true, attributeFilter: ['data-state'] });
    })()`);
    expect(ui.errors).toEqual([]);
    fleet.coordinator.app.server.closeAllConnections();
    await waitUntil(page, 'window.__liveStates.includes("retrying") && document.querySelector("#live").dataset.state === "live"', 15_000);
    // Chromium logs the cut connections (ERR_INCOMPLETE_CHUNKED_ENCODING): caused by the test, not the page.
    ui.errors.splice(0);

    // A job that runs shows up live: in the queue, as a running task, and on its worker's card.
    const long = await fleet.client.submitJob({ kind: 'noop', input: 'none', params: { sleepMs: 60_000 } });
    await page.waitForSelector('#queue tr[data-kind="noop"]', { timeout: 15_000 });
    await page.waitForSelector(`#running-tasks a[href="#/jobs/${long.id}"]`, { timeout: 15_000 });
    await waitUntil(page, '/1 \\/ 2 busy/.test(document.querySelector("#workers .worker").innerText)');
    expect(await page.locator('#queue tr[data-kind="noop"] td').allInnerTexts()).toEqual(['noop', '0', '1', '0']);
    await screenshot(page, SHOTS, 'overview.png');
    await fleet.client.cancelJob(long.id);
    await waitUntil(page, 'document.querySelector("#running-tasks .empty") !== null', 30_000);
    expect(await page.locator('#throughput').innerText()).toMatch(/3 completed, 0 failed/);
  }, 60_000);

  it('fits a phone: one column and no horizontal scroll on every page', async () => {
    const { page } = ui;
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [hash, ready, name] of [
      ['#/', '#workers .worker', 'phone-overview.png'],
      ['#/jobs', '.job-row', 'phone-jobs.png'],
      [`#/jobs/${transcodeId}`, '#task-graph .task', 'phone-job-detail.png'],
      ['#/submit', '#submit-kind option', 'phone-submit.png'],
    ] as const) {
      await page.goto(`${base}/${hash}`);
      await page.waitForSelector(ready, { state: 'attached' });
      expect(await scrollWidth(page), hash).toBeLessThanOrEqual(390);
      await screenshot(page, SHOTS, name);
    }
    expect(ui.errors).toEqual([]);
  }, 60_000);
});
