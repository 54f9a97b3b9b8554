#!/usr/bin/env bash
# Screenshots of the real window on a virtual X screen. Needs Debian's xvfb, libxcb-icccm4 and
# libxcb-keysyms1, libxcb-cursor0.  Usage: scripts/screenshots.sh PHOTO HINT_PHOTO [OUT_DIR]
set -euo pipefail
photo=${1:?photo}; hint_photo=${2:?photo for the hint screenshots}; out=${3:-docs/screenshots}
py=${PYTHON:-python3}
Xvfb :77 -screen 0 1400x820x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb' EXIT
sleep 1
DISPLAY=:77 QT_QPA_PLATFORM=xcb "$py" "$(dirname "$0")/screenshots.py" "$photo" "$hint_photo" "$out"
