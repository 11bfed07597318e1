#!/usr/bin/env bash
# Makes sure a Chromium is there for the browser tests (hls.js playback of transcode output, the
# dashboard): installs Debian's chromium when we can, otherwise says exactly what to run. The
# tests drive it with playwright-core, which never downloads a browser of its own.
set -euo pipefail
CHROMIUM="${VIDFLEET_CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
echo "Chromium is missing ($CHROMIUM); the browser tests need it." >&2
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO=none; fi
  if [ "$SUDO" != none ]; then
    echo "installing: ${SUDO:+$SUDO }apt-get install -y chromium" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
fi
[ -x "$CHROMIUM" ] && exit 0
echo "Install it and run again: on Debian/Ubuntu 'sudo apt-get install -y chromium', or point VIDFLEET_CHROMIUM at a Chromium binary." >&2
exit 1
