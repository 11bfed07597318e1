#!/usr/bin/env bash
# Makes sure ffmpeg and ffprobe are on PATH, and that there is a font for the text on contact
# sheets (drawtext): installs Debian/Ubuntu's packages when we can, otherwise says exactly what
# to run. A missing font alone is not fatal: contact sheets are then made without text.
set -euo pipefail
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
have_ffmpeg() { command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; }
have_font() {
  { [ -n "${VIDFLEET_FONT:-}" ] && [ -r "$VIDFLEET_FONT" ]; } || [ -r "$FONT" ] ||
    { command -v fc-match >/dev/null 2>&1 && [ -r "$(fc-match --format='%{file}' sans-serif 2>/dev/null)" ]; }
}
if have_ffmpeg && have_font; then
  exit 0
fi
packages=()
have_ffmpeg || { echo "ffmpeg is missing; vidfleet workers need ffmpeg and ffprobe." >&2; packages+=(ffmpeg); }
have_font || { echo "no font for drawtext ($FONT); contact sheets need one for their text." >&2; packages+=(fonts-dejavu-core); }
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO=none; fi
  if [ "$SUDO" != none ]; then
    echo "installing: ${SUDO:+$SUDO }apt-get install -y ${packages[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
  fi
fi
have_font || echo "Still no font: install one ('sudo apt-get install -y fonts-dejavu-core') or set VIDFLEET_FONT to a .ttf file; until then contact sheets have no text." >&2
have_ffmpeg && exit 0
echo "Install it and run again: on Debian/Ubuntu 'sudo apt-get install -y ffmpeg'; on macOS 'brew install ffmpeg'." >&2
exit 1
