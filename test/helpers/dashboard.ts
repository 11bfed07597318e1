// What the dashboard tests share: where screenshots go, driving the submit form, waiting for a
// job's status on its page, and raw requests for the static-file checks.
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { waitUntil } from './browser.js';
import { REPO_ROOT } from './shared-media.js';

export const SHOTS = join(REPO_ROOT, 'test-artifacts', 'dashboard');

/** The coordinator serves dist/web: a test run without a build would only see 503s. */
export function assertDashboardBuilt(): void {
  if (!existsSync(join(REPO_ROOT, 'dist', 'web', 'index.html'))) throw new Error('The dashboard is not built: run `npm run build` first (npm test does).');
}

/** GET with the path sent exactly as given (fetch would resolve ../ before sending). */
export function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Submits through the form; answers the new job's id once its page is showing. */
export async function submitThroughForm(page: Page, base: string, kind: string, input: { file: string } | { uri: string }, params: unknown): Promise<string> {
  await page.goto(`${base}/#/submit`);
  await page.selectOption('#submit-kind', kind);
  if ('file' in input) {
    await page.check('input[name=source][value=upload]');
    await page.setInputFiles('#submit-file', input.file);
  } else {
    await page.check('input[name=source][value=uri]');
    await page.fill('#submit-input', input.uri);
  }
  await page.fill('#submit-params', JSON.stringify(params));
  await page.click('#submit-job');
  await waitUntil(page, 'location.hash.startsWith("#/jobs/job_")', 60_000);
  return decodeURIComponent((await page.evaluate<string>('location.hash')).slice('#/jobs/'.length));
}

export async function waitForJobStatus(page: Page, status: string, timeout = 120_000): Promise<void> {
  await page.waitForSelector(`#job-status [data-status="${status}"]`, { timeout });
}
