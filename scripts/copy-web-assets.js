// Part of `npm run build`: tsc compiles web/*.ts into dist/web; this copies the dashboard's
// static files (page, stylesheet, icons) beside them, so the coordinator serves one folder.
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'web');
const to = join(root, 'dist', 'web');
const STATIC = new Set(['.html', '.css', '.svg', '.png', '.ico']);

mkdirSync(to, { recursive: true });
for (const name of readdirSync(from)) {
  if (STATIC.has(extname(name))) cpSync(join(from, name), join(to, name));
}
