#!/usr/bin/env bash
# The PostgreSQL tests need a server on 127.0.0.1:5432 (database `test`, trust auth). The machine
# starts one before CI; if it has stopped, start it again so those tests run instead of skipping.
set -uo pipefail
if command -v pg_isready >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q; then
  exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for version in /etc/postgresql/*; do
    pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start >/dev/null 2>&1 || true
  done
  for _ in $(seq 1 20); do
    pg_isready -h 127.0.0.1 -p 5432 -q && exit 0
    sleep 0.5
  done
fi
echo "PostgreSQL is not answering on 127.0.0.1:5432: the PostgreSQL tests will be skipped." >&2
exit 0
