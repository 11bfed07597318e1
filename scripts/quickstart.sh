#!/usr/bin/env bash
# The README's first command: everything a fresh Debian/Ubuntu machine with Node 20 needs, then
# vidfleet with its embedded defaults (SQLite + local files under ./.vidfleet) probing and
# thumbnailing a video. Pass a file to use your own: bash scripts/quickstart.sh my.mp4
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-ffmpeg.sh
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ ! -f dist/src/cli/main.js ]; then
  npm ci --no-audit --no-fund
fi
exec node bin/vidfleet.js demo "$@"
