#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm ci` (the `prepare` script) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('vidfleet: the CLI is not built yet. Run `npm ci` (or `npm run build`) in the vidfleet folder first.\n');
  process.exit(1);
}
await import(entry.href);
