// Plays an HLS package in a real browser: a loopback static server for the package, a page that
// plays it muted with hls.js (served from node_modules by the same server, so nothing is fetched
// from outside), and Debian's Chromium driven by playwright-core. What a person would see: the
// video's clock moving, no player errors, and a screenshot.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.VIDFLEET_CHROMIUM || '/usr/bin/chromium';
const HLS_JS = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');

const TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m4s': 'video/mp4',
  '.mp4': 'video/mp4',
  '.ts': 'video/mp2t',
  '.mpd': 'application/dash+xml',
  '.js': 'text/javascript; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};

// Codecs the page asks MediaSource about, so a report says what this Chromium can decode.
const PROBE_TYPES = ['video/mp4; codecs="avc1.64001f"', 'video/mp4; codecs="hvc1.1.6.L93.B0"', 'video/mp4; codecs="av01.0.04M.08"', 'video/mp4; codecs="vp09.00.10.08"', 'audio/mp4; codecs="mp4a.40.2"'];

const PAGE = `<!doctype html><meta charset="utf-8"><title>vidfleet HLS check</title>
<body style="margin:0;background:#222;color:#eee;font:14px sans-serif">
<video id="v" muted playsinline controls width="640" height="360"></video><pre id="log"></pre>
<script src="/hls.min.js"></script>
<script>
const video = document.getElementById('v');
const state = window.__hls = { errors: [], levels: 0, levelSwitches: [], playing: false, supported: {}, hlsSupported: Hls.isSupported() };
for (const t of ${JSON.stringify(PROBE_TYPES)}) state.supported[t] = MediaSource.isTypeSupported(t);
video.addEventListener('playing', () => { state.playing = true; });
const hls = new Hls({ enableWorker: true });
hls.on(Hls.Events.ERROR, (_e, d) => state.errors.push(d.type + '/' + d.details + (d.fatal ? ' (fatal)' : '') + (d.error ? ': ' + d.error.message : '')));
hls.on(Hls.Events.MANIFEST_PARSED, (_e, d) => { state.levels = d.levels.length; video.play().catch((e) => state.errors.push('play(): ' + e.message)); });
hls.on(Hls.Events.LEVEL_SWITCHED, (_e, d) => state.levelSwitches.push(d.level));
hls.loadSource(new URLSearchParams(location.search).get('src'));
hls.attachMedia(video);
setInterval(() => { document.getElementById('log').textContent = 't=' + video.currentTime.toFixed(2) + ' level=' + hls.currentLevel + ' ' + video.videoWidth + 'x' + video.videoHeight; }, 200);
</script>`;

export interface StaticServer {
  /** http://127.0.0.1:PORT (the directory's root). */
  url: string;
  /** The player page for a playlist path relative to the root, e.g. playerUrl('master.m3u8'). */
  playerUrl(playlist: string): string;
  requests: string[];
  close(): Promise<void>;
}

/** Serves `root` on 127.0.0.1 (GET only, no ranges), plus /player.html and /hls.min.js. */
export async function serveDirectory(root: string): Promise<StaticServer> {
  const base = resolve(root);
  const requests: string[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      requests.push(path);
      if (path === '/favicon.ico') return void res.writeHead(204).end();
      if (path === '/player.html') return void res.writeHead(200, { 'content-type': TYPES['.html']! }).end(PAGE);
      const file = path === '/hls.min.js' ? HLS_JS : join(base, path);
      if (file !== HLS_JS && !file.startsWith(base + sep)) return void res.writeHead(403).end();
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-store' }).end(body);
    })().catch(() => res.writeHead(404).end());
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    playerUrl: (playlist) => `${url}/player.html?src=${encodeURIComponent(`/${playlist}`)}`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

interface PageEnd {
  t: number;
  errors: string[];
  levels: number;
  levelSwitches: number[];
  hlsSupported: boolean;
  supported: Record<string, boolean>;
  videoWidth: number;
  videoHeight: number;
  dropped: number;
}

export interface Playback {
  currentTimeStart: number;
  currentTimeEnd: number;
  /** hls.js ERROR events, uncaught page errors and a refused play(). */
  errors: string[];
  levels: number;
  levelSwitches: number[];
  videoWidth: number;
  videoHeight: number;
  droppedFrames: number;
  hlsSupported: boolean;
  /** MediaSource.isTypeSupported for each probe type. */
  supported: Record<string, boolean>;
  chromiumVersion: string;
}

/**
 * Opens the player page in headless Chromium, waits until the video plays, and samples
 * video.currentTime `seconds` apart. Throws when Chromium is not installed (a browser test must
 * not pass without a browser) or when playback never starts (with the page's errors).
 */
export async function playInChromium(url: string, options: { seconds: number; screenshot?: string; startTimeoutMs?: number }): Promise<Playback> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: the HLS playback test needs it (apt-get install -y chromium, or set VIDFLEET_CHROMIUM)`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // No connections out: this machine's network is closed, and a test must not depend on one.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic', '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 660, height: 420 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(`page: ${e.message}`));
    await page.goto(url);
    // Expressions, not functions: the project's types have no DOM (tsconfig lib is ES2023 only).
    const state = (): Promise<{ t: number; playing: boolean; errors: string[] }> =>
      page.evaluate('({ t: document.querySelector("video").currentTime, playing: window.__hls.playing, errors: window.__hls.errors })');
    const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
    let now = await state();
    while (!(now.playing && now.t > 0) && Date.now() < deadline && !now.errors.some((e) => e.includes('fatal'))) {
      await page.waitForTimeout(100);
      now = await state();
    }
    if (!now.playing) throw new Error(`the video never started playing: ${[...now.errors, ...pageErrors].join('; ') || 'no error reported'}`);
    const currentTimeStart = now.t;
    await page.waitForTimeout(options.seconds * 1000);
    const end = await page.evaluate<PageEnd>(
      '(() => { const v = document.querySelector("video"); return { ...window.__hls, t: v.currentTime, videoWidth: v.videoWidth, videoHeight: v.videoHeight, dropped: v.getVideoPlaybackQuality().droppedVideoFrames }; })()',
    );
    if (options.screenshot) await page.screenshot({ path: options.screenshot });
    return {
      currentTimeStart,
      currentTimeEnd: end.t,
      errors: [...end.errors, ...pageErrors],
      levels: end.levels,
      levelSwitches: end.levelSwitches,
      videoWidth: end.videoWidth,
      videoHeight: end.videoHeight,
      droppedFrames: end.dropped,
      hlsSupported: end.hlsSupported,
      supported: end.supported,
      chromiumVersion: browser.version(),
    };
  } finally {
    await browser.close();
  }
}
