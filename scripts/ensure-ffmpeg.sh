#!/usr/bin/env bash
# Makes sure ffmpeg and ffprobe are on PATH: installs Debian/Ubuntu's package when we can,
# otherwise says exactly what to run.
set -euo pipefail
if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then
  exit 0
fi
echo "ffmpeg is missing; vidfleet workers need ffmpeg and ffprobe." >&2
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO=none; fi
  if [ "$SUDO" != none ]; then
    echo "installing it: ${SUDO:+$SUDO }apt-get install -y ffmpeg" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ffmpeg >/dev/null
    command -v ffmpeg >/dev/null 2>&1 && exit 0
  fi
fi
echo "Install it and run again: on Debian/Ubuntu 'sudo apt-get install -y ffmpeg'; on macOS 'brew install ffmpeg'." >&2
exit 1
