// Debian's Chromium driven by playwright-core for the dashboard tests: launched offline
// (no connection leaves the machine), pages that record their uncaught errors, and screenshots
// saved under test-artifacts/ for a person to look at.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM } from './hls-player.js';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: the dashboard tests need it (apt-get install -y chromium, or set VIDFLEET_CHROMIUM)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic', '--no-first-run'],
  });
}

export interface TestPage {
  page: Page;
  /** Uncaught exceptions and console errors the page reported. */
  errors: string[];
}

export async function openPage(browser: Browser, width = 1280, height = 900): Promise<TestPage> {
  const page = await browser.newPage({ viewport: { width, height } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // A refused request (401 before signing in, 403 on the admin-only stream) is logged by
    // Chromium as a console error; those are expected answers, not page faults.
    if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return { page, errors };
}

export async function screenshot(page: Page, dir: string, name: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: join(dir, name), fullPage: true });
}

/** The widest thing on the page against the viewport: anything above means a horizontal scroll. */
export function scrollWidth(page: Page): Promise<number> {
  return page.evaluate<number>('Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)');
}

/**
 * Polls a page expression until it is truthy. Not page.waitForFunction: that evaluates its
 * predicate with eval inside the page, which the dashboard's Content-Security-Policy forbids
 * (and the tests keep the policy on, so they see what a user's browser enforces).
 */
export async function waitUntil(page: Page, expression: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await page.evaluate<unknown>(expression)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${expression}`);
    await page.waitForTimeout(100);
  }
}
