// The arrows of the design point one way: cli → coordinator/worker → store/media/sources/
// storage/client → protocol. This test reads every import in src/ and fails on one that
// points the wrong way (e.g. the worker reaching into the store, or the coordinator into media).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/shared-media.js';

const SRC = join(REPO_ROOT, 'src');

/** For each top-level folder of src/, the folders it may import from (besides itself). */
const ALLOWED: Record<string, string[]> = {
  protocol: [],
  store: ['protocol'],
  storage: ['protocol'],
  media: ['protocol', 'sources'],
  sources: ['protocol'],
  client: ['protocol'],
  coordinator: ['protocol', 'store', 'storage'],
  worker: ['protocol', 'client', 'media', 'sources'],
  cli: ['protocol', 'client', 'coordinator', 'worker', 'media'],
};

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)]
    .map((m) => m[1] ?? m[2] ?? '')
    .filter((spec) => spec.startsWith('.'));
}

describe('architecture', () => {
  const files = tsFiles(SRC);

  it('has every top-level folder in the rule table', () => {
    const folders = new Set(files.map((f) => relative(SRC, f).split('/')[0]!).filter((f) => !f.endsWith('.ts')));
    expect([...folders].filter((f) => !(f in ALLOWED))).toEqual([]);
  });

  it('imports point only the allowed way', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = relative(SRC, file).split('/')[0]!;
      for (const spec of importsOf(file)) {
        const target = relative(SRC, resolve(dirname(file), spec));
        if (target.startsWith('..')) {
          violations.push(`${relative(REPO_ROOT, file)} imports outside src/: ${spec}`);
          continue;
        }
        const to = target.split('/')[0]!;
        if (to !== from && !(ALLOWED[from] ?? []).includes(to)) violations.push(`${relative(REPO_ROOT, file)} (${from}) imports ${to}: ${spec}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('keeps ffmpeg out of the coordinator and the database out of the worker', () => {
    for (const file of files) {
      const rel = relative(SRC, file);
      const text = readFileSync(file, 'utf8');
      if (rel.startsWith('coordinator/')) expect(text, rel).not.toMatch(/node:child_process/);
      if (rel.startsWith('worker/')) expect(text, rel).not.toMatch(/better-sqlite3|from 'pg'/);
    }
  });
});
