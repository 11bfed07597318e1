// The web dashboard (issue 8): GET / answers the page, GET /ui/* its modules, stylesheet and the
// vendored hls.js. Everything is static and built by `npm run build` into dist/web (web/ holds
// the sources). These routes are open (auth/verify.ts): the page has to load before it can ask
// the user for a key; every API call it then makes is signed like any other client's.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VidfleetError } from '../../protocol/index.js';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** The page and its modules are small and change with every build: always revalidated (ETag). */
const CACHE_APP = 'no-cache';

/**
 * The page holds a signing key in its session: only its own scripts may run, and no other site
 * may frame it (a framed Cancel button could be clicked for the user). blob: serves previews
 * fetched with signatures and the player's Media Source; inline style attributes draw the bars.
 */
const PAGE_POLICY = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' blob: data:", "media-src 'self' blob:",
  "worker-src 'self' blob:", "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

/** The package root (where package.json is), from src/ under vitest or dist/src/ when built. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('vidfleet: cannot find the package root for the dashboard files');
    dir = up;
  }
  return dir;
}

/** hls.js is served from node_modules as it is installed: the ES module build and its worker. */
function vendorFiles(): Map<string, string> {
  const require = createRequire(import.meta.url);
  const files = new Map<string, string>();
  for (const [served, file] of [['hls.min.mjs', 'hls.js/dist/hls.min.mjs'], ['hls.min.mjs.map', 'hls.js/dist/hls.min.mjs.map'], ['hls.worker.js', 'hls.js/dist/hls.worker.js']] as const) {
    try {
      files.set(served, require.resolve(file));
    } catch {
      // Not installed: the player says so when asked to play.
    }
  }
  return files;
}

interface Cached {
  body: Buffer;
  etag: string;
  mtimeMs: number;
}

export interface DashboardOptions {
  /** Where the built dashboard is (default: dist/web under the package root). */
  webRoot?: string;
}

export function registerDashboardRoutes(app: FastifyInstance, options: DashboardOptions = {}): void {
  const webRoot = resolve(options.webRoot ?? join(packageRoot(), 'dist', 'web'));
  const vendor = vendorFiles();
  // Files are read once and kept while their mtime holds: a rebuild is picked up, a steady
  // page load costs a stat.
  const cache = new Map<string, Cached>();

  async function load(file: string): Promise<Cached | null> {
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) return null;
    const hit = cache.get(file);
    if (hit && hit.mtimeMs === info.mtimeMs) return hit;
    const body = await readFile(file);
    const entry = { body, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`, mtimeMs: info.mtimeMs };
    cache.set(file, entry);
    return entry;
  }

  async function send(request: FastifyRequest, reply: FastifyReply, file: string): Promise<FastifyReply> {
    const type = TYPES[extname(file).toLowerCase()];
    const entry = type ? await load(file) : null;
    if (!type || !entry) throw new VidfleetError('ROUTE_NOT_FOUND', `No dashboard file ${request.url.split('?')[0]}.`);
    void reply.header('cache-control', CACHE_APP).header('etag', entry.etag).header('x-content-type-options', 'nosniff');
    if (request.headers['if-none-match'] === entry.etag) return reply.status(304).send();
    return reply.type(type).send(entry.body);
  }

  /** A path under the web root, or null for anything that tries to leave it. */
  async function inWebRoot(rel: string): Promise<string | null> {
    const segments = rel.split('/');
    if (segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0'))) return null;
    const file = resolve(webRoot, ...segments);
    if (!file.startsWith(webRoot + sep)) return null;
    // A symbolic link inside the build pointing out of it is refused too.
    const real = await realpath(file).catch(() => null);
    const realRoot = await realpath(webRoot).catch(() => null);
    return real && realRoot && real.startsWith(realRoot + sep) ? real : null;
  }

  app.get('/', async (request, reply) => {
    const index = join(webRoot, 'index.html');
    if (!existsSync(index)) {
      return reply.status(503).type('text/plain; charset=utf-8').send('The dashboard is not built: run `npm run build` (npm ci does it) and reload.\n');
    }
    void reply.header('content-security-policy', PAGE_POLICY).header('referrer-policy', 'same-origin');
    return send(request, reply, index);
  });

  app.get('/ui/*', async (request, reply) => {
    const rel = (request.params as { '*': string })['*'];
    if (rel.startsWith('vendor/')) {
      const file = vendor.get(rel.slice('vendor/'.length));
      if (!file) throw new VidfleetError('ROUTE_NOT_FOUND', `No dashboard file /ui/${rel}.`);
      return send(request, reply, file);
    }
    const file = await inWebRoot(rel);
    if (!file) throw new VidfleetError('ROUTE_NOT_FOUND', `No dashboard file /ui/${rel}.`);
    return send(request, reply, file);
  });
}
