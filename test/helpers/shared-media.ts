// Locates ../shared/media/real (the real-world corpus). Tests that need it skip with a message
// when it is absent, so a clone without ../shared still runs everything else.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REAL_MEDIA_DIR = process.env.VIDFLEET_REAL_MEDIA ?? join(repoRoot, '..', 'shared', 'media', 'real');
export const HAVE_REAL_MEDIA = existsSync(REAL_MEDIA_DIR);

if (!HAVE_REAL_MEDIA) {
  process.stderr.write(`[vidfleet tests] ${REAL_MEDIA_DIR} not found: tests on the real-world corpus are skipped.\n`);
}

export function realMediaFiles(): { good: string[]; bad: string[] } {
  if (!HAVE_REAL_MEDIA) return { good: [], bad: [] };
  const files = readdirSync(REAL_MEDIA_DIR).filter((f) => !f.endsWith('.md')).sort();
  return {
    good: files.filter((f) => !f.startsWith('bad_')).map((f) => join(REAL_MEDIA_DIR, f)),
    bad: files.filter((f) => f.startsWith('bad_')).map((f) => join(REAL_MEDIA_DIR, f)),
  };
}

export const REPO_ROOT = repoRoot;
